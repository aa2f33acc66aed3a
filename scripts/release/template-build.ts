import type { TemplateBuildOptions } from '../../template-src/build-options';
import { synthesizeTemplate } from '../../template-src/synthesize';

export type { TemplateBuildOptions };

export class TemplateBuildError extends Error {
  override readonly name = 'TemplateBuildError';
  readonly code = 'ERR_TEMPLATE_BUILD';
}

/**
 * Synthesises the CloudFormation template (template-src) with the release's
 * artifact locations and returns the JSON text written to dist/template.json
 * (same formatting as `npm run build:template`). Fails if the template does
 * not name the exact image reference and Lambda key it was given.
 */
export function synthesizeReleaseTemplate(options: TemplateBuildOptions): string {
  const template = synthesizeTemplate(options);
  const text = `${JSON.stringify(template, null, 2)}\n`;
  if (!template['Resources']) throw new TemplateBuildError('synthesised template has no Resources');
  for (const [what, value] of [
    ['image', options.imageUri],
    ['Lambda key', options.lambdaKey],
  ] as const) {
    if (!text.includes(JSON.stringify(value))) throw new TemplateBuildError(`synthesised template does not reference the ${what} ${value}`);
  }
  return text;
}

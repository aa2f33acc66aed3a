import { createHash } from 'node:crypto';
import { bundleNode } from './bundle';
import { zipBytes } from './zip-writer';

/** The Lambda deployment package and the names that identify it. */
export interface LambdaZip {
  readonly bytes: Buffer;
  readonly sha256: string;
  /** S3 key in every regional bucket: content-addressed, so a template can never point at other code. */
  readonly key: string;
}

/** Entry point that exports every handler by name (`index.<handler>` in the template). */
export const LAMBDA_ENTRY = 'lambda/index.ts';

export function lambdaKey(version: string, sha256: string): string {
  return `lambda/${version}/lambda-${sha256}.zip`;
}

/** Bundles `lambda/index.ts` to `index.js` and zips it reproducibly. */
export async function buildLambdaZip(cwd: string, version: string): Promise<LambdaZip> {
  const bundle = await bundleNode({ cwd, entry: LAMBDA_ENTRY });
  const bytes = await zipBytes([{ name: 'index.js', data: bundle.code, mode: 0o644 }]);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { bytes, sha256, key: lambdaKey(version, sha256) };
}

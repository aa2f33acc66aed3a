import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultBuildOptions } from './build-options';
import { synthesizeTemplate } from './synthesize';

/**
 * `npm run build:template`: writes dist/template.json from marketplace.json
 * defaults (the release build calls synthesizeTemplate with the real digest).
 */
const started = process.hrtime.bigint();
const template = synthesizeTemplate(defaultBuildOptions());
const out = join(__dirname, '..', 'dist', 'template.json');
mkdirSync(join(out, '..'), { recursive: true });
writeFileSync(out, `${JSON.stringify(template, null, 2)}\n`);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(`wrote ${out} (${Object.keys(template['Resources'] as object).length} resources) in ${seconds.toFixed(1)} s`);

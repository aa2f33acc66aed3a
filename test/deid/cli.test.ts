import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT, main } from '../../scripts/deid/cli';
import { basicElements, part10 } from './dataset-builder';

const KEY_HEX = 'a1'.repeat(32);

async function cli(args: string[], env: NodeJS.ProcessEnv = { DEID_KEY: KEY_HEX }): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, env, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

const ct = (n: number) => part10(basicElements({ sop: `1.2.826.0.1.3680043.7.${n}`, study: '1.2.826.0.1.3680043.7.100', series: '1.2.826.0.1.3680043.7.101' }));
const us = part10(basicElements({ sop: '1.2.826.0.1.3680043.7.9', study: '1.2.826.0.1.3680043.7.100', series: '1.2.826.0.1.3680043.7.102', sopClass: '1.2.840.10008.5.1.4.1.1.6.1', modality: 'US' }));

async function listAll(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...(await listAll(join(dir, e.name), base)));
    else out.push(join(dir, e.name).slice(base.length + 1));
  }
  return out.sort();
}

describe('deid: the deidentify CLI', function () {
  this.timeout(60_000);
  let dir: string;
  let input: string;

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'deid-cli-'));
    input = join(dir, 'in');
    await mkdir(join(input, 'a', 'b'), { recursive: true });
    await writeFile(join(input, 'one.dcm'), ct(1));
    await writeFile(join(input, 'a', 'b', 'two.dcm'), ct(2));
    await writeFile(join(input, 'a', 'us.dcm'), us);
    await writeFile(join(input, 'a', 'notes.txt'), 'not dicom');
  });

  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to run without a key (exit 2, nothing written): there is no default key', async function () {
    const r = await cli([input, join(dir, 'out')], {});
    expect(r.code).to.equal(EXIT.usage);
    expect(r.err).to.match(/no key: set DEID_KEY/);
    expect(await readdir(dir)).to.deep.equal(['in']);
    expect((await cli([input, join(dir, 'out')], { DEID_KEY: 'abc' })).code).to.equal(EXIT.usage);
  });

  it('processes a folder recursively, mirrors it, and summarises per refusal code (exit 1 when some were refused)', async function () {
    const r = await cli([input, join(dir, 'out'), '--json', '--dates', 'shift']);
    expect(r.code).to.equal(EXIT.refused);
    expect(JSON.parse(r.out)).to.deep.equal({ processed: 2, refused: { BURNED_IN: 1, NOT_DICOM: 1 }, failed: 0 });
    expect(await listAll(join(dir, 'out'))).to.deep.equal(['a/b/two.dcm', 'one.dcm']);
    expect(r.err).to.include('de-identified 2, refused 2 (');
    const out = await readFile(join(dir, 'out', 'one.dcm'));
    expect(out.includes(Buffer.from('DOE^JOHN'))).to.equal(false);
    expect(out.includes(Buffer.from('PID-0001'))).to.equal(false);
  });

  it('--allow-burned-in passes the ultrasound through; --key-file gives the same output as DEID_KEY', async function () {
    await writeFile(join(dir, 'key'), `${KEY_HEX}\n`);
    const r = await cli([input, join(dir, 'out'), '--allow-burned-in', '--json', '--key-file', join(dir, 'key')], {});
    expect(JSON.parse(r.out)).to.deep.equal({ processed: 3, refused: { NOT_DICOM: 1 }, failed: 0 });
    const viaEnv = await cli([join(input, 'one.dcm'), join(dir, 'env.dcm')]);
    expect(viaEnv.code).to.equal(EXIT.ok);
    expect((await readFile(join(dir, 'env.dcm'))).equals(await readFile(join(dir, 'out', 'one.dcm')))).to.equal(true);
  });

  it('rejects bad options with every problem at once (exit 2)', async function () {
    const r = await cli([input, join(dir, 'out'), '--dates', 'often', '--max-shift-days', '0', '--retain', 'faces']);
    expect(r.code).to.equal(EXIT.usage);
    for (const w of ['--dates', '--max-shift-days', 'faces']) expect(r.err).to.include(w);
    expect((await cli([input, join(input, 'a', 'out')])).code).to.equal(EXIT.usage);
  });

  it('runs as `npm run deidentify` would (a real process): exit code, JSON on stdout, --help with an example', async function () {
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string }>((resolve) => {
        execFile(process.execPath, ['--import', 'tsx', 'scripts/deid/cli.ts', ...args], { env: { ...process.env, DEID_KEY: KEY_HEX }, timeout: 60_000 }, (e, stdout) => resolve({ code: e ? Number((e as { code?: number }).code) : 0, stdout }));
      });
    const r = await run([join(input, 'one.dcm'), join(dir, 'x.dcm'), '--json']);
    expect(r.code).to.equal(0);
    expect(JSON.parse(r.stdout).processed).to.equal(1);
    const h = await run(['--help']);
    expect(h.stdout).to.include('npm run deidentify --').and.include('Exit codes');
    expect((await run([join(input, 'a', 'us.dcm'), join(dir, 'y.dcm')])).code).to.equal(1);
  });
});

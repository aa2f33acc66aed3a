import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lambdaIndex from '../../lambda/index';
import { buildLambdaZip } from '../../scripts/release/lambda-zip';
import { REPO_ROOT } from './helpers/built-image';

describe('release: lambda.zip', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'release-lambda-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is reproducible: two builds give the same sha256', async () => {
    const a = await buildLambdaZip(REPO_ROOT, '1.2.3');
    const b = await buildLambdaZip(REPO_ROOT, '1.2.3');
    expect(a.sha256).to.match(/^[0-9a-f]{64}$/);
    expect(b.sha256).to.equal(a.sha256);
    expect(b.bytes.equals(a.bytes)).to.equal(true);
  });

  it('is stored under lambda/<version>/lambda-<sha256>.zip', async () => {
    const zip = await buildLambdaZip(REPO_ROOT, '1.2.3');
    expect(zip.key).to.equal(`lambda/1.2.3/lambda-${zip.sha256}.zip`);
  });

  it('holds only index.js, with a fixed 1980-01-01 timestamp and mode 0644, and passes unzip -t', async () => {
    const zip = await buildLambdaZip(REPO_ROOT, '1.2.3');
    const file = join(dir, 'lambda.zip');
    writeFileSync(file, zip.bytes);
    execFileSync('unzip', ['-tq', file]);
    const listing = execFileSync('zipinfo', [file], { encoding: 'utf8' }).trim().split('\n');
    const entries = listing.filter((l) => /^[-d]r/.test(l));
    expect(entries).to.have.length(1);
    expect(entries[0]).to.match(/^-rw-r--r--\s.*\s80-Jan-01 00:00 index\.js$/);
  });

  it('exports every handler lambda/index.ts exports, loadable by Node.js as index.js', async () => {
    const zip = await buildLambdaZip(REPO_ROOT, '1.2.3');
    const out = join(dir, 'unzipped');
    writeFileSync(join(dir, 'l.zip'), zip.bytes);
    execFileSync('unzip', ['-oq', join(dir, 'l.zip'), '-d', out]);
    const expected = Object.keys(lambdaIndex).filter((k) => typeof (lambdaIndex as Record<string, unknown>)[k] === 'function');
    expect(expected.length).to.be.greaterThan(0);
    const script = `const m = require(${JSON.stringify(join(out, 'index.js'))}); console.log(JSON.stringify(Object.keys(m).filter((k) => typeof m[k] === 'function')))`;
    const exported = JSON.parse(
      execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', AWS_REGION: 'us-east-1' } }),
    ) as string[];
    expect(exported).to.have.members(expected);
  });
});

import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sortEntries, tarChunks, TarPathError, type TarEntry } from '../../scripts/release/tar-writer';
import { zipBytes } from '../../scripts/release/zip-writer';

describe('release: deterministic tar and zip writers', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'release-writers-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const longDir = `usr/${'d'.repeat(90)}/${'e'.repeat(40)}`;
  const entries: TarEntry[] = [
    { type: 'file', path: `${longDir}/file.txt`, mode: 0o644, data: Buffer.from('long path\n') },
    { type: 'dir', path: 'usr', mode: 0o755 },
    { type: 'dir', path: `usr/${'d'.repeat(90)}`, mode: 0o755 },
    { type: 'dir', path: longDir, mode: 0o755 },
    { type: 'symlink', path: 'lib', target: 'usr/lib' },
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    { type: 'file', path: 'usr/bin-x', mode: 0o755, data: Buffer.alloc(1000, 7) },
  ];

  it('tar: GNU tar extracts long (prefix-split) paths, symlinks, modes and the fixed mtime', async () => {
    const file = join(dir, 'a.tar');
    writeFileSync(file, Buffer.concat(await tarChunks(sortEntries(entries), { mtime: 1_700_000_000 })));
    const out = join(dir, 'x');
    execFileSync('mkdir', [out]);
    execFileSync('tar', ['-xpf', file, '-C', out]);
    expect(readFileSync(join(out, longDir, 'file.txt'), 'utf8')).to.equal('long path\n');
    expect(readlinkSync(join(out, 'lib'))).to.equal('usr/lib');
    expect(statSync(join(out, 'tmp')).mode & 0o7777).to.equal(0o1777);
    expect(statSync(join(out, 'usr/bin-x')).mode & 0o777).to.equal(0o755);
    expect(Math.floor(statSync(join(out, 'usr/bin-x')).mtimeMs / 1000)).to.equal(1_700_000_000);
  });

  it('tar: sorting makes the bytes independent of input order; duplicates are rejected', async () => {
    const a = Buffer.concat(await tarChunks(sortEntries(entries), { mtime: 0 }));
    const b = Buffer.concat(await tarChunks(sortEntries([...entries].reverse()), { mtime: 0 }));
    expect(a.equals(b)).to.equal(true);
    expect(() => sortEntries([...entries, { type: 'file', path: 'lib', mode: 0o644, data: Buffer.alloc(0) }])).to.throw(TarPathError, /duplicate entry: lib/);
  });

  it('tar: refuses absolute and parent-relative paths', async () => {
    for (const path of ['/etc', 'a/../b']) {
      const err = await tarChunks([{ type: 'dir', path, mode: 0o755 }], { mtime: 0 }).then(() => undefined, (e: unknown) => e);
      expect(err, path).to.be.instanceOf(TarPathError);
    }
  });

  it('tar: owner, group and names are fixed (0, empty), whoever builds', async () => {
    const tar = Buffer.concat(await tarChunks(sortEntries(entries), { mtime: 1_700_000_000 }));
    const listing = execFileSync('tar', ['-tvf', '-', '--numeric-owner'], { input: tar, encoding: 'utf8' }).trim().split('\n');
    expect(listing).to.have.length(entries.length);
    for (const line of listing) expect(line.split(/\s+/)[1]).to.equal('0/0');
    expect(listing.filter((l) => l.startsWith('d')).map((l) => l.split(/\s+/).pop())).to.deep.equal(['tmp/', 'usr/', `usr/${'d'.repeat(90)}/`, `${longDir}/`]);
  });

  it('zip: unzip restores the content; entries are sorted; same input gives the same bytes', async () => {
    const input = [
      { name: 'b.js', data: Buffer.from('b'.repeat(5000)) },
      { name: 'a.js', data: Buffer.from('console.log(1)\n'), mode: 0o644 },
    ];
    const zip = await zipBytes(input);
    expect((await zipBytes([...input].reverse())).equals(zip)).to.equal(true);
    const file = join(dir, 'a.zip');
    writeFileSync(file, zip);
    execFileSync('unzip', ['-q', file, '-d', join(dir, 'u')]);
    expect(readFileSync(join(dir, 'u', 'b.js'), 'utf8')).to.equal('b'.repeat(5000));
    const names = execFileSync('unzip', ['-Z1', file], { encoding: 'utf8' }).trim().split('\n');
    expect(names).to.deep.equal(['a.js', 'b.js']);
  });

  it('zip: fixed 1980-01-01 timestamp and the Unix mode, so the archive does not depend on when or where it is built', async () => {
    const zip = await zipBytes([{ name: 'index.js', data: Buffer.from('x'), mode: 0o640 }]);
    const file = join(dir, 'm.zip');
    writeFileSync(file, zip);
    const line = execFileSync('unzip', ['-Z', '-T', file], { encoding: 'utf8' }).split('\n').find((l) => l.endsWith('index.js'))!;
    expect(line).to.match(/^-rw-r-----/);
    expect(line).to.contain('19800101.000000');
    // No extended-timestamp extra field (it would carry the build time): the local header's extra length is 0.
    expect(zip.readUInt16LE(28)).to.equal(0);
  });
});

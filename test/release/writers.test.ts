import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sortEntries, tarChunks, TarPathError, type TarEntry } from '../../scripts/release/tar-writer';
import { crc32, zipBytes } from '../../scripts/release/zip-writer';

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

  it('tar: GNU tar extracts long (prefix-split) paths, symlinks, modes and the fixed mtime', () => {
    const file = join(dir, 'a.tar');
    writeFileSync(file, Buffer.concat(tarChunks(sortEntries(entries), { mtime: 1_700_000_000 })));
    const out = join(dir, 'x');
    execFileSync('mkdir', [out]);
    execFileSync('tar', ['-xpf', file, '-C', out]);
    expect(readFileSync(join(out, longDir, 'file.txt'), 'utf8')).to.equal('long path\n');
    expect(readlinkSync(join(out, 'lib'))).to.equal('usr/lib');
    expect(statSync(join(out, 'tmp')).mode & 0o7777).to.equal(0o1777);
    expect(statSync(join(out, 'usr/bin-x')).mode & 0o777).to.equal(0o755);
    expect(Math.floor(statSync(join(out, 'usr/bin-x')).mtimeMs / 1000)).to.equal(1_700_000_000);
  });

  it('tar: sorting makes the bytes independent of input order; duplicates are rejected', () => {
    const a = Buffer.concat(tarChunks(sortEntries(entries), { mtime: 0 }));
    const b = Buffer.concat(tarChunks(sortEntries([...entries].reverse()), { mtime: 0 }));
    expect(a.equals(b)).to.equal(true);
    expect(() => sortEntries([...entries, { type: 'file', path: 'lib', mode: 0o644, data: Buffer.alloc(0) }])).to.throw(TarPathError, /duplicate entry: lib/);
  });

  it('tar: refuses absolute and parent-relative paths', () => {
    expect(() => tarChunks([{ type: 'dir', path: '/etc', mode: 0o755 }], { mtime: 0 })).to.throw(TarPathError);
    expect(() => tarChunks([{ type: 'dir', path: 'a/../b', mode: 0o755 }], { mtime: 0 })).to.throw(TarPathError);
  });

  it('zip: unzip restores the content; entries are sorted; same input gives the same bytes', () => {
    const input = [
      { name: 'b.js', data: Buffer.from('b'.repeat(5000)) },
      { name: 'a.js', data: Buffer.from('console.log(1)\n'), mode: 0o644 },
    ];
    const zip = zipBytes(input);
    expect(zipBytes([...input].reverse()).equals(zip)).to.equal(true);
    const file = join(dir, 'a.zip');
    writeFileSync(file, zip);
    execFileSync('unzip', ['-q', file, '-d', join(dir, 'u')]);
    expect(readFileSync(join(dir, 'u', 'b.js'), 'utf8')).to.equal('b'.repeat(5000));
    const names = execFileSync('unzip', ['-Z1', file], { encoding: 'utf8' }).trim().split('\n');
    expect(names).to.deep.equal(['a.js', 'b.js']);
  });

  it('crc32 matches the IEEE check value', () => {
    expect(crc32(Buffer.from('123456789'))).to.equal(0xcbf43926);
  });
});

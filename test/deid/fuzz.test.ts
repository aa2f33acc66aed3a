import { expect } from 'chai';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeidRefusedError } from '../../lambda/deid/index';
import { deidentifyFile } from '../../scripts/deid/cli';
import { basicElements, encode, header, part10, EXPLICIT_LE, IMPLICIT_LE, TS, fileMeta, CT, type El } from './dataset-builder';
import { deidCollect, keysFor } from './run';

/** mulberry32: a small seeded generator, so a failure can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function bases(): Buffer[] {
  const els: El[] = [
    ...basicElements({ sop: '1.2.826.0.1.3680043.6.1', study: '1.2.826.0.1.3680043.6.2', series: '1.2.826.0.1.3680043.6.3' }),
    { tag: 0x00081140, vr: 'SQ', undefinedLength: true, items: [[{ tag: 0x00081150, vr: 'UI', value: CT }, { tag: 0x00081155, vr: 'UI', value: '1.2.826.0.1.3680043.6.9' }]] },
    { tag: 0x00082218, vr: 'SQ', items: [[{ tag: 0x00080104, vr: 'LO', value: 'Chest' }, { tag: 0x00400260, vr: 'SQ', items: [[{ tag: 0x00100010, vr: 'PN', value: 'NESTED^NAME' }]] }]] },
    { tag: 0x00090010, vr: 'LO', value: 'VENDOR' },
    { tag: 0x00091001, vr: 'SQ', undefinedLength: true, items: [[{ tag: 0x00100020, vr: 'LO', value: 'X' }]] },
    { tag: 0x00100030, vr: 'DA', value: '19800101' },
    { tag: 0x00181030, vr: 'LO', value: 'PROTOCOL' },
  ];
  const noPixel = els.filter((e) => e.tag !== 0x7fe00010);
  // Encapsulated: empty offset table, two fragments, sequence delimiter.
  const frag = (n: number) => Buffer.concat([Buffer.from([0xfe, 0xff, 0x00, 0xe0]), Buffer.from([n, 0, 0, 0]), Buffer.alloc(n, 0x77)]);
  const encapsulated = Buffer.concat([fileMeta('1.2.840.10008.1.2.5', CT, '1.2.826.0.1.3680043.6.1'), encode(noPixel, EXPLICIT_LE), header(0x7fe00010, 'OB', 0xffffffff, EXPLICIT_LE), frag(0), frag(24), frag(10), Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0])]);
  return [part10(els, EXPLICIT_LE), part10(els, IMPLICIT_LE, TS.implicitLE), encapsulated];
}

function mutate(b: Buffer, r: () => number): Buffer {
  const out = Buffer.from(b);
  const kind = Math.floor(r() * 4);
  const at = () => 128 + Math.floor(r() * (out.length - 128));
  if (kind === 0) {
    for (let i = 0, n = 1 + Math.floor(r() * 6); i < n; i++) out[at()] = Math.floor(r() * 256);
    return out;
  }
  if (kind === 1) {
    // A length field set to something large, small, odd or undefined.
    const p = at() & ~1;
    const v = [0xffffffff, 0x7fffffff, 0, 1, 0xfffe, Math.floor(r() * 70000)][Math.floor(r() * 6)];
    if (p + 4 <= out.length) out.writeUInt32LE(v >>> 0, p);
    return out;
  }
  if (kind === 2) return out.subarray(0, at());
  const p = at();
  return Buffer.concat([out.subarray(0, p), Buffer.from(Array.from({ length: 1 + Math.floor(r() * 8) }, () => Math.floor(r() * 256))), out.subarray(p + Math.floor(r() * 8))]);
}

describe('deid: fuzzed headers (seeded)', function () {
  this.timeout(300_000);

  it('3,000 mutated instances: each is de-identified or refused with a DeidRefusedError, never a crash or another error', async function () {
    const keys = await keysFor();
    const r = prng(15);
    const inputs = bases();
    const codes = new Map<string, number>();
    let ok = 0;
    for (let i = 0; i < 3000; i++) {
      const input = mutate(inputs[i % inputs.length], r);
      const res = await deidCollect(input, { keys, dates: i % 2 ? 'shift' : 'remove' }, 1 + Math.floor(r() * 4096));
      if (res.error) {
        if (!(res.error instanceof DeidRefusedError)) throw new Error(`iteration ${i}: ${(res.error as Error).stack}`);
        codes.set(res.error.code, (codes.get(res.error.code) ?? 0) + 1);
        // Refused in the header: nothing was written.
        if (res.out.length && res.error.code !== 'TRUNCATED' && res.error.code !== 'MALFORMED' && res.error.code !== 'TRAILING_DATA') throw new Error(`iteration ${i}: ${res.error.code} after ${res.out.length} bytes`);
      } else {
        ok++;
        expect(res.result?.bytesOut).to.equal(res.out.length);
        // What was written is well-formed: the engine reads it back without a parse refusal.
        const again = await deidCollect(res.out, { keys });
        if (again.error) throw new Error(`iteration ${i}: the output does not read back: ${(again.error as Error).message}`);
      }
    }
    expect(ok).to.be.greaterThan(100);
    expect(codes.size).to.be.greaterThan(3);
  });

  it('through the CLI path, a refused or failing file leaves no output and no temporary file', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'deid-fuzz-'));
    try {
      const keys = await keysFor();
      const r = prng(16);
      const inputs = bases();
      let refused = 0;
      for (let i = 0; i < 200; i++) {
        const src = join(dir, 'in.dcm');
        const dst = join(dir, 'out', `o${i}.dcm`);
        await writeFile(src, mutate(inputs[i % inputs.length], r));
        try {
          await deidentifyFile(src, dst, { keys });
          expect((await readFile(dst)).subarray(128, 132).toString()).to.equal('DICM');
        } catch (e) {
          expect(e).to.be.instanceOf(DeidRefusedError);
          refused++;
          expect((await readdir(join(dir, 'out'))).filter((f) => f === `o${i}.dcm` || f.endsWith('.tmp'))).to.deep.equal([]);
        }
      }
      expect(refused).to.be.greaterThan(20);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

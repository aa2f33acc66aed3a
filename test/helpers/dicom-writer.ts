import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/** Writes small Part-10 test files (Explicit VR Little Endian) with real pixel data. */
export interface TestInstance {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly modality: string;
  readonly rows: number;
  readonly columns: number;
  readonly frames?: number;
  /** 8 or 16 bits allocated (default 16). */
  readonly bitsAllocated?: 8 | 16;
  readonly patientId?: string;
  /** Raw Explicit VR LE elements of private group 0009, written between group 0008 and group 0010. */
  readonly privateGroup0009?: Buffer;
}

function el(group: number, element: number, vr: string, value: Buffer): Buffer {
  const long = ['OB', 'OW', 'SQ', 'UN', 'UT'].includes(vr);
  const h = Buffer.alloc(long ? 12 : 8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(element, 2);
  h.write(vr, 4, 'latin1');
  if (long) h.writeUInt32LE(value.length, 8);
  else h.writeUInt16LE(value.length, 6);
  return Buffer.concat([h, value]);
}

const str = (s: string, pad = 0x20): Buffer => {
  const b = Buffer.from(s, 'latin1');
  return b.length % 2 ? Buffer.concat([b, Buffer.from([pad])]) : b;
};
const uid = (s: string): Buffer => str(s, 0);
const us = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};

function meta(sopClassUid: string, sopInstanceUid: string): Buffer {
  const els = Buffer.concat([
    el(2, 1, 'OB', Buffer.from([0, 1])),
    el(2, 2, 'UI', uid(sopClassUid)),
    el(2, 3, 'UI', uid(sopInstanceUid)),
    el(2, 0x10, 'UI', uid('1.2.840.10008.1.2.1')),
    el(2, 0x12, 'UI', uid('1.2.3.4.5.6.7')),
  ]);
  const gl = Buffer.alloc(4);
  gl.writeUInt32LE(els.length);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), el(2, 0, 'UL', gl), els]);
}

/** The dataset header (everything before the pixel data value). */
function header(t: TestInstance, pixelBytes: number): Buffer {
  const bits = t.bitsAllocated ?? 16;
  const parts = [
    el(8, 0x16, 'UI', uid(t.sopClassUid)),
    el(8, 0x18, 'UI', uid(t.sopInstanceUid)),
    el(8, 0x60, 'CS', str(t.modality)),
    t.privateGroup0009 ?? Buffer.alloc(0),
    el(0x10, 0x10, 'PN', str('TEST^PATIENT')),
    el(0x10, 0x20, 'LO', str(t.patientId ?? 'PID-1')),
    el(0x20, 0x0d, 'UI', uid(t.studyInstanceUid)),
    el(0x20, 0x0e, 'UI', uid(t.seriesInstanceUid)),
    el(0x20, 0x13, 'IS', str('1')),
    el(0x28, 0x02, 'US', us(1)),
    el(0x28, 0x04, 'CS', str('MONOCHROME2')),
  ];
  if (t.frames && t.frames > 1) parts.push(el(0x28, 0x08, 'IS', str(String(t.frames))));
  parts.push(
    el(0x28, 0x10, 'US', us(t.rows)),
    el(0x28, 0x11, 'US', us(t.columns)),
    el(0x28, 0x100, 'US', us(bits)),
    el(0x28, 0x101, 'US', us(bits === 8 ? 8 : 12)),
    el(0x28, 0x102, 'US', us(bits === 8 ? 7 : 11)),
    el(0x28, 0x103, 'US', us(0)),
  );
  const h = Buffer.alloc(12);
  h.writeUInt16LE(0x7fe0, 0);
  h.writeUInt16LE(0x10, 2);
  h.write(bits === 8 ? 'OB' : 'OW', 4, 'latin1');
  h.writeUInt32LE(pixelBytes, 8);
  parts.push(h);
  return Buffer.concat(parts);
}

/** Deterministic, compressible-but-not-trivial pixel values (a gradient with noise). */
function pixels(t: TestInstance, frame: number): Buffer {
  const bits = t.bitsAllocated ?? 16;
  const n = t.rows * t.columns;
  const b = Buffer.alloc(n * (bits / 8));
  let seed = (frame + 1) * 2654435761;
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const v = (((i % t.columns) + Math.floor(i / t.columns) + frame * 7) & 0x3ff) + ((seed >>> 28) & 0x7);
    if (bits === 8) b[i] = v & 0xff;
    else b.writeUInt16LE(v & 0xfff, i * 2);
  }
  return b;
}

/** Writes the file, streaming frames, so a 100 MB instance never sits in memory whole. */
export async function writeTestInstance(file: string, t: TestInstance): Promise<void> {
  const frames = t.frames ?? 1;
  const frameBytes = t.rows * t.columns * ((t.bitsAllocated ?? 16) / 8);
  const out = createWriteStream(file);
  out.write(meta(t.sopClassUid, t.sopInstanceUid));
  out.write(header(t, frameBytes * frames));
  const base = pixels(t, 0);
  for (let f = 0; f < frames; f++) {
    const frame = f === 0 ? base : Buffer.from(base);
    if (f > 0) frame.writeUInt16LE(f & 0xffff, 0);
    if (!out.write(frame)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

import { DeidRefusedError } from './api';
import { isLongVr, type Syntax } from './dataset-parser';

/** Encodes an element header: explicit (short or long form) or implicit, either byte order. */
export function elementHeader(tag: number, vr: string, length: number, s: Syntax): Buffer {
  const long = s.explicit && isLongVr(vr);
  const h = Buffer.alloc(s.explicit ? (long ? 12 : 8) : 8);
  writeTag(h, tag, s);
  if (!s.explicit) writeU32(h, 4, length, s);
  else {
    h.write(vr, 4, 'latin1');
    if (long) writeU32(h, 8, length, s);
    else if (length > 0xffff) throw new DeidRefusedError('MALFORMED', 'a replaced value is too long for its VR');
    else if (s.littleEndian) h.writeUInt16LE(length, 6);
    else h.writeUInt16BE(length, 6);
  }
  return h;
}

/** Item, item delimiter and sequence delimiter headers (no VR in any syntax). */
export function itemHeader(tag: number, length: number, s: Syntax): Buffer {
  const h = Buffer.alloc(8);
  writeTag(h, tag, s);
  writeU32(h, 4, length, s);
  return h;
}

function writeTag(h: Buffer, tag: number, s: Syntax): void {
  if (s.littleEndian) {
    h.writeUInt16LE(tag >>> 16, 0);
    h.writeUInt16LE(tag & 0xffff, 2);
  } else {
    h.writeUInt16BE(tag >>> 16, 0);
    h.writeUInt16BE(tag & 0xffff, 2);
  }
}

function writeU32(h: Buffer, at: number, v: number, s: Syntax): void {
  if (s.littleEndian) h.writeUInt32LE(v >>> 0, at);
  else h.writeUInt32BE(v >>> 0, at);
}

/** A string value padded to even length (UI with NUL, others with a space). */
export function stringValue(text: string, vr: string): Buffer {
  const b = Buffer.from(text, 'latin1');
  return b.length % 2 ? Buffer.concat([b, Buffer.from([vr === 'UI' ? 0 : 0x20])]) : b;
}

/** A whole element with a string value. */
export function stringElement(tag: number, vr: string, text: string, s: Syntax): Buffer {
  const v = stringValue(text, vr);
  return Buffer.concat([elementHeader(tag, vr, v.length, s), v]);
}

/** A value read as text, without its padding. */
export const readText = (buf: Buffer, start: number, end: number): string => buf.toString('latin1', start, end).replace(/[\0 ]+$/, '');

/** PS3.5 character repertoire of string VRs (the ones whose dummy is text). */
export const TEXT_VRS = new Set(['AE', 'CS', 'LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UT']);

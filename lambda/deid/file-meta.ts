import { DeidRefusedError } from './api';
import { NeedMore, type Syntax } from './dataset-parser';
import { elementHeader, readText, stringElement } from './encoding';

/** Our Implementation Class UID (a fixed 2.25 UID) and version name, written into every output. */
export const IMPLEMENTATION_CLASS_UID = '2.25.208341062233185574470151387916349915931';
export const IMPLEMENTATION_VERSION = 'DEID_1';

export interface FileMeta {
  readonly end: number;
  readonly transferSyntaxUid: string;
  readonly sopClassUid: string;
  readonly version: Buffer;
}

const EXPLICIT_LE: Syntax = { explicit: true, littleEndian: true };
const LONG = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);

/** Reads the preamble, DICM and the group-2 elements (always Explicit VR LE). */
export function parseFileMeta(buf: Buffer, final: boolean): FileMeta {
  const need = (n: number): void => {
    if (buf.length < n) throw final ? new DeidRefusedError('TRUNCATED', 'the input ends inside the file meta information') : new NeedMore();
  };
  if (buf.length < 132 && final) throw new DeidRefusedError('NOT_DICOM', 'no DICM prefix at offset 128');
  need(132);
  if (buf.toString('latin1', 128, 132) !== 'DICM') throw new DeidRefusedError('NOT_DICOM', 'no DICM prefix at offset 128');
  let pos = 132;
  const values = new Map<number, Buffer>();
  for (;;) {
    need(pos + 2);
    if (buf.readUInt16LE(pos) !== 2) break;
    need(pos + 8);
    const element = buf.readUInt16LE(pos + 2);
    const vr = buf.toString('latin1', pos + 4, pos + 6);
    if (!/^[A-Z]{2}$/.test(vr)) throw new DeidRefusedError('MALFORMED', 'the file meta information is not Explicit VR');
    let valueStart = pos + 8;
    let length = buf.readUInt16LE(pos + 6);
    if (LONG.has(vr)) {
      need(pos + 12);
      valueStart = pos + 12;
      length = buf.readUInt32LE(pos + 8);
      if (length === 0xffffffff) throw new DeidRefusedError('MALFORMED', 'an undefined length in the file meta information');
    }
    need(valueStart + length);
    values.set(element, buf.subarray(valueStart, valueStart + length));
    pos = valueStart + length;
  }
  const text = (e: number): string => {
    const v = values.get(e);
    return v ? readText(v, 0, v.length) : '';
  };
  const transferSyntaxUid = text(0x10);
  if (!transferSyntaxUid) throw new DeidRefusedError('MALFORMED', 'the file meta information has no Transfer Syntax UID');
  return { end: pos, transferSyntaxUid, sopClassUid: text(0x02), version: values.get(0x01) ?? Buffer.from([0, 1]) };
}

/**
 * The output's file meta: a zeroed preamble (an original preamble may hold
 * anything), version, SOP class, the new SOP instance UID, transfer syntax and
 * our implementation identity, with the group length recomputed. Source and
 * sending AE titles and private meta elements are not carried over.
 */
export function writeFileMeta(meta: FileMeta, sopClassUid: string, sopInstanceUid: string): Buffer {
  const s = EXPLICIT_LE;
  const els = Buffer.concat([
    elementHeader(0x00020001, 'OB', meta.version.length, s),
    meta.version,
    stringElement(0x00020002, 'UI', sopClassUid, s),
    stringElement(0x00020003, 'UI', sopInstanceUid, s),
    stringElement(0x00020010, 'UI', meta.transferSyntaxUid, s),
    stringElement(0x00020012, 'UI', IMPLEMENTATION_CLASS_UID, s),
    stringElement(0x00020013, 'SH', IMPLEMENTATION_VERSION, s),
  ]);
  const gl = Buffer.alloc(4);
  gl.writeUInt32LE(els.length);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), elementHeader(0x00020000, 'UL', 4, s), gl, els]);
}

/** The dataset encoding of a transfer syntax; undefined for one the engine does not read. */
export function syntaxOf(ts: string): { syntax: Syntax; deflated: boolean } | undefined {
  if (ts === '1.2.840.10008.1.2') return { syntax: { explicit: false, littleEndian: true }, deflated: false };
  if (ts === '1.2.840.10008.1.2.1') return { syntax: EXPLICIT_LE, deflated: false };
  if (ts === '1.2.840.10008.1.2.2') return { syntax: { explicit: true, littleEndian: false }, deflated: false };
  if (ts === '1.2.840.10008.1.2.1.99') return { syntax: EXPLICIT_LE, deflated: true };
  // Encapsulated: JPEG family, JPEG-LS, JPEG 2000, MPEG, HEVC, HTJ2K (1.2.840.10008.1.2.4.x), RLE (.5),
  // deflated image frames (.8.1), encapsulated uncompressed (.1.98).
  if (/^1\.2\.840\.10008\.1\.2\.(4\.\d+|5|8\.1|1\.98)$/.test(ts)) return { syntax: EXPLICIT_LE, deflated: false };
  return undefined;
}

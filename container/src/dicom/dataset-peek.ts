import * as zlib from 'node:zlib';
import { DEFLATED_LE, EXPLICIT_BE, IMPLICIT_LE } from './uids';

/** Identifiers read from the leading elements of a dataset. */
export interface PeekedIds {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly sopInstanceUid: string;
}

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
const UNDEFINED = 0xffffffff;
const STUDY = 0x0020000d;
const SERIES = 0x0020000e;
const SOP_INSTANCE = 0x00080018;
const STOP_AFTER = 0x0020000e;

/** Thrown internally when the buffered prefix ends mid-element. */
class NeedMore extends Error {}

/**
 * Walks the dataset's elements from the start (nested sequences included)
 * until Series Instance UID (0020,000E) has been passed. Returns undefined
 * when `data` ends before that point and `complete` is false.
 */
export function peekIds(data: Buffer, transferSyntaxUid: string, complete: boolean): PeekedIds | undefined {
  let buf = data;
  if (transferSyntaxUid === DEFLATED_LE) {
    try {
      buf = zlib.inflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch {
      return complete ? { studyInstanceUid: '', seriesInstanceUid: '', sopInstanceUid: '' } : undefined;
    }
  }
  const implicit = transferSyntaxUid === IMPLICIT_LE;
  const big = transferSyntaxUid === EXPLICIT_BE;
  const ids = { studyInstanceUid: '', seriesInstanceUid: '', sopInstanceUid: '' };
  const u16 = (o: number): number => (big ? buf.readUInt16BE(o) : buf.readUInt16LE(o));
  const u32 = (o: number): number => (big ? buf.readUInt32BE(o) : buf.readUInt32LE(o));
  const str = (o: number, n: number): string => buf.toString('latin1', o, o + n).replace(/[\0 ]+$/, '');
  let off = 0;
  let depth = 0;
  try {
    for (;;) {
      if (off + 8 > buf.length) throw new NeedMore();
      const tag = ((u16(off) << 16) | u16(off + 2)) >>> 0;
      if ((tag >>> 16) === 0xfffe) {
        // Item / delimiters: tag + 4-byte length, never a VR.
        const len = u32(off + 4);
        off += 8;
        if (tag === 0xfffee000) {
          if (len === UNDEFINED) depth++;
          else off += len;
        } else {
          depth--;
        }
        continue;
      }
      if (depth === 0 && tag > STOP_AFTER) return ids;
      let len: number;
      let vr = '';
      if (implicit) {
        len = u32(off + 4);
        off += 8;
      } else {
        vr = buf.toString('latin1', off + 4, off + 6);
        if (LONG_VRS.has(vr)) {
          if (off + 12 > buf.length) throw new NeedMore();
          len = u32(off + 8);
          off += 12;
        } else {
          len = u16(off + 6);
          off += 8;
        }
      }
      if (len === UNDEFINED) {
        depth++;
        continue;
      }
      if (depth === 0 && (tag === STUDY || tag === SERIES || tag === SOP_INSTANCE)) {
        if (off + len > buf.length) throw new NeedMore();
        const v = str(off, len);
        if (tag === STUDY) ids.studyInstanceUid = v;
        else if (tag === SERIES) ids.seriesInstanceUid = v;
        else ids.sopInstanceUid = v;
        if (tag === SERIES) return ids;
      }
      off += len;
    }
  } catch (err) {
    if (!(err instanceof NeedMore) && !(err instanceof RangeError)) throw err;
    return complete ? ids : undefined;
  }
}

/**
 * Builds DICOM datasets and Part-10 files for the de-identification tests,
 * independently of the engine's own encoder: Explicit VR LE / BE, Implicit VR LE,
 * sequences and items of defined or undefined length.
 */
export interface El {
  readonly tag: number;
  readonly vr: string;
  readonly value?: Buffer | string;
  /** Items of a sequence (each a list of elements). */
  readonly items?: readonly (readonly El[])[];
  readonly undefinedLength?: boolean;
}

export interface Enc {
  readonly explicit: boolean;
  readonly littleEndian: boolean;
}

export const EXPLICIT_LE: Enc = { explicit: true, littleEndian: true };
export const IMPLICIT_LE: Enc = { explicit: false, littleEndian: true };
export const EXPLICIT_BE: Enc = { explicit: true, littleEndian: false };

const LONG = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);

function u16(n: number, e: Enc): Buffer {
  const b = Buffer.alloc(2);
  if (e.littleEndian) b.writeUInt16LE(n);
  else b.writeUInt16BE(n);
  return b;
}
function u32(n: number, e: Enc): Buffer {
  const b = Buffer.alloc(4);
  if (e.littleEndian) b.writeUInt32LE(n >>> 0);
  else b.writeUInt32BE(n >>> 0);
  return b;
}
const tagBytes = (tag: number, e: Enc): Buffer => Buffer.concat([u16(tag >>> 16, e), u16(tag & 0xffff, e)]);

export function value(v: Buffer | string | undefined, vr: string): Buffer {
  if (v === undefined) return Buffer.alloc(0);
  const b = typeof v === 'string' ? Buffer.from(v, 'latin1') : v;
  return b.length % 2 ? Buffer.concat([b, Buffer.from([vr === 'UI' || vr === 'OB' || vr === 'UN' ? 0 : 0x20])]) : b;
}

export function header(tag: number, vr: string, length: number, e: Enc): Buffer {
  if (!e.explicit) return Buffer.concat([tagBytes(tag, e), u32(length, e)]);
  if (LONG.has(vr)) return Buffer.concat([tagBytes(tag, e), Buffer.from(vr, 'latin1'), Buffer.alloc(2), u32(length, e)]);
  return Buffer.concat([tagBytes(tag, e), Buffer.from(vr, 'latin1'), u16(length, e)]);
}

/** Encodes elements, sorted by tag. */
export function encode(els: readonly El[], e: Enc): Buffer {
  return Buffer.concat([...els].sort((a, b) => a.tag - b.tag).map((el) => encodeOne(el, e)));
}

function encodeOne(el: El, e: Enc): Buffer {
  if (el.items) {
    const items = el.items.map((it) => {
      const body = encode(it, e);
      return el.undefinedLength
        ? Buffer.concat([tagBytes(0xfffee000, e), u32(0xffffffff, e), body, tagBytes(0xfffee00d, e), u32(0, e)])
        : Buffer.concat([tagBytes(0xfffee000, e), u32(body.length, e), body]);
    });
    const body = Buffer.concat(items);
    return el.undefinedLength
      ? Buffer.concat([header(el.tag, 'SQ', 0xffffffff, e), body, tagBytes(0xfffee0dd, e), u32(0, e)])
      : Buffer.concat([header(el.tag, 'SQ', body.length, e), body]);
  }
  const v = value(el.value, el.vr);
  return Buffer.concat([header(el.tag, el.vr, v.length, e), v]);
}

/** Preamble, DICM and a file meta group (Explicit VR LE) with its group length. */
export function fileMeta(ts: string, sopClass: string, sopInstance: string, extra: readonly El[] = []): Buffer {
  const els = encode(
    [
      { tag: 0x00020001, vr: 'OB', value: Buffer.from([0, 1]) },
      { tag: 0x00020002, vr: 'UI', value: sopClass },
      { tag: 0x00020003, vr: 'UI', value: sopInstance },
      { tag: 0x00020010, vr: 'UI', value: ts },
      { tag: 0x00020012, vr: 'UI', value: '1.2.3.4' },
      ...extra,
    ],
    EXPLICIT_LE,
  );
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), header(0x00020000, 'UL', 4, EXPLICIT_LE), u32(els.length, EXPLICIT_LE), els]);
}

export const TS = {
  implicitLE: '1.2.840.10008.1.2',
  explicitLE: '1.2.840.10008.1.2.1',
  explicitBE: '1.2.840.10008.1.2.2',
  deflated: '1.2.840.10008.1.2.1.99',
} as const;

export const CT = '1.2.840.10008.5.1.4.1.1.2';

/** The minimum a CT-like instance carries, with 4x4 8-bit pixels (explicit LE). */
export function basicElements(o: { sop: string; study: string; series: string; patientId?: string; studyDate?: string; sopClass?: string; modality?: string }): El[] {
  return [
    { tag: 0x00080016, vr: 'UI', value: o.sopClass ?? CT },
    { tag: 0x00080018, vr: 'UI', value: o.sop },
    { tag: 0x00080020, vr: 'DA', value: o.studyDate ?? '20240315' },
    { tag: 0x00080060, vr: 'CS', value: o.modality ?? 'CT' },
    { tag: 0x00100010, vr: 'PN', value: 'DOE^JOHN' },
    { tag: 0x00100020, vr: 'LO', value: o.patientId ?? 'PID-0001' },
    { tag: 0x0020000d, vr: 'UI', value: o.study },
    { tag: 0x0020000e, vr: 'UI', value: o.series },
    { tag: 0x00280002, vr: 'US', value: Buffer.from([1, 0]) },
    { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
    { tag: 0x00280010, vr: 'US', value: Buffer.from([4, 0]) },
    { tag: 0x00280011, vr: 'US', value: Buffer.from([4, 0]) },
    { tag: 0x00280100, vr: 'US', value: Buffer.from([8, 0]) },
    { tag: 0x00280101, vr: 'US', value: Buffer.from([8, 0]) },
    { tag: 0x00280102, vr: 'US', value: Buffer.from([7, 0]) },
    { tag: 0x00280103, vr: 'US', value: Buffer.from([0, 0]) },
    { tag: 0x7fe00010, vr: 'OB', value: Buffer.from(Array.from({ length: 16 }, (_, i) => i * 13)) },
  ];
}

/** A whole Part-10 file from elements (the SOP class / instance come from them). */
export function part10(els: readonly El[], e: Enc = EXPLICIT_LE, ts: string = e.explicit ? (e.littleEndian ? TS.explicitLE : TS.explicitBE) : TS.implicitLE, metaExtra: readonly El[] = []): Buffer {
  const text = (tag: number): string => String(els.find((x) => x.tag === tag)?.value ?? '');
  return Buffer.concat([fileMeta(ts, text(0x00080016) || CT, text(0x00080018) || '1.2.3', metaExtra), encode(els, e)]);
}

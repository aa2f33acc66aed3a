import { DeidRefusedError } from './api';
import { vrOf } from './dictionary';

/** How a dataset (or an item inside an explicit UN) is encoded. */
export interface Syntax {
  readonly explicit: boolean;
  readonly littleEndian: boolean;
}

export interface ItemNode {
  readonly start: number;
  readonly valueStart: number;
  readonly end: number;
  readonly undefinedLength: boolean;
  readonly syntax: Syntax;
  readonly elements: readonly ElementNode[];
}

export interface ElementNode {
  /** (group << 16 | element), unsigned. */
  readonly tag: number;
  /** The VR read (explicit), or the dictionary's (implicit); 'UN' when unknown. */
  readonly vr: string;
  /** The VR the element is written with in explicit syntax (differs from vr for UN-encoded known tags). */
  readonly encodedVr: string;
  readonly start: number;
  readonly valueStart: number;
  readonly end: number;
  readonly undefinedLength: boolean;
  /** Sequences (and UN-encoded sequences, whose items are Implicit VR LE). */
  readonly items?: readonly ItemNode[];
  /** Encapsulated pixel data below the top level (kept or removed whole). */
  readonly encapsulated?: boolean;
}

export interface ParsedDataset {
  readonly elements: readonly ElementNode[];
  /** The top-level pixel data element, if the parse stopped at it (its value is not parsed). */
  readonly pixel?: { readonly tag: number; readonly start: number; readonly valueStart: number; readonly length: number | undefined };
  readonly end: number;
}

/** Thrown when the buffer ends inside an element and more input may come. */
export class NeedMore extends Error {}
const NEED_MORE = new NeedMore('need more input');

export const UNDEFINED = 0xffffffff;
export const ITEM = 0xfffee000;
export const ITEM_DELIMITER = 0xfffee00d;
export const SEQUENCE_DELIMITER = 0xfffee0dd;
export const PIXEL_TAGS = new Set([0x7fe00010, 0x7fe00008, 0x7fe00009]);

const KNOWN_VRS = new Set('AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV'.split(' '));
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
export const isLongVr = (vr: string): boolean => LONG_VRS.has(vr);
export const IMPLICIT_LE: Syntax = Object.freeze({ explicit: false, littleEndian: true });

interface Limits {
  readonly maxDepth: number;
  /** The buffer holds everything there is (a short read is TRUNCATED, not NeedMore). */
  readonly final: boolean;
}

/**
 * Parses a dataset from `buf` starting at `pos` into a tree of offsets (values
 * stay in `buf`). At the top level it stops at the pixel data element. Fails
 * closed: every inconsistency is a DeidRefusedError naming the cause.
 */
export function parseDataset(buf: Buffer, pos: number, syntax: Syntax, limits: Limits, stopAtPixel: boolean): ParsedDataset {
  const p = new Parser(buf, limits);
  const elements: ElementNode[] = [];
  while (pos < buf.length) {
    if (stopAtPixel) {
      p.need(pos, 8);
      const tag = p.tag(pos, syntax);
      if (PIXEL_TAGS.has(tag)) {
        const h = p.header(pos, syntax, 0);
        return { elements, pixel: { tag, start: pos, valueStart: h.valueStart, length: h.length === UNDEFINED ? undefined : h.length }, end: pos };
      }
    }
    // The top level has no enclosing length: an element running past the buffer is NeedMore or TRUNCATED.
    const el = p.element(pos, syntax, Number.MAX_SAFE_INTEGER, 0);
    elements.push(el);
    pos = el.end;
  }
  return { elements, end: pos };
}

class Parser {
  constructor(
    private readonly buf: Buffer,
    private readonly limits: Limits,
  ) {}

  need(pos: number, n: number): void {
    if (pos + n > this.buf.length) {
      if (this.limits.final) throw new DeidRefusedError('TRUNCATED', 'the input ends inside an element');
      throw NEED_MORE;
    }
  }

  u16(pos: number, s: Syntax): number {
    return s.littleEndian ? this.buf.readUInt16LE(pos) : this.buf.readUInt16BE(pos);
  }

  u32(pos: number, s: Syntax): number {
    return s.littleEndian ? this.buf.readUInt32LE(pos) : this.buf.readUInt32BE(pos);
  }

  tag(pos: number, s: Syntax): number {
    return ((this.u16(pos, s) << 16) | this.u16(pos + 2, s)) >>> 0;
  }

  header(pos: number, s: Syntax, depth: number): { tag: number; vr: string; encodedVr: string; valueStart: number; length: number } {
    this.need(pos, 8);
    const tag = this.tag(pos, s);
    if (tag >>> 16 === 0xfffe) return { tag, vr: '', encodedVr: '', valueStart: pos + 8, length: this.u32(pos + 4, s) };
    if (!s.explicit) {
      return { tag, vr: vrOf(tag), encodedVr: vrOf(tag), valueStart: pos + 8, length: this.u32(pos + 4, s) };
    }
    const encodedVr = this.buf.toString('latin1', pos + 4, pos + 6);
    if (!KNOWN_VRS.has(encodedVr)) throw new DeidRefusedError('UNKNOWN_VR', `an element at depth ${depth} has an unknown VR`);
    // A known attribute sent as UN is read as its dictionary VR (a UN sequence holds Implicit VR LE items).
    const vr = encodedVr === 'UN' && vrOf(tag) !== 'UN' ? vrOf(tag) : encodedVr;
    if (LONG_VRS.has(encodedVr)) {
      this.need(pos, 12);
      return { tag, vr, encodedVr, valueStart: pos + 12, length: this.u32(pos + 8, s) };
    }
    return { tag, vr, encodedVr, valueStart: pos + 8, length: this.u16(pos + 6, s) };
  }

  element(pos: number, s: Syntax, limit: number, depth: number): ElementNode {
    const h = this.header(pos, s, depth);
    if (h.tag >>> 16 === 0xfffe) throw new DeidRefusedError('MALFORMED', `an item or delimiter outside a sequence at depth ${depth}`);
    const base = { tag: h.tag, vr: h.vr, encodedVr: h.encodedVr, start: pos, valueStart: h.valueStart };
    const isSequence = h.vr === 'SQ' || (h.vr === 'UN' && h.length === UNDEFINED);
    if (isSequence) {
      if (depth + 1 > this.limits.maxDepth) throw new DeidRefusedError('TOO_DEEP', `sequences nest deeper than ${this.limits.maxDepth}`);
      // Items inside a UN (explicit) are Implicit VR Little Endian (PS3.5 6.2.2).
      const inner = h.encodedVr === 'UN' || h.vr === 'UN' ? IMPLICIT_LE : s;
      const { items, end } = this.items(h.valueStart, h.length, inner, limit, depth + 1);
      return { ...base, end, undefinedLength: h.length === UNDEFINED, items };
    }
    if (h.length === UNDEFINED) {
      if (!PIXEL_TAGS.has(h.tag)) throw new DeidRefusedError('MALFORMED', `an undefined length on a non-sequence element at depth ${depth}`);
      return { ...base, end: this.fragments(h.valueStart, s, limit), undefinedLength: true, encapsulated: true };
    }
    const end = h.valueStart + h.length;
    if (end > limit) throw new DeidRefusedError('MALFORMED', `an element longer than its enclosing item at depth ${depth}`);
    this.need(h.valueStart, h.length);
    return { ...base, end, undefinedLength: false };
  }

  items(pos: number, length: number, s: Syntax, limit: number, depth: number): { items: ItemNode[]; end: number } {
    const items: ItemNode[] = [];
    const seqEnd = length === UNDEFINED ? undefined : pos + length;
    if (seqEnd !== undefined && seqEnd > limit) throw new DeidRefusedError('MALFORMED', `a sequence longer than its parent at depth ${depth}`);
    for (;;) {
      if (seqEnd !== undefined && pos >= seqEnd) {
        if (pos > seqEnd) throw new DeidRefusedError('MALFORMED', `items overrun their sequence at depth ${depth}`);
        return { items, end: pos };
      }
      this.need(pos, 8);
      const tag = this.tag(pos, s);
      const len = this.u32(pos + 4, s);
      if (tag === SEQUENCE_DELIMITER && seqEnd === undefined) return { items, end: pos + 8 };
      if (tag !== ITEM) throw new DeidRefusedError('MALFORMED', `a sequence holds something other than an item at depth ${depth}`);
      const valueStart = pos + 8;
      const itemLimit = len === UNDEFINED ? (seqEnd ?? limit) : valueStart + len;
      if (itemLimit > (seqEnd ?? limit)) throw new DeidRefusedError('MALFORMED', `an item longer than its sequence at depth ${depth}`);
      const elements: ElementNode[] = [];
      let q = valueStart;
      for (;;) {
        if (len !== UNDEFINED && q >= itemLimit) break;
        this.need(q, 8);
        if (len === UNDEFINED && this.tag(q, s) === ITEM_DELIMITER) {
          q += 8;
          break;
        }
        const el = this.element(q, s, itemLimit, depth);
        elements.push(el);
        q = el.end;
      }
      if (len !== UNDEFINED && q !== itemLimit) throw new DeidRefusedError('MALFORMED', `item contents overrun the item at depth ${depth}`);
      items.push({ start: pos, valueStart, end: q, undefinedLength: len === UNDEFINED, syntax: s, elements });
      pos = q;
    }
  }

  /** Skips encapsulated fragments up to and including the sequence delimiter. */
  fragments(pos: number, s: Syntax, limit: number): number {
    for (;;) {
      this.need(pos, 8);
      const tag = this.tag(pos, s);
      const len = this.u32(pos + 4, s);
      if (tag === SEQUENCE_DELIMITER) return pos + 8;
      if (tag !== ITEM || len === UNDEFINED) throw new DeidRefusedError('MALFORMED', 'encapsulated pixel data holds something other than fragments');
      if (pos + 8 + len > limit) throw new DeidRefusedError('MALFORMED', 'a fragment overruns its parent');
      this.need(pos + 8, len);
      pos += 8 + len;
    }
  }
}

import type { DateMode, DeidKeys, SafePrivateTag } from './api';
import { ITEM, ITEM_DELIMITER, SEQUENCE_DELIMITER, UNDEFINED, type ElementNode, type Syntax } from './dataset-parser';
import { isKnownTag } from './dictionary';
import { elementHeader, itemHeader, readText, stringElement } from './encoding';
import { pseudonymPatientId, pseudonymUid } from './keys';
import type { RuleSet } from './rules';
import { BINARY_VRS, dummyText, transformDates } from './values';


export interface RewriteContext {
  readonly buf: Buffer;
  readonly rules: RuleSet;
  readonly keys: DeidKeys;
  readonly dates: DateMode;
  readonly shiftDays: number;
  readonly patientIdPrefix: string;
  /** Undefined: every private element is removed. */
  readonly safePrivate?: readonly SafePrivateTag[];
  /** Retain UIDs: UIDs the table does not list are kept too. */
  readonly retainUids: boolean;
}

/**
 * UI attributes the table does not list whose values name classes, syntaxes,
 * coding schemes or templates rather than instances: kept. Every other
 * unlisted UI attribute (2024e misses e.g. Multi-frame Source SOP Instance UID
 * and Volume Frame of Reference UID) gets the keyed replacement unless its
 * value is a DICOM-defined UID (1.2.840.10008.*).
 */
const CLASS_UIDS = new Set([
  0x00080016, 0x0008001a, 0x0008001b, 0x00080062, 0x0008010c, 0x0008010d, 0x00080117, 0x00080118, 0x0008040e, 0x00081150, 0x0008115a, 0x00083002, 0x00089123,
  0x00340003, 0x0072007f, 0x04000010, 0x04000510, 0x3010001f, 0x30100052, 0x30100053, 0x00041510, 0x00041512, 0x0004151a,
]);

/** An element the caller writes in place of any original with that tag. */
export interface Override {
  readonly tag: number;
  readonly bytes: Buffer;
}

export const PATIENT_ID = 0x00100020;

/** Rewrites one dataset (or item) level; overrides replace or insert elements in tag order. */
export function rewriteElements(elements: readonly ElementNode[], s: Syntax, ctx: RewriteContext, overrides: readonly Override[] = []): Buffer[] {
  const out: Buffer[] = [];
  const creators = new Map<number, string>();
  const pending = [...overrides].sort((a, b) => a.tag - b.tag);
  const replaced = new Set(pending.map((o) => o.tag));
  for (const el of elements) {
    while (pending.length && pending[0].tag < el.tag) out.push((pending.shift() as Override).bytes);
    if (replaced.has(el.tag)) continue;
    for (const b of rewriteElement(el, s, ctx, creators)) out.push(b);
  }
  for (const o of pending) out.push(o.bytes);
  return out;
}

const total = (parts: readonly Buffer[]): number => parts.reduce((n, b) => n + b.length, 0);

function rewriteElement(el: ElementNode, s: Syntax, ctx: RewriteContext, creators: Map<number, string>): Buffer[] {
  const group = el.tag >>> 16;
  const element = el.tag & 0xffff;
  // Group lengths (stale after a rewrite), stray command / file meta elements, trailing padding.
  if (element === 0 || group === 0 || group === 2 || el.tag === 0xfffcfffc) return [];
  if (group % 2 === 1) return privateElement(el, ctx, creators);
  const raw = (): Buffer[] => [ctx.buf.subarray(el.start, el.end)];
  if (el.tag === PATIENT_ID) {
    const id = readText(ctx.buf, el.valueStart, el.end).trim();
    return [stringElement(el.tag, el.encodedVr, id ? pseudonymPatientId(ctx.keys, id, ctx.patientIdPrefix) : '', s)];
  }
  // Not in Table E.1-1: a standard attribute is retained (PS3.15 lists what to act on);
  // one this dictionary does not know is removed — the table cannot vouch for it.
  const listed = ctx.rules.action(el.tag);
  if (listed === undefined && el.vr === 'UI' && !ctx.retainUids && !CLASS_UIDS.has(el.tag) && !items(el)) return instanceUids(el, s, ctx);
  const action = listed ?? (isKnownTag(el.tag) ? 'keep' : 'remove');
  if (action === 'remove') return [];
  if (el.items) {
    if (action === 'empty') return [elementHeader(el.tag, el.encodedVr, 0, s)];
    return sequence(el, s, ctx);
  }
  if (el.encapsulated) return action === 'keep' ? raw() : [];
  const empty = (): Buffer[] => [elementHeader(el.tag, el.encodedVr, 0, s)];
  switch (action) {
    case 'empty':
      return empty();
    case 'dummy': {
      if (el.vr === 'UI') return uids(el, s, ctx);
      const text = dummyText(el.vr);
      if (text !== undefined) return [stringElement(el.tag, el.encodedVr, text, s)];
      if (BINARY_VRS.has(el.vr)) return [elementHeader(el.tag, el.encodedVr, el.end - el.valueStart, s), Buffer.alloc(el.end - el.valueStart)];
      return empty();
    }
    case 'uid':
      return el.vr === 'UI' ? uids(el, s, ctx) : [];
    case 'date':
    case 'keep':
      if ((el.vr === 'DA' || el.vr === 'DT') && (ctx.dates === 'shift' || ctx.dates === 'keep-year')) {
        return [stringElement(el.tag, el.encodedVr, transformDates(readText(ctx.buf, el.valueStart, el.end), el.vr, ctx.dates, ctx.shiftDays), s)];
      }
      return raw();
  }
}

const items = (el: ElementNode): boolean => el.items !== undefined || el.encapsulated === true;

/** An unlisted UI attribute: each value that is not a DICOM-defined UID is replaced. */
function instanceUids(el: ElementNode, s: Syntax, ctx: RewriteContext): Buffer[] {
  const original = readText(ctx.buf, el.valueStart, el.end).split('\\').map((u) => u.replace(/[\0 ]/g, ''));
  if (original.every((u) => !u || u.startsWith('1.2.840.10008.'))) return [ctx.buf.subarray(el.start, el.end)];
  const values = original.map((u) => (u && !u.startsWith('1.2.840.10008.') ? pseudonymUid(ctx.keys, u) : u));
  return [stringElement(el.tag, el.encodedVr, values.join('\\'), s)];
}

function uids(el: ElementNode, s: Syntax, ctx: RewriteContext): Buffer[] {
  const values = readText(ctx.buf, el.valueStart, el.end)
    .split('\\')
    .map((u) => u.replace(/[\0 ]/g, ''))
    .map((u) => (u ? pseudonymUid(ctx.keys, u) : ''));
  return [stringElement(el.tag, el.encodedVr, values.join('\\'), s)];
}

function sequence(el: ElementNode, s: Syntax, ctx: RewriteContext): Buffer[] {
  const parts: Buffer[] = [];
  for (const item of el.items ?? []) {
    const children = rewriteElements(item.elements, item.syntax, ctx);
    if (item.undefinedLength) parts.push(itemHeader(ITEM, UNDEFINED, item.syntax), ...children, itemHeader(ITEM_DELIMITER, 0, item.syntax));
    else parts.push(itemHeader(ITEM, total(children), item.syntax), ...children);
  }
  const inner = el.items?.[0]?.syntax ?? s;
  if (el.undefinedLength) return [elementHeader(el.tag, el.encodedVr, UNDEFINED, s), ...parts, itemHeader(SEQUENCE_DELIMITER, 0, inner)];
  return [elementHeader(el.tag, el.encodedVr, total(parts), s), ...parts];
}

/** Private elements: removed, unless Retain Safe Private allows the (group, creator, element). */
function privateElement(el: ElementNode, ctx: RewriteContext, creators: Map<number, string>): Buffer[] {
  const allow = ctx.safePrivate;
  if (!allow?.length) return [];
  const group = el.tag >>> 16;
  const element = el.tag & 0xffff;
  if (element >= 0x10 && element <= 0xff) {
    const creator = readText(ctx.buf, el.valueStart, el.end).trim();
    creators.set((group << 8) | element, creator);
    return allow.some((a) => a.group === group && a.creator === creator) ? [ctx.buf.subarray(el.start, el.end)] : [];
  }
  const creator = creators.get((group << 8) | (element >> 8));
  if (creator === undefined) return [];
  return allow.some((a) => a.group === group && a.creator === creator && a.element === (element & 0xff)) ? [ctx.buf.subarray(el.start, el.end)] : [];
}

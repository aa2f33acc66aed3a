import type { DateMode, RetainOption } from './api';
import type { ProfileRow } from './profile-row';
import { PROFILE_ROWS } from './profile-table.generated';

/**
 * What the engine does with one attribute:
 * - remove (X), empty (Z), dummy (D), uid (U: keyed replacement), keep (K);
 * - date (C of the Retain Longitudinal Temporal Information columns: shift or keep the year).
 * Sequences that are kept, dummied or U* are entered and their items rewritten.
 */
export type Action = 'remove' | 'empty' | 'dummy' | 'uid' | 'keep' | 'date';

export interface RuleOptions {
  readonly dates: DateMode;
  readonly retain: ReadonlySet<RetainOption>;
}

/** Option columns in effect for the options chosen (the date mode picks one of two). */
function activeColumns(o: RuleOptions): (keyof ProfileRow)[] {
  const cols: (keyof ProfileRow)[] = [];
  if (o.dates === 'keep') cols.push('rtnLongFullDatesOpt');
  if (o.dates === 'shift' || o.dates === 'keep-year') cols.push('rtnLongModifDatesOpt');
  if (o.retain.has('patient-characteristics')) cols.push('rtnPatCharsOpt');
  if (o.retain.has('device-identity')) cols.push('rtnDevIdOpt');
  if (o.retain.has('institution-identity')) cols.push('rtnInstIdOpt');
  if (o.retain.has('uids')) cols.push('rtnUIDsOpt');
  return cols;
}

const DATE_COLUMNS = new Set<keyof ProfileRow>(['rtnLongFullDatesOpt', 'rtnLongModifDatesOpt']);

/**
 * Resolves a row to one action. An option column in effect wins over the
 * Basic Profile: K if any says K, else a date C. A C this engine cannot do
 * (cleaning free text or device / patient descriptions) falls back to the
 * Basic Profile action. Combined actions: the engine does not track the IOD's
 * attribute types, so it takes the one valid for every type that carries no
 * original information — D over Z over X (X/Z → Z, X/D, X/Z/D, Z/D → D);
 * X/Z/U* → U (the sequence is kept and every UID in it replaced).
 */
export function resolveRow(row: ProfileRow, cols: readonly (keyof ProfileRow)[]): Action {
  const said = cols.map((c) => ({ c, v: row[c] as string | undefined })).filter((x) => x.v);
  if (said.some((x) => x.v === 'K')) return 'keep';
  if (said.some((x) => x.v === 'C' && DATE_COLUMNS.has(x.c))) return 'date';
  const basic = row.basic;
  if (basic.includes('U')) return 'uid';
  if (basic.includes('D')) return 'dummy';
  if (basic.includes('Z')) return 'empty';
  if (basic === 'X') return 'remove';
  if (basic === 'K') return 'keep';
  if (basic === 'C') return 'remove';
  throw new Error(`unresolvable profile action ${basic} for ${row.name}`);
}

export interface RuleSet {
  /** The action for a standard (even-group) tag listed in the table; undefined when not listed. */
  action(tag: number): Action | undefined;
}

/** Builds the lookup for one set of options: exact tags in a Map, the repeating groups by mask. */
export function buildRules(o: RuleOptions): RuleSet {
  const cols = activeColumns(o);
  const exact = new Map<number, Action>();
  const masked: { group: number; element: number | undefined; action: Action }[] = [];
  for (const row of PROFILE_ROWS) {
    if (row.tag === 'private') continue;
    const action = resolveRow(row, cols);
    if (!row.tag.includes('x')) exact.set(parseInt(row.tag, 16) >>> 0, action);
    else if (/^(50|60)xx/.test(row.tag)) {
      const element = row.tag.slice(4);
      masked.push({ group: parseInt(row.tag.slice(0, 2), 16) << 8, element: element === 'xxxx' ? undefined : parseInt(element, 16), action });
    } else throw new Error(`unexpected wildcard row ${row.tag}`);
  }
  return {
    action(tag) {
      const hit = exact.get(tag);
      if (hit) return hit;
      const group = tag >>> 16;
      // Repeating groups 5000-501E and 6000-601E (even groups only; odd ones are private).
      if (group % 2 === 0 && (group & 0xff00) <= 0x6000 && (group & 0xff) <= 0x1e) {
        for (const m of masked) if ((group & 0xff00) === m.group && (m.element === undefined || m.element === (tag & 0xffff))) return m.action;
      }
      return undefined;
    },
  };
}

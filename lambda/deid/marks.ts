import type { DateMode, RetainOption } from './api';
import { ITEM, type Syntax } from './dataset-parser';
import { elementHeader, itemHeader, stringElement } from './encoding';
import { PROFILE_EDITION } from './profile-table.generated';
import type { Override } from './rewrite';

/** CID 7050 De-identification Method codes (PS3.16), scheme DCM. */
const CODES = {
  basic: ['113100', 'Basic Application Confidentiality Profile'],
  fullDates: ['113106', 'Retain Longitudinal Temporal Information Full Dates Option'],
  modifiedDates: ['113107', 'Retain Longitudinal Temporal Information Modified Dates Option'],
  'patient-characteristics': ['113108', 'Retain Patient Characteristics Option'],
  'device-identity': ['113109', 'Retain Device Identity Option'],
  uids: ['113110', 'Retain UIDs Option'],
  'safe-private': ['113111', 'Retain Safe Private Option'],
  'institution-identity': ['113112', 'Retain Institution Identity Option'],
} as const;

const SHORT: Record<RetainOption, string> = {
  'patient-characteristics': 'PatChars',
  'device-identity': 'DevId',
  'institution-identity': 'InstId',
  uids: 'UIDs',
  'safe-private': 'SafePriv',
};
const ORDER: readonly RetainOption[] = ['patient-characteristics', 'device-identity', 'institution-identity', 'uids', 'safe-private'];

/** The De-identification Method (0012,0063) text: edition and options, at most 64 characters (LO). */
export function methodText(dates: DateMode, retain: ReadonlySet<RetainOption>): string {
  const parts = [`PS3.15-${PROFILE_EDITION} Basic`];
  if (dates === 'shift') parts.push('ModDates');
  if (dates === 'keep-year') parts.push('YearDates');
  if (dates === 'keep') parts.push('FullDates');
  for (const o of ORDER) if (retain.has(o)) parts.push(SHORT[o]);
  return parts.join('+');
}

function codeItem([value, meaning]: readonly [string, string], s: Syntax): Buffer {
  const body = Buffer.concat([stringElement(0x00080100, 'SH', value, s), stringElement(0x00080102, 'SH', 'DCM', s), stringElement(0x00080104, 'LO', meaning, s)]);
  return Buffer.concat([itemHeader(ITEM, body.length, s), body]);
}

/** The top-level elements that record what was done (replacing any original ones). */
export function marks(dates: DateMode, retain: ReadonlySet<RetainOption>, s: Syntax): Override[] {
  const codes: (readonly [string, string])[] = [CODES.basic];
  if (dates === 'keep') codes.push(CODES.fullDates);
  if (dates === 'shift' || dates === 'keep-year') codes.push(CODES.modifiedDates);
  for (const o of ORDER) if (retain.has(o)) codes.push(CODES[o]);
  const items = Buffer.concat(codes.map((c) => codeItem(c, s)));
  const temporal = dates === 'keep' ? 'UNMODIFIED' : dates === 'remove' ? 'REMOVED' : 'MODIFIED';
  return [
    { tag: 0x00120062, bytes: stringElement(0x00120062, 'CS', 'YES', s) },
    { tag: 0x00120063, bytes: stringElement(0x00120063, 'LO', methodText(dates, retain), s) },
    { tag: 0x00120064, bytes: Buffer.concat([elementHeader(0x00120064, 'SQ', items.length, s), items]) },
    { tag: 0x00280303, bytes: stringElement(0x00280303, 'CS', temporal, s) },
  ];
}

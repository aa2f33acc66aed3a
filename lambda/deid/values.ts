/** Value transformations: dummies, date shift, year only. Pure functions of the value. */

const DAY_MS = 86_400_000;

/** The dummy (action D) of a VR; undefined where an empty value is the only safe one. */
export function dummyText(vr: string): string | undefined {
  switch (vr) {
    case 'PN':
    case 'LO':
    case 'SH':
    case 'LT':
    case 'ST':
    case 'UT':
    case 'UC':
    case 'AE':
    case 'CS':
      return 'ANONYMOUS';
    case 'DA':
      return '19000101';
    case 'DT':
      return '19000101000000';
    case 'TM':
      return '000000';
    case 'AS':
      return '000Y';
    case 'DS':
    case 'IS':
      return '0';
    default:
      return undefined;
  }
}

/** Binary VRs whose dummy is zeros of the original length. */
export const BINARY_VRS = new Set(['US', 'SS', 'UL', 'SL', 'FL', 'FD', 'SV', 'UV', 'AT', 'OB', 'OW', 'OD', 'OF', 'OL', 'OV']);

function shiftYmd(ymd: string, days: number): string | undefined {
  if (!/^\d{8}$/.test(ymd)) return undefined;
  const t = Date.UTC(Number(ymd.slice(0, 4)), Number(ymd.slice(4, 6)) - 1, Number(ymd.slice(6, 8)));
  const d = new Date(t - days * DAY_MS);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1 || d.getUTCFullYear() > 9999) return undefined;
  return `${String(d.getUTCFullYear()).padStart(4, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}

/**
 * A DA or DT value (possibly multi-valued) moved back by `days`, or reduced
 * to its year (DA → YYYY0101, DT → YYYY). A value that is not a full date
 * cannot be shifted and becomes empty: nothing unshifted is ever kept.
 */
export function transformDates(value: string, vr: 'DA' | 'DT', mode: 'shift' | 'keep-year', days: number): string {
  return value
    .split('\\')
    .map((v) => {
      const t = v.trim();
      if (t === '') return '';
      if (mode === 'keep-year') return /^\d{4}/.test(t) ? (vr === 'DA' ? `${t.slice(0, 4)}0101` : t.slice(0, 4)) : '';
      const shifted = shiftYmd(t.slice(0, 8), days);
      if (shifted === undefined) return '';
      return vr === 'DA' ? (t.length === 8 ? shifted : '') : shifted + t.slice(8);
    })
    .join('\\');
}

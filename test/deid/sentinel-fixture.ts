import { DICTIONARY_VR } from '../../lambda/deid/dictionary.generated';
import type { ProfileRow } from '../../lambda/deid/profile-row';
import { PROFILE_ROWS } from '../../lambda/deid/profile-table.generated';
import { CT, TS, encode, fileMeta, EXPLICIT_LE, type El } from './dataset-builder';

/** Table rows the fixture carries: exact dataset tags (not command group 0000 nor file meta 0002). */
export const DATASET_ROWS: readonly ProfileRow[] = PROFILE_ROWS.filter((r) => /^[0-9a-f]{8}$/.test(r.tag) && !r.tag.startsWith('0000') && !r.tag.startsWith('0002'));

export const tagOf = (r: ProfileRow): number => parseInt(r.tag, 16) >>> 0;
export const vrOfRow = (r: ProfileRow): string => DICTIONARY_VR.get(r.tag) ?? 'UN';

export interface SentinelFixture {
  readonly bytes: Buffer;
  /** Every sentinel written, as the bytes to search the output for. */
  readonly sentinels: readonly Buffer[];
  /** The top-level sentinel of each row. */
  readonly topLevel: ReadonlyMap<string, string>;
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

function dateOf(n: number): string {
  const d = new Date(Date.UTC(1950, 0, 1) + n * 86_400_000);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}`;
}

/** A unique sentinel value for a VR (undefined for 2-byte binaries, too short to search for). */
function sentinel(vr: string, n: number): string | Buffer | undefined {
  switch (vr) {
    case 'DA':
      return dateOf(n);
    case 'DT':
      return `${dateOf(n)}101112`;
    case 'TM':
      return `235959.9${pad(n, 5)}`;
    case 'UI':
      return `1.2.999.${100000 + n}`;
    case 'AS':
      return `${pad(n % 1000, 3)}Y`;
    case 'DS':
    case 'IS':
      return `9${pad(n, 8)}`;
    case 'US':
    case 'SS':
      return undefined;
    default:
      return `SNT${pad(n, 5)}`;
  }
}

/**
 * A Part-10 file (Explicit VR LE) carrying a unique sentinel in every dataset
 * attribute of Table E.1-1, at the top level, one and two sequence levels deep
 * (inside kept sequences), in overlay and curve groups, in private blocks, in
 * the file meta and in the preamble.
 */
export function sentinelFixture(): SentinelFixture {
  const sentinels: Buffer[] = [];
  const topLevel = new Map<string, string>();
  let n = 0;
  const level = (depth: number): El[] => {
    const els: El[] = [];
    for (const row of DATASET_ROWS) {
      const vr = vrOfRow(row);
      const i = depth * 10000 + n++;
      if (vr === 'SQ') {
        const uid = `1.2.999.${100000 + 5000 + i}`;
        const name = `SNQ${pad(i, 5)}`;
        sentinels.push(Buffer.from(uid), Buffer.from(name));
        els.push({ tag: tagOf(row), vr, items: [[{ tag: 0x00081155, vr: 'UI', value: uid }, { tag: 0x00100010, vr: 'PN', value: name }]], undefinedLength: i % 2 === 0 });
        continue;
      }
      const v = sentinel(vr, i) ?? Buffer.from([0x5a, 0x5a]);
      if (typeof v === 'string') {
        sentinels.push(Buffer.from(v, 'latin1'));
        if (depth === 0) topLevel.set(row.tag, v);
      }
      els.push({ tag: tagOf(row), vr, value: v });
    }
    // Repeating groups: curve (50xx,xxxx) and overlay (60xx,3000 / 60xx,4000).
    const rep = [`SNC${pad(depth, 5)}`, `SNO${pad(depth, 5)}`, `SND${pad(depth, 5)}`];
    sentinels.push(...rep.map((s) => Buffer.from(s)));
    els.push({ tag: 0x50020022, vr: 'LO', value: rep[0] }, { tag: 0x60024000, vr: 'LT', value: rep[1] }, { tag: 0x60023000, vr: 'OW', value: rep[2] });
    // Private blocks, one holding a sequence.
    const priv = [0, 1, 2, 3, 4].map((k) => `SNP${pad(depth * 10 + k, 5)}`);
    sentinels.push(...priv.map((s) => Buffer.from(s)));
    els.push(
      { tag: 0x00090010, vr: 'LO', value: priv[0] },
      { tag: 0x00091001, vr: 'LO', value: priv[1] },
      { tag: 0x00091002, vr: 'SQ', items: [[{ tag: 0x00100010, vr: 'PN', value: priv[2] }]] },
      { tag: 0x00110010, vr: 'LO', value: priv[3] },
      { tag: 0x00111000, vr: 'OB', value: priv[4] },
    );
    return els;
  };
  const top = level(0);
  const one = level(1);
  const two = level(2);
  // Kept (not in the table) sequences carry the deeper levels: Anatomic Region Sequence > Performed Protocol Code Sequence.
  one.push({ tag: 0x00400260, vr: 'SQ', items: [two] });
  top.push({ tag: 0x00082218, vr: 'SQ', items: [one], undefinedLength: true });
  top.push(
    { tag: 0x00080016, vr: 'UI', value: CT },
    { tag: 0x00280002, vr: 'US', value: Buffer.from([1, 0]) },
    { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
    { tag: 0x00280010, vr: 'US', value: Buffer.from([2, 0]) },
    { tag: 0x00280011, vr: 'US', value: Buffer.from([2, 0]) },
    { tag: 0x00280100, vr: 'US', value: Buffer.from([8, 0]) },
    { tag: 0x00280101, vr: 'US', value: Buffer.from([8, 0]) },
    { tag: 0x00280102, vr: 'US', value: Buffer.from([7, 0]) },
    { tag: 0x00280103, vr: 'US', value: Buffer.from([0, 0]) },
    { tag: 0x7fe00010, vr: 'OB', value: Buffer.from([1, 2, 3, 4]) },
  );
  const sop = topLevel.get('00080018') as string;
  const metaExtra: El[] = [
    { tag: 0x00020016, vr: 'AE', value: 'SNTM0001' },
    { tag: 0x00020100, vr: 'UI', value: '1.2.999.777001' },
    { tag: 0x00020102, vr: 'OB', value: 'SNTM0002' },
  ];
  sentinels.push(...['SNTM0001', '1.2.999.777001', 'SNTM0002', 'SNTPRE01'].map((s) => Buffer.from(s)));
  const meta = fileMeta(TS.explicitLE, CT, sop, metaExtra);
  meta.write('SNTPRE01', 0, 'latin1');
  return { bytes: Buffer.concat([meta, encode(top, EXPLICIT_LE)]), sentinels, topLevel };
}

import { expect } from 'chai';
import type { RetainOption } from '../../lambda/deid/index';
import { methodText } from '../../lambda/deid/marks';
import type { ProfileRow } from '../../lambda/deid/profile-row';
import { dump, type DumpLine } from './dcmdump';
import { deid } from './run';
import { DATASET_ROWS, sentinelFixture, vrOfRow } from './sentinel-fixture';

describe('deid: PS3.15 Table E.1-1 actions on a sentinel fixture', function () {
  const fixture = sentinelFixture();
  let basic: { out: Buffer; top: Map<string, DumpLine> };

  before(async function () {
    const { out } = await deid(fixture.bytes);
    basic = { out, top: (await dump(out)).top };
  });

  it('leaves no sentinel anywhere in the output (file meta, preamble, every level, overlays, curves, private blocks)', function () {
    expect(fixture.sentinels.length).to.be.greaterThan(1500);
    const found = fixture.sentinels.filter((s) => basic.out.indexOf(s) !== -1).map((s) => s.toString('latin1'));
    expect(found).to.deep.equal([]);
    // The fixture does carry them: the same search finds every one in the input.
    expect(fixture.sentinels.filter((s) => fixture.bytes.indexOf(s) === -1)).to.deep.equal([]);
  });

  it('applies each top-level row action: X removed, Z and X/Z emptied, D dummied, U replaced by a 2.25 UID', function () {
    const problems: string[] = [];
    for (const row of DATASET_ROWS) {
      const line = basic.top.get(row.tag);
      const vr = vrOfRow(row);
      const a = row.basic;
      if (row.tag === '00100020') {
        if (!line || !/\[ANON-[0-9A-F]{32}\]/.test(line.value)) problems.push(`${row.name}: expected the pseudonym, got ${line?.value}`);
      } else if (a === 'X') {
        if (line) problems.push(`${row.name} (${a}): present`);
      } else if (a === 'Z' || a === 'X/Z') {
        if (!line || line.length !== 0) problems.push(`${row.name} (${a}): expected empty, got ${line?.value}`);
      } else if (a.includes('U')) {
        if (vr === 'UI' && !/^\[2\.25\.\d+\]$/.test(line?.value ?? '')) problems.push(`${row.name} (${a}): expected a 2.25 UID, got ${line?.value}`);
        if (vr === 'SQ' && !line) problems.push(`${row.name} (${a}): sequence missing`);
      } else if (a.includes('D')) {
        if (!line) problems.push(`${row.name} (${a}): missing`);
        else if (vr !== 'SQ' && vr !== 'UN' && vr !== 'UR' && line.length === 0) problems.push(`${row.name} (${a}): expected a dummy value`);
      } else problems.push(`${row.name}: unexpected action ${a}`);
    }
    expect(problems).to.deep.equal([]);
  });

  it('marks the output: Patient Identity Removed, the method with the edition, CID 7050 code 113100', function () {
    expect(basic.top.get('00120062')?.value).to.equal('[YES]');
    expect(basic.top.get('00120063')?.value).to.equal('[PS3.15-2024e Basic]');
    expect(basic.top.get('00280303')?.value).to.equal('[REMOVED]');
    expect(basic.out.includes(Buffer.from('113100'))).to.equal(true);
    expect(basic.out.includes(Buffer.from('113107'))).to.equal(false);
  });

  const columns: { name: string; options: { dates?: 'shift' | 'keep' | 'keep-year'; retain?: RetainOption[] }; column: keyof ProfileRow; code: string }[] = [
    { name: 'Retain Longitudinal Temporal Information with Full Dates', options: { dates: 'keep' }, column: 'rtnLongFullDatesOpt', code: '113106' },
    { name: 'Retain Longitudinal Temporal Information with Modified Dates', options: { dates: 'shift' }, column: 'rtnLongModifDatesOpt', code: '113107' },
    { name: 'Retain Patient Characteristics', options: { retain: ['patient-characteristics'] }, column: 'rtnPatCharsOpt', code: '113108' },
    { name: 'Retain Device Identity', options: { retain: ['device-identity'] }, column: 'rtnDevIdOpt', code: '113109' },
    { name: 'Retain UIDs', options: { retain: ['uids'] }, column: 'rtnUIDsOpt', code: '113110' },
    { name: 'Retain Institution Identity', options: { retain: ['institution-identity'] }, column: 'rtnInstIdOpt', code: '113112' },
  ];
  for (const c of columns) {
    it(`${c.name} changes exactly the attributes its column names (and the marks)`, async function () {
      const { out } = await deid(fixture.bytes, c.options);
      const { top } = await dump(out);
      const isDate = c.column === 'rtnLongFullDatesOpt' || c.column === 'rtnLongModifDatesOpt';
      // A non-date C (cleaning free text) is not done by this engine: the Basic action stays (docs/deidentification.md).
      const expected = DATASET_ROWS.filter((r) => r[c.column] === 'K' || (isDate && r[c.column] === 'C')).map((r) => r.tag);
      const changed = DATASET_ROWS.filter((r) => JSON.stringify(top.get(r.tag)) !== JSON.stringify(basic.top.get(r.tag))).map((r) => r.tag);
      const seq = new Set(DATASET_ROWS.filter((r) => vrOfRow(r) === 'SQ').map((r) => r.tag));
      // Sequences outside the column may change length when a nested attribute is in it; they are checked by the byte search.
      expect(changed.filter((t) => !seq.has(t) || expected.includes(t))).to.deep.equal(expected.filter((t) => changed.includes(t) || !seq.has(t)));
      expect(expected.length).to.be.greaterThan(0);
      expect(out.includes(Buffer.from(c.code))).to.equal(true);
      expect(top.get('00120063')?.value).to.not.equal(basic.top.get('00120063')?.value);
      if (c.column === 'rtnUIDsOpt') expect(top.get('00020003')?.value).to.equal(`[${fixture.topLevel.get('00080018')}]`);
    });
  }

  it('names the edition and every option in at most 64 characters (LO)', function () {
    const all = methodText('keep-year', new Set<RetainOption>(['patient-characteristics', 'device-identity', 'institution-identity', 'uids', 'safe-private']));
    expect(all).to.equal('PS3.15-2024e Basic+YearDates+PatChars+DevId+InstId+UIDs+SafePriv');
    expect(all.length).to.be.at.most(64);
  });

  it('Retain Safe Private keeps exactly the allow-listed private element and its creator', async function () {
    const { out } = await deid(fixture.bytes, { retain: ['safe-private'], safePrivateTags: [{ group: 0x0009, creator: 'SNP00000', element: 0x01 }] });
    const { text } = await dump(out);
    expect(out.includes(Buffer.from('SNP00001'))).to.equal(true);
    expect(out.includes(Buffer.from('SNP00000'))).to.equal(true);
    for (const s of ['SNP00002', 'SNP00003', 'SNP00004']) expect(out.includes(Buffer.from(s)), s).to.equal(false);
    expect(text).to.include('113111');
  });

  it('keep-year keeps only the year of every date, shift moves every date of the instance by one number of days', async function () {
    const shifted = await dump((await deid(fixture.bytes, { dates: 'shift', maxShiftDays: 30 })).out);
    const year = await dump((await deid(fixture.bytes, { dates: 'keep-year' })).out);
    const offsets = new Set<number>();
    for (const row of DATASET_ROWS.filter((r) => vrOfRow(r) === 'DA' && r.rtnLongModifDatesOpt === 'C')) {
      const orig = fixture.topLevel.get(row.tag) as string;
      const s = /\[(\d{8})\]/.exec(shifted.top.get(row.tag)?.value ?? '')?.[1] as string;
      offsets.add((Date.UTC(+orig.slice(0, 4), +orig.slice(4, 6) - 1, +orig.slice(6)) - Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6))) / 86_400_000);
      expect(year.top.get(row.tag)?.value).to.equal(`[${orig.slice(0, 4)}0101]`);
    }
    expect(offsets.size).to.equal(1);
    const [days] = [...offsets];
    expect(days).to.be.within(1, 30);
    expect(shifted.top.get('00280303')?.value).to.equal('[MODIFIED]');
  });
});

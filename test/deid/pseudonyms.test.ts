import { expect } from 'chai';
import { KEY_CONTEXTS, deriveKeys, localMac } from '../../lambda/deid/index';
import { dump } from './dcmdump';
import { basicElements, part10, EXPLICIT_LE, IMPLICIT_LE, type El } from './dataset-builder';
import { deid, keysFor } from './run';
import { sentinelFixture } from './sentinel-fixture';

const UID_RE = /^2\.25\.(0|[1-9]\d*)$/;

function uidsIn(text: string): string[] {
  return [...text.matchAll(/UI \[([0-9.]+)\]/g)].map((m) => m[1]);
}

describe('deid: keyed pseudonyms (UIDs, Patient ID, date shift)', function () {
  it('derives three different 32-byte sub-keys, each the HMAC of its context', async function () {
    const seen: string[] = [];
    const keys = await deriveKeys(async (c) => {
      seen.push(c);
      return localMac(Buffer.alloc(32, 1))(c);
    });
    expect(seen.sort()).to.deep.equal(Object.values(KEY_CONTEXTS).sort());
    expect(new Set([keys.uid, keys.patient, keys.date].map((k) => k.toString('hex'))).size).to.equal(3);
    await deriveKeys(async () => Buffer.alloc(16)).then(
      () => expect.fail('a short MAC was accepted'),
      (e: Error) => expect(e.message).to.match(/32 bytes/),
    );
  });

  it('replaces UIDs with valid 2.25 UIDs (<= 64 characters, < 2^128) and gives byte-identical output on two separate runs', async function () {
    const { bytes } = sentinelFixture();
    const a = await deid(bytes, { dates: 'shift' }, 1000);
    const b = await deid(bytes, { dates: 'shift' }, 65536);
    expect(a.out.equals(b.out)).to.equal(true);
    const uids = uidsIn((await dump(a.out)).text).filter((u) => u.startsWith('2.25.'));
    expect(uids.length).to.be.greaterThan(100);
    for (const u of uids) {
      expect(u).to.match(UID_RE);
      expect(u.length).to.be.at.most(64);
      expect(BigInt(u.slice(5)) < 2n ** 128n).to.equal(true);
    }
    // Another key: other pseudonyms.
    const c = await deid(bytes, { dates: 'shift', keys: await keysFor(Buffer.alloc(32, 9)) });
    expect(c.result.sopInstanceUid).to.not.equal(a.result.sopInstanceUid);
    expect(c.result.patientPseudonym).to.not.equal(a.result.patientPseudonym);
  });

  it('keeps references: a SEG / RTSTRUCT-like instance processed separately still points at its CT slice and frame of reference', async function () {
    const ct: El[] = [...basicElements({ sop: '1.2.826.0.1.3680043.3.1', study: '1.2.826.0.1.3680043.3.9', series: '1.2.826.0.1.3680043.3.8' }), { tag: 0x00200052, vr: 'UI', value: '1.2.826.0.1.3680043.3.7' }];
    const ref = (uid: string): El[] => [
      { tag: 0x00081150, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' },
      { tag: 0x00081155, vr: 'UI', value: uid },
    ];
    const seg: El[] = [
      ...basicElements({ sop: '1.2.826.0.1.3680043.3.2', study: '1.2.826.0.1.3680043.3.9', series: '1.2.826.0.1.3680043.3.6', sopClass: '1.2.840.10008.5.1.4.1.1.66.4', modality: 'SEG' }),
      { tag: 0x00200052, vr: 'UI', value: '1.2.826.0.1.3680043.3.7' },
      // Referenced Series Sequence > Referenced Instance Sequence (Common Instance Reference)
      { tag: 0x00081115, vr: 'SQ', items: [[{ tag: 0x0020000e, vr: 'UI', value: '1.2.826.0.1.3680043.3.8' }, { tag: 0x0008114a, vr: 'SQ', items: [ref('1.2.826.0.1.3680043.3.1')] }]] },
      // RTSTRUCT-like: Referenced Frame of Reference > RT Referenced Study > RT Referenced Series > Contour Image
      {
        tag: 0x30060010,
        vr: 'SQ',
        undefinedLength: true,
        items: [[
          { tag: 0x00200052, vr: 'UI', value: '1.2.826.0.1.3680043.3.7' },
          { tag: 0x30060012, vr: 'SQ', items: [[{ tag: 0x00081155, vr: 'UI', value: '1.2.826.0.1.3680043.3.9' }, { tag: 0x30060014, vr: 'SQ', items: [[{ tag: 0x0020000e, vr: 'UI', value: '1.2.826.0.1.3680043.3.8' }, { tag: 0x30060016, vr: 'SQ', items: [ref('1.2.826.0.1.3680043.3.1')] }]] }]] },
        ]],
      },
    ];
    const a = await deid(part10(ct, EXPLICIT_LE));
    const b = await deid(part10(seg, IMPLICIT_LE));
    const text = (await dump(b.out)).text;
    expect(text.split(a.result.sopInstanceUid).length - 1).to.equal(2);
    expect(text.split(a.result.seriesInstanceUid).length - 1).to.equal(2);
    const ctFor = /\(0020,0052\) UI \[([0-9.]+)\]/.exec((await dump(a.out)).text)?.[1] as string;
    expect(ctFor).to.match(UID_RE);
    expect(text.split(ctFor).length - 1).to.equal(2);
    expect(b.result.studyInstanceUid).to.equal(a.result.studyInstanceUid);
    expect(text).to.not.include('1.2.826.0.1.3680043.3.');
  });

  it('shifts the dates of one patient in two studies by the same number of days, another patient gets another pseudonym', async function () {
    const one = (sop: string, study: string, date: string, pid = 'PID-7') => part10(basicElements({ sop, study, series: `${study}.1`, studyDate: date, patientId: pid }));
    const date = async (b: Buffer) => {
      const r = await deid(b, { dates: 'shift', maxShiftDays: 3650 });
      return { r: r.result, d: /\[(\d{8})\]/.exec((await dump(r.out)).top.get('00080020')?.value ?? '')?.[1] as string };
    };
    const days = (x: string) => Date.UTC(+x.slice(0, 4), +x.slice(4, 6) - 1, +x.slice(6)) / 86_400_000;
    const s1 = await date(one('1.2.826.0.1.3680043.4.1', '1.2.826.0.1.3680043.4.10', '20240315'));
    const s2 = await date(one('1.2.826.0.1.3680043.4.2', '1.2.826.0.1.3680043.4.20', '20190101'));
    const other = await date(one('1.2.826.0.1.3680043.4.3', '1.2.826.0.1.3680043.4.30', '20240315', 'PID-8'));
    const shift1 = days('20240315') - days(s1.d);
    const shift2 = days('20190101') - days(s2.d);
    expect(shift1).to.equal(shift2);
    expect(shift1).to.be.within(1, 3650);
    expect(days(s1.d) - days(s2.d)).to.equal(days('20240315') - days('20190101'));
    expect(s1.r.patientPseudonym).to.equal(s2.r.patientPseudonym).and.match(/^ANON-[0-9A-F]{32}$/);
    expect(other.r.patientPseudonym).to.not.equal(s1.r.patientPseudonym);
  });

  it('replaces instance UIDs the 2024e table does not list (Multi-frame Source SOP Instance UID, Volume Frame of Reference UID) and keeps class-like and DICOM-defined UIDs', async function () {
    const els: El[] = [
      ...basicElements({ sop: '1.2.826.0.1.3680043.10.1', study: '1.2.826.0.1.3680043.10.2', series: '1.2.826.0.1.3680043.10.3' }),
      { tag: 0x00081167, vr: 'UI', value: '1.2.826.0.1.3680043.10.1' },
      { tag: 0x00209312, vr: 'UI', value: '1.2.826.0.1.3680043.10.77' },
      { tag: 0x0008010c, vr: 'UI', value: '1.2.826.0.1.3680043.10.88' },
      { tag: 0x00082218, vr: 'SQ', items: [[{ tag: 0x00081150, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' }, { tag: 0x00209313, vr: 'UI', value: '1.2.840.10008.1.2\\1.2.826.0.1.3680043.10.99' }]] },
    ];
    const { out, result } = await deid(part10(els));
    const { text } = await dump(out);
    expect(/\(0008,1167\) UI \[([0-9.]+)\]/.exec(text)?.[1]).to.equal(result.sopInstanceUid);
    expect(/\(0020,9312\) UI \[([0-9.]+)\]/.exec(text)?.[1]).to.match(UID_RE);
    expect(text).to.include('1.2.826.0.1.3680043.10.88');
    expect(text).to.match(/\(0020,9313\) UI \[1\.2\.840\.10008\.1\.2\\2\.25\.\d+\]/);
    expect(text).to.not.include('1.2.826.0.1.3680043.10.1]').and.not.include('10.77').and.not.include('10.99');
    const kept = (await dump((await deid(part10(els), { retain: ['uids'] })).out)).text;
    expect(kept).to.include('1.2.826.0.1.3680043.10.77').and.include('1.2.826.0.1.3680043.10.99');
  });

  it('uses the Patient ID prefix given', async function () {
    const { result, out } = await deid(part10(basicElements({ sop: '1.2.3.1', study: '1.2.3.2', series: '1.2.3.3' })), { patientIdPrefix: 'STUDY42-' });
    expect(result.patientPseudonym).to.match(/^STUDY42-[0-9A-F]{32}$/);
    expect(out.includes(Buffer.from(result.patientPseudonym))).to.equal(true);
  });

  it('keeps the bytes of an ISO 2022 IR 87 (Japanese) file: its Specific Character Set and a kept value', async function () {
    const jp = Buffer.concat([Buffer.from('\x1b$B', 'latin1'), Buffer.from([0x3b, 0x33, 0x45, 0x44]), Buffer.from('\x1b(B', 'latin1')]);
    const charset = Buffer.from('\\ISO 2022 IR 87 ');
    const els: El[] = [
      { tag: 0x00080005, vr: 'CS', value: charset },
      ...basicElements({ sop: '1.2.3.11', study: '1.2.3.12', series: '1.2.3.13' }),
      { tag: 0x00082218, vr: 'SQ', items: [[{ tag: 0x00080100, vr: 'SH', value: 'T-D1100' }, { tag: 0x00080102, vr: 'SH', value: 'SRT' }, { tag: 0x00080104, vr: 'LO', value: jp }]] },
      { tag: 0x00100010, vr: 'PN', value: Buffer.concat([Buffer.from('Yamada^Tarou='), jp]) },
    ];
    const input = part10(els.filter((e, i, all) => all.findIndex((x) => x.tag === e.tag) === i));
    const { out } = await deid(input);
    expect(out.includes(Buffer.concat([Buffer.from([0x08, 0, 0x05, 0, 0x43, 0x53, charset.length, 0]), charset]))).to.equal(true);
    expect(out.includes(Buffer.concat([Buffer.from([0x08, 0, 0x04, 0x01, 0x4c, 0x4f, jp.length + (jp.length % 2), 0]), jp]))).to.equal(true);
    expect(out.includes(Buffer.from('Yamada'))).to.equal(false);
  });
});

import { expect } from 'chai';
import { DeidRefusedError, type DeidOptions, type DeidRefusalCode } from '../../lambda/deid/index';
import { basicElements, encode, header, part10, EXPLICIT_LE, TS, fileMeta, CT, type El } from './dataset-builder';
import { deidCollect, deid } from './run';

const base = (over: Partial<Parameters<typeof basicElements>[0]> = {}): El[] => basicElements({ sop: '1.2.826.0.1.3680043.5.1', study: '1.2.826.0.1.3680043.5.2', series: '1.2.826.0.1.3680043.5.3', ...over });
const withoutPixel = (els: El[]): El[] => els.filter((e) => e.tag !== 0x7fe00010);
const pixel = basicElements({ sop: '1', study: '1', series: '1' }).find((e) => e.tag === 0x7fe00010) as El;

async function refused(input: Buffer, code: DeidRefusalCode, options: Partial<DeidOptions> = {}, writesNothing = true): Promise<void> {
  const r = await deidCollect(input, options);
  expect(r.error, `expected ${code}`).to.be.instanceOf(DeidRefusedError);
  const e = r.error as DeidRefusedError;
  expect(e.code).to.equal(code);
  expect(e.name).to.equal('DeidRefusedError');
  expect(e.message).to.not.match(/DOE|JOHN|PID-0001/);
  if (writesNothing) expect(r.out.length, 'bytes written').to.equal(0);
}

describe('deid: fails closed with a stable code and writes nothing', function () {
  it('NOT_DICOM: no DICM prefix, or too short to have one', async function () {
    await refused(Buffer.alloc(1000, 0x41), 'NOT_DICOM');
    await refused(Buffer.from('hello'), 'NOT_DICOM');
  });

  it('TRUNCATED: the input ends inside the header or the file meta', async function () {
    const full = part10(base());
    await refused(full.subarray(0, full.length - 60), 'TRUNCATED');
    await refused(full.subarray(0, 150), 'TRUNCATED');
  });

  it('TRUNCATED: the input ends inside the pixel data (found while streaming; the caller discards the output)', async function () {
    const full = part10(base());
    await refused(full.subarray(0, full.length - 5), 'TRUNCATED', {}, false);
  });

  it('MALFORMED: an undefined length on a text element, an item overrunning its sequence, a missing Study Instance UID', async function () {
    const bad = Buffer.concat([fileMeta(TS.explicitLE, CT, '1.2.3'), encode(withoutPixel(base()), EXPLICIT_LE), header(0x00291010, 'UT', 0xffffffff, EXPLICIT_LE)]);
    await refused(bad, 'MALFORMED');
    const seq = encode([{ tag: 0x00082218, vr: 'SQ', items: [[{ tag: 0x00080100, vr: 'SH', value: 'X1' }]] }], EXPLICIT_LE);
    seq.writeUInt32LE(200, 16); // the item claims more than its sequence holds
    const els = base();
    await refused(Buffer.concat([fileMeta(TS.explicitLE, CT, '1.2.3'), encode(els.filter((e) => e.tag < 0x00082218), EXPLICIT_LE), seq, encode(els.filter((e) => e.tag > 0x00082218), EXPLICIT_LE)]), 'MALFORMED');
    await refused(part10(base().filter((e) => e.tag !== 0x0020000d)), 'MALFORMED');
  });

  it('HEADER_TOO_LARGE: more than maxHeaderBytes before the pixel data', async function () {
    const els = [...base(), { tag: 0x00291010, vr: 'OB', value: Buffer.alloc(8192, 1) }];
    await refused(part10(els), 'HEADER_TOO_LARGE', { maxHeaderBytes: 4096 });
    expect((await deid(part10(els), { maxHeaderBytes: 16384 })).result.bytesOut).to.be.greaterThan(0);
  });

  it('reads a header larger than its first read (3 MiB before the pixel data, 64 KiB chunks)', async function () {
    const els = [...base(), { tag: 0x00291010, vr: 'OB', value: Buffer.alloc(3 * 1024 * 1024, 1) }, { tag: 0x00082218, vr: 'SQ', items: [[{ tag: 0x00080104, vr: 'LO', value: 'KEPT-AFTER-BIG' }]] }];
    const { out, result } = await deid(part10(els), {}, 65536);
    expect(out.includes(Buffer.from('KEPT-AFTER-BIG'))).to.equal(true);
    expect(result.bytesOut).to.be.lessThan(100_000);
  });

  it('TOO_DEEP: sequences nested deeper than maxDepth (default 16)', async function () {
    let inner: El[] = [{ tag: 0x00080100, vr: 'SH', value: 'DEEP' }];
    for (let i = 0; i < 17; i++) inner = [{ tag: 0x00400260, vr: 'SQ', items: [inner], undefinedLength: i % 2 === 0 }];
    await refused(part10([...base(), ...inner]), 'TOO_DEEP');
    expect((await deid(part10([...base(), ...inner]), { maxDepth: 17 })).out.includes(Buffer.from('DEEP'))).to.equal(true);
  });

  it('UNKNOWN_VR: an explicit VR that is not a VR', async function () {
    const input = part10(base());
    const at = input.indexOf(Buffer.from('CS', 'latin1'), 300);
    input.write('ZZ', at, 'latin1');
    await refused(input, 'UNKNOWN_VR');
  });

  it('UNSUPPORTED_TRANSFER_SYNTAX: a private transfer syntax', async function () {
    await refused(part10(base(), EXPLICIT_LE, '1.2.826.0.1.3680043.9.9.9'), 'UNSUPPORTED_TRANSFER_SYNTAX');
  });

  it('TRAILING_DATA: more than maxHeaderBytes after the pixel data; a small vendor group after it is rewritten (removed)', async function () {
    const trailing = encode([{ tag: 0x7fe10010, vr: 'LO', value: 'SNTVENDOR' }, { tag: 0x7fe11001, vr: 'OB', value: Buffer.alloc(8192, 0x53) }], EXPLICIT_LE);
    await refused(Buffer.concat([part10(base()), trailing]), 'TRAILING_DATA', { maxHeaderBytes: 4096 }, false);
    const padded = Buffer.concat([part10(base()), encode([{ tag: 0x7fe10010, vr: 'LO', value: 'SNTVENDOR' }, { tag: 0x7fe11001, vr: 'LO', value: 'SNTSECRET' }, { tag: 0xfffcfffc, vr: 'OB', value: Buffer.alloc(16) }], EXPLICIT_LE)]);
    const { out } = await deid(padded);
    expect(out.includes(Buffer.from('SNTSECRET'))).to.equal(false);
    expect(out.subarray(out.length - 16).equals(pixel.value as Buffer)).to.equal(true);
  });

  it('BURNED_IN: Burned In Annotation YES, ultrasound, secondary capture, photographic classes; allowBurnedIn passes them', async function () {
    await refused(part10([...base(), { tag: 0x00280301, vr: 'CS', value: 'YES' }]), 'BURNED_IN');
    await refused(part10(base({ sopClass: '1.2.840.10008.5.1.4.1.1.6.1', modality: 'US' })), 'BURNED_IN');
    await refused(part10(base({ sopClass: '1.2.840.10008.5.1.4.1.1.7' })), 'BURNED_IN');
    await refused(part10(base({ sopClass: '1.2.840.10008.5.1.4.1.1.77.1.1.1', modality: 'ES' })), 'BURNED_IN');
    await refused(part10(base({ sopClass: '1.2.840.10008.5.1.4.1.1.77.1.4' })), 'BURNED_IN');
    await refused(part10(base({ modality: 'XC' })), 'BURNED_IN');
    const { result } = await deid(part10(base({ sopClass: '1.2.840.10008.5.1.4.1.1.6.1', modality: 'US' })), { allowBurnedIn: true });
    expect(result.sopClassUid).to.equal('1.2.840.10008.5.1.4.1.1.6.1');
    expect((await deid(part10([...base(), { tag: 0x00280301, vr: 'CS', value: 'NO' }]))).result.bytesOut).to.be.greaterThan(0);
  });

  it('rejects invalid options with every problem listed (a caller error, not a refusal)', async function () {
    const r = await deidCollect(part10(base()), { maxShiftDays: 0, patientIdPrefix: 'bad\\prefix', maxDepth: 0, dates: 'sometimes' as never });
    expect(r.error).to.be.instanceOf(TypeError);
    const m = (r.error as Error).message;
    for (const w of ['maxShiftDays', 'patientIdPrefix', 'maxDepth', 'dates']) expect(m).to.include(w);
  });
});

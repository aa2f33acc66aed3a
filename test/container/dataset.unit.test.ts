import { expect } from 'chai';
import * as zlib from 'node:zlib';
import { DatasetPeeker, peekIds } from '../../container/src/dicom/dataset-peek';
import { largePrivateElement, unSequenceBody, unUndefinedLengthSequence } from '../helpers/private-elements';
import { buildFileMeta } from '../../container/src/dicom/file-meta';
import { IMPLEMENTATION_CLASS_UID } from '../../container/src/dicom/uids';
import { instanceKey, manifestKey } from '../../container/src/storage/sink';
import { datasetOffset } from '../helpers/dcmtk';

type Enc = 'ile' | 'ele' | 'ebe';

function el(enc: Enc, group: number, element: number, vr: string, value: Buffer, undefinedLength = false): Buffer {
  const be = enc === 'ebe';
  const w16 = (b: Buffer, v: number, o: number) => (be ? b.writeUInt16BE(v, o) : b.writeUInt16LE(v, o));
  const w32 = (b: Buffer, v: number, o: number) => (be ? b.writeUInt32BE(v, o) : b.writeUInt32LE(v, o));
  const len = undefinedLength ? 0xffffffff : value.length;
  if (enc === 'ile') {
    const h = Buffer.alloc(8);
    w16(h, group, 0); w16(h, element, 2); w32(h, len, 4);
    return Buffer.concat([h, value]);
  }
  const long = ['OB', 'OW', 'SQ', 'UN', 'UT'].includes(vr);
  const h = Buffer.alloc(long ? 12 : 8);
  w16(h, group, 0); w16(h, element, 2); h.write(vr, 4, 'latin1');
  if (long) w32(h, len, 8); else w16(h, len, 6);
  return Buffer.concat([h, value]);
}

function delim(enc: Enc, element: number, length = 0): Buffer {
  const h = Buffer.alloc(8);
  if (enc === 'ebe') { h.writeUInt16BE(0xfffe, 0); h.writeUInt16BE(element, 2); h.writeUInt32BE(length, 4); }
  else { h.writeUInt16LE(0xfffe, 0); h.writeUInt16LE(element, 2); h.writeUInt32LE(length, 4); }
  return h;
}

function dataset(enc: Enc): Buffer {
  const nested = Buffer.concat([el(enc, 0x0008, 0x1150, 'UI', Buffer.from('9.9.9\0')), el(enc, 0x0020, 0x000d, 'UI', Buffer.from('6.6.6\0'))]);
  return Buffer.concat([
    el(enc, 0x0008, 0x0018, 'UI', Buffer.from('1.2.3.4\0')),
    // An undefined-length sequence whose item holds a decoy Study UID.
    el(enc, 0x0008, 0x1140, 'SQ', Buffer.alloc(0), true),
    delim(enc, 0xe000, 0xffffffff), nested, delim(enc, 0xe00d), delim(enc, 0xe0dd),
    el(enc, 0x0009, 0x0010, 'OB', Buffer.alloc(3000, 1)),
    el(enc, 0x0020, 0x000d, 'UI', Buffer.from('1.2.3\0')),
    el(enc, 0x0020, 0x000e, 'UI', Buffer.from('1.2.3.1\0')),
    el(enc, 0x7fe0, 0x0010, 'OW', Buffer.alloc(64)),
  ]);
}

describe('dataset peek', () => {
  const cases: [Enc, string][] = [['ile', '1.2.840.10008.1.2'], ['ele', '1.2.840.10008.1.2.1'], ['ebe', '1.2.840.10008.1.2.2']];
  for (const [enc, ts] of cases) {
    it(`reads Study / Series / SOP UIDs past nested sequences in ${ts}`, async () => {
      expect(await peekIds(dataset(enc), ts)).to.deep.equal({ studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.1', sopInstanceUid: '1.2.3.4' });
    });
  }

  it('reads a deflated dataset from a truncated prefix', async () => {
    const deflated = zlib.deflateRawSync(Buffer.concat([dataset('ele'), Buffer.alloc(100_000, 3)]));
    expect((await peekIds(deflated.subarray(0, Math.min(deflated.length, 400)), '1.2.840.10008.1.2.1.99')).studyInstanceUid).to.equal('1.2.3');
  });

  it('waits for more bytes while the series UID is not reached, and reports what it found when the dataset ends', async () => {
    const ds = dataset('ele');
    const p = new DatasetPeeker('1.2.840.10008.1.2.1');
    p.push(ds.subarray(0, 100));
    expect(p.done).to.equal(false);
    await p.settle();
    expect(p.done).to.equal(true);
    expect(p.ids).to.deep.equal({ studyInstanceUid: '', seriesInstanceUid: '', sopInstanceUid: '1.2.3.4' });
  });
});

/** A dataset with `privateBytes` (explicit VR LE group 0009) between the SOP Instance UID and the Study UID. */
function withPrivate(privateBytes: Buffer): Buffer {
  return Buffer.concat([
    el('ele', 0x0008, 0x0018, 'UI', Buffer.from('1.2.3.4\0')),
    privateBytes,
    el('ele', 0x0020, 0x000d, 'UI', Buffer.from('1.2.3\0')),
    el('ele', 0x0020, 0x000e, 'UI', Buffer.from('1.2.3.1\0')),
    el('ele', 0x7fe0, 0x0010, 'OW', Buffer.alloc(64)),
  ]);
}

const IDS = { studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.1', sopInstanceUid: '1.2.3.4' };

/** Feeds `data` in slices of the given sizes (cycled), as PDVs would arrive. */
function feedInSlices(p: DatasetPeeker, data: Buffer, sizes: number[]): void {
  for (let off = 0, i = 0; off < data.length; i++) {
    const n = sizes[i % sizes.length];
    p.push(Buffer.from(data.subarray(off, off + n)));
    off += n;
  }
}

describe('dataset peek: encodings third-party senders forward', () => {
  it('reads past a private UN sequence of undefined length, parsing its items as Implicit VR LE (PS3.5 6.2.2)', async () => {
    expect(await peekIds(withPrivate(unUndefinedLengthSequence()), '1.2.840.10008.1.2.1')).to.deep.equal(IDS);
  });

  it('reads past a UN sequence of undefined length nested in an SQ item', async () => {
    const un = Buffer.concat([el('ele', 0x0009, 0x0010, 'LO', Buffer.from('INTEROP TEST')), el('ele', 0x0009, 0x1010, 'UN', Buffer.alloc(0), true), unSequenceBody()]);
    const sq = Buffer.concat([el('ele', 0x0008, 0x1140, 'SQ', Buffer.alloc(0), true), delim('ele', 0xe000, 0xffffffff), un, delim('ele', 0xe00d), delim('ele', 0xe0dd)]);
    expect(await peekIds(withPrivate(sq), '1.2.840.10008.1.2.1')).to.deep.equal(IDS);
  });

  it('reads the UN content as little endian inside an Explicit VR Big Endian dataset', async () => {
    const ds = Buffer.concat([
      el('ebe', 0x0008, 0x0018, 'UI', Buffer.from('1.2.3.4\0')),
      el('ebe', 0x0009, 0x0010, 'LO', Buffer.from('INTEROP TEST')),
      el('ebe', 0x0009, 0x1010, 'UN', Buffer.alloc(0), true),
      unSequenceBody(),
      el('ebe', 0x0020, 0x000d, 'UI', Buffer.from('1.2.3\0')),
      el('ebe', 0x0020, 0x000e, 'UI', Buffer.from('1.2.3.1\0')),
    ]);
    expect(await peekIds(ds, '1.2.840.10008.1.2.2')).to.deep.equal(IDS);
  });

  it('finds UIDs after a 2 MiB private element when fed PDV by PDV, holding back nothing of it', () => {
    const ds = withPrivate(Buffer.concat([unUndefinedLengthSequence(), largePrivateElement(2 << 20)]));
    const p = new DatasetPeeker('1.2.840.10008.1.2.1');
    // Odd slice sizes split headers, UID values and item markers across slices.
    feedInSlices(p, ds.subarray(0, ds.length - 76), [1, 3, 7, 4093, 16372, 5]);
    expect(p.done).to.equal(true);
    expect(p.ids).to.deep.equal(IDS);
  });

  it('reads a deflated dataset incrementally, past a 2 MiB private element', async () => {
    const ds = withPrivate(largePrivateElement(2 << 20));
    const deflated = zlib.deflateRawSync(ds);
    const p = new DatasetPeeker('1.2.840.10008.1.2.1.99');
    feedInSlices(p, deflated, [5, 1000, 16372]);
    await p.settle();
    expect(p.ids).to.deep.equal(IDS);
  });

  it('stops at the first top-level element past group 0020 and reports what it has', () => {
    const ds = Buffer.concat([el('ele', 0x0008, 0x0018, 'UI', Buffer.from('1.2.3.4\0')), el('ele', 0x0028, 0x0010, 'US', Buffer.alloc(2)), el('ele', 0x0020, 0x000d, 'UI', Buffer.from('1.2.3\0'))]);
    const p = new DatasetPeeker('1.2.840.10008.1.2.1');
    p.push(ds);
    expect(p.done).to.equal(true);
    expect(p.ids).to.deep.equal({ studyInstanceUid: '', seriesInstanceUid: '', sopInstanceUid: '1.2.3.4' });
  });

  it('stops without throwing on bytes that are not a dataset', async () => {
    const p = new DatasetPeeker('1.2.840.10008.1.2.1');
    p.push(Buffer.from('this is not DICOM at all, just text'));
    expect(p.done).to.equal(true);
    const d = new DatasetPeeker('1.2.840.10008.1.2.1.99');
    d.push(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    await d.settle();
    expect(d.ids.studyInstanceUid).to.equal('');
  });
});

describe('File Meta Information', () => {
  it('builds a Part-10 header with the request UIDs, transfer syntax, our implementation and the source AE', () => {
    const meta = buildFileMeta({ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: '1.2.3.4.5', transferSyntaxUid: '1.2.840.10008.1.2.4.50', sourceAeTitle: 'CT01' });
    expect(meta.subarray(0, 128).every((b) => b === 0)).to.equal(true);
    expect(meta.toString('latin1', 128, 132)).to.equal('DICM');
    expect(datasetOffset(meta)).to.equal(meta.length);
    const text = meta.toString('latin1');
    for (const s of ['1.2.840.10008.5.1.4.1.1.2\0', '1.2.3.4.5\0', '1.2.840.10008.1.2.4.50', IMPLEMENTATION_CLASS_UID, 'CT01']) expect(text).to.contain(s);
    expect(meta.length % 2).to.equal(0);
  });
});

describe('object keys', () => {
  it('puts instances under incoming/<batchId>/ and manifests under batches/', () => {
    expect(instanceKey('B1', '1.2.3')).to.equal('incoming/B1/1.2.3.dcm');
    expect(manifestKey('B1')).to.equal('batches/B1.json');
  });
});

import { expect } from 'chai';
import * as zlib from 'node:zlib';
import { peekIds } from '../../container/src/dicom/dataset-peek';
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
    it(`reads Study / Series / SOP UIDs past nested sequences in ${ts}`, () => {
      expect(peekIds(dataset(enc), ts, true)).to.deep.equal({ studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.1', sopInstanceUid: '1.2.3.4' });
    });
  }

  it('reads a deflated dataset from a truncated prefix', () => {
    const deflated = zlib.deflateRawSync(Buffer.concat([dataset('ele'), Buffer.alloc(100_000, 3)]));
    expect(peekIds(deflated.subarray(0, Math.min(deflated.length, 400)), '1.2.840.10008.1.2.1.99', false)?.studyInstanceUid).to.equal('1.2.3');
  });

  it('asks for more bytes while the series UID is not reached, and gives up gracefully at the end', () => {
    const ds = dataset('ele');
    expect(peekIds(ds.subarray(0, 100), '1.2.840.10008.1.2.1', false)).to.equal(undefined);
    expect(peekIds(ds.subarray(0, 100), '1.2.840.10008.1.2.1', true)).to.deep.equal({ studyInstanceUid: '', seriesInstanceUid: '', sopInstanceUid: '1.2.3.4' });
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

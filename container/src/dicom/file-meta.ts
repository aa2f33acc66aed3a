import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from './uids';

/** What goes into a Part-10 File Meta Information group (PS3.10 7.1). */
export interface FileMetaInfo {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly transferSyntaxUid: string;
  readonly sourceAeTitle: string;
}

function element(tag: number, vr: string, value: Buffer): Buffer {
  const long = vr === 'OB';
  const h = Buffer.alloc(long ? 12 : 8);
  h.writeUInt16LE(0x0002, 0);
  h.writeUInt16LE(tag, 2);
  h.write(vr, 4, 'latin1');
  if (long) h.writeUInt32LE(value.length, 8);
  else h.writeUInt16LE(value.length, 6);
  return Buffer.concat([h, value]);
}

function padded(s: string, pad: number): Buffer {
  const b = Buffer.from(s, 'latin1');
  return b.length % 2 === 0 ? b : Buffer.concat([b, Buffer.from([pad])]);
}

/**
 * The 128-byte preamble, "DICM" and the File Meta Information group
 * (Explicit VR Little Endian) that precede the dataset bytes as received.
 */
export function buildFileMeta(info: FileMetaInfo): Buffer {
  const els = Buffer.concat([
    element(0x0001, 'OB', Buffer.from([0x00, 0x01])),
    element(0x0002, 'UI', padded(info.sopClassUid, 0)),
    element(0x0003, 'UI', padded(info.sopInstanceUid, 0)),
    element(0x0010, 'UI', padded(info.transferSyntaxUid, 0)),
    element(0x0012, 'UI', padded(IMPLEMENTATION_CLASS_UID, 0)),
    element(0x0013, 'SH', padded(IMPLEMENTATION_VERSION_NAME, 0x20)),
    element(0x0016, 'AE', padded(info.sourceAeTitle, 0x20)),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(els.length, 0);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), element(0x0000, 'UL', groupLength), els]);
}

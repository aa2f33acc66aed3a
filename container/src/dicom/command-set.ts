import { ProtocolError } from '../errors';

/** The fields of a DIMSE command set (PS3.7 E.1) the SCP reads. */
export interface CommandSet {
  readonly commandField: number;
  readonly messageId: number;
  readonly affectedSopClassUid: string;
  readonly affectedSopInstanceUid: string;
  readonly hasDataset: boolean;
  readonly priority: number;
}

const NO_DATASET = 0x0101;

function trimUid(s: string): string {
  return s.replace(/[\0 ]+$/, '');
}

/** Decodes a command set (always Implicit VR Little Endian). */
export function parseCommandSet(buf: Buffer): CommandSet {
  let commandField = -1;
  let messageId = -1;
  let messageIdBeingRespondedTo = -1;
  let affectedSopClassUid = '';
  let affectedSopInstanceUid = '';
  let requestedSopClassUid = '';
  let requestedSopInstanceUid = '';
  let dataSetType = NO_DATASET;
  let priority = 0;
  let off = 0;
  while (off + 8 <= buf.length) {
    const group = buf.readUInt16LE(off);
    const element = buf.readUInt16LE(off + 2);
    const length = buf.readUInt32LE(off + 4);
    const start = off + 8;
    const end = start + length;
    if (group !== 0 || end > buf.length) throw new ProtocolError(`malformed command set element (${group.toString(16)},${element.toString(16)})`, 'ERR_COMMAND');
    const us = (): number => {
      if (length < 2) throw new ProtocolError(`command element (0000,${element.toString(16).padStart(4, '0')}) too short`, 'ERR_COMMAND');
      return buf.readUInt16LE(start);
    };
    switch (element) {
      case 0x0002: affectedSopClassUid = trimUid(buf.toString('latin1', start, end)); break;
      case 0x0003: requestedSopClassUid = trimUid(buf.toString('latin1', start, end)); break;
      case 0x0100: commandField = us(); break;
      case 0x0110: messageId = us(); break;
      case 0x0120: messageIdBeingRespondedTo = us(); break;
      case 0x0700: priority = us(); break;
      case 0x0800: dataSetType = us(); break;
      case 0x1000: affectedSopInstanceUid = trimUid(buf.toString('latin1', start, end)); break;
      case 0x1001: requestedSopInstanceUid = trimUid(buf.toString('latin1', start, end)); break;
      default: break;
    }
    off = end;
  }
  if (off !== buf.length) throw new ProtocolError('command set has trailing bytes', 'ERR_COMMAND');
  if (commandField < 0 || (messageId < 0 && messageIdBeingRespondedTo < 0)) throw new ProtocolError('command set lacks Command Field or Message ID', 'ERR_COMMAND');
  // N-GET / N-SET / N-ACTION / N-DELETE name their object with the Requested UIDs: read them as the Affected ones (only echoed back in a failure response).
  return {
    commandField,
    messageId: messageId >= 0 ? messageId : messageIdBeingRespondedTo,
    affectedSopClassUid: affectedSopClassUid || requestedSopClassUid,
    affectedSopInstanceUid: affectedSopInstanceUid || requestedSopInstanceUid,
    hasDataset: dataSetType !== NO_DATASET,
    priority,
  };
}

type Element = [number, Buffer];

function us(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v, 0);
  return b;
}

function text(s: string, pad: number): Buffer {
  const b = Buffer.from(s, 'latin1');
  return b.length % 2 === 0 ? b : Buffer.concat([b, Buffer.from([pad])]);
}

/** Fields of a response command set. */
export interface ResponseFields {
  readonly commandField: number;
  readonly messageIdBeingRespondedTo: number;
  readonly affectedSopClassUid: string;
  readonly affectedSopInstanceUid?: string;
  readonly status: number;
  readonly errorComment?: string;
}

/** Encodes a response command set (no dataset) in Implicit VR Little Endian. */
export function encodeResponse(f: ResponseFields): Buffer {
  const els: Element[] = [
    [0x0002, text(f.affectedSopClassUid, 0)],
    [0x0100, us(f.commandField)],
    [0x0120, us(f.messageIdBeingRespondedTo)],
    [0x0800, us(NO_DATASET)],
    [0x0900, us(f.status)],
  ];
  if (f.errorComment) els.push([0x0902, text(f.errorComment.slice(0, 64), 0x20)]);
  if (f.affectedSopInstanceUid) els.push([0x1000, text(f.affectedSopInstanceUid, 0)]);
  const body = Buffer.concat(els.map(([el, v]) => {
    const h = Buffer.alloc(8);
    h.writeUInt16LE(0, 0);
    h.writeUInt16LE(el, 2);
    h.writeUInt32LE(v.length, 4);
    return Buffer.concat([h, v]);
  }));
  const gl = Buffer.alloc(12);
  gl.writeUInt32LE(0x00000000, 0);
  gl.writeUInt32LE(4, 4);
  gl.writeUInt32LE(body.length, 8);
  return Buffer.concat([gl, body]);
}

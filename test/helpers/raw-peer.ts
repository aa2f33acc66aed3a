import * as net from 'node:net';

function item(type: number, value: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = type;
  h.writeUInt16BE(value.length, 2);
  return Buffer.concat([h, value]);
}

/** An A-ASSOCIATE-RQ PDU proposing `contexts` ([id, abstract syntax, transfer syntaxes]). */
export function associateRqPdu(called: string, calling: string, contexts: [number, string, string[]][], maxPdu = 16384, extraUserItems: Buffer[] = []): Buffer {
  const fixed = Buffer.alloc(68, 0);
  fixed.writeUInt16BE(1, 0);
  fixed.write(called.padEnd(16), 4, 'latin1');
  fixed.write(calling.padEnd(16), 20, 'latin1');
  const parts = [fixed, item(0x10, Buffer.from('1.2.840.10008.3.1.1.1'))];
  for (const [id, as, tss] of contexts) {
    parts.push(item(0x20, Buffer.concat([Buffer.from([id, 0, 0, 0]), item(0x30, Buffer.from(as)), ...tss.map((t) => item(0x40, Buffer.from(t)))])));
  }
  const max = Buffer.alloc(4);
  max.writeUInt32BE(maxPdu);
  parts.push(item(0x50, Buffer.concat([item(0x51, max), item(0x52, Buffer.from('1.2.3.4')), item(0x55, Buffer.from('RAWPEER')), ...extraUserItems])));
  const body = Buffer.concat(parts);
  const h = Buffer.alloc(6);
  h[0] = 1;
  h.writeUInt32BE(body.length, 2);
  return Buffer.concat([h, body]);
}

/** A User Identity Negotiation sub-item (PS3.7 D.3.3.7.1): type, positive response requested, primary and secondary fields. */
export function userIdentityItem(type: number, positiveResponse: boolean, primary: string, secondary = ''): Buffer {
  const field = (s: string): Buffer => {
    const b = Buffer.from(s, 'utf8');
    const h = Buffer.alloc(2);
    h.writeUInt16BE(b.length);
    return Buffer.concat([h, b]);
  };
  return item(0x58, Buffer.concat([Buffer.from([type, positiveResponse ? 1 : 0]), field(primary), field(secondary)]));
}

/** The standard verification proposal. */
export const ECHO_CONTEXTS: [number, string, string[]][] = [[1, '1.2.840.10008.1.1', ['1.2.840.10008.1.2']]];

/** A raw TCP peer on 127.0.0.1 that records what the SCP sends back. */
export class RawPeer {
  readonly socket: net.Socket;
  received = Buffer.alloc(0);
  closed = false;
  private readonly ready: Promise<void>;

  constructor(port: number) {
    this.socket = net.connect({ port, host: '127.0.0.1' });
    this.socket.on('data', (d: Buffer) => (this.received = Buffer.concat([this.received, d])));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => (this.closed = true));
    this.ready = new Promise((resolve) => this.socket.once('connect', () => resolve()));
  }

  async connected(): Promise<void> {
    await this.ready;
  }

  send(b: Buffer): boolean {
    return this.socket.write(b);
  }

  /** Waits until the first received PDU has a type, returns it (or undefined on close / timeout). */
  async firstPduType(timeoutMs = 5000): Promise<number | undefined> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (this.received.length >= 6) return this.received[0];
      if (this.closed) return undefined;
      await new Promise((r) => setTimeout(r, 10));
    }
    return undefined;
  }

  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end && !this.closed) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function cmdElement(element: number, value: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(0, 0);
  h.writeUInt16LE(element, 2);
  h.writeUInt32LE(value.length, 4);
  return Buffer.concat([h, value]);
}

const evenUid = (s: string): Buffer => Buffer.from(s.length % 2 ? `${s}\0` : s, 'latin1');
const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};

/** A C-STORE-RQ command set (Implicit VR Little Endian). */
export function cStoreRq(messageId: number, sopClassUid: string, sopInstanceUid: string): Buffer {
  const body = Buffer.concat([
    cmdElement(0x0002, evenUid(sopClassUid)),
    cmdElement(0x0100, u16(0x0001)),
    cmdElement(0x0110, u16(messageId)),
    cmdElement(0x0700, u16(0)),
    cmdElement(0x0800, u16(0x0000)),
    cmdElement(0x1000, evenUid(sopInstanceUid)),
  ]);
  const gl = Buffer.alloc(4);
  gl.writeUInt32LE(body.length);
  return Buffer.concat([cmdElement(0x0000, gl), body]);
}

/**
 * Any request command set: `uidElement` 0x0002 (Affected SOP Class UID, C-*)
 * or 0x0003 (Requested SOP Class UID, N-GET / N-SET / N-ACTION / N-DELETE).
 */
export function requestRq(commandField: number, messageId: number, sopClassUid: string, hasDataset: boolean, uidElement = 0x0002): Buffer {
  const body = Buffer.concat([
    cmdElement(uidElement, evenUid(sopClassUid)),
    cmdElement(0x0100, u16(commandField)),
    cmdElement(0x0110, u16(messageId)),
    cmdElement(0x0800, u16(hasDataset ? 0x0000 : 0x0101)),
  ]);
  const gl = Buffer.alloc(4);
  gl.writeUInt32LE(body.length);
  return Buffer.concat([cmdElement(0x0000, gl), body]);
}

/** A C-ECHO-RQ command set. */
export function cEchoRq(messageId: number): Buffer {
  const body = Buffer.concat([cmdElement(0x0002, evenUid('1.2.840.10008.1.1')), cmdElement(0x0100, u16(0x0030)), cmdElement(0x0110, u16(messageId)), cmdElement(0x0800, u16(0x0101))]);
  const gl = Buffer.alloc(4);
  gl.writeUInt32LE(body.length);
  return Buffer.concat([cmdElement(0x0000, gl), body]);
}

/** P-DATA-TF PDUs carrying `value` on context `pcId`, fragmented to `maxPdv` bytes per PDV. */
export function pdata(pcId: number, isCommand: boolean, value: Buffer, maxPdv = 16372): Buffer {
  const out: Buffer[] = [];
  for (let off = 0; off < value.length || (off === 0 && value.length === 0); off += maxPdv) {
    const part = value.subarray(off, off + maxPdv);
    const last = off + maxPdv >= value.length;
    const h = Buffer.alloc(12);
    h[0] = 4;
    h.writeUInt32BE(6 + part.length, 2);
    h.writeUInt32BE(2 + part.length, 6);
    h[10] = pcId;
    h[11] = (isCommand ? 1 : 0) | (last ? 2 : 0);
    out.push(h, part);
    if (value.length === 0) break;
  }
  return Buffer.concat(out);
}

export const RELEASE_RQ = Buffer.from([5, 0, 0, 0, 0, 4, 0, 0, 0, 0]);

/** Reads the Status (0000,0900) of the last command PDV received, if any. */
export function lastStatus(received: Buffer): number | undefined {
  let status: number | undefined;
  let off = 0;
  while (off + 6 <= received.length) {
    const type = received[off];
    const len = received.readUInt32BE(off + 2);
    if (type === 4) {
      let p = off + 6;
      while (p < off + 6 + len) {
        const il = received.readUInt32BE(p);
        const value = received.subarray(p + 6, p + 4 + il);
        if (received[p + 5] & 1) {
          for (let e = 0; e + 8 <= value.length; ) {
            const el = value.readUInt16LE(e + 2);
            const l = value.readUInt32LE(e + 4);
            if (el === 0x0900) status = value.readUInt16LE(e + 8);
            e += 8 + l;
          }
        }
        p += 4 + il;
      }
    }
    off += 6 + len;
  }
  return status;
}

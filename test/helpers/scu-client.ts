import * as net from 'node:net';
import { RELEASE_RQ, associateRqPdu, cEchoRq, cStoreRq } from './raw-peer';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const VERIFICATION = '1.2.840.10008.1.1';

/** One instance to send: its command UIDs and the dataset bytes (no Part-10 header). */
export interface ScuInstance {
  readonly sopClassUid?: string;
  readonly sopInstanceUid: string;
  readonly dataset: Buffer;
}

export interface ScuOptions {
  readonly port: number;
  readonly host?: string;
  readonly calledAe?: string;
  readonly callingAe?: string;
  /** Largest P-DATA-TF we send (the SCP's advertised maximum wins if smaller). Default 131072. */
  readonly maxPdu?: number;
  /** Gives up on a silent SCP after this many ms (default 60 s). */
  readonly timeoutMs?: number;
}

/** Thrown when the SCP rejects, aborts, closes or stays silent. */
export class ScuError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
    this.name = 'ScuError';
  }
}

/**
 * A minimal, fast C-STORE SCU on one association (Explicit VR LE CT + Verification),
 * for load generation where spawning storescu per association would dominate the
 * timing (500 short associations, the soak). Bytes on the wire follow PS3.8.
 */
export class ScuAssociation {
  private readonly socket: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  private waiter: { resolve: (pdu: { type: number; body: Buffer }) => void; reject: (e: Error) => void } | undefined;
  private queue: { type: number; body: Buffer }[] = [];
  private failure: Error | undefined;
  private messageId = 0;
  private maxSend = 131072;

  private constructor(private readonly opts: ScuOptions) {
    this.socket = net.connect({ port: opts.port, host: opts.host ?? '127.0.0.1' });
    this.socket.setNoDelay(true);
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', (e) => this.fail(new ScuError(e.message, 'ERR_SOCKET')));
    this.socket.on('close', () => this.fail(new ScuError('connection closed', 'ERR_CLOSED')));
  }

  /** Connects and negotiates; rejects with ScuError on A-ASSOCIATE-RJ / abort. */
  static async open(opts: ScuOptions): Promise<ScuAssociation> {
    const a = new ScuAssociation(opts);
    try {
      a.socket.write(associateRqPdu(opts.calledAe ?? 'STORESCP', opts.callingAe ?? 'BENCHSCU', [[1, VERIFICATION, ['1.2.840.10008.1.2']], [3, CT, [EXPLICIT_LE]]], opts.maxPdu ?? 131072));
      const pdu = await a.next();
      if (pdu.type === 3) throw new ScuError(`association rejected (${pdu.body[7]}/${pdu.body[8]}/${pdu.body[9]})`, 'ERR_REJECTED');
      if (pdu.type !== 2) throw new ScuError(`unexpected PDU type ${pdu.type} instead of A-ASSOCIATE-AC`, 'ERR_PROTOCOL');
      a.maxSend = Math.min(opts.maxPdu ?? 131072, maxPduOf(pdu.body) || 131072);
      return a;
    } catch (err) {
      a.socket.destroy();
      throw err;
    }
  }

  /** Sends one C-STORE and resolves with the response status. */
  async store(inst: ScuInstance): Promise<number> {
    this.messageId = (this.messageId + 1) & 0xffff;
    this.writePData(3, true, cStoreRq(this.messageId, inst.sopClassUid ?? CT, inst.sopInstanceUid));
    this.writePData(3, false, inst.dataset);
    return this.status();
  }

  /** Sends any request command set (and its dataset) on context `pcId`; resolves with the response's Command Field and Status. */
  async request(pcId: number, command: Buffer, dataset?: Buffer): Promise<{ commandField: number; status: number }> {
    this.writePData(pcId, true, command);
    if (dataset) this.writePData(pcId, false, dataset);
    return this.response();
  }

  /** Sends one C-ECHO and resolves with the response status. */
  async echo(): Promise<number> {
    this.messageId = (this.messageId + 1) & 0xffff;
    this.writePData(1, true, cEchoRq(this.messageId));
    return this.status();
  }

  /** A-RELEASE-RQ, waits for A-RELEASE-RP, closes. */
  async release(): Promise<void> {
    this.socket.write(RELEASE_RQ);
    const pdu = await this.next();
    if (pdu.type !== 6) throw new ScuError(`unexpected PDU type ${pdu.type} instead of A-RELEASE-RP`, 'ERR_PROTOCOL');
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private async status(): Promise<number> {
    return (await this.response()).status;
  }

  private async response(): Promise<{ commandField: number; status: number }> {
    const pdu = await this.next();
    if (pdu.type !== 4) throw new ScuError(`unexpected PDU type ${pdu.type} instead of a response`, pdu.type === 7 ? 'ERR_ABORTED' : 'ERR_PROTOCOL');
    const value = pdu.body.subarray(6);
    let commandField = -1;
    for (let e = 0; e + 8 <= value.length; ) {
      const el = value.readUInt16LE(e + 2);
      const l = value.readUInt32LE(e + 4);
      if (el === 0x0100) commandField = value.readUInt16LE(e + 8);
      if (el === 0x0900) return { commandField, status: value.readUInt16LE(e + 8) };
      e += 8 + l;
    }
    throw new ScuError('response without a status', 'ERR_PROTOCOL');
  }

  /** Fragments `value` into P-DATA-TF PDUs of at most maxSend bytes, one PDV each. */
  private writePData(pcId: number, isCommand: boolean, value: Buffer): void {
    const maxPdv = this.maxSend - 6;
    let off = 0;
    do {
      const n = Math.min(maxPdv, value.length - off);
      const last = off + n >= value.length;
      const h = Buffer.allocUnsafe(12);
      h[0] = 4;
      h[1] = 0;
      h.writeUInt32BE(6 + n, 2);
      h.writeUInt32BE(2 + n, 6);
      h[10] = pcId;
      h[11] = (isCommand ? 1 : 0) | (last ? 2 : 0);
      this.socket.write(h);
      if (n > 0) this.socket.write(value.subarray(off, off + n));
      off += n;
    } while (off < value.length);
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 6) {
      const len = this.buf.readUInt32BE(2);
      if (this.buf.length < 6 + len) break;
      const pdu = { type: this.buf[0], body: this.buf.subarray(6, 6 + len) };
      this.buf = this.buf.subarray(6 + len);
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w.resolve(pdu);
      } else this.queue.push(pdu);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
  }

  private next(): Promise<{ type: number; body: Buffer }> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new ScuError('SCP did not answer in time', 'ERR_TIMEOUT'));
      }, this.opts.timeoutMs ?? 60_000);
      this.waiter = {
        resolve: (p) => (clearTimeout(timer), resolve(p)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
    });
  }
}

/** Maximum Length sub-item (0x51) in an A-ASSOCIATE-AC body, 0 if absent (= unlimited). */
function maxPduOf(body: Buffer): number {
  let off = 68;
  while (off + 4 <= body.length) {
    const type = body[off];
    const len = body.readUInt16BE(off + 2);
    if (type === 0x50) {
      let p = off + 4;
      while (p + 4 <= off + 4 + len) {
        const st = body[p];
        const sl = body.readUInt16BE(p + 2);
        if (st === 0x51 && sl === 4) return body.readUInt32BE(p + 4);
        p += 4 + sl;
      }
    }
    off += 4 + len;
  }
  return 0;
}

/** Builds an Explicit VR LE CT dataset of about `bytes` bytes (no Part-10 header). */
export function ctDataset(sopInstanceUid: string, studyUid: string, seriesUid: string, bytes: number): Buffer {
  const el = (g: number, e: number, vr: string, v: Buffer): Buffer => {
    const h = Buffer.alloc(8);
    h.writeUInt16LE(g, 0);
    h.writeUInt16LE(e, 2);
    h.write(vr, 4, 'latin1');
    h.writeUInt16LE(v.length, 6);
    return Buffer.concat([h, v]);
  };
  const uid = (s: string): Buffer => Buffer.from(s.length % 2 ? `${s}\0` : s, 'latin1');
  const head = Buffer.concat([
    el(8, 0x16, 'UI', uid(CT)),
    el(8, 0x18, 'UI', uid(sopInstanceUid)),
    el(8, 0x60, 'CS', Buffer.from('CT')),
    el(0x20, 0x0d, 'UI', uid(studyUid)),
    el(0x20, 0x0e, 'UI', uid(seriesUid)),
  ]);
  const pixels = Math.max(2, (bytes - head.length - 12) & ~1);
  const ph = Buffer.alloc(12);
  ph.writeUInt16LE(0x7fe0, 0);
  ph.writeUInt16LE(0x10, 2);
  ph.write('OW', 4, 'latin1');
  ph.writeUInt32LE(pixels, 8);
  const px = Buffer.alloc(pixels);
  for (let i = 0; i < pixels; i += 2) px.writeUInt16LE((i * 7) & 0xfff, i);
  return Buffer.concat([head, ph, px]);
}

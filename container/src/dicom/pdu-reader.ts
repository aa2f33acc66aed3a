import { ProtocolError } from '../errors';
import { PduType } from './uids';

/** Receives what the reader finds in the byte stream. */
export interface PduHandlers {
  /** A complete non-P-DATA PDU (type and its variable field). */
  onControlPdu(type: number, body: Buffer): void;
  /**
   * A slice of one PDV's value. `pdvEnd` is true on the slice that ends the
   * PDV; `isCommand` / `isLast` come from the PDV's message control header.
   * Slices are views of the socket's chunks: no copy is made.
   */
  onPdvData(pcId: number, isCommand: boolean, isLast: boolean, data: Buffer, pdvEnd: boolean): void;
}

export interface PduReaderLimits {
  /** Largest P-DATA-TF variable field accepted (our advertised maximum PDU length). */
  readonly maxPDataLength: number;
  /** Largest association / release / abort PDU accepted. */
  readonly maxControlLength: number;
}

const enum State {
  Header,
  ControlBody,
  PdvHeader,
  PdvData,
}

const KNOWN_TYPES = new Set<number>(Object.values(PduType));

/**
 * Incremental PS3.8 PDU parser. P-DATA values are streamed as slices of the
 * incoming chunks, so memory use does not depend on PDU or instance size;
 * only control PDUs (bounded by `maxControlLength`) are assembled.
 * Throws `ProtocolError` on malformed input; the caller aborts.
 */
export class PduReader {
  private state = State.Header;
  private readonly hdr = Buffer.alloc(6);
  private hdrFill = 0;
  private pduType = 0;
  private pduRemaining = 0;
  private body: Buffer | undefined;
  private bodyFill = 0;
  private pdvRemaining = 0;
  private pcId = 0;
  private isCommand = false;
  private isLast = false;
  private failed = false;

  constructor(private readonly handlers: PduHandlers, private readonly limits: PduReaderLimits) {}

  /** True when the stream is between PDUs (nothing partial buffered). */
  get idle(): boolean {
    return this.state === State.Header && this.hdrFill === 0;
  }

  /** True while inside a P-DATA-TF PDU or between its PDVs. */
  get inPData(): boolean {
    return this.state === State.PdvHeader || this.state === State.PdvData;
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    try {
      this.consume(chunk);
    } catch (err) {
      this.failed = true;
      throw err;
    }
  }

  private consume(chunk: Buffer): void {
    let off = 0;
    const len = chunk.length;
    while (off < len) {
      switch (this.state) {
        case State.Header:
          off = this.fillHeader(chunk, off);
          if (this.hdrFill === 6) this.startPdu();
          break;
        case State.ControlBody: {
          const body = this.body as Buffer;
          const n = Math.min(body.length - this.bodyFill, len - off);
          chunk.copy(body, this.bodyFill, off, off + n);
          this.bodyFill += n;
          off += n;
          if (this.bodyFill === body.length) {
            this.body = undefined;
            this.state = State.Header;
            this.handlers.onControlPdu(this.pduType, body);
          }
          break;
        }
        case State.PdvHeader:
          off = this.fillHeader(chunk, off);
          if (this.hdrFill === 6) this.startPdv();
          break;
        case State.PdvData: {
          const n = Math.min(this.pdvRemaining, len - off);
          this.pdvRemaining -= n;
          this.pduRemaining -= n;
          const end = this.pdvRemaining === 0;
          const slice = chunk.subarray(off, off + n);
          off += n;
          if (end) this.afterPdv();
          this.handlers.onPdvData(this.pcId, this.isCommand, this.isLast, slice, end);
          break;
        }
      }
    }
  }

  /** Copies up to the 6 header bytes (PDU or PDV item header) that may straddle chunks; returns the new offset. */
  private fillHeader(chunk: Buffer, off: number): number {
    const n = Math.min(6 - this.hdrFill, chunk.length - off);
    chunk.copy(this.hdr, this.hdrFill, off, off + n);
    this.hdrFill += n;
    return off + n;
  }

  private startPdu(): void {
    this.hdrFill = 0;
    this.pduType = this.hdr[0];
    const length = this.hdr.readUInt32BE(2);
    if (!KNOWN_TYPES.has(this.pduType)) throw new ProtocolError(`unrecognized PDU type 0x${this.pduType.toString(16)}`, 'ERR_PDU_TYPE');
    if (this.pduType === PduType.PData) {
      if (length > this.limits.maxPDataLength) throw new ProtocolError(`P-DATA-TF length ${length} exceeds the negotiated maximum ${this.limits.maxPDataLength}`, 'ERR_PDU_TOO_LARGE');
      if (length < 6) throw new ProtocolError(`P-DATA-TF length ${length} cannot hold a PDV`, 'ERR_PDU_LENGTH');
      this.pduRemaining = length;
      this.state = State.PdvHeader;
      return;
    }
    if (length > this.limits.maxControlLength) throw new ProtocolError(`PDU type ${this.pduType} length ${length} exceeds ${this.limits.maxControlLength}`, 'ERR_PDU_TOO_LARGE');
    this.body = Buffer.allocUnsafe(length);
    this.bodyFill = 0;
    if (length === 0) {
      this.state = State.Header;
      this.body = undefined;
      this.handlers.onControlPdu(this.pduType, Buffer.alloc(0));
      return;
    }
    this.state = State.ControlBody;
  }

  private startPdv(): void {
    this.hdrFill = 0;
    const itemLength = this.hdr.readUInt32BE(0);
    if (itemLength < 2 || itemLength + 4 > this.pduRemaining) {
      throw new ProtocolError(`PDV item length ${itemLength} does not fit the remaining ${this.pduRemaining} bytes of its PDU`, 'ERR_PDV_LENGTH');
    }
    this.pcId = this.hdr[4];
    const control = this.hdr[5];
    if (control & 0xfc) throw new ProtocolError(`PDV message control header 0x${control.toString(16)} has reserved bits set`, 'ERR_PDV_CONTROL');
    this.isCommand = (control & 0x01) !== 0;
    this.isLast = (control & 0x02) !== 0;
    this.pduRemaining -= 6;
    this.pdvRemaining = itemLength - 2;
    this.state = State.PdvData;
    if (this.pdvRemaining === 0) {
      this.afterPdv();
      this.handlers.onPdvData(this.pcId, this.isCommand, this.isLast, Buffer.alloc(0), true);
    }
  }

  private afterPdv(): void {
    this.state = this.pduRemaining === 0 ? State.Header : State.PdvHeader;
    if (this.state === State.PdvHeader && this.pduRemaining < 6) {
      throw new ProtocolError(`P-DATA-TF has ${this.pduRemaining} trailing bytes that cannot hold a PDV`, 'ERR_PDV_LENGTH');
    }
  }
}

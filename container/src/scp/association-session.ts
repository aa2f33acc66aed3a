import type { Socket } from 'node:net';
import type { ScpConfig } from '../config';
import { ProtocolError } from '../errors';
import { buildAbort, buildAssociateAc, buildAssociateRj, buildPData, buildReleaseRp, parseAssociateRq, type AssociateRq } from '../dicom/associate-pdu';
import { encodeResponse, parseCommandSet, type CommandSet } from '../dicom/command-set';
import { PduReader } from '../dicom/pdu-reader';
import { CommandField, isStorageSopClass, PduType, Status, UNSUPPORTED_REQUESTS } from '../dicom/uids';
import type { Logger } from '../logger';
import type { ScpMetrics } from '../metrics';
import { decideAssociation, LOCAL_LIMIT_EXCEEDED, type Acceptance, type Rejection } from './association-policy';
import { Lease, type Slab } from './socket-reader';
import { StoreOperation, type StoreDeps } from './store-operation';

export type SessionState = 'awaiting-request' | 'established' | 'closed';

/** What a session needs from the server that owns it. */
export interface SessionHost {
  readonly config: ScpConfig;
  readonly logger: Logger;
  readonly metrics: ScpMetrics;
  readonly store: StoreDeps;
  /** Established associations right now (for the limit). */
  activeAssociations(): number;
  /** With a limit shared across processes: a slot for this session (false: over the limit). */
  readonly admit?: (s: AssociationSession) => Promise<boolean>;
  onEstablished(s: AssociationSession): void;
  onClosed(s: AssociationSession): void;
}

const MAX_CONTROL_PDU = 256 * 1024;
const MAX_COMMAND_SET = 64 * 1024;
const CANCEL_RQ = 0x0fff;

interface AcceptedContext {
  readonly abstractSyntax: string;
  readonly transferSyntax: string;
}

/**
 * One TCP connection: association negotiation, C-ECHO, streamed C-STORE
 * with socket back-pressure, release and abort. A C-STORE response is sent
 * only after the sink reports the instance durable; reading pauses meanwhile.
 */
export class AssociationSession {
  state: SessionState = 'awaiting-request';
  readonly connectedAt = Date.now();
  lastActivity = Date.now();
  callingAeTitle = '';
  private readonly reader: PduReader;
  private readonly contexts = new Map<number, AcceptedContext>();
  private commandParts: Buffer[] = [];
  private commandBytes = 0;
  /** The message being received: a C-STORE (`store`), or a request answered with 0x0211 once its dataset, if any, has been read and dropped. */
  private operation: { cmd: CommandSet; pcId: number; store?: StoreOperation; started: number } | undefined;
  private committing = false;
  private needDrain = false;
  private instances = 0;
  /** The slab holding the chunk being parsed (dataset slices lent from it carry a lease). */
  private slab: Slab | undefined;
  /** Start of the current MINIMUM_RECEIVE_RATE window, and the bytes received in it. */
  private rateWindowStart = Date.now();
  private rateWindowBytes = 0;

  constructor(readonly socket: Socket, private readonly host: SessionHost) {
    this.reader = new PduReader(
      { onControlPdu: (t, b) => this.onControlPdu(t, b), onPdvData: (pc, cmd, last, data, end) => this.onPdv(pc, cmd, last, data, end) },
      { maxPDataLength: host.config.maximumPduSize, maxControlLength: MAX_CONTROL_PDU },
    );
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => void this.closed('peer closed the connection'));
    socket.on('end', () => socket.end());
  }

  get remote(): string {
    return `${this.socket.remoteAddress}:${this.socket.remotePort}`;
  }

  /** True while a C-STORE's dataset is arriving (reads then go into slabs; see socket-reader.ts). */
  get receivingDataset(): boolean {
    return this.operation?.store !== undefined && !this.committing && this.state === 'established';
  }

  /** True while a DIMSE message is being received or stored. */
  get midMessage(): boolean {
    return this.operation !== undefined || this.commandBytes > 0 || this.reader.inPData;
  }

  /** Called by the server's timer sweep (every second); aborts on ACSE / DIMSE / idle timeouts and slow senders. */
  checkTimeouts(now: number): void {
    const c = this.host.config;
    if (this.state === 'awaiting-request' && now - this.connectedAt > c.acseTimeoutMs) this.abort('acse-timeout', 2, 0);
    else if (this.state === 'established' && !this.committing) {
      const idle = now - this.lastActivity;
      if (this.midMessage && idle > c.dimseTimeoutMs) this.abort('dimse-timeout', 2, 0);
      else if (idle > c.networkTimeoutMs) this.abort('network-timeout', 2, 0);
      else this.checkRate(now);
    } else this.restartRateWindow(now);
  }

  /**
   * A sender inside a message must average MINIMUM_RECEIVE_RATE over each
   * DIMSE_TIMEOUT window. Time between messages (NETWORK_TIMEOUT covers it)
   * and time the SCP holds the sender back (socket paused for storage
   * back-pressure) restart the window instead of counting against it.
   */
  private checkRate(now: number): void {
    const c = this.host.config;
    if (c.minimumReceiveRate === 0 || !this.midMessage || this.socket.isPaused()) return this.restartRateWindow(now);
    const span = now - this.rateWindowStart;
    if (span < c.dimseTimeoutMs) return;
    if (this.rateWindowBytes < (c.minimumReceiveRate * span) / 1000) {
      this.host.logger.warn('slow_sender', { callingAe: this.callingAeTitle, remote: this.remote, bytes: this.rateWindowBytes, seconds: Math.round(span / 1000), minimumReceiveRate: c.minimumReceiveRate });
      this.abort('slow-sender', 2, 0);
    } else this.restartRateWindow(now);
  }

  private restartRateWindow(now: number): void {
    this.rateWindowStart = now;
    this.rateWindowBytes = 0;
  }

  /** Sends A-ABORT and closes; safe to call twice. */
  abort(reason: string, source = 2, code = 0): void {
    if (this.state === 'closed') return;
    this.host.metrics.associationsAborted.inc({ reason });
    this.host.logger.warn('association_aborted', { reason, callingAe: this.callingAeTitle, remote: this.remote, instances: this.instances });
    if (this.socket.writable) this.socket.write(buildAbort(source, code));
    void this.closed(reason);
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Half-closes after our last PDU; the peer has ACSE_TIMEOUT to close its side. */
  private finishAndClose(reason: string): void {
    void this.closed(reason);
    this.socket.end();
    setTimeout(() => this.socket.destroy(), this.host.config.acseTimeoutMs).unref();
  }

  /** One read's bytes (from the socket reader); `slab` is where they live when lent. */
  onData(chunk: Buffer, slab?: Slab): void {
    this.lastActivity = Date.now();
    this.rateWindowBytes += chunk.length;
    if (this.state === 'closed') return;
    this.slab = slab;
    try {
      this.reader.push(chunk);
    } catch (err) {
      const e = err as ProtocolError;
      this.host.logger.warn('protocol_error', { code: e.code, message: e.message, remote: this.remote, callingAe: this.callingAeTitle });
      this.abort(`protocol-error:${e.code ?? 'unknown'}`, 2, e.code === 'ERR_PDU_TYPE' ? 1 : 6);
      return;
    } finally {
      this.slab = undefined;
    }
    if (this.needDrain && this.operation?.store && !this.committing) {
      this.needDrain = false;
      this.socket.pause();
      this.operation.store.onDrain(() => {
        if (!this.committing && this.state !== 'closed') this.socket.resume();
      });
    }
  }

  private onControlPdu(type: number, body: Buffer): void {
    switch (type) {
      case PduType.AssociateRq:
        if (this.state !== 'awaiting-request') throw new ProtocolError('unexpected A-ASSOCIATE-RQ', 'ERR_UNEXPECTED_PDU');
        this.negotiate(parseAssociateRq(body));
        return;
      case PduType.ReleaseRq:
        if (this.state !== 'established' || this.midMessage) throw new ProtocolError('unexpected A-RELEASE-RQ', 'ERR_UNEXPECTED_PDU');
        this.socket.write(buildReleaseRp());
        this.host.logger.info('association_released', { callingAe: this.callingAeTitle, remote: this.remote, instances: this.instances, durationMs: Date.now() - this.connectedAt });
        this.finishAndClose('released');
        return;
      case PduType.Abort:
        this.host.metrics.associationsAborted.inc({ reason: 'peer-abort' });
        this.host.logger.warn('association_aborted', { reason: 'peer-abort', callingAe: this.callingAeTitle, remote: this.remote, instances: this.instances });
        void this.closed('peer-abort');
        this.socket.destroy();
        return;
      default:
        throw new ProtocolError(`unexpected PDU type ${type} in state ${this.state}`, 'ERR_UNEXPECTED_PDU');
    }
  }

  private negotiate(rq: AssociateRq): void {
    this.callingAeTitle = rq.callingAeTitle;
    const decision = decideAssociation(rq, this.host.config, this.host.activeAssociations());
    const admit = this.host.admit;
    if (decision.kind === 'accept' && admit) {
      // A peer sends nothing more before our answer; reading waits for it.
      this.socket.pause();
      void admit(this).then((granted) => {
        if (this.state === 'closed') return;
        this.socket.resume();
        this.conclude(rq, granted ? decision : LOCAL_LIMIT_EXCEEDED);
      });
      return;
    }
    this.conclude(rq, decision);
  }

  private conclude(rq: AssociateRq, decision: Rejection | Acceptance): void {
    if (decision.kind === 'reject') {
      this.host.metrics.associationsRejected.inc({ reason: decision.label });
      this.host.logger.warn('association_rejected', { reason: decision.label, callingAe: rq.callingAeTitle, calledAe: rq.calledAeTitle, remote: this.remote });
      this.socket.write(buildAssociateRj(decision.result, decision.source, decision.reason));
      this.finishAndClose('rejected');
      return;
    }
    for (const d of decision.contexts) {
      const pc = rq.contexts.find((c) => c.id === d.id);
      if (d.result === 0 && pc) this.contexts.set(d.id, { abstractSyntax: pc.abstractSyntax, transferSyntax: d.transferSyntax });
    }
    this.socket.write(buildAssociateAc(rq, decision.contexts, this.host.config.maximumPduSize));
    this.state = 'established';
    this.host.onEstablished(this);
    this.host.metrics.associationsTotal.inc();
    this.host.logger.info('association_accepted', {
      callingAe: rq.callingAeTitle,
      calledAe: rq.calledAeTitle,
      remote: this.remote,
      implementationClassUid: rq.implementationClassUid,
      implementationVersionName: rq.implementationVersionName,
      contextsProposed: rq.contexts.length,
      contextsAccepted: this.contexts.size,
    });
  }

  private onPdv(pcId: number, isCommand: boolean, isLast: boolean, data: Buffer, pdvEnd: boolean): void {
    if (this.state !== 'established') throw new ProtocolError('P-DATA-TF outside an established association', 'ERR_UNEXPECTED_PDU');
    const ctx = this.contexts.get(pcId);
    if (!ctx) throw new ProtocolError(`PDV on presentation context ${pcId}, which was not accepted`, 'ERR_PDV_CONTEXT');
    if (isCommand) {
      if (this.operation) throw new ProtocolError('command fragment while a dataset was expected', 'ERR_UNEXPECTED_PDV');
      this.commandBytes += data.length;
      if (this.commandBytes > MAX_COMMAND_SET) throw new ProtocolError(`command set larger than ${MAX_COMMAND_SET} bytes`, 'ERR_COMMAND');
      this.commandParts.push(Buffer.from(data));
      if (isLast && pdvEnd) {
        const cmd = parseCommandSet(Buffer.concat(this.commandParts));
        this.commandParts = [];
        this.commandBytes = 0;
        this.onCommand(cmd, pcId, ctx);
      }
      return;
    }
    const op = this.operation;
    if (!op || op.pcId !== pcId) throw new ProtocolError('dataset fragment without a matching command', 'ERR_UNEXPECTED_PDV');
    if (op.store && data.length > 0 && !op.store.write(data, this.slab && new Lease(this.slab))) this.needDrain = true;
    if (isLast && pdvEnd) {
      if (op.store) void this.completeStore();
      else {
        this.operation = undefined;
        this.refuseOperation(op.cmd, op.pcId);
      }
    }
  }

  private onCommand(cmd: CommandSet, pcId: number, ctx: AcceptedContext): void {
    if (cmd.commandField === CommandField.CEchoRq) {
      if (cmd.hasDataset) throw new ProtocolError('C-ECHO-RQ with a dataset', 'ERR_COMMAND');
      this.host.metrics.echoes.inc();
      this.respond(pcId, CommandField.CEchoRsp, cmd, Status.Success);
      this.host.logger.debug('echo', { callingAe: this.callingAeTitle });
      return;
    }
    if (cmd.commandField === CommandField.CStoreRq && cmd.hasDataset) {
      const store = new StoreOperation(cmd, ctx.transferSyntax, this.callingAeTitle, this.host.store);
      this.operation = { cmd, pcId, store, started: Date.now() };
      const problem = this.sopClassProblem(cmd.affectedSopClassUid, ctx);
      if (problem) {
        this.host.logger.warn('sop_class_refused', { sopInstanceUid: cmd.affectedSopInstanceUid, sopClassUid: cmd.affectedSopClassUid, contextAbstractSyntax: ctx.abstractSyntax, presentationContextId: pcId, reason: problem, callingAe: this.callingAeTitle });
        store.refuse(Status.SopClassNotSupported, problem);
      }
      return;
    }
    if (cmd.commandField === CANCEL_RQ) {
      // C-CANCEL names a C-FIND / C-GET / C-MOVE in progress; the SCP never has one, and a C-CANCEL gets no response (PS3.7 9.3.2.3).
      this.host.logger.debug('cancel_ignored', { callingAe: this.callingAeTitle });
      return;
    }
    if ((cmd.commandField & 0x8000) === 0 && cmd.commandField !== CommandField.CStoreRq) {
      // A request the SCP does not perform (C-FIND, C-MOVE, N-ACTION...) on an accepted context:
      // read and drop its dataset, answer 0x0211 Unrecognized Operation and keep the association.
      if (cmd.hasDataset) this.operation = { cmd, pcId, started: Date.now() };
      else this.refuseOperation(cmd, pcId);
      return;
    }
    throw new ProtocolError(`unexpected command field 0x${cmd.commandField.toString(16)}`, 'ERR_COMMAND');
  }

  /**
   * Why a C-STORE's Affected SOP Class UID may not be stored, or undefined:
   * it must be its presentation context's abstract syntax, and that must
   * pass the same SOP class policy as negotiation (SUPPORTED_SOP_CLASS_UIDS,
   * or every storage class). The reason (≤ 64 characters) becomes the Error Comment.
   */
  private sopClassProblem(sopClassUid: string, ctx: AcceptedContext): string | undefined {
    if (sopClassUid !== ctx.abstractSyntax) return 'SOP class differs from the presentation context';
    const list = this.host.config.supportedSopClassUids;
    if (list.length > 0 && !list.includes(sopClassUid)) return 'SOP class not in SUPPORTED_SOP_CLASS_UIDS';
    if (list.length === 0 && !isStorageSopClass(sopClassUid)) return 'not a storage SOP class';
    return undefined;
  }

  /** Answers a request the SCP does not perform with 0x0211 and keeps the association. */
  private refuseOperation(cmd: CommandSet, pcId: number): void {
    const name = UNSUPPORTED_REQUESTS.get(cmd.commandField) ?? `0x${cmd.commandField.toString(16).padStart(4, '0')}`;
    this.host.metrics.instancesFailed.inc({ status: '0x0211' });
    this.host.logger.warn('operation_refused', { operation: name, sopClassUid: cmd.affectedSopClassUid, callingAe: this.callingAeTitle, status: '0x0211' });
    this.respond(pcId, cmd.commandField | 0x8000, cmd, Status.UnrecognizedOperation, `${name} is not supported by this SCP`);
  }

  private async completeStore(): Promise<void> {
    const op = this.operation as NonNullable<AssociationSession['operation']>;
    const store = op.store as StoreOperation;
    this.committing = true;
    this.socket.pause();
    const result = await store.finish();
    this.committing = false;
    this.operation = undefined;
    this.needDrain = false;
    const seconds = (Date.now() - op.started) / 1000;
    // The response goes first: the sender is waiting for it, and the metrics
    // and the log line (JSON and a write to stdout, ~30 us) need not delay it.
    const established = this.state === 'established';
    if (established) this.respond(op.pcId, CommandField.CStoreRsp, op.cmd, result.status, result.errorComment);
    this.host.metrics.storeLatency.observe(seconds);
    if (result.status === Status.Success) {
      this.instances += 1;
      this.host.metrics.instancesStored.inc();
      this.host.metrics.bytesStored.inc({}, result.bytes);
      this.host.logger.info('instance_stored', {
        sopInstanceUid: op.cmd.affectedSopInstanceUid,
        sopClassUid: op.cmd.affectedSopClassUid,
        callingAe: this.callingAeTitle,
        bytes: result.bytes,
        durationMs: Math.round(seconds * 1000),
        batchId: result.info?.batchId,
      });
    } else {
      this.host.metrics.instancesFailed.inc({ status: `0x${result.status.toString(16).padStart(4, '0')}` });
      this.host.logger.error('instance_failed', {
        sopInstanceUid: op.cmd.affectedSopInstanceUid,
        callingAe: this.callingAeTitle,
        status: `0x${result.status.toString(16).padStart(4, '0')}`,
        errorComment: result.errorComment,
        durationMs: Math.round(seconds * 1000),
      });
    }
    if (!established) return;
    this.lastActivity = Date.now();
    this.socket.resume();
  }

  private respond(pcId: number, field: number, cmd: CommandSet, status: number, errorComment?: string): void {
    const rsp = encodeResponse({
      commandField: field,
      messageIdBeingRespondedTo: cmd.messageId,
      affectedSopClassUid: cmd.affectedSopClassUid,
      affectedSopInstanceUid: cmd.affectedSopInstanceUid || undefined,
      status,
      errorComment,
    });
    this.socket.write(buildPData(pcId, true, rsp));
  }

  private async closed(reason: string): Promise<void> {
    if (this.state === 'closed') return;
    const wasEstablished = this.state === 'established';
    this.state = 'closed';
    const op = this.operation;
    this.operation = undefined;
    if (op?.store && !this.committing) {
      await op.store.abort();
      this.host.logger.warn('instance_discarded', { sopInstanceUid: op.cmd.affectedSopInstanceUid, callingAe: this.callingAeTitle, reason });
    }
    if (wasEstablished && reason === 'peer closed the connection') {
      this.host.metrics.associationsAborted.inc({ reason: 'connection-closed' });
      this.host.logger.warn('association_aborted', { reason: 'connection-closed', callingAe: this.callingAeTitle, remote: this.remote, instances: this.instances });
    }
    this.host.onClosed(this);
  }
}

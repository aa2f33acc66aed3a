import type { CommandSet } from '../dicom/command-set';
import { DatasetPeeker, type PeekedIds } from '../dicom/dataset-peek';
import { buildFileMeta } from '../dicom/file-meta';
import { Status, UID_NOT_FOUND } from '../dicom/uids';
import type { Logger } from '../logger';
import type { Batcher, BatchSlot } from '../storage/batcher';
import { instanceKey, type BufferLease, type InstanceInfo, type InstanceWriter, type StorageSink } from '../storage/sink';

export interface StoreDeps {
  readonly sink: StorageSink;
  readonly batcher: Batcher;
  readonly logger: Logger;
  readonly maximumInstanceBytes: number;
  /** Told the outcome of every commit (health: storage ok / failing). */
  readonly onCommit?: (ok: boolean) => void;
  /** Told of every stored instance whose dataset lacks a Study or Series Instance UID (a metric). */
  readonly onMissingUids?: () => void;
}

export interface StoreResult {
  readonly status: number;
  readonly errorComment?: string;
  /** Bytes of the stored Part-10 object (0 when not stored). */
  readonly bytes: number;
  readonly info?: InstanceInfo;
}

/**
 * Up to this many leading dataset bytes are held back while the Study /
 * Series UIDs are looked for. Past it the instance streams on and the UIDs,
 * read later, are put right at commit (S3 metadata, manifest entry).
 */
export const PEEK_LIMIT = 1 << 20;
const UID = /^[0-9]+(\.[0-9]+)*$/;

const enum Phase {
  Peek,
  Stream,
  Discard,
  Done,
}

/**
 * One C-STORE in progress: holds back the dataset's first bytes until the
 * Study / Series UIDs are known (at most PEEK_LIMIT), then streams the File
 * Meta header and every byte as received to the sink. The peeker keeps
 * reading as the bytes stream by until it has the UIDs; UIDs it finds only
 * then are handed to the sink's commit and to the batch manifest. A UID the
 * dataset does not have is recorded as UID_NOT_FOUND, never as ''.
 */
export class StoreOperation {
  private phase = Phase.Peek;
  private readonly peeker: DatasetPeeker;
  private held: Buffer[] = [];
  private heldLeases: (BufferLease | undefined)[] = [];
  private heldBytes = 0;
  private writer: InstanceWriter | undefined;
  private slot: BatchSlot | undefined;
  private info: InstanceInfo | undefined;
  private bytes = 0;
  private failure: { status: number; comment: string } | undefined;
  /** An abort started mid-stream (size limit); `finish` waits for it. */
  private aborting: Promise<void> | undefined;

  constructor(readonly command: CommandSet, private readonly transferSyntaxUid: string, private readonly callingAeTitle: string, private readonly deps: StoreDeps) {
    this.peeker = new DatasetPeeker(transferSyntaxUid);
    const uid = command.affectedSopInstanceUid;
    if (!UID.test(uid) || uid.length > 64) this.fail(Status.CannotUnderstand, 'invalid Affected SOP Instance UID');
  }

  /** Refuses the instance before any byte is stored: its dataset is read and dropped, `finish` answers `status`. */
  refuse(status: number, comment: string): void {
    this.fail(status, comment);
  }

  /**
   * Feeds dataset bytes; false means wait for `onDrain`. A lease passed
   * with them is released once nothing here or in the writer reads them.
   */
  write(slice: Buffer, lease?: BufferLease): boolean {
    switch (this.phase) {
      case Phase.Peek:
        this.peeker.push(slice);
        this.held.push(slice);
        this.heldLeases.push(lease);
        this.heldBytes += slice.length;
        if (this.peeker.done || this.heldBytes >= PEEK_LIMIT) return this.startStreaming(this.peeker.ids);
        return true;
      case Phase.Stream:
        // The peeker copies nothing it does not need, so lent bytes can go on to the writer.
        this.peeker.push(slice);
        return this.forward(slice, lease);
      default:
        lease?.release();
        return true;
    }
  }

  onDrain(cb: () => void): void {
    if (this.phase === Phase.Stream && this.writer) this.writer.onDrain(cb);
    else cb();
  }

  /** The last fragment arrived: make the instance durable, or report why not. */
  async finish(): Promise<StoreResult> {
    await this.peeker.settle();
    if (this.phase === Phase.Peek) this.startStreaming(this.peeker.ids);
    if (this.phase !== Phase.Stream || !this.writer || !this.slot || !this.info) {
      this.phase = Phase.Done;
      await this.aborting;
      const f = this.failure ?? { status: Status.ProcessingFailure, comment: 'not stored' };
      return { status: f.status, errorComment: f.comment, bytes: 0 };
    }
    this.phase = Phase.Done;
    const final = this.finalInfo(this.info, this.peeker.ids);
    try {
      await this.writer.commit(final === this.info ? undefined : final);
      this.slot.committed(final, this.bytes);
      this.deps.onCommit?.(true);
      if (final.studyInstanceUid === UID_NOT_FOUND || final.seriesInstanceUid === UID_NOT_FOUND) {
        this.deps.onMissingUids?.();
        const missing = [final.studyInstanceUid === UID_NOT_FOUND && '(0020,000D)', final.seriesInstanceUid === UID_NOT_FOUND && '(0020,000E)'].filter(Boolean);
        this.deps.logger.warn('instance_uids_missing', { sopInstanceUid: final.sopInstanceUid, key: final.key, missing, recordedAs: UID_NOT_FOUND });
      }
      return { status: Status.Success, bytes: this.bytes, info: final };
    } catch (err) {
      this.slot.released();
      this.deps.onCommit?.(false);
      this.deps.logger.error('storage_failed', { sopInstanceUid: this.command.affectedSopInstanceUid, key: this.info.key, error: err });
      return { status: Status.OutOfResources, errorComment: `storage failed: ${(err as Error).message}`.slice(0, 64), bytes: 0, info: this.info };
    }
  }

  /** The association ended mid-instance: nothing of it stays visible. */
  async abort(): Promise<void> {
    const w = this.writer;
    const s = this.slot;
    this.phase = Phase.Done;
    this.writer = undefined;
    this.slot = undefined;
    this.peeker.close();
    this.dropHeld();
    if (w) await w.abort();
    s?.released();
  }

  private startStreaming(ids: PeekedIds): boolean {
    const held = this.held;
    const leases = this.heldLeases;
    this.held = [];
    this.heldLeases = [];
    this.heldBytes = 0;
    if (this.phase !== Phase.Peek) {
      for (const l of leases) l?.release();
      return true;
    }
    if (ids.sopInstanceUid && ids.sopInstanceUid !== this.command.affectedSopInstanceUid) {
      this.deps.logger.warn('sop_instance_uid_mismatch', { command: this.command.affectedSopInstanceUid, dataset: ids.sopInstanceUid });
    }
    const slot = this.deps.batcher.reserve();
    const info: InstanceInfo = {
      batchId: slot.batchId,
      key: instanceKey(slot.batchId, this.command.affectedSopInstanceUid),
      sopClassUid: this.command.affectedSopClassUid,
      sopInstanceUid: this.command.affectedSopInstanceUid,
      studyInstanceUid: ids.studyInstanceUid || UID_NOT_FOUND,
      seriesInstanceUid: ids.seriesInstanceUid || UID_NOT_FOUND,
      transferSyntaxUid: this.transferSyntaxUid,
      callingAeTitle: this.callingAeTitle,
    };
    try {
      this.writer = this.deps.sink.begin(info);
    } catch (err) {
      slot.released();
      this.deps.logger.error('storage_failed', { sopInstanceUid: info.sopInstanceUid, error: err });
      for (const l of leases) l?.release();
      this.fail(Status.OutOfResources, `storage failed: ${(err as Error).message}`);
      return true;
    }
    this.slot = slot;
    this.info = info;
    this.phase = Phase.Stream;
    let ok = this.forward(buildFileMeta({ sopClassUid: info.sopClassUid, sopInstanceUid: info.sopInstanceUid, transferSyntaxUid: info.transferSyntaxUid, sourceAeTitle: info.callingAeTitle }));
    held.forEach((b, i) => {
      ok = this.forward(b, leases[i]) && ok;
    });
    return ok;
  }

  /** `info` with the UIDs the peeker read after streaming began (the same object when nothing changed). */
  private finalInfo(info: InstanceInfo, ids: PeekedIds): InstanceInfo {
    const study = ids.studyInstanceUid || UID_NOT_FOUND;
    const series = ids.seriesInstanceUid || UID_NOT_FOUND;
    if (study === info.studyInstanceUid && series === info.seriesInstanceUid) return info;
    this.deps.logger.info('instance_uids_read_late', { sopInstanceUid: info.sopInstanceUid, key: info.key, heldBackBytes: PEEK_LIMIT });
    return { ...info, studyInstanceUid: study, seriesInstanceUid: series };
  }

  private forward(slice: Buffer, lease?: BufferLease): boolean {
    if (this.phase !== Phase.Stream) {
      lease?.release();
      return true;
    }
    this.bytes += slice.length;
    if (this.bytes > this.deps.maximumInstanceBytes) {
      lease?.release();
      this.aborting = this.abort();
      this.fail(Status.OutOfResources, `instance exceeds ${this.deps.maximumInstanceBytes} bytes`);
      return true;
    }
    this.slot?.addBytes(slice.length);
    return (this.writer as InstanceWriter).write(slice, lease);
  }

  private fail(status: number, comment: string): void {
    this.failure ??= { status, comment: comment.slice(0, 64) };
    this.phase = Phase.Discard;
    this.peeker.close();
    this.dropHeld();
  }

  private dropHeld(): void {
    for (const l of this.heldLeases) l?.release();
    this.held = [];
    this.heldLeases = [];
    this.heldBytes = 0;
  }
}

import { randomBytes } from 'node:crypto';
import { UID_NOT_FOUND } from '../dicom/uids';
import type { Logger } from '../logger';
import type { BatchManifest, ManifestObject } from '../../../lambda/batch-manifest';
import { manifestKey, type InstanceInfo, type StorageSink } from './sink';

/** The manifest contract (docs/data-contracts.md) has one definition, shared with the import workflow. */
export type { BatchManifest, ManifestObject };

/** Why the SCP sealed a batch (the workflow's sweeper adds 'sweeper'). */
export type SealReason = Exclude<BatchManifest['sealReason'], 'sweeper'>;

export interface BatcherOptions {
  readonly sink: StorageSink;
  readonly maxFiles: number;
  readonly maxBytes: number;
  readonly quietMs: number;
  readonly logger: Logger;
  /** Called once per sealed batch (metrics). */
  readonly onSealed?: (m: BatchManifest) => void;
  /**
   * Called as each instance is listed in its batch, before it is acknowledged:
   * with WORKERS > 1 the primary keeps this ledger and seals the batch should
   * the worker die (src/cluster/primary.ts).
   */
  readonly onCommitted?: (batchId: string, openedAt: Date, object: ManifestObject) => void;
  /** Called once a batch is done with: sealed, empty, or left to the sweeper after failed attempts. */
  readonly onForgotten?: (batchId: string) => void;
  /** 8 lowercase alphanumerics identifying this process in batch ids. */
  readonly processId?: string;
  readonly now?: () => Date;
}

/** Handle of one instance's place in a batch. */
export interface BatchSlot {
  readonly batchId: string;
  /** Adds bytes written so far (drives the byte limit). */
  addBytes(n: number): void;
  /** The instance is durable: list it in the manifest. */
  committed(info: InstanceInfo, bytes: number): void;
  /** The instance failed or was aborted: leave it out. */
  released(): void;
}

class Batch {
  readonly objects = new Map<string, ManifestObject>();
  reserved = 0;
  inflight = 0;
  bytes = 0;
  closed = false;
  reason: SealReason = 'quiet';
  sealing: Promise<void> | undefined;
  constructor(readonly id: string, readonly openedAt: Date) {}
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Groups stored instances into batches and seals each (writes its manifest)
 * at BATCH_MAX_FILES, BATCH_MAX_BYTES, after BATCH_QUIET_SECONDS without a
 * new instance, or on shutdown — only once every instance in it has finished.
 */
export class Batcher {
  private current: Batch | undefined;
  private readonly open = new Set<Batch>();
  private seq = 0;
  private quietTimer: NodeJS.Timeout | undefined;
  private readonly processId: string;
  private readonly now: () => Date;
  private stopped = false;

  constructor(private readonly opts: BatcherOptions) {
    this.processId = opts.processId ?? randomBytes(4).toString('hex');
    this.now = opts.now ?? (() => new Date());
  }

  /** Reserves a place for one instance in the open batch (opening one if needed). */
  reserve(): BatchSlot {
    if (this.stopped) throw new Error('batcher is stopped');
    let b = this.current;
    if (!b || b.closed) {
      this.seq += 1;
      const openedAt = this.now();
      b = new Batch(`${stamp(openedAt)}-${this.processId}-${String(this.seq).padStart(6, '0')}`, openedAt);
      this.current = b;
      this.open.add(b);
    }
    const batch = b;
    batch.reserved += 1;
    batch.inflight += 1;
    if (batch.reserved >= this.opts.maxFiles) this.close(batch, 'files');
    this.touch();
    let done = false;
    let written = 0;
    const finish = (): void => {
      done = true;
      batch.inflight -= 1;
      this.touch();
      if (batch.closed && batch.inflight === 0) void this.seal(batch);
    };
    return {
      batchId: batch.id,
      addBytes: (n) => {
        written += n;
        if (!batch.closed && batch.bytes + written >= this.opts.maxBytes) this.close(batch, 'bytes');
      },
      committed: (info, bytes) => {
        if (done) return;
        const prev = batch.objects.get(info.key);
        if (prev) batch.bytes -= prev.bytes;
        const object: ManifestObject = {
          key: info.key,
          sopInstanceUid: info.sopInstanceUid,
          sopClassUid: info.sopClassUid,
          studyInstanceUid: info.studyInstanceUid,
          seriesInstanceUid: info.seriesInstanceUid,
          transferSyntaxUid: info.transferSyntaxUid,
          callingAeTitle: info.callingAeTitle,
          bytes,
          storedAt: this.now().toISOString(),
        };
        batch.objects.set(info.key, object);
        this.opts.onCommitted?.(batch.id, batch.openedAt, object);
        batch.bytes += bytes;
        if (!batch.closed && batch.bytes >= this.opts.maxBytes) this.close(batch, 'bytes');
        finish();
      },
      released: () => {
        if (done) return;
        batch.reserved -= 1;
        finish();
      },
    };
  }

  /** Open batches (sealed ones are forgotten). */
  get openBatches(): number {
    return this.open.size;
  }

  /** Closes every open batch and waits until all are sealed (shutdown). */
  async sealAll(reason: SealReason = 'shutdown'): Promise<void> {
    this.stopped = true;
    clearTimeout(this.quietTimer);
    for (const b of [...this.open]) this.close(b, reason);
    await Promise.all([...this.open].map((b) => b.sealing ?? this.waitSealed(b)));
  }

  private waitSealed(b: Batch): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (b.sealing) void b.sealing.then(resolve);
        else setTimeout(check, 20);
      };
      check();
    });
  }

  /** Restarts the quiet period: one timer, re-armed (two new timers per instance showed in the profile). */
  private touch(): void {
    if (this.stopped) return;
    if (this.quietTimer) {
      this.quietTimer.refresh();
      return;
    }
    this.quietTimer = setTimeout(() => {
      const b = this.current;
      if (b && !b.closed) this.close(b, 'quiet');
    }, this.opts.quietMs);
    this.quietTimer.unref();
  }

  private close(b: Batch, reason: SealReason): void {
    if (b.closed) return;
    b.closed = true;
    b.reason = reason;
    if (this.current === b) this.current = undefined;
    if (b.inflight === 0) void this.seal(b);
  }

  private seal(b: Batch): Promise<void> {
    if (b.sealing) return b.sealing;
    b.sealing = this.writeManifest(b).finally(() => {
      this.open.delete(b);
      this.opts.onForgotten?.(b.id);
    });
    return b.sealing;
  }

  private async writeManifest(b: Batch): Promise<void> {
    if (b.objects.size === 0) return;
    await writeBatchManifest(this.opts, b.id, b.openedAt, b.reason, [...b.objects.values()], this.now);
  }
}

/**
 * Writes one batch's manifest (the contract of docs/data-contracts.md),
 * retrying; after 5 failed attempts it logs `batch_seal_failed` and returns
 * (the objects are durable; the workflow's sweeper seals orphaned batches).
 * Also used by the cluster primary for a dead worker's batch.
 */
export async function writeBatchManifest(
  opts: Pick<BatcherOptions, 'sink' | 'logger' | 'onSealed'>,
  batchId: string,
  openedAt: Date,
  reason: SealReason,
  objects: readonly ManifestObject[],
  now: () => Date = () => new Date(),
): Promise<void> {
  const manifest: BatchManifest = {
    schemaVersion: 1,
    batchId: batchId,
    prefix: `incoming/${batchId}/`,
    sealReason: reason,
    openedAt: openedAt.toISOString(),
    sealedAt: now().toISOString(),
    count: objects.length,
    bytes: objects.reduce((s, o) => s + o.bytes, 0),
    callingAeTitles: [...new Set(objects.map((o) => o.callingAeTitle))].sort(),
    studyInstanceUids: [...new Set(objects.map((o) => o.studyInstanceUid).filter((u) => u && u !== UID_NOT_FOUND))].sort(),
    objects: [...objects],
  };
  const body = Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`);
  for (let attempt = 1; ; attempt++) {
    try {
      await opts.sink.putObject(manifestKey(batchId), body, 'application/json');
      opts.logger.info('batch_sealed', { batchId: batchId, reason, count: manifest.count, bytes: manifest.bytes });
      opts.onSealed?.(manifest);
      return;
    } catch (err) {
      if (attempt >= 5) {
        // The objects are durable; the sweeper seals orphaned batches.
        opts.logger.error('batch_seal_failed', { batchId: batchId, attempts: attempt, error: err });
        return;
      }
      await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
    }
  }
}

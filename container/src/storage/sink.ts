/** What the SCP knows about an instance when it starts storing it. */
export interface InstanceInfo {
  readonly batchId: string;
  /** Key relative to the sink root: `incoming/<batchId>/<SOPInstanceUID>.dcm`. */
  readonly key: string;
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly transferSyntaxUid: string;
  readonly callingAeTitle: string;
}

/**
 * A claim on bytes the SCP lent a writer (they live in a recycled read
 * buffer). The writer calls `release` exactly when it no longer reads them:
 * after they are written or copied, or when they are dropped.
 */
export interface BufferLease {
  release(): void;
}

/**
 * Receives one instance's bytes. `write` follows the stream contract: false
 * means "wait for the drain callback before writing more". After a failure
 * the writer discards further bytes and `commit` rejects with the cause.
 */
export interface InstanceWriter {
  /**
   * Without a lease the writer may keep `chunk` as long as it likes; with
   * one, it must release the lease when done with the bytes and not touch
   * them afterwards (they will be overwritten by later reads).
   */
  write(chunk: Buffer, lease?: BufferLease): boolean;
  /** Calls `cb` once the writer can take more bytes (at once if it can now). */
  onDrain(cb: () => void): void;
  /**
   * Resolves once the object is durable (fsynced and renamed / upload
   * completed). `final` is given when the Study / Series UIDs were read only
   * after streaming began (they lie far into the dataset): a sink that keeps
   * them with the object (S3 metadata) brings them up to date before it
   * resolves. Sinks that keep no metadata ignore it.
   */
  commit(final?: InstanceInfo): Promise<void>;
  /** Drops the instance: nothing of it remains visible. Safe to call twice. */
  abort(): Promise<void>;
}

/** A storage back end: a local folder, S3, or nothing (benchmarks). */
export interface StorageSink {
  readonly kind: 'file' | 's3' | 'null';
  /** Human-readable location, for logs. */
  readonly location: string;
  begin(info: InstanceInfo): InstanceWriter;
  /** Writes a batch manifest durably at `key` (e.g. `batches/<id>.json`). */
  putObject(key: string, body: Buffer, contentType: string): Promise<void>;
  /** Throws when the sink cannot be written (start-up check). */
  check(): Promise<void>;
  /** Releases what the sink keeps open (spare files, descriptors); after the last commit. */
  close?(): Promise<void>;
}

export function instanceKey(batchId: string, sopInstanceUid: string): string {
  return `incoming/${batchId}/${sopInstanceUid}.dcm`;
}

export function manifestKey(batchId: string): string {
  return `batches/${batchId}.json`;
}

import { randomBytes } from 'node:crypto';
import { mkdirSync, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { StorageError } from '../errors';
import { DirSyncer } from './dir-syncer';
import type { BufferLease, InstanceInfo, InstanceWriter, StorageSink } from './sink';

async function fsyncDir(dir: string): Promise<void> {
  const h = await fsp.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Writes `body` to `<file>.part`, fsyncs, renames into place and fsyncs the folder. */
async function writeDurably(file: string, body: Buffer): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString('hex')}.part`;
  const h = await fsp.open(tmp, 'wx');
  try {
    await h.writeFile(body);
    await h.sync();
  } finally {
    await h.close();
  }
  await fsp.rename(tmp, file);
  await fsyncDir(path.dirname(file));
}

/** Bytes gathered before one positional writev; twice this queued makes `write` return false. */
const FLUSH_BYTES = 512 * 1024;
/**
 * While a large instance streams in, an fdatasync is started in the
 * background after every this many bytes, so the kernel writes back as data
 * arrives and the fdatasync at commit (the one that counts) only flushes the
 * tail instead of the whole instance.
 */
const EARLY_SYNC_BYTES = 32 << 20;
/** Below IOV_MAX (1024), whatever the slice sizes. */
const FLUSH_SLICES = 512;

/**
 * One instance: `<dir>/.<name>.<random>.part`, written with positional
 * writev calls of about 1 MiB each (slices are the socket's chunks; they are
 * gathered, not copied), then on commit fdatasync on the same descriptor,
 * rename into place, and a group-committed fsync of the folder.
 */
class FileInstanceWriter implements InstanceWriter {
  private readonly tmp: string;
  private readonly fh: Promise<FileHandle>;
  private pending: Buffer[] = [];
  /** Leases of the bytes in `pending` (and of nothing else). */
  private pendingLeases: BufferLease[] = [];
  private pendingBytes = 0;
  private inflightBytes = 0;
  private position = 0;
  private chain: Promise<void> = Promise.resolve();
  private error: Error | undefined;
  private settled = false;
  private drainWaiters: (() => void)[] = [];
  private earlySync: Promise<void> | undefined;
  private syncedTo = 0;

  constructor(private readonly file: string, private readonly syncer: DirSyncer, dirs: Set<string>) {
    const dir = syncer.dir;
    this.tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(4).toString('hex')}.part`);
    if (!dirs.has(dir)) {
      // Once per batch folder; a synchronous mkdir keeps the open below ordered after it.
      mkdirSync(dir, { recursive: true });
      dirs.add(dir);
    }
    this.fh = fsp.open(this.tmp, 'wx');
    this.fh.catch((err: Error) => {
      this.error ??= err;
    });
  }

  write(chunk: Buffer, lease?: BufferLease): boolean {
    if (this.error || this.settled) {
      lease?.release();
      return true;
    }
    this.pending.push(chunk);
    if (lease) this.pendingLeases.push(lease);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= FLUSH_BYTES || this.pending.length >= FLUSH_SLICES) this.flush();
    return this.pendingBytes + this.inflightBytes < 2 * FLUSH_BYTES;
  }

  onDrain(cb: () => void): void {
    if (this.error || this.pendingBytes + this.inflightBytes < 2 * FLUSH_BYTES) cb();
    else this.drainWaiters.push(cb);
  }

  async commit(): Promise<void> {
    if (this.settled) throw new StorageError('instance writer already settled');
    this.settled = true;
    let fh: FileHandle | undefined;
    try {
      this.flush();
      await this.chain;
      fh = await this.fh;
      await this.earlySync;
      if (this.error) throw this.error;
      await fh.datasync();
      // Closing does not affect durability: let it overlap the rename.
      const closed = fh.close();
      fh = undefined;
      await fsp.rename(this.tmp, this.file);
      await this.syncer.sync();
      await closed;
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await fsp.rm(this.tmp, { force: true }).catch(() => undefined);
      throw new StorageError(`file sink could not store ${this.file}: ${(err as Error).message}`, { cause: err });
    } finally {
      this.release();
    }
  }

  async abort(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    this.error ??= new Error('aborted');
    this.release();
    await this.chain;
    await this.earlySync;
    await this.fh.then((fh) => fh.close()).catch(() => undefined);
    await fsp.rm(this.tmp, { force: true }).catch(() => undefined);
  }

  /** Queues one positional writev of everything gathered so far. */
  private flush(): void {
    if (this.pendingBytes === 0 || this.error) return;
    const bufs = this.pending;
    const leases = this.pendingLeases;
    const n = this.pendingBytes;
    const at = this.position;
    this.pending = [];
    this.pendingLeases = [];
    this.pendingBytes = 0;
    this.position += n;
    this.inflightBytes += n;
    this.chain = this.chain.then(async () => {
      try {
        if (this.error) return;
        const fh = await this.fh;
        let done = 0;
        // writev may write less than asked (rare for regular files); finish the rest.
        while (done < n) {
          const { bytesWritten } = await fh.writev(done === 0 ? bufs : sliceFrom(bufs, done), at + done);
          if (bytesWritten <= 0) throw new Error('writev wrote nothing');
          done += bytesWritten;
        }
        if (at + n - this.syncedTo >= EARLY_SYNC_BYTES && !this.earlySync) {
          this.syncedTo = at + n;
          this.earlySync = fh.datasync().then(
            () => void (this.earlySync = undefined),
            (err: Error) => void ((this.error ??= err), (this.earlySync = undefined)),
          );
        }
      } catch (err) {
        this.error ??= err as Error;
      } finally {
        // The writev is over (done, failed or skipped): the kernel has its own copy.
        for (const l of leases) l.release();
        this.inflightBytes -= n;
        if (this.error || this.pendingBytes + this.inflightBytes < 2 * FLUSH_BYTES) this.wake();
      }
    });
  }

  private wake(): void {
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const cb of w) cb();
  }

  /** Drops what is queued (after commit or abort) and releases anyone waiting for drain. */
  private release(): void {
    for (const l of this.pendingLeases) l.release();
    this.pendingLeases = [];
    this.pending = [];
    this.pendingBytes = 0;
    this.wake();
  }
}

/** The buffers after the first `skip` bytes. */
function sliceFrom(bufs: Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  let s = skip;
  for (const b of bufs) {
    if (s >= b.length) s -= b.length;
    else {
      out.push(s ? b.subarray(s) : b);
      s = 0;
    }
  }
  return out;
}

/** Local-folder sink: same layout as S3 under `root`. */
export function createFileSink(root: string): StorageSink {
  const abs = path.resolve(root);
  const dirs = new Set<string>();
  const syncers = new Map<string, DirSyncer>();
  return {
    kind: 'file',
    location: abs,
    begin(info: InstanceInfo): InstanceWriter {
      const file = path.join(abs, info.key);
      const dir = path.dirname(file);
      let syncer = syncers.get(dir);
      if (!syncer) {
        syncer = new DirSyncer(dir);
        syncers.set(dir, syncer);
        // Batch folders come and go; keep descriptors of the recent few only.
        if (syncers.size > 8) {
          const [oldDir, oldest] = syncers.entries().next().value as [string, DirSyncer];
          syncers.delete(oldDir);
          void oldest.close();
        }
      }
      return new FileInstanceWriter(file, syncer, dirs);
    },
    async putObject(key: string, body: Buffer): Promise<void> {
      try {
        await writeDurably(path.join(abs, key), body);
      } catch (err) {
        throw new StorageError(`file sink could not write ${key}: ${(err as Error).message}`, { cause: err });
      }
    },
    async check(): Promise<void> {
      await writeDurably(path.join(abs, '.write-check'), Buffer.from(new Date().toISOString()));
      await fsp.rm(path.join(abs, '.write-check'), { force: true });
    },
  };
}

import { randomBytes } from 'node:crypto';
import { fdatasyncSync, mkdirSync, promises as fsp, readdirSync, renameSync, rmSync, writevSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as os from 'node:os';
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
 * Which calls are made on the event loop instead of the thread pool. Each
 * thread-pool round trip costs the event loop a wake-up and a promise
 * (~50 us of its CPU per call on the benchmark VM, cpu-prof), more than the
 * work of most calls. So:
 * - writes below this offset are made on the event loop (`writevSync`): a
 *   512 KiB write into the page cache is ~0.2 ms of copying, which the
 *   event loop would otherwise spend handing it over and taking it back.
 *   A/B, one process, 7–9 interleaved rounds: four associations 0.985 ->
 *   0.875 s and 1.92 -> 1.67 ms CPU per instance, sixteen 1.40 -> 1.18 s and
 *   2.57 -> 1.90 ms; with WORKERS=2 within the noise. A large instance's
 *   writes beyond it go through the thread pool, where dirty-page
 *   throttling can wait without stalling other associations or /health;
 * - the fdatasync and the folder fsync at commit are made on the event loop
 *   only when the instance is "solo": the only one this process is storing,
 *   with at most one association open, and at most this many bytes
 *   unsynced. Then nothing else waits for the event loop (the sender waits
 *   for our response), as with storescp on its one thread. With other
 *   associations open a blocking fdatasync would hold up reading them (A/B,
 *   four associations: +4–7 % wall time when "solo" counted only instances
 *   in flight).
 */
const ON_LOOP_BYTES = 4 << 20;

/**
 * One instance: an empty file taken from the spare pool (or created on the
 * spot when none is ready), written with positional writev calls of about
 * 512 KiB each (slices are the socket's chunks; they are gathered, not
 * copied), then on commit fdatasync on the same descriptor, rename into
 * `<batch folder>/<SOPInstanceUID>.dcm`, and a group-committed fsync of the
 * batch folder.
 */
class FileInstanceWriter implements InstanceWriter {
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

  constructor(private readonly file: string, private readonly syncer: DirSyncer, private readonly tmp: string, private readonly fh: Promise<FileHandle>, private readonly onSettled: () => void, private readonly solo: () => boolean = () => false) {
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
      const solo = this.solo() && this.position - this.syncedTo <= ON_LOOP_BYTES;
      if (solo) fdatasyncSync(fh.fd);
      else await fh.datasync();
      // On the event loop: a rename within one file system is a few tens of
      // microseconds of kernel time, less than the thread-pool round trip
      // (submit, wake a thread, signal back) it would otherwise take.
      renameSync(this.tmp, this.file);
      if (!(solo && this.syncer.syncNow())) await this.syncer.sync();
      // Closing does not affect durability, so it is handed to the thread
      // pool only after the response has been written (setImmediate runs
      // after this tick's continuations): submitting it before the rename put
      // ~0.4 ms of futex wake-ups on each acknowledgement's path here
      // (strace). A/B, one association, 9 interleaved rounds: 0.454 -> 0.420 s
      // per 200 instances closing after the folder fsync, 0.432 -> 0.414 s
      // with setImmediate; four associations unchanged.
      const done = fh;
      fh = undefined;
      setImmediate(() => void done.close().catch(() => undefined));
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await fsp.rm(this.tmp, { force: true }).catch(() => undefined);
      throw new StorageError(`file sink could not store ${this.file}: ${(err as Error).message}`, { cause: err });
    } finally {
      this.release();
      this.onSettled();
    }
  }

  async abort(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    this.error ??= new Error('aborted');
    this.release();
    try {
      await this.chain;
      await this.earlySync;
      await this.fh.then((fh) => fh.close()).catch(() => undefined);
      await fsp.rm(this.tmp, { force: true }).catch(() => undefined);
    } finally {
      this.onSettled();
    }
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
        const onLoop = at + n <= ON_LOOP_BYTES;
        let done = 0;
        // writev may write less than asked (rare for regular files); finish the rest.
        while (done < n) {
          const slices = done === 0 ? bufs : sliceFrom(bufs, done);
          const written = onLoop ? writevSync(fh.fd, slices, at + done) : (await fh.writev(slices, at + done)).bytesWritten;
          if (written <= 0) throw new Error('writev wrote nothing');
          done += written;
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

/** Spares kept beyond the writers in flight; below that the pool creates `SPARE_BATCH` more, one after another, keeping at most `MAX_SPARES`. */
const MIN_SPARES = 2;
const SPARE_BATCH = 16;
const MAX_SPARES = 64;
/** Spares are closed and removed after this long without a new instance (no descriptors held while idle). */
const SPARE_IDLE_MS = 5000;

/**
 * Empty files created ahead of need, in batches. On the benchmark machine
 * (ext4) creating a file between fdatasyncs costs 0.3–1 ms, as much as the
 * fdatasync itself, while 16 created back to back cost ~0.03 ms each; and
 * with 4 associations an instance's first write waited ~2 ms for its file.
 * A writer takes a spare that is already open; when fewer than the writers
 * in flight + `MIN_SPARES` are left, the pool creates the next batch in the
 * background, so creation neither adds to an instance's latency nor
 * alternates with the fsyncs. After `SPARE_IDLE_MS` without an instance the
 * spares are closed and removed: an idle SCP holds no descriptors for them.
 *
 * Spares live in `<root>/.tmp/<host>-<pid>-<start>-<random>/`: the same file
 * system as the batch folders (rename needs that), outside `incoming/`
 * (nothing there is ever partial). The folder is removed on close; folders
 * that processes of this host left behind (crash, kill) are removed at start.
 */
class SparePool {
  private ready: { file: string; fh: FileHandle }[] = [];
  private filling: Promise<void> | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private seq = 0;
  private dir: string | undefined;
  private closed = false;
  /** Writers begun and not yet settled. */
  private inFlight = 0;

  constructor(private readonly root: string, private readonly idleMs: number) {}

  /**
   * An open empty file for one writer (a spare if one is ready, else created
   * now), and the callback the writer calls once it has settled.
   */
  take(): { file: string; fh: Promise<FileHandle>; settled: () => void } {
    const spare = this.ready.shift();
    const got = spare ? { file: spare.file, fh: Promise.resolve(spare.fh) } : this.create();
    this.inFlight += 1;
    this.refill();
    if (this.idleTimer) this.idleTimer.refresh();
    else (this.idleTimer = setTimeout(() => void this.trim(), this.idleMs)).unref();
    return { ...got, settled: () => void (this.inFlight -= 1) };
  }

  /** True when exactly one writer is in flight (see ON_LOOP_BYTES). */
  solo(): boolean {
    return this.inFlight === 1;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idleTimer);
    await this.trim();
    // Files of writers still in flight go too: nothing was acknowledged from them.
    if (this.dir) await fsp.rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }

  /** Closes and removes the ready spares (idle, or closing); the next instance starts a new batch. */
  private async trim(): Promise<void> {
    await this.filling;
    const spares = this.ready;
    this.ready = [];
    await Promise.all(spares.map((s) => s.fh.close().then(() => fsp.rm(s.file, { force: true })).catch(() => undefined)));
  }

  /**
   * Creates the next batch one file after another on one thread-pool thread:
   * concurrent creates in one folder spin on its lock (perf: 10 % of the
   * SCP's CPU in rwsem_spin_on_owner when a batch was 16 parallel opens).
   */
  private refill(): void {
    if (this.filling || this.closed || this.ready.length >= this.inFlight + MIN_SPARES) return;
    const n = Math.min(SPARE_BATCH, MAX_SPARES - this.ready.length);
    this.filling = (async () => {
      for (let i = 0; i < n && !this.closed; i++) {
        const { file, fh } = this.create();
        let h: FileHandle;
        try {
          h = await fh;
        } catch {
          // Not retried here: the next writer without a spare creates its own file and reports why that failed.
          return;
        }
        if (this.closed) await h.close().then(() => fsp.rm(file, { force: true })).catch(() => undefined);
        else this.ready.push({ file, fh: h });
      }
    })().finally(() => {
      this.filling = undefined;
    });
  }

  private folder(): string {
    if (!this.dir) {
      const base = path.join(this.root, '.tmp');
      removeAbandoned(base);
      const dir = path.join(base, `${os.hostname()}-${process.pid}-${Math.round(performance.timeOrigin)}-${randomBytes(2).toString('hex')}`);
      mkdirSync(dir, { recursive: true });
      this.dir = dir;
    }
    return this.dir;
  }

  private create(): { file: string; fh: Promise<FileHandle> } {
    let file: string;
    try {
      file = path.join(this.folder(), `${this.seq++}.part`);
    } catch (err) {
      return { file: '', fh: Promise.reject(err as Error) };
    }
    return { file, fh: fsp.open(file, 'wx') };
  }
}

/** Removes spare folders of processes of this host that no longer run (left by a crash or a kill). */
function removeAbandoned(base: string): void {
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  const host = os.hostname();
  for (const name of names) {
    const m = /^(.+)-(\d+)-(\d+)-[0-9a-f]+$/.exec(name);
    if (!m || m[1] !== host) continue;
    const pid = Number(m[2]);
    // Same pid, another start time: an earlier process (a container restarted, pid 1 again).
    const gone = pid === process.pid ? Number(m[3]) !== Math.round(performance.timeOrigin) : !processRuns(pid);
    if (gone) rmSync(path.join(base, name), { recursive: true, force: true });
  }
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Local-folder sink: same layout as S3 under `root`. `alone` says whether at
 * most one association is open in this process (the SCP's count): an
 * instance takes the solo path (ON_LOOP_BYTES) only when it is the only
 * one in flight and no other association could be waiting to be read.
 * `spareIdleMs` is for tests.
 */
export function createFileSink(root: string, opts: { spareIdleMs?: number; alone?: () => boolean } = {}): StorageSink {
  const alone = opts.alone ?? (() => true);
  const abs = path.resolve(root);
  const dirs = new Set<string>();
  const syncers = new Map<string, DirSyncer>();
  const spares = new SparePool(abs, opts.spareIdleMs ?? SPARE_IDLE_MS);
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
      if (!dirs.has(dir)) {
        // Once per batch folder, before anything is renamed into it.
        mkdirSync(dir, { recursive: true });
        dirs.add(dir);
      }
      const { file: tmp, fh, settled } = spares.take();
      return new FileInstanceWriter(file, syncer, tmp, fh, settled, () => spares.solo() && alone());
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
    async close(): Promise<void> {
      await spares.close();
      await Promise.all([...syncers.values()].map((s) => s.close()));
    },
  };
}

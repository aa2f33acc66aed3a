import * as net from 'node:net';

/**
 * Socket reads without a fresh buffer per read.
 *
 * Node's default read path allocates a new 64 KiB buffer for every read and
 * pushes it through the stream machinery; at hundreds of MB/s that is page
 * faults, GC pressure and per-read overhead that dcmtk does not pay. Here a
 * connection reads, with Node's `onread` option, straight into recycled
 * slabs while a C-STORE's data is arriving, and into one shared scratch
 * buffer (copied out at once) otherwise.
 *
 * Slabs are reference-counted. A session holds its current slab while it
 * reads into it; every dataset slice handed to a writer carries a `Lease`
 * that the writer releases when it no longer needs the bytes (after the
 * write to disk, after copying, or when the instance is dropped). A slab
 * goes back to the pool only when nothing refers to it; a lease that is
 * never released only means its slab is left to the garbage collector.
 */

/** A block that consecutive reads of one connection fill. */
export class Slab {
  /** Holders: the reading session (while current) plus one per unreleased lease. */
  refs = 1;
  constructor(readonly buf: Buffer, readonly pool: SlabPool) {}
}

/** A writer's claim on bytes inside a slab. Releasing twice is harmless. */
export class Lease {
  private slab: Slab | undefined;
  constructor(slab: Slab) {
    slab.refs += 1;
    this.slab = slab;
  }

  release(): void {
    const s = this.slab;
    if (!s) return;
    this.slab = undefined;
    s.pool.unref(s);
  }
}

export class SlabPool {
  private readonly free: Slab[] = [];
  /** Slabs allocated so far (a figure for tests and metrics). */
  allocated = 0;

  constructor(readonly slabBytes = 256 * 1024, private readonly maxFree = 64) {}

  take(): Slab {
    const s = this.free.pop();
    if (s) {
      s.refs = 1;
      return s;
    }
    this.allocated += 1;
    return new Slab(Buffer.allocUnsafeSlow(this.slabBytes), this);
  }

  unref(s: Slab): void {
    s.refs -= 1;
    if (s.refs === 0 && this.free.length < this.maxFree) this.free.push(s);
  }

  get idle(): number {
    return this.free.length;
  }
}

/** Reads shorter than this start a new slab rather than fill the old one's tail. */
const MIN_READ = 64 * 1024;
/** Shared by every connection: its bytes are copied out before the next read anywhere. */
const SCRATCH = Buffer.allocUnsafeSlow(64 * 1024);

export interface ChunkSink {
  /** One read's bytes; `slab` is set when they live in a slab (then leases may be taken). */
  onChunk(chunk: Buffer, slab: Slab | undefined): void;
  /** True while the connection is receiving a dataset that is to be stored. */
  wantsSlab(): boolean;
}

/**
 * Takes over an accepted connection (the server must be created with
 * `pauseOnConnect`) and returns a socket reading through the pool.
 * Reading starts on `resume()`.
 */
export function adoptSocket(raw: net.Socket, pool: SlabPool, sink: ChunkSink): net.Socket {
  let slab: Slab | undefined;
  let used = 0;
  let current: Buffer = SCRATCH;
  const retire = (): void => {
    if (slab) pool.unref(slab);
    slab = undefined;
  };
  const next = (): Buffer => {
    if (!sink.wantsSlab()) {
      retire();
      current = SCRATCH;
    } else {
      if (!slab || slab.buf.length - used < MIN_READ) {
        retire();
        slab = pool.take();
        used = 0;
      }
      current = slab.buf.subarray(used);
    }
    return current;
  };
  const handle = (raw as unknown as { _handle: unknown })._handle;
  const socket = new net.Socket({
    handle,
    onread: {
      buffer: next,
      callback: (n: number): boolean => {
        if (current === SCRATCH) {
          sink.onChunk(Buffer.from(SCRATCH.subarray(0, n)), undefined);
        } else {
          const s = slab as Slab;
          const chunk = s.buf.subarray(used, used + n);
          used += n;
          sink.onChunk(chunk, s);
        }
        return true;
      },
    },
  } as net.SocketConstructorOpts);
  // The accepted socket gave its handle away; it must not close it.
  (raw as unknown as { _handle: unknown })._handle = null;
  socket.once('close', retire);
  return socket;
}

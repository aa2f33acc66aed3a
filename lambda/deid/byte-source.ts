import { DeidRefusedError } from './api';

/**
 * Pulls chunks from an async iterator into a small buffer: the header parser
 * peeks at what is buffered, the pixel data is streamed through in the
 * chunks it arrives in. Holds at most what the caller asked to fill.
 */
export class ByteSource {
  private chunks: Buffer[] = [];
  private size = 0;
  private ended = false;

  constructor(
    private readonly it: AsyncIterator<Buffer | string>,
    private readonly mapError: (err: unknown) => unknown = (e) => e,
  ) {}

  get buffered(): number {
    return this.size;
  }

  /** No more input will come. */
  get final(): boolean {
    return this.ended;
  }

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    let r: IteratorResult<Buffer | string>;
    try {
      r = await this.it.next();
    } catch (err) {
      throw this.mapError(err);
    }
    if (r.done) {
      this.ended = true;
      return false;
    }
    const chunk = typeof r.value === 'string' ? Buffer.from(r.value, 'latin1') : r.value;
    if (chunk.length) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    return true;
  }

  /** Buffers at least n bytes, or everything left; true if n bytes are there. */
  async fill(n: number): Promise<boolean> {
    while (this.size < n && (await this.pull()));
    return this.size >= n;
  }

  /** Everything buffered, as one Buffer. */
  peek(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.size)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  consume(n: number): void {
    const all = this.peek();
    // A large buffer (the header) is not kept alive by a small remainder.
    this.chunks = n >= all.length ? [] : all.length > 1024 * 1024 ? [Buffer.from(all.subarray(n))] : [all.subarray(n)];
    this.size -= n;
  }

  /** Streams exactly n bytes, in the chunks they arrive in. */
  async *take(n: number): AsyncGenerator<Buffer> {
    while (n > 0) {
      if (this.size === 0 && !(await this.pull())) throw new DeidRefusedError('TRUNCATED', 'the input ends inside the pixel data');
      while (this.size > 0 && n > 0) {
        const c = this.chunks[0];
        if (c.length <= n) {
          this.chunks.shift();
          this.size -= c.length;
          n -= c.length;
          yield c;
        } else {
          this.chunks[0] = c.subarray(n);
          this.size -= n;
          yield c.subarray(0, n);
          n = 0;
        }
      }
    }
  }

  /** Everything left, as chunks (buffered first). */
  async *rest(): AsyncGenerator<Buffer> {
    for (;;) {
      while (this.chunks.length) {
        const c = this.chunks.shift() as Buffer;
        this.size -= c.length;
        yield c;
      }
      if (!(await this.pull())) return;
    }
  }
}

import { fsyncSync, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/**
 * Group commit of folder fsyncs. A rename is durable once its folder has
 * been fsynced after it; one fsync covers every rename done before it
 * started. So a caller that arrives while an fsync is running waits for the
 * next one, and all callers that arrive meanwhile share that next one:
 * N concurrent commits into one batch folder pay about one fsync per round,
 * not N. The folder's descriptor is kept open between rounds and closed
 * after `idleCloseMs` without use.
 */
export class DirSyncer {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  private handle: Promise<FileHandle> | undefined;
  private fd: number | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(readonly dir: string, private readonly idleCloseMs = 5000) {}

  /** Resolves once an fsync of the folder that started after this call has completed. */
  sync(): Promise<void> {
    if (!this.running) {
      this.running = this.fsyncOnce().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    this.next ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.sync();
      });
    return this.next;
  }

  /**
   * When no fsync is running or queued and the folder's descriptor is
   * already open: fsyncs it on the calling thread and returns true (the
   * file sink's solo path); otherwise returns false and does nothing (call
   * `sync()`). Throws what fsync throws.
   */
  syncNow(): boolean {
    if (this.running || this.next || this.fd === undefined) return false;
    try {
      fsyncSync(this.fd);
    } catch (err) {
      // A broken descriptor is not reused.
      void this.close();
      throw err;
    }
    this.idleTimer?.refresh();
    return true;
  }

  /** Closes the kept descriptor (safe to call twice). */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    const h = this.handle;
    this.handle = undefined;
    this.fd = undefined;
    if (h) await h.then((fh) => fh.close()).catch(() => undefined);
  }

  private async fsyncOnce(): Promise<void> {
    clearTimeout(this.idleTimer);
    this.handle ??= fsp.open(this.dir, 'r');
    const h = this.handle;
    try {
      const fh = await h;
      this.fd = fh.fd;
      await fh.sync();
    } catch (err) {
      // A broken descriptor is not reused.
      if (this.handle === h) (this.handle = undefined), (this.fd = undefined);
      await h.then((fh) => fh.close()).catch(() => undefined);
      throw err;
    }
    this.idleTimer = setTimeout(() => {
      if (!this.running) void this.close();
    }, this.idleCloseMs);
    this.idleTimer.unref();
  }
}

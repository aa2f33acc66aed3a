import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, promises as fsp, type WriteStream } from 'node:fs';
import * as path from 'node:path';
import { StorageError } from '../errors';
import type { InstanceInfo, InstanceWriter, StorageSink } from './sink';

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

class FileInstanceWriter implements InstanceWriter {
  private stream: WriteStream | undefined;
  private error: Error | undefined;
  private settled = false;
  private readonly tmp: string;

  constructor(private readonly file: string, dirs: Set<string>) {
    const dir = path.dirname(file);
    this.tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(4).toString('hex')}.part`);
    if (!dirs.has(dir)) {
      // Once per batch folder; a synchronous mkdir keeps the open below ordered after it.
      mkdirSync(dir, { recursive: true });
      dirs.add(dir);
    }
    this.stream = createWriteStream(this.tmp, { flags: 'wx', highWaterMark: 1 << 20 });
    this.stream.on('error', (err) => {
      this.error ??= err;
    });
  }

  write(chunk: Buffer): boolean {
    if (this.error || !this.stream) return true;
    return this.stream.write(chunk);
  }

  onDrain(cb: () => void): void {
    const s = this.stream;
    if (!s || this.error || !s.writableNeedDrain) cb();
    else s.once('drain', cb).once('error', cb);
  }

  async commit(): Promise<void> {
    const s = this.stream;
    if (!s) throw new StorageError('instance writer already settled');
    this.settled = true;
    try {
      await new Promise<void>((resolve, reject) => {
        if (this.error) return reject(this.error);
        s.once('error', reject);
        s.end(() => resolve());
      });
      if (this.error) throw this.error;
      const h = await fsp.open(this.tmp, 'r+');
      try {
        await h.sync();
      } finally {
        await h.close();
      }
      await fsp.rename(this.tmp, this.file);
      await fsyncDir(path.dirname(this.file));
    } catch (err) {
      await fsp.rm(this.tmp, { force: true }).catch(() => undefined);
      throw new StorageError(`file sink could not store ${this.file}: ${(err as Error).message}`, { cause: err });
    } finally {
      this.stream = undefined;
    }
  }

  async abort(): Promise<void> {
    const s = this.stream;
    this.stream = undefined;
    if (!s || this.settled) return;
    this.settled = true;
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.destroy();
      if (s.closed) resolve();
    });
    await fsp.rm(this.tmp, { force: true }).catch(() => undefined);
  }
}

/** Local-folder sink: same layout as S3 under `root`. */
export function createFileSink(root: string): StorageSink {
  const abs = path.resolve(root);
  const dirs = new Set<string>();
  return {
    kind: 'file',
    location: abs,
    begin(info: InstanceInfo): InstanceWriter {
      return new FileInstanceWriter(path.join(abs, info.key), dirs);
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

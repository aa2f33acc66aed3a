import { pack, type Header } from 'tar-stream';

/**
 * Deterministic tar archives, written by `tar-stream` (ustar headers; a PAX
 * `path` record when a name does not fit ustar). What stays ours is the policy
 * that makes the bytes reproducible: every header field that could carry
 * build-host state (owner ids and names, timestamps) is fixed, entries are
 * sorted by path, paths must be relative, duplicates are refused.
 */

/** One entry of a layer or archive. Paths are relative (`usr/lib/x`), no leading slash. */
export type TarEntry =
  | { readonly type: 'dir'; readonly path: string; readonly mode: number }
  | { readonly type: 'file'; readonly path: string; readonly mode: number; readonly data: Buffer }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string };

export interface TarOptions {
  /** Modification time of every entry, seconds since the epoch. */
  readonly mtime: number;
}

export class TarPathError extends Error {
  override readonly name = 'TarPathError';
  readonly code = 'ERR_TAR_PATH';
}

function checkPath(path: string): void {
  if (path.startsWith('/') || path.split('/').includes('..')) throw new TarPathError(`path must be relative and normalised: ${path}`);
}

function header(entry: TarEntry, mtime: Date): Header {
  checkPath(entry.path);
  const fixed = { mtime, uid: 0, gid: 0, uname: '', gname: '', devmajor: 0, devminor: 0 };
  switch (entry.type) {
    // Directory names end in '/', the convention GNU tar and Go's archive/tar write.
    case 'dir': return { ...fixed, name: entry.path.endsWith('/') ? entry.path : `${entry.path}/`, type: 'directory', mode: entry.mode & 0o7777, size: 0, linkname: '' };
    case 'file': return { ...fixed, name: entry.path, type: 'file', mode: entry.mode & 0o7777, size: entry.data.length, linkname: '' };
    case 'symlink': return { ...fixed, name: entry.path, type: 'symlink', mode: 0o777, size: 0, linkname: entry.target };
  }
}

/**
 * Serialises entries in the order given (callers sort; see `sortEntries`) and
 * returns the archive's chunks (large files are not copied into one buffer).
 */
export async function tarChunks(entries: readonly TarEntry[], options: TarOptions): Promise<Buffer[]> {
  const mtime = new Date(options.mtime * 1000);
  const archive = pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of archive) chunks.push(Buffer.from(chunk as Uint8Array));
  })();
  try {
    for (const entry of entries) {
      const h = header(entry, mtime);
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error | null) => (err ? reject(err) : resolve());
        if (entry.type === 'file') archive.entry(h, entry.data, done);
        else archive.entry(h, done);
      });
    }
  } catch (err) {
    archive.destroy();
    await collected.catch(() => undefined);
    throw err;
  }
  archive.finalize();
  await collected;
  return chunks;
}

/** Sorts by path (byte order), so parents precede children; rejects duplicates. */
export function sortEntries(entries: readonly TarEntry[]): TarEntry[] {
  const key = (e: TarEntry) => e.path.replace(/\/$/, '');
  const sorted = [...entries].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (key(prev) === key(cur)) {
      if (prev.type === 'dir' && cur.type === 'dir' && prev.mode === cur.mode) continue;
      throw new TarPathError(`duplicate entry: ${cur.path}`);
    }
  }
  return sorted.filter((e, i) => i === 0 || key(sorted[i - 1]!) !== key(e));
}

/**
 * Deterministic POSIX ustar writer. Every header field that could carry
 * build-host state (owner names, timestamps, device numbers) is fixed, so the
 * same entries always give the same bytes.
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

const BLOCK = 512;

export class TarPathError extends Error {
  override readonly name = 'TarPathError';
  readonly code = 'ERR_TAR_PATH';
}

function octal(value: number, width: number): string {
  // width - 1 digits, then NUL (the ustar convention GNU tar and Go both read).
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function splitPath(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  // ustar: prefix (≤155) + '/' + name (≤100); split at a slash.
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== '/') continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name.length > 0) return { name, prefix };
  }
  throw new TarPathError(`path too long for ustar: ${path}`);
}

function header(entry: TarEntry, size: number, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  const path = entry.type === 'dir' && !entry.path.endsWith('/') ? `${entry.path}/` : entry.path;
  if (path.startsWith('/') || path.split('/').includes('..')) throw new TarPathError(`path must be relative and normalised: ${path}`);
  const { name, prefix } = splitPath(path);
  const mode = entry.type === 'symlink' ? 0o777 : entry.mode;
  const type = entry.type === 'file' ? '0' : entry.type === 'symlink' ? '2' : '5';
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode & 0o7777, 8), 100, 8, 'ascii');
  h.write(octal(0, 8), 108, 8, 'ascii');
  h.write(octal(0, 8), 116, 8, 'ascii');
  h.write(octal(size, 12), 124, 12, 'ascii');
  h.write(octal(mtime, 12), 136, 12, 'ascii');
  h.write('        ', 148, 8, 'ascii');
  h.write(type, 156, 1, 'ascii');
  if (entry.type === 'symlink') {
    if (Buffer.byteLength(entry.target) > 100) throw new TarPathError(`symlink target too long: ${entry.target}`);
    h.write(entry.target, 157, 100, 'utf8');
  }
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write(octal(0, 8), 329, 8, 'ascii');
  h.write(octal(0, 8), 337, 8, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

/**
 * Serialises entries in the order given (callers sort; see `sortEntries`).
 * Returns the archive as chunks so large files are not copied twice.
 */
export function tarChunks(entries: readonly TarEntry[], options: TarOptions): Buffer[] {
  const out: Buffer[] = [];
  for (const entry of entries) {
    const size = entry.type === 'file' ? entry.data.length : 0;
    out.push(header(entry, size, options.mtime));
    if (entry.type === 'file' && size > 0) {
      out.push(entry.data);
      const pad = (BLOCK - (size % BLOCK)) % BLOCK;
      if (pad) out.push(Buffer.alloc(pad, 0));
    }
  }
  out.push(Buffer.alloc(BLOCK * 2, 0));
  return out;
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

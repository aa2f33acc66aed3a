import { ZipFile } from 'yazl';

/**
 * Deterministic zip archives, written by `yazl`. Ours is only the policy that
 * makes the bytes reproducible: a fixed DOS timestamp (1980-01-01 00:00, no
 * extended-timestamp field), entries in byte order of their names, Unix
 * permissions, deflate level 9 — the same inputs always give the same
 * archive, so its sha256 can name the object in S3.
 */
export interface ZipEntry {
  readonly name: string;
  readonly data: Buffer;
  /** Unix permission bits; default 0o644. */
  readonly mode?: number;
}

/** 1980-01-01 00:00 local time: the zero of the DOS date format every zip reader uses. */
const DOS_EPOCH = new Date(1980, 0, 1, 0, 0, 0);

export async function zipBytes(entries: readonly ZipEntry[]): Promise<Buffer> {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const zip = new ZipFile();
  for (const entry of sorted) {
    if (entry.name.startsWith('/') || entry.name.split('/').includes('..')) throw new Error(`zip entry name must be relative: ${entry.name}`);
    zip.addBuffer(entry.data, entry.name, { mtime: DOS_EPOCH, mode: 0o100000 | (entry.mode ?? 0o644), compress: true, compressionLevel: 9, forceDosTimestamp: true });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

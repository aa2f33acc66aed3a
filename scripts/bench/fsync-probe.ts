import { randomBytes } from 'node:crypto';
import { mkdtempSync, promises as fsp, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface FsyncCost {
  /** Median ms of fdatasync after writing one 512 KiB file. */
  readonly fileSyncMs: number;
  /** Median ms of fsync on the folder after the rename. */
  readonly dirSyncMs: number;
  readonly samples: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * What durability costs on this disk, measured the way the file sink commits
 * (write 512 KiB, fdatasync, rename, fsync the folder), in the temp folder
 * the peers write to. dcmtk's storescp pays none of it.
 */
export async function probeFsync(samples = 40): Promise<FsyncCost> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fsync-probe-'));
  const body = randomBytes(512 * 1024);
  const file: number[] = [];
  const folder: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const tmp = path.join(dir, `f${i}.part`);
      const h = await fsp.open(tmp, 'wx');
      await h.write(body, 0, body.length, 0);
      let t = performance.now();
      await h.datasync();
      file.push(performance.now() - t);
      await h.close();
      await fsp.rename(tmp, path.join(dir, `f${i}.dcm`));
      const d = await fsp.open(dir, 'r');
      t = performance.now();
      await d.sync();
      folder.push(performance.now() - t);
      await d.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { fileSyncMs: median(file), dirSyncMs: median(folder), samples };
}

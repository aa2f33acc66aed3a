import { randomBytes } from 'node:crypto';
import { mkdtempSync, promises as fsp, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

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

/**
 * One worker: the file sink's commit sequence with synchronous calls, nothing
 * else. Its files are created before the clock starts (the SCP creates them
 * ahead of need too), so creation is not counted at all.
 */
const CEILING_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
const { dir, id, files, body } = workerData;
const buf = Buffer.from(body);
const d = fs.openSync(dir, 'r');
const tmp = (i) => path.join(dir, 'w' + id + '-' + i + '.part');
const fds = [];
for (let i = 0; i < files; i++) fds.push(fs.openSync(tmp(i), 'wx'));
parentPort.postMessage('ready');
parentPort.once('message', () => {
  const cpu0 = process.threadCpuUsage();
  for (let i = 0; i < files; i++) {
    const fd = fds[i];
    fs.writeSync(fd, buf, 0, buf.length, 0);
    fs.fdatasyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp(i), path.join(dir, 'w' + id + '-' + i + '.dcm'));
    fs.fsyncSync(d);
  }
  const cpu = process.threadCpuUsage(cpu0);
  fs.closeSync(d);
  parentPort.postMessage((cpu.user + cpu.system) / 1e6);
});
`;

/** What the durable-commit probe measured for one number of writers. */
export interface DurableCeiling {
  /** Instances per second. */
  readonly perSecond: number;
  /**
   * CPU seconds (user + system, of the writing threads: process.threadCpuUsage)
   * per instance for the commit sequence alone: the floor of what a durable
   * acknowledgement costs in CPU on this disk, before any receiving.
   */
  readonly cpuPerInstance: number;
}

/**
 * The durable-acknowledgement ceiling of this disk: instances per second
 * that `writers` threads reach when each does nothing but the file sink's
 * commit sequence (write 512 KiB, fdatasync, close, rename, fsync the
 * folder) with synchronous calls, one instance after another, as an
 * association does, into files created before the clock starts. No network,
 * no DICOM, no event loop, no file creation: no receiver that makes each
 * instance durable before acknowledging it can be faster here. Also reports
 * the CPU those threads spent per instance.
 */
export async function probeDurableCeiling(writers: number, total = 400): Promise<DurableCeiling> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'durable-ceiling-'));
  const body = randomBytes(512 * 1024);
  const files = Math.max(1, Math.round(total / writers));
  try {
    const workers = Array.from({ length: writers }, (_, id) => new Worker(CEILING_WORKER, { eval: true, workerData: { dir, id, files, body } }));
    const next = (w: Worker): Promise<unknown> =>
      new Promise<unknown>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
    try {
      await Promise.all(workers.map(next));
      const t = performance.now();
      const cpu = (await Promise.all(workers.map((w) => (w.postMessage('go'), next(w))))) as number[];
      const seconds = (performance.now() - t) / 1000;
      return { perSecond: (writers * files) / seconds, cpuPerInstance: cpu.reduce((a, b) => a + b, 0) / (writers * files) };
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

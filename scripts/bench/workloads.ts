import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeTestInstance } from '../../test/helpers/dicom-writer';
import { ScuAssociation } from '../../test/helpers/scu-client';
import { childrenOf, DCMTK_ENV, resetHwm, treeCpuSeconds, vmHwm, vmRss, type Peer } from './peers';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const ROOT = '1.2.826.0.1.3680043.9.7433.77';

/** The benchmark corpus: CT-sized instances and one 1 GiB instance, cached between runs. */
export interface Corpus {
  readonly dir: string;
  /** 500 distinct 512 KiB CT instances (512 x 512 x 16 bit). */
  readonly ct: string[];
  readonly ctBytes: number;
  readonly big: string;
  readonly bigBytes: number;
}

export async function buildCorpus(log: (s: string) => void): Promise<Corpus> {
  const dir = path.join(os.tmpdir(), 'dicom-scp-bench-corpus-v1');
  mkdirSync(dir, { recursive: true });
  const ct: string[] = [];
  for (let i = 0; i < 500; i++) {
    const f = path.join(dir, `ct-${String(i).padStart(3, '0')}.dcm`);
    if (!existsSync(f)) {
      await writeTestInstance(f, { sopClassUid: CT, sopInstanceUid: `${ROOT}.1.${i}`, studyInstanceUid: `${ROOT}.2.${Math.floor(i / 100)}`, seriesInstanceUid: `${ROOT}.3.${Math.floor(i / 50)}`, modality: 'CT', rows: 512, columns: 512 });
    }
    ct.push(f);
  }
  const big = path.join(dir, 'big-1gib.dcm');
  if (!existsSync(big) || statSync(big).size < 1 << 30) {
    log('writing the 1 GiB instance (once; cached in the temp folder)');
    await writeTestInstance(big, { sopClassUid: CT, sopInstanceUid: `${ROOT}.9.1`, studyInstanceUid: `${ROOT}.9.2`, seriesInstanceUid: `${ROOT}.9.3`, modality: 'CT', rows: 512, columns: 1024, frames: 1024 });
  }
  return { dir, ct, ctBytes: statSync(ct[0]).size, big, bigBytes: statSync(big).size };
}

/** One timed run. */
export interface RunResult {
  readonly seconds: number;
  readonly instances: number;
  readonly bytes: number;
  /** Peak RSS of the receiver during the run (per process for forking peers). */
  readonly peakRss: number;
  /** Peak RSS minus RSS at the start of the run. */
  readonly rssGrowth: number;
  /** CPU seconds the receiver (its processes, children included) used during the run. */
  readonly cpuSeconds: number;
  /**
   * CPU seconds the senders used during the run: the storescu processes this
   * bench started and reaped, plus this process itself (the in-process SCU of
   * the 500-association workload); they run on the same cores as the receiver.
   */
  readonly senderCpuSeconds?: number;
}

export interface Workload {
  readonly name: string;
  readonly description: string;
  /** Peers that serve one association at a time cannot take this workload without --fork. */
  readonly parallel: boolean;
  /** Associations storing at the same time (for the durable-commit ceiling). */
  readonly concurrency: number;
  /** Repetitions (the 1 GiB instance is expensive). */
  readonly reps: number;
  run(peer: Peer): Promise<{ instances: number; bytes: number }>;
}

function storescu(port: number, files: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('storescu', ['-aec', 'STORESCP', '-aet', 'BENCHSCU', '--max-pdu', '131072', '127.0.0.1', String(port), ...files], { env: DCMTK_ENV, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 && !/Store Response \((?!Success)/.test(err) ? resolve() : reject(new Error(`storescu exited ${code}: ${err}`))));
  });
}

/** N storescu processes at once, the files split evenly between them. */
async function parallelStorescu(port: number, files: string[], associations: number): Promise<void> {
  const per = Math.ceil(files.length / associations);
  await Promise.all(Array.from({ length: associations }, (_, i) => storescu(port, files.slice(i * per, (i + 1) * per))));
}

function datasetOf(file: string): Buffer {
  const b = readFileSync(file);
  return b.subarray(132 + 12 + b.readUInt32LE(140));
}

export function workloads(corpus: Corpus, reps: number): Workload[] {
  const files200 = corpus.ct.slice(0, 200);
  const files400 = corpus.ct.slice(0, 400);
  let datasets: Buffer[] | undefined;
  return [
    {
      name: 'single',
      description: '1 association x 200 CT instances of 512 KiB (storescu)',
      parallel: false,
      concurrency: 1,
      reps,
      run: async (p) => (await storescu(p.port, files200), { instances: 200, bytes: 200 * corpus.ctBytes }),
    },
    {
      name: 'parallel-4',
      description: '4 associations at once x 100 instances of 512 KiB (4 storescu)',
      parallel: true,
      concurrency: 4,
      reps,
      run: async (p) => (await parallelStorescu(p.port, files400, 4), { instances: 400, bytes: 400 * corpus.ctBytes }),
    },
    {
      name: 'parallel-16',
      description: '16 associations at once x 25 instances of 512 KiB (16 storescu)',
      parallel: true,
      concurrency: 16,
      reps,
      run: async (p) => (await parallelStorescu(p.port, files400, 16), { instances: 400, bytes: 400 * corpus.ctBytes }),
    },
    {
      name: 'associations-500',
      description: '500 associations of one 512 KiB instance each, 10 at a time (in-process SCU: spawning storescu 500 times would dominate)',
      parallel: true,
      concurrency: 10,
      reps,
      run: async (p) => {
        datasets ??= corpus.ct.map(datasetOf);
        const ds = datasets;
        let next = 0;
        const worker = async (): Promise<void> => {
          while (next < 500) {
            const i = next++;
            const a = await ScuAssociation.open({ port: p.port, callingAe: 'BENCHSCU' });
            const status = await a.store({ sopInstanceUid: `${ROOT}.1.${i}`, dataset: ds[i] });
            if (status !== 0) throw new Error(`status 0x${status.toString(16)} from ${p.name}`);
            await a.release();
          }
        };
        await Promise.all(Array.from({ length: 10 }, worker));
        return { instances: 500, bytes: 500 * corpus.ctBytes };
      },
    },
    {
      name: 'instance-1GiB',
      description: 'one 1 GiB instance (1024 frames of 512 x 1024 x 16 bit) on one association (storescu)',
      parallel: false,
      concurrency: 1,
      reps,
      run: async (p) => (await storescu(p.port, [corpus.big]), { instances: 1, bytes: corpus.bigBytes }),
    },
  ];
}

/** Runs one workload against one peer: resets the peak RSS, times the run, samples forked workers. */
export async function timeRun(w: Workload, peer: Peer): Promise<RunResult> {
  await peer.clean();
  resetHwm(peer.pid);
  const rssStart = vmRss(peer.pid);
  let childPeak = 0;
  const cpuStart = treeCpuSeconds(peer.pid);
  const senderStart = treeCpuSeconds(process.pid, false);
  const sampler = peer.children
    ? setInterval(() => {
        for (const c of childrenOf(peer.pid)) childPeak = Math.max(childPeak, vmHwm(c));
      }, 10)
    : undefined;
  const t0 = performance.now();
  const r = await w.run(peer);
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  if (peer.forks) await new Promise((res) => setTimeout(res, 200)); // storescp reaps its finished children (their CPU moves into cutime)
  const cpuSeconds = treeCpuSeconds(peer.pid) - cpuStart;
  const senderCpuSeconds = treeCpuSeconds(process.pid, false) - senderStart;
  const peak = Math.max(vmHwm(peer.pid), childPeak);
  return { seconds, instances: r.instances, bytes: r.bytes, peakRss: peak, rssGrowth: Math.max(0, vmHwm(peer.pid) - rssStart), cpuSeconds, senderCpuSeconds };
}

/** Counts stored instance files under a peer's folder (sanity check after a run, not timed). */
export function countStored(dir: string): number {
  let n = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (!e.name.endsWith('.part') && !e.name.endsWith('.json') && !e.name.startsWith('.')) n++;
    }
  };
  if (existsSync(dir)) walk(dir);
  return n;
}

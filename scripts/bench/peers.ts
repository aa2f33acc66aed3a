import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../../test/helpers/moto-server';
import { bundleNode } from '../release/bundle';
import { SCP_ENTRY } from '../release/image-build';
import { IMAGE_ENV, SCP_NODE_FLAGS } from '../release/image-spec';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** A receiver under test: dcmtk's storescp or our SCP with one sink. */
export interface Peer {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  /** Folder the peer writes into ('' for sinks that keep nothing locally). */
  readonly dir: string;
  /** True when each association runs in its own process (storescp --fork). */
  readonly forks: boolean;
  /** True when the receiver's work happens in child processes (storescp --fork, our WORKERS > 1): peak RSS samples them. */
  readonly children: boolean;
  /** Deletes what the previous run stored (not timed). */
  clean(): Promise<void>;
  stop(): Promise<void>;
}

export { freePort };

async function waitListening(port: number, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

/**
 * Deletes the files under `dir` but keeps its folders (our SCP caches the
 * batch folders it created) and our SCP's working folder `.tmp` (its spare
 * files are open and in use).
 */
function emptyDir(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name === '.tmp') continue;
    if (e.isDirectory()) emptyDir(p);
    else rmSync(p, { force: true });
  }
}

/** Environment for every dcmtk tool: without TCP_NODELAY Debian's build waits ~40 ms per message (REFERENCE.md §5). */
export const DCMTK_ENV = { ...process.env, TCP_NODELAY: '1' };

/**
 * dcmtk's storescp: `-pm +B --max-pdu 131072 -od DIR`, bit-preserving (stores the
 * dataset as received, like ours); `--fork` for parallel workloads (without it
 * storescp serves one association at a time); `--ignore` receives and discards
 * (the counterpart of our null sink). storescp never fsyncs.
 */
export async function startStorescp(name: string, dir: string, opts: { fork?: boolean; ignore?: boolean } = {}): Promise<Peer> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const args = ['-pm', '+B', '--max-pdu', '131072', '-od', dir, ...(opts.fork ? ['--fork'] : []), ...(opts.ignore ? ['--ignore'] : []), String(port)];
  const child = spawn('storescp', args, { env: DCMTK_ENV, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitListening(port, child, 'storescp');
  return {
    name,
    port,
    pid: child.pid as number,
    dir,
    forks: !!opts.fork,
    children: !!opts.fork,
    clean: async () => emptyDir(dir),
    stop: () => stopChild(child),
  };
}

let bundled: Promise<string> | undefined;

/**
 * The SCP as the image ships it: the esbuild bundle of container/src/main.ts
 * that `npm run build` puts at /app/scp.js (scripts/release/bundle.ts), written
 * once per bench run to a temporary folder. Measuring the TypeScript sources
 * through tsx instead would add its loader and source-map hooks, which the
 * product does not run.
 */
export function scpBundle(): Promise<string> {
  bundled ??= bundleNode({ cwd: REPO_ROOT, entry: SCP_ENTRY }).then((b) => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'scp-bundle-')), 'scp.js');
    writeFileSync(file, b.code);
    return file;
  });
  return bundled;
}

/**
 * Our SCP as a separate process, run as the image runs it (the bundle, the
 * image's node flags and NODE_ENV; LOG_LEVEL info with stdout discarded),
 * with the sink `storageUri` names and `workers` processes (WORKERS; 1 = a
 * single process, no cluster primary).
 */
export async function startOurs(name: string, storageUri: string, dir: string, env: Record<string, string> = {}, workers = 1): Promise<Peer> {
  if (dir) mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const healthPort = await freePort();
  const child = spawn(process.execPath, [...SCP_NODE_FLAGS, await scpBundle()], {
    cwd: REPO_ROOT,
    env: { ...process.env, NODE_ENV: IMAGE_ENV.NODE_ENV, SCP_HOST: '127.0.0.1', SCP_PORT: String(port), HEALTH_PORT: String(healthPort), STORAGE_URI: storageUri, LOG_LEVEL: 'info', WORKERS: String(workers), ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitListening(port, child, `our SCP (${name})`);
  // With workers, the port listens before every worker has started: wait for all of them.
  while (workers > 1 && childrenOf(child.pid as number).length < workers) await new Promise((r) => setTimeout(r, 100));
  if (workers > 1) await waitHealthy(healthPort);
  return {
    name,
    port,
    pid: child.pid as number,
    dir,
    forks: false,
    children: workers > 1,
    clean: async () => {
      if (dir) emptyDir(dir);
    },
    stop: () => stopChild(child),
  };
}

/** Peak resident set size (VmHWM, bytes) of a process; 0 when it is gone. */
export function vmHwm(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Current resident set size (VmRSS, bytes). */
export function vmRss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Resets VmHWM to the current RSS (Linux: write 5 to clear_refs). */
export function resetHwm(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    /* not permitted: the peak then covers the process's whole life */
  }
}

async function waitHealthy(healthPort: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${healthPort}/health`);
      const body = (await res.json()) as { workers?: { listening: boolean }[] };
      if (res.status === 200 && (body.workers ?? []).every((w) => w.listening)) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`our SCP's workers not listening within 60 s (health port ${healthPort})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * CPU seconds (user + system) a receiver has used so far: the process, every
 * live descendant, and the children it has already reaped (cutime + cstime:
 * storescp --fork's finished association processes). The difference over a
 * run is the receiver's CPU for that run. Clock ticks are 100 per second on
 * Linux (getconf CLK_TCK). `descendants` false: the process and its reaped
 * children only (the bench itself: its live children are the peers).
 */
export function treeCpuSeconds(pid: number, descendants = true): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which is in parentheses and may contain spaces).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime, cutime, cstime are fields 14-17 of stat; f[0] is field 3.
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    return ticks / 100 + (descendants ? childrenOf(pid).reduce((sum, c) => sum + treeCpuSeconds(c), 0) : 0);
  } catch {
    return 0;
  }
}

/** Direct children of a process (storescp --fork workers, our cluster workers). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

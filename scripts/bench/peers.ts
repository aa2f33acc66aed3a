import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { freePort } from '../../test/helpers/moto-server';

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
    clean: async () => emptyDir(dir),
    stop: () => stopChild(child),
  };
}

/**
 * Our SCP as a separate process (container/src/main.ts, production defaults,
 * LOG_LEVEL info with stdout discarded), with the sink `storageUri` names.
 */
export async function startOurs(name: string, storageUri: string, dir: string, env: Record<string, string> = {}): Promise<Peer> {
  if (dir) mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const healthPort = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'container/src/main.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, SCP_HOST: '127.0.0.1', SCP_PORT: String(port), HEALTH_PORT: String(healthPort), STORAGE_URI: storageUri, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitListening(port, child, `our SCP (${name})`);
  return {
    name,
    port,
    pid: child.pid as number,
    dir,
    forks: false,
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

/** Direct children of a process (storescp --fork workers). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

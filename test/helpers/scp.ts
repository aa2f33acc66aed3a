import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startApp, type RunningApp } from '../../container/src/app';
import { loadConfig, VARIABLES } from '../../container/src/config';
import { silentLogger, type Logger } from '../../container/src/logger';
import type { StorageSink } from '../../container/src/storage/sink';
import { freePort } from './moto-server';
import { SCP_NODE_FLAGS } from '../../scripts/release/image-spec';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Every file below `dir` (recursively); [] when it does not exist. */
export function filesUnder(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => path.join(d.parentPath, d.name));
  } catch {
    return [];
  }
}

/**
 * Files under `dir` that hold part of an instance: a non-empty `.part` file
 * (the file sink writes instances there before renaming them into place; its
 * empty spares in `.tmp/` hold nothing).
 */
export function partialFiles(dir: string): string[] {
  return filesUnder(dir).filter((f) => f.endsWith('.part') && statSync(f).size > 0);
}

/**
 * The sealed batch manifests under a file sink's folder, parsed. Only the
 * `batches/*.json` files count: the sink writes a manifest to a `.part` file
 * beside it and renames it into place, so a test polling a running SCP can
 * see the `.part` half-written.
 */
export function sealedManifests<M = unknown>(dir: string): M[] {
  const batches = path.join(dir, 'batches');
  let names: string[];
  try {
    names = readdirSync(batches).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  return names.map((n) => JSON.parse(readFileSync(path.join(batches, n), 'utf8')) as M);
}

/** Folders made by `tempDir`, removed when the test process exits. */
const madeDirs = new Set<string>();
process.once('exit', () => {
  for (const dir of madeDirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
});

/**
 * A new empty folder under the system's temporary folder, removed when the
 * test process exits: the soak and robustness suites store gigabytes, and
 * left behind they filled this machine's disk after a few runs.
 */
export function tempDir(prefix = 'scp-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  madeDirs.add(dir);
  return dir;
}

export interface InProcessScp {
  readonly app: RunningApp;
  readonly port: number;
  readonly healthPort: number;
  readonly dir: string;
  stop(): Promise<void>;
}

/** Starts the SCP in this process on 127.0.0.1, free ports, a temp folder (unless env says otherwise). */
export async function startScp(env: Record<string, string> = {}, opts: { sink?: StorageSink; logger?: Logger } = {}): Promise<InProcessScp> {
  const dir = tempDir();
  const config = loadConfig({
    SCP_HOST: '127.0.0.1',
    SCP_PORT: String(await freePort()),
    HEALTH_PORT: String(await freePort()),
    STORAGE_URI: `file://${dir}`,
    LOG_LEVEL: 'error',
    ...env,
  });
  const app = await startApp({ config, logger: opts.logger ?? silentLogger, sink: opts.sink });
  return { app, port: app.port, healthPort: app.healthPort, dir, stop: () => app.shutdown('test') };
}

export interface ScpProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly healthPort: number;
  readonly dir: string;
  /** Every JSON log line so far. */
  readonly logs: Record<string, unknown>[];
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  waitForLog(event: string, timeoutMs?: number, predicate?: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** Resolves once /health answers 200 (whatever LOG_LEVEL); rejects if the process exits first. */
  ready(timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * The test process's environment without any SCP variable: other suites set
 * e.g. S3_ENDPOINT for their own clients, which must not configure this SCP.
 */
function inheritedEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const v of VARIABLES) delete env[v.name];
  return env;
}

/** Runs `container/src/main.ts` as a separate process (for signals, RSS, exit codes). */
export async function spawnScp(env: Record<string, string> = {}): Promise<ScpProcess> {
  const dir = tempDir();
  const port = await freePort();
  const healthPort = await freePort();
  const child = spawn(process.execPath, [...SCP_NODE_FLAGS, '--import', 'tsx', path.join(REPO_ROOT, 'container/src/main.ts')], {
    cwd: REPO_ROOT,
    env: { ...inheritedEnv(), SCP_HOST: '127.0.0.1', SCP_PORT: String(port), HEALTH_PORT: String(healthPort), STORAGE_URI: `file://${dir}`, LOG_LEVEL: 'info', WORKERS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: { event: string; pred?: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let stderr = '';
  let buf = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        logs.push(parsed);
        for (const w of [...waiters]) {
          if (parsed.event === w.event && (!w.pred || w.pred(parsed))) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(parsed);
          }
        }
      } catch {
        /* not JSON */
      }
    }
  });
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const proc: ScpProcess = {
    child,
    port: Number(env.SCP_PORT ?? port),
    healthPort: Number(env.HEALTH_PORT ?? healthPort),
    dir,
    logs,
    exited,
    waitForLog(event, timeoutMs = 20_000, predicate) {
      const found = logs.find((l) => l.event === event && (!predicate || predicate(l)));
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no '${event}' log within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
        waiters.push({ event, pred: predicate, resolve: (l) => (clearTimeout(timer), resolve(l)) });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`SCP exited (${code}) before '${event}'; stderr: ${stderr}`));
        });
      });
    },
    async ready(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`SCP exited (${child.exitCode}) before it was ready; stderr: ${stderr}`);
        try {
          if ((await fetch(`http://127.0.0.1:${proc.healthPort}/health`)).status === 200) return;
        } catch {
          /* not listening yet */
        }
        if (Date.now() > deadline) throw new Error(`SCP not ready within ${timeoutMs} ms; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
    },
  };
  return proc;
}

import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';

/** A moto_server process on 127.0.0.1 (S3, DynamoDB, SQS, ... on one port). */
export interface MotoServer {
  readonly endpoint: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** Resets moto's in-memory state (all services). */
  reset(): Promise<void>;
  /** Kills the server; safe to call twice. */
  stop(): Promise<void>;
}

/** Credentials and region every SDK client pointed at moto uses. */
export const MOTO_ENV = Object.freeze({
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_SESSION_TOKEN: 'testing',
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
});

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts moto_server on a free loopback port and waits until it answers.
 * Fails (never skips) when moto_server is not installed.
 */
export async function startMotoServer(port?: number): Promise<MotoServer> {
  const p = port ?? (await freePort());
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(p)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const spawnError = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`moto_server could not start (is it installed?): ${err.message}`)));
    child.once('exit', (code) => reject(new Error(`moto_server exited with ${code}: ${stderr}`)));
  });
  const endpoint = `http://127.0.0.1:${p}`;
  const deadline = Date.now() + 30_000;
  const ready = (async () => {
    for (;;) {
      try {
        const res = await fetch(`${endpoint}/moto-api/`);
        if (res.status < 500) return;
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) throw new Error(`moto_server did not answer on ${endpoint}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await Promise.race([ready, spawnError]);
  spawnError.catch(() => undefined);
  let stopped = false;
  return {
    endpoint,
    port: p,
    process: child,
    async reset() {
      await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      });
    },
  };
}

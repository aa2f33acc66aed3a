import cluster, { type Worker } from 'node:cluster';
import * as http from 'node:http';
import * as client from 'prom-client';
import { publishUtilization } from '../association-utilization';
import type { ScpConfig } from '../config';
import { healthReport, type HealthReport } from '../health-server';
import type { Logger } from '../logger';
import { writeBatchManifest, type ManifestObject } from '../storage/batcher';
import { createSink } from '../storage/create-sink';
import { isScpMessage, type PrimaryMessage, type WorkerHealth, type WorkerMessage } from './messages';

/** How long the primary waits for a worker's `/health` part. */
const HEALTH_ASK_MS = 2000;
/** After DRAIN_TIMEOUT, workers get this long to seal their batches before they are killed. */
const SEAL_GRACE_MS = 15_000;

interface OpenBatch {
  readonly openedAt: Date;
  readonly objects: Map<string, ManifestObject>;
}

interface WorkerState {
  readonly worker: Worker;
  ready: boolean;
  slots: number;
  readonly batches: Map<string, OpenBatch>;
}

/** `/health` with WORKERS > 1: the task-wide report plus one line per worker. */
export interface ClusterHealthReport extends HealthReport {
  readonly workers: readonly { readonly pid: number; readonly listening: boolean; readonly draining: boolean; readonly storageFailing: boolean; readonly associations: number }[];
}

export interface RunningPrimary {
  readonly healthPort: number;
  /** Resolves with the exit code once every worker has stopped. */
  readonly done: Promise<number>;
  shutdown(reason: string): void;
}

/**
 * The cluster primary (WORKERS > 1). It takes no DICOM connection itself
 * (node:cluster hands each accepted connection to a worker, round-robin) and:
 * - grants association slots, so MAXIMUM_ASSOCIATIONS holds for the task;
 * - keeps a ledger of each worker's open batches (instances listed before
 *   they are acknowledged) and, when a worker dies, seals them with the
 *   batcher's manifest contract and forks a replacement
 *   (`worker_exited` / `worker_restarted`, `scp_workers_restarted_total`);
 * - serves `/health` and `/metrics` for the whole task (prom-client's
 *   AggregatorRegistry: counters summed, `dicom_associations_max` the max);
 * - on SIGTERM asks every worker to drain and seal, and exits 0 when all did.
 */
export async function startPrimary(config: ScpConfig, logger: Logger): Promise<RunningPrimary> {
  const sink = createSink(config);
  const registry = new client.Registry();
  const restarted = new client.Counter({ name: 'scp_workers_restarted_total', help: 'Workers that died and were replaced.', registers: [registry] });
  const states = new Map<number, WorkerState>();
  new client.Gauge({ name: 'scp_workers', help: 'Worker processes running.', registers: [registry], collect() { this.set(states.size); } });
  const aggregator = new client.AggregatorRegistry();
  let shuttingDown: string | undefined;
  let sealing: Promise<void>[] = [];
  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (finish = resolve));
  let exitCode = 0;

  const slotsHeld = (): number => [...states.values()].reduce((n, s) => n + s.slots, 0);
  const send = (w: Worker, m: PrimaryMessage): void => {
    if (w.isConnected()) w.send(m);
  };

  let nextAsk = 0;
  const asks = new Map<number, Map<number, WorkerHealth>>();
  const askHealth = async (): Promise<Map<number, WorkerHealth>> => {
    nextAsk += 1;
    const id = nextAsk;
    const answers = new Map<number, WorkerHealth>();
    asks.set(id, answers);
    const targets = [...states.values()].filter((s) => s.ready);
    for (const s of targets) send(s.worker, { scp: 'health?', id });
    const deadline = Date.now() + HEALTH_ASK_MS;
    while (answers.size < targets.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    asks.delete(id);
    return answers;
  };

  const sealLedger = (state: WorkerState, why: string): void => {
    for (const [batchId, b] of state.batches) {
      const objects = [...b.objects.values()];
      logger.warn('worker_batch_sealed', { batchId, pid: state.worker.process.pid, count: objects.length, why });
      sealing.push(writeBatchManifest({ sink, logger }, batchId, b.openedAt, 'shutdown', objects));
    }
    state.batches.clear();
  };

  const fork = (): void => {
    const worker = cluster.fork();
    const state: WorkerState = { worker, ready: false, slots: 0, batches: new Map() };
    states.set(worker.id, state);
    worker.on('message', (m: unknown) => {
      if (!isScpMessage<WorkerMessage>(m)) return;
      switch (m.scp) {
        case 'acquire': {
          const granted = !shuttingDown && slotsHeld() < config.maximumAssociations;
          if (granted) state.slots += 1;
          send(worker, { scp: 'slot', id: m.id, granted });
          return;
        }
        case 'release':
          state.slots = Math.max(0, state.slots - 1);
          return;
        case 'committed': {
          let b = state.batches.get(m.batchId);
          if (!b) {
            b = { openedAt: new Date(m.openedAt), objects: new Map() };
            state.batches.set(m.batchId, b);
          }
          b.objects.set(m.object.key, m.object);
          return;
        }
        case 'sealed':
          state.batches.delete(m.batchId);
          return;
        case 'ready':
          state.ready = true;
          if (shuttingDown) send(worker, { scp: 'shutdown', reason: shuttingDown });
          return;
        case 'health':
          asks.get(m.id)?.set(worker.id, m.health);
          return;
        case 'bye':
          return;
      }
    });
    worker.on('exit', (code, signal) => {
      states.delete(worker.id);
      const clean = code === 0 && !signal;
      if (!clean || state.batches.size > 0) logger.warn('worker_exited', { pid: worker.process.pid, code, signal, openBatches: state.batches.size, slots: state.slots });
      sealLedger(state, clean ? 'worker-exited' : 'worker-died');
      if (shuttingDown) {
        if (states.size === 0) void complete();
        return;
      }
      if (!state.ready) {
        // It never started (bad storage, port taken): forking again would loop.
        logger.error('worker_start_failed', { pid: worker.process.pid, code, signal });
        exitCode = 1;
        shutdown('worker-start-failed');
        return;
      }
      restarted.inc();
      fork();
      logger.warn('worker_restarted', { pid: worker.process.pid, code, signal });
    });
  };

  const health = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (url === '/health') {
      void askHealth().then((answers) => {
        const parts = [...states.values()].map((s) => ({ pid: s.worker.process.pid ?? 0, ...(answers.get(s.worker.id) ?? { listening: false, draining: false, storageFailing: false, associations: 0 }) }));
        const base = healthReport({
          // One listening worker takes connections: a worker being replaced does not take the task out of the load balancer.
          listening: () => parts.some((p) => p.listening),
          draining: () => shuttingDown !== undefined,
          storageFailing: () => parts.some((p) => p.storageFailing),
          associations: () => ({ active: slotsHeld(), max: config.maximumAssociations }),
        });
        const report: ClusterHealthReport = { ...base, workers: parts };
        const ok = report.status === 'healthy' || report.status === 'degraded';
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(report));
      });
      return;
    }
    if (url === '/metrics') {
      Promise.all([aggregator.clusterMetrics(), registry.metrics()]).then(
        ([workers, own]) => res.writeHead(200, { 'content-type': registry.contentType }).end(`${workers}\n${own}`),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics collection failed: ${(err as Error).message}\n`),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  await new Promise<void>((resolve, reject) => {
    health.once('error', reject);
    health.listen(config.healthPort, config.host, () => resolve());
  });
  const healthPort = (health.address() as { port: number }).port;
  const stopUtilization = config.stackName
    ? publishUtilization({ stackName: config.stackName, associations: () => ({ active: slotsHeld(), max: config.maximumAssociations }) })
    : () => undefined;

  let killTimer: NodeJS.Timeout | undefined;
  const complete = async (): Promise<void> => {
    clearTimeout(killTimer);
    while (sealing.length > 0) {
      const pending = sealing;
      sealing = [];
      await Promise.all(pending);
    }
    stopUtilization();
    await sink.close?.();
    await new Promise<void>((resolve) => health.close(() => resolve()));
    health.closeAllConnections?.();
    logger.info('shutdown_complete', { reason: shuttingDown });
    finish(exitCode);
  };

  const shutdown = (reason: string): void => {
    if (shuttingDown) return;
    shuttingDown = reason;
    logger.info('shutdown_started', { reason, workers: states.size, associations: slotsHeld(), drainTimeoutMs: config.drainTimeoutMs });
    for (const s of states.values()) if (s.ready) send(s.worker, { scp: 'shutdown', reason });
    killTimer = setTimeout(() => {
      for (const s of states.values()) {
        logger.warn('worker_killed', { pid: s.worker.process.pid, reason: 'drain-timeout' });
        s.worker.process.kill('SIGKILL');
      }
    }, config.drainTimeoutMs + SEAL_GRACE_MS);
    killTimer.unref();
    if (states.size === 0) void complete();
  };

  for (let i = 0; i < config.workers; i++) fork();
  logger.info('primary_started', { workers: config.workers, healthPort, maximumAssociations: config.maximumAssociations });
  return { healthPort, done, shutdown };
}

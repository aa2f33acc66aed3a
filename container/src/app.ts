import type * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ScpConfig } from './config';
import { createHealthServer, type HealthSource } from './health-server';
import { createLogger, type Logger } from './logger';
import { ScpMetrics } from './metrics';
import { ScpServer, type AssociationAdmission } from './scp/scp-server';
import { Batcher, type BatcherOptions } from './storage/batcher';
import { createSink } from './storage/create-sink';
import type { StorageSink } from './storage/sink';

export interface AppOptions {
  readonly config: ScpConfig;
  readonly logger?: Logger;
  /** Overrides the sink STORAGE_URI names (tests). */
  readonly sink?: StorageSink;
  /** Serve `/health` and `/metrics` (default true; a cluster worker leaves them to the primary). */
  readonly healthServer?: boolean;
  /** Task-wide association slots (cluster workers). */
  readonly admission?: AssociationAdmission;
  /** Batch ledger hooks and batch-id process part (cluster workers). */
  readonly batches?: Pick<BatcherOptions, 'onCommitted' | 'onForgotten' | 'processId'>;
}

/** A running SCP: DICOM listener, health/metrics endpoint, batches. */
export interface RunningApp {
  readonly port: number;
  /** The health port (0 when this process serves none). */
  readonly healthPort: number;
  readonly server: ScpServer;
  readonly batcher: Batcher;
  readonly metrics: ScpMetrics;
  /** What `/health` reports about this process. */
  readonly health: HealthSource;
  /** Drains (up to DRAIN_TIMEOUT), aborts the rest, seals open batches. Safe to call twice. */
  shutdown(reason: string): Promise<void>;
}

/**
 * Storage counts as failing after this many commits in a row failed, the last
 * within the window: one refused instance among successes must not take the
 * task out of the load balancer, a dead bucket must.
 */
const STORAGE_FAILURE_STREAK = 3;
const STORAGE_FAILURE_WINDOW_MS = 60_000;

export async function startApp(opts: AppOptions): Promise<RunningApp> {
  const { config } = opts;
  const logger = opts.logger ?? createLogger(config.logLevel);
  const metrics = new ScpMetrics();
  let associations = (): number => 0;
  const sink = opts.sink ?? createSink(config, { alone: () => associations() <= 1 });
  await sink.check();
  const batcher = new Batcher({
    sink,
    maxFiles: config.batchMaxFiles,
    maxBytes: config.batchMaxBytes,
    quietMs: config.batchQuietMs,
    logger,
    onSealed: (m) => metrics.batchesSealed.inc({ reason: m.sealReason }),
    ...opts.batches,
  });
  let lastFailure = 0;
  let failureStreak = 0;
  const server = new ScpServer({
    config,
    logger,
    metrics,
    admission: opts.admission,
    store: {
      sink,
      batcher,
      logger,
      maximumInstanceBytes: config.maximumInstanceBytes,
      onCommit: (ok) => {
        failureStreak = ok ? 0 : failureStreak + 1;
        lastFailure = ok ? 0 : Date.now();
      },
      onMissingUids: () => metrics.instancesMissingUids.inc(),
    },
  });
  associations = () => server.activeAssociations();
  metrics.addGauge('dicom_associations_active', 'Established associations.', () => server.activeAssociations());
  metrics.addGauge('dicom_associations_max', 'MAXIMUM_ASSOCIATIONS.', () => config.maximumAssociations, 'max');
  metrics.addGauge('dicom_connections_open', 'Open TCP connections (associated or not).', () => server.connections);
  metrics.addGauge('dicom_batches_open', 'Batches not yet sealed.', () => batcher.openBatches);

  const healthSource: HealthSource = {
    listening: () => server.listening,
    draining: () => server.state === 'draining' || server.state === 'closed',
    storageFailing: () => failureStreak >= STORAGE_FAILURE_STREAK && Date.now() - lastFailure < STORAGE_FAILURE_WINDOW_MS,
    associations: () => ({ active: server.activeAssociations(), max: config.maximumAssociations }),
  };
  let health: http.Server | undefined;
  if (opts.healthServer !== false) {
    const h = createHealthServer(healthSource, metrics);
    health = h;
    await new Promise<void>((resolve, reject) => {
      h.once('error', reject);
      h.listen(config.healthPort, config.host, () => resolve());
    });
  }
  const port = await server.listen();
  const healthPort = health ? (health.address() as AddressInfo).port : 0;
  logger.info('scp_started', { aeTitle: config.aeTitle, host: config.host, port, healthPort, storage: sink.location, sink: sink.kind, maximumAssociations: config.maximumAssociations, maximumPduSize: config.maximumPduSize });

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    shuttingDown ??= (async () => {
      logger.info('shutdown_started', { reason, associations: server.activeAssociations(), drainTimeoutMs: config.drainTimeoutMs });
      await server.stopAccepting();
      const drained = await server.waitIdle(config.drainTimeoutMs);
      if (!drained) {
        logger.warn('drain_timeout', { aborting: server.connections });
        server.abortAll('shutdown');
        await server.waitIdle(2000);
      }
      await batcher.sealAll('shutdown');
      await sink.close?.();
      server.close();
      if (health) {
        const h = health;
        await new Promise<void>((resolve) => h.close(() => resolve()));
        h.closeAllConnections?.();
      }
      logger.info('shutdown_complete', { reason, drained });
    })();
    return shuttingDown;
  };
  return { port, healthPort, server, batcher, metrics, health: healthSource, shutdown };
}

import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { startApp } from '../app';
import type { ScpConfig } from '../config';
import type { Logger } from '../logger';
import type { AssociationAdmission } from '../scp/scp-server';
import { isScpMessage, type PrimaryMessage, type WorkerMessage } from './messages';

function send(m: WorkerMessage, cb?: () => void): void {
  if (process.connected && process.send) process.send(m, undefined, undefined, cb ? () => cb() : undefined);
  else cb?.();
}

/**
 * A cluster worker: the SCP without its own health endpoint. Association
 * slots come from the primary (task-wide MAXIMUM_ASSOCIATIONS); every
 * instance listed in a batch is reported to the primary before it is
 * acknowledged, so the primary can seal the batch if this process dies.
 * Shuts down (drain, seal, exit 0) on the primary's request, on SIGTERM /
 * SIGINT, or when the primary is gone.
 */
export async function runWorker(config: ScpConfig, logger: Logger): Promise<void> {
  let nextId = 0;
  const waiting = new Map<number, (granted: boolean) => void>();
  const admission: AssociationAdmission = {
    acquire: () =>
      new Promise<boolean>((resolve) => {
        if (!process.connected) return resolve(false);
        nextId += 1;
        waiting.set(nextId, resolve);
        send({ scp: 'acquire', id: nextId });
      }),
    release: () => send({ scp: 'release' }),
  };
  const app = await startApp({
    config,
    logger,
    healthServer: false,
    admission,
    batches: {
      onCommitted: (batchId, openedAt, object) => send({ scp: 'committed', batchId, openedAt: openedAt.toISOString(), object }),
      onForgotten: (batchId) => send({ scp: 'sealed', batchId }),
    },
  });
  // Constructing an AggregatorRegistry in a worker installs prom-client's
  // answer to the primary's clusterMetrics(), read from this registry.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([app.metrics.registry]);

  const stop = (reason: string): void => {
    void app.shutdown(reason).then(
      () => send({ scp: 'bye' }, () => process.exit(0)),
      (err: unknown) => {
        logger.error('shutdown_failed', { error: err });
        process.exit(1);
      },
    );
  };
  process.on('message', (m: unknown) => {
    if (!isScpMessage<PrimaryMessage>(m)) return;
    switch (m.scp) {
      case 'slot':
        waiting.get(m.id)?.(m.granted);
        waiting.delete(m.id);
        return;
      case 'health?': {
        const h = app.health;
        send({ scp: 'health', id: m.id, health: { listening: h.listening(), draining: h.draining(), storageFailing: h.storageFailing(), associations: h.associations().active } });
        return;
      }
      case 'shutdown':
        stop(m.reason);
        return;
    }
  });
  // node:cluster makes a worker exit at once when the primary goes away
  // unexpectedly (lib/internal/cluster/child.js: unless exitedAfterDisconnect);
  // this worker drains and seals its open batch first instead.
  if (cluster.worker) cluster.worker.exitedAfterDisconnect = true;
  process.on('disconnect', () => {
    // The primary is gone: nobody grants slots any more.
    for (const resolve of waiting.values()) resolve(false);
    waiting.clear();
    stop('primary-gone');
  });
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  send({ scp: 'ready' });
}

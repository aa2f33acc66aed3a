import './threadpool';
import cluster from 'node:cluster';
import { startApp } from './app';
import { publishUtilization } from './association-utilization';
import { startPrimary } from './cluster/primary';
import { runWorker } from './cluster/worker';
import { loadConfig, type ScpConfig } from './config';
import { ConfigError } from './errors';
import { createLogger } from './logger';
import { NotEntitledError, registerUsage } from './marketplace';

/**
 * Entry point. WORKERS=1: one process serves everything. WORKERS>1: this
 * process becomes the cluster primary (src/cluster/primary.ts) and forks the
 * workers, which run this file again and end up in `runWorker`.
 * Exit codes: 0 clean stop, 1 failure at run time,
 * 2 invalid configuration, 3 not entitled (Marketplace RegisterUsage).
 */
async function main(argv: readonly string[]): Promise<void> {
  let config: ScpConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      createLogger('error', process.stderr).error('config_invalid', { problems: err.problems });
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (cluster.isWorker) {
    await runWorker(config, createLogger(config.logLevel, undefined, { worker: cluster.worker?.id }));
    return;
  }
  const logger = createLogger(config.logLevel);
  if (argv.includes('--validate')) {
    logger.info('config_valid', { ...config });
    return;
  }
  if (config.marketplaceProductCode) {
    try {
      await registerUsage(config.marketplaceProductCode, undefined, {
        onRetry: (attempt, error, delayMs) => logger.warn('marketplace_retry', { attempt, error: error.name, delayMs }),
      });
      logger.info('marketplace_registered', { productCode: config.marketplaceProductCode });
    } catch (err) {
      logger.error('marketplace_not_entitled', { error: err, productCode: config.marketplaceProductCode });
      process.exit(err instanceof NotEntitledError ? 3 : 1);
    }
  }
  if (config.workers > 1) {
    const primary = await startPrimary(config, logger);
    process.once('SIGTERM', () => primary.shutdown('SIGTERM'));
    process.once('SIGINT', () => primary.shutdown('SIGINT'));
    process.exit(await primary.done);
  }
  const app = await startApp({ config, logger });
  const stopUtilization = config.stackName ? publishUtilization({ stackName: config.stackName, associations: () => app.health.associations() }) : () => undefined;
  const stop = (signal: string): void => {
    void app.shutdown(signal).then(
      () => {
        stopUtilization();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error('shutdown_failed', { error: err });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  createLogger('error', process.stderr).error('start_failed', { error: err });
  process.exit(1);
});

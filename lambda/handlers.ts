import { ExecutionAlreadyExists, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { checkImportStatus as checkCore } from './check-import-status';
import { createClients, type WorkflowClients } from './clients';
import type { Context } from 'aws-lambda';
import { loadConfig, type WorkflowConfig } from './config';
import { classifyAwsErrors } from './errors';
import type { WorkflowDeps } from './deps';
import { createLogger, type LambdaLogger } from './logger';
import { createEmfMetrics, type FlushableMetrics } from './metrics';
import { recordFailure as recordFailureCore } from './record-failure';
import { recordResults as recordResultsCore } from './record-results';
import { startImportJob as startCore } from './start-import-job';
import { sweepOrphanBatches as sweepCore } from './sweep-orphan-batches';
import { triggerStateMachine as triggerCore, type SqsEvent } from './trigger-state-machine';
import { validateBatch as validateCore } from './validate-batch';
import type { BatchRef, ExecutionState, ImportRequest, JobRef, RetryRequest } from './workflow-types';

let cached: { config: WorkflowConfig; clients: WorkflowClients; metrics: FlushableMetrics; loggers: Map<string, LambdaLogger> } | undefined;

/** Builds config, clients and metrics once per Lambda container; one logger per handler. */
function runtime(component: string, context: Context | undefined): { deps: WorkflowDeps; clients: WorkflowClients; metrics: FlushableMetrics } {
  if (!cached) {
    const config = loadConfig();
    cached = { config, clients: createClients(config), metrics: createEmfMetrics(config.metricsNamespace, config.stackName), loggers: new Map() };
  }
  let log = cached.loggers.get(component);
  if (!log) cached.loggers.set(component, (log = createLogger(component)));
  // The request id, cold start and function name go on every line of this invocation.
  if (context) log.addContext(context);
  const { config, clients, metrics } = cached;
  return { clients, metrics, deps: { config, s3: clients.s3, ddb: clients.ddb, medicalImaging: clients.medicalImaging, now: () => new Date(), log, metrics } };
}

/** Forgets the cached runtime (tests change the environment between suites). */
export function resetHandlerRuntime(): void {
  cached = undefined;
}

/**
 * A Lambda handler `(event, context)`: builds the runtime, runs the core and
 * writes the invocation's metrics when it ends, also when it throws (the
 * failure path's BatchesQuarantined must reach CloudWatch even then).
 */
function handler<E, R>(component: string, core: (rt: { deps: WorkflowDeps; clients: WorkflowClients }, event: E) => Promise<R>) {
  return async (event: E, context?: Context): Promise<R> => {
    const rt = runtime(component, context);
    try {
      return await core(rt, event);
    } finally {
      rt.metrics.flush();
    }
  };
}

// Transient AWS failures that outlast the SDK's retries become TransientAwsError (retried by the state machine).
// startImportJob keeps the SDK's error names: the state machine retries ThrottlingException and
// ServiceQuotaExceededException on their own schedules.
export const validateBatch = handler('validate-batch', ({ deps }, event: ImportRequest): Promise<BatchRef> => classifyAwsErrors(() => validateCore(deps, event)));
export const startImportJob = handler('start-import-job', ({ deps }, event: { batch: BatchRef; result?: { retry?: RetryRequest } }): Promise<JobRef> => startCore(deps, event.batch, event.result?.retry));
export const checkImportStatus = handler('check-import-status', ({ deps }, event: { batch: BatchRef; job: JobRef }) => classifyAwsErrors(() => checkCore(deps, event)));
export const recordResults = handler('record-results', ({ deps }, event: { batch: BatchRef; job: JobRef }) => classifyAwsErrors(() => recordResultsCore(deps, event)));
export const recordFailure = handler('record-failure', ({ deps }, event: ExecutionState) => recordFailureCore(deps, event));
export const sweepOrphanBatches = handler('sweep-orphan-batches', ({ deps }, _scheduledEvent: void) => sweepCore(deps));

export const triggerStateMachine = handler('trigger-state-machine', async ({ deps, clients }, event: SqsEvent) => {
  const stateMachineArn = deps.config.stateMachineArn;
  if (!stateMachineArn) throw new Error('STATE_MACHINE_ARN is not set');
  return triggerCore({
    stagingBucket: deps.config.stagingBucket, log: deps.log,
    startExecution: async (name, input) => {
      try {
        await clients.sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
        return 'started';
      } catch (err) {
        if (err instanceof ExecutionAlreadyExists) return 'duplicate';
        throw err;
      }
    },
  }, event);
});

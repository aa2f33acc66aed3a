import { ExecutionAlreadyExists, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { checkImportStatus as checkCore } from './check-import-status';
import { createClients, type WorkflowClients } from './clients';
import { loadConfig } from './config';
import { classifyAwsErrors } from './errors';
import type { WorkflowDeps } from './deps';
import { createLogger } from './logger';
import { createEmfMetrics } from './metrics';
import { recordFailure as recordFailureCore } from './record-failure';
import { recordResults as recordResultsCore } from './record-results';
import { startImportJob as startCore } from './start-import-job';
import { sweepOrphanBatches as sweepCore } from './sweep-orphan-batches';
import { triggerStateMachine as triggerCore, type SqsEvent } from './trigger-state-machine';
import { validateBatch as validateCore } from './validate-batch';
import type { BatchRef, ExecutionState, ImportRequest, JobRef, RetryRequest } from './workflow-types';

let cached: { deps: WorkflowDeps; clients: WorkflowClients } | undefined;

/** Builds config, clients, logger and metrics once per Lambda container. */
function runtime(component: string): { deps: WorkflowDeps; clients: WorkflowClients } {
  if (!cached) {
    const config = loadConfig();
    const clients = createClients(config);
    cached = {
      clients,
      deps: { config, s3: clients.s3, ddb: clients.ddb, medicalImaging: clients.medicalImaging, now: () => new Date(), log: createLogger('import-workflow'), metrics: createEmfMetrics(config.metricsNamespace, config.stackName) },
    };
  }
  return { clients: cached.clients, deps: { ...cached.deps, log: createLogger(component) } };
}

/** Forgets the cached runtime (tests change the environment between suites). */
export function resetHandlerRuntime(): void {
  cached = undefined;
}

// Transient AWS failures that outlast the SDK's retries become TransientAwsError (retried by the state machine).
// startImportJob keeps the SDK's error names: the state machine retries ThrottlingException and
// ServiceQuotaExceededException on their own schedules.
export const validateBatch = (event: ImportRequest): Promise<BatchRef> => classifyAwsErrors(() => validateCore(runtime('validate-batch').deps, event));
export const startImportJob = (event: { batch: BatchRef; result?: { retry?: RetryRequest } }): Promise<JobRef> => startCore(runtime('start-import-job').deps, event.batch, event.result?.retry);
export const checkImportStatus = (event: { batch: BatchRef; job: JobRef }) => classifyAwsErrors(() => checkCore(runtime('check-import-status').deps, event));
export const recordResults = (event: { batch: BatchRef; job: JobRef }) => classifyAwsErrors(() => recordResultsCore(runtime('record-results').deps, event));
export const recordFailure = (event: ExecutionState) => recordFailureCore(runtime('record-failure').deps, event);
export const sweepOrphanBatches = () => sweepCore(runtime('sweep-orphan-batches').deps);

export const triggerStateMachine = (event: SqsEvent) => {
  const { deps, clients } = runtime('trigger-state-machine');
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
};

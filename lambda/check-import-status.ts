import { GetDICOMImportJobCommand } from '@aws-sdk/client-medical-imaging';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { WorkflowDeps } from './deps';
import { ImportJobTimeoutError } from './errors';
import { jobKey } from './table-keys';
import type { BatchRef, JobRef } from './workflow-types';

/** Wait before check n+1: 10 s, ×1.5 each time, at most 2 minutes (GetDICOMImportJob quota 25 TPS). */
export function nextWaitSeconds(checks: number): number {
  return Math.min(120, Math.round(10 * 1.5 ** checks));
}

/** Poll interval of a job past jobWaitTimeoutSeconds (GetDICOMImportJob has no cancel: the job may still finish). */
export const OVERDUE_POLL_SECONDS = 900;
/** A job still not ended after this long is given up on (ImportJobTimeoutError → failure path, staging kept). */
export const OVERDUE_GIVE_UP_SECONDS = 7 * 24 * 3600;

/**
 * Step 3: one status check. Returns the job with the next wait. A job past
 * jobWaitTimeoutSeconds keeps its import slot (HealthImaging has no cancel,
 * so it still counts against the quota) and is polled every 15 minutes, its
 * late completion recorded as usual; ImportJobsOverdue is emitted once when
 * it crosses the bound. Only after 7 days does ImportJobTimeoutError end the wait.
 */
export async function checkImportStatus(deps: WorkflowDeps, input: { batch: BatchRef; job: JobRef }): Promise<JobRef> {
  const { config } = deps;
  const { job } = input;
  const res = await deps.medicalImaging.send(new GetDICOMImportJobCommand({ datastoreId: config.datastoreId, jobId: job.jobId }));
  const p = res.jobProperties!;
  const jobStatus = p.jobStatus as JobRef['jobStatus'];
  const checks = job.checks + 1;
  const ended = jobStatus === 'COMPLETED' || jobStatus === 'FAILED';
  await deps.ddb.send(new UpdateCommand({
    TableName: config.tableName, Key: jobKey(job.jobId),
    UpdateExpression: 'SET jobStatus = :s, updatedAt = :at, checks = :c' + (p.endedAt ? ', endedAt = :e' : '') + (p.message ? ', message = :m' : ''),
    ExpressionAttributeValues: { ':s': jobStatus, ':at': deps.now().toISOString(), ':c': checks, ...(p.endedAt ? { ':e': p.endedAt.toISOString() } : {}), ...(p.message ? { ':m': p.message } : {}) },
  }));
  deps.log.info('import-job-status', { batchId: input.batch.batchId, jobId: job.jobId, jobStatus, checks });
  let overdue = job.overdue ?? false;
  if (!ended) {
    const runningSeconds = (deps.now().getTime() - Date.parse(job.submittedAt)) / 1000;
    if (runningSeconds > OVERDUE_GIVE_UP_SECONDS) {
      throw new ImportJobTimeoutError(`import job ${job.jobId} still ${jobStatus} after ${Math.round(runningSeconds)} s (given up after ${OVERDUE_GIVE_UP_SECONDS} s)`);
    }
    if (runningSeconds > config.jobWaitTimeoutSeconds && !overdue) {
      overdue = true;
      deps.metrics.count({ ImportJobsOverdue: 1 });
      deps.log.warn('import-job-overdue', { batchId: input.batch.batchId, jobId: job.jobId, runningSeconds: Math.round(runningSeconds), boundSeconds: config.jobWaitTimeoutSeconds });
    }
  }
  return {
    ...job, jobStatus,
    outputS3Uri: p.outputS3Uri ?? job.outputS3Uri,
    ...(p.message ? { message: p.message } : {}),
    checks, waitSeconds: overdue ? OVERDUE_POLL_SECONDS : nextWaitSeconds(checks),
    ...(overdue ? { overdue } : {}),
  };
}

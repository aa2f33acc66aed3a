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

/**
 * Step 3: one status check. Returns the job with the next wait; throws
 * ImportJobTimeoutError once the job has run longer than jobWaitTimeoutSeconds.
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
  if (!ended) {
    const runningSeconds = (deps.now().getTime() - Date.parse(job.submittedAt)) / 1000;
    if (runningSeconds > config.jobWaitTimeoutSeconds) {
      throw new ImportJobTimeoutError(`import job ${job.jobId} still ${jobStatus} after ${Math.round(runningSeconds)} s (bound ${config.jobWaitTimeoutSeconds} s)`);
    }
  }
  return {
    jobId: job.jobId, jobStatus, submittedAt: job.submittedAt,
    outputS3Uri: p.outputS3Uri ?? job.outputS3Uri,
    ...(p.message ? { message: p.message } : {}),
    checks, waitSeconds: nextWaitSeconds(checks),
  };
}

import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { WorkflowDeps } from './deps';
import { isAwsError } from './errors';
import { readBatchManifest } from './batch-manifest';
import { releaseImportSlot } from './import-limiter';
import { readFailedJobOutput, type FailedJobOutput } from './import-output';
import { putInstanceRows } from './instance-rows';
import { batchKey, failureIndexKeys, jobKey } from './table-keys';
import type { ExecutionState } from './workflow-types';

export interface RecordFailureOutput {
  readonly batchId: string;
  readonly code: string;
  readonly message: string;
  readonly firstRecording: boolean;
}

/**
 * The failure path: records why the batch failed (on the batch item, listed
 * on gsi2 under the day's failures) and on the job item when a job exists,
 * keeps the staged objects for a redrive, marks every instance row of the
 * manifest BATCH_FAILED with the reason (rows already recorded by a job of
 * this batch keep their result; a FAILED job's own output, when it wrote
 * any, adds its summary to the job item and each file's failure to its row), frees the import slot and emits
 * BatchesQuarantined (+ ImportJobsFailed when the job itself FAILED,
 * ImportOutputsInvalid when its output did not reconcile). The
 * execution then ends in the Fail state, which raises the failed-executions alarm.
 */
export async function recordFailure(deps: WorkflowDeps, state: ExecutionState): Promise<RecordFailureOutput> {
  const { config } = deps;
  const at = deps.now();
  const jobFailed = state.job?.jobStatus === 'FAILED';
  const code = state.error?.Error ?? (jobFailed ? 'ImportJobFailed' : 'Unknown');
  const message = (state.error ? causeMessage(state.error.Cause) : state.job?.message) ?? 'no detail';
  const batchId = state.batch?.batchId ?? state.batchId;
  const prefix = state.batch?.prefix ?? `incoming/${batchId}/`;
  const jobOutput: FailedJobOutput = jobFailed && state.job
    ? await readFailedJobOutput(deps.s3, { outputS3Uri: state.job.outputS3Uri, datastoreId: config.datastoreId, jobId: state.job.jobId, prefix })
    : { failures: new Map() };
  if (state.job) {
    await deps.ddb.send(new UpdateCommand({
      TableName: config.tableName, Key: jobKey(state.job.jobId),
      UpdateExpression: 'SET jobStatus = :s, updatedAt = :at, failure = :f' + (jobOutput.summary ? ', summary = :sum' : ''),
      ExpressionAttributeValues: { ':s': state.job.jobStatus, ':at': at.toISOString(), ':f': { code, message }, ...(jobOutput.summary ? { ':sum': { ...jobOutput.summary } } : {}) },
    }));
  }
  let firstRecording = true;
  try {
    await deps.ddb.send(new UpdateCommand({
      TableName: config.tableName, Key: batchKey(batchId),
      UpdateExpression: 'SET #s = :failed, #e = :err, stagingBucket = if_not_exists(stagingBucket, :bucket), manifestKey = if_not_exists(manifestKey, :mk), batchId = :b, #t = :type, failedAt = :at, updatedAt = :at, gsi2pk = :g2pk, gsi2sk = :g2sk' + (state.job ? ', jobId = :j' : ''),
      ConditionExpression: 'attribute_not_exists(#s) OR #s IN (:received, :importing)',
      ExpressionAttributeNames: { '#s': 'status', '#e': 'error', '#t': 'type' },
      ExpressionAttributeValues: {
        ':failed': 'FAILED', ':err': { code, message }, ':bucket': state.bucket ?? '', ':mk': state.manifestKey ?? '', ':b': batchId, ':type': 'BATCH',
        ':at': at.toISOString(), ':received': 'RECEIVED', ':importing': 'IMPORTING', ...prefixed(failureIndexKeys(at, 'BATCH', batchId)),
        ...(state.job ? { ':j': state.job.jobId } : {}),
      },
    }));
  } catch (err) {
    if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
    firstRecording = false;
  }
  await markRows(deps, state, batchId, code, message, jobOutput);
  await releaseImportSlot(deps, batchId);
  if (firstRecording) {
    // Zeros included, so the alarms on ImportJobsFailed / ImportOutputsInvalid see 0 rather than missing data.
    deps.metrics.count({ BatchesQuarantined: 1, ImportJobsFailed: jobFailed ? 1 : 0, ImportOutputsInvalid: code === 'ImportOutputInvalidError' ? 1 : 0 });
  }
  deps.log.error('batch-failed', { batchId, jobId: state.job?.jobId, code, message, firstRecording });
  return { batchId, code, message, firstRecording };
}

/** BATCH_FAILED rows for the manifest's instances; a manifest that cannot be read (the cause of some failures) leaves rows as they are. */
async function markRows(deps: WorkflowDeps, state: ExecutionState, batchId: string, code: string, message: string, jobOutput: FailedJobOutput): Promise<void> {
  const bucket = state.batch?.bucket ?? state.bucket;
  const key = state.batch?.manifestKey ?? state.manifestKey;
  if (!bucket || !key) return;
  let objects;
  let sealedAt: string;
  try {
    const m = await readBatchManifest(deps.s3, bucket, key, batchId);
    objects = m.objects;
    sealedAt = m.sealedAt;
  } catch (err) {
    deps.log.warn('batch-failed-rows-skipped', { batchId, reason: (err as Error).name });
    return;
  }
  await putInstanceRows(deps, objects, (o) => ({
    status: 'BATCH_FAILED', batchId, sealedAt, failure: { code, message, ...(jobOutput.failures.get(o.key) ?? {}) }, ...(state.job ? { jobId: state.job.jobId } : {}),
  }));
}

const prefixed = (k: { gsi2pk: string; gsi2sk: string }) => ({ ':g2pk': k.gsi2pk, ':g2sk': k.gsi2sk });

/** Lambda errors reach the Catch as a JSON Cause {errorType, errorMessage}; keep only the message. */
function causeMessage(cause: string | undefined): string | undefined {
  if (!cause) return cause;
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string };
    return parsed.errorMessage ?? cause;
  } catch {
    return cause;
  }
}

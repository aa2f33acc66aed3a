import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { clientTokenOf } from './batch-id';
import { readBatchManifest } from './batch-manifest';
import type { WorkflowDeps } from './deps';
import { isAwsError } from './errors';
import { releaseImportSlot } from './import-limiter';
import { reconcileImportOutput } from './import-output';
import { instanceOutcomes, type InstanceOutcome } from './instance-outcomes';
import { putInstanceRows } from './instance-rows';
import { deleteImported, keepConflicts, quarantineFailed } from './staging-cleanup';
import { batchKey, failureIndexKeys, jobKey } from './table-keys';
import type { BatchRef, BatchStatus, JobRef, RetryRequest } from './workflow-types';

/** Follow-up jobs for files HealthImaging failed on its side (server errors) before they are FAILED. */
export const MAX_IMPORT_ATTEMPTS = 3;

export interface RecordResultsOutput {
  /** IMPORTING while a retry job is asked for. */
  readonly batchStatus: BatchStatus;
  readonly imported: number;
  readonly nonPrimary: number;
  readonly failed: number;
  readonly retrying: number;
  readonly warnings: number;
  readonly imageSets: number;
  /** Present when server-error files stay in incoming/ for another job. */
  readonly retry?: RetryRequest;
}

const count = (outcomes: InstanceOutcome[], ...statuses: InstanceOutcome['status'][]) => outcomes.filter((o) => statuses.includes(o.status));

/**
 * Step 4–5 for a COMPLETED job: reconciles the job output with its summary
 * and the batch manifest (ImportOutputInvalidError before anything moves),
 * upgrades every instance row, then deletes imported instances, moves
 * non-primary ones to conflicts/ and refused ones to failed/, leaves
 * server-error ones in incoming/ for a follow-up job (at most
 * MAX_IMPORT_ATTEMPTS), records the attempt on job and batch (metrics once
 * per job), closes the batch when nothing is left to retry, frees the slot.
 */
export async function recordResults(deps: WorkflowDeps, input: { batch: BatchRef; job: JobRef }): Promise<RecordResultsOutput> {
  const { batch, job } = input;
  const { config } = deps;
  const attempt = job.attempt ?? 0;
  const manifest = await readBatchManifest(deps.s3, batch.bucket, batch.manifestKey, batch.batchId);
  const output = await reconcileImportOutput(deps.s3, {
    outputS3Uri: job.outputS3Uri, datastoreId: config.datastoreId, jobId: job.jobId, prefix: batch.prefix,
    expectedKeys: new Set(manifest.objects.map((o) => o.key)), expectedFiles: job.expectedFiles ?? manifest.count,
  });
  const reported = new Set([...output.succeeded, ...output.warned, ...output.failed].map((f) => f.key));
  const outcomes = instanceOutcomes(manifest.objects.filter((o) => reported.has(o.key)), output, attempt < MAX_IMPORT_ATTEMPTS);

  const failed = count(outcomes, 'FAILED');
  const conflicts = count(outcomes, 'IMPORTED_NON_PRIMARY');
  const imported = count(outcomes, 'IMPORTED', 'IMPORTED_WITH_WARNINGS');
  const retrying = count(outcomes, 'RETRYING');
  const movedTo = (o: InstanceOutcome) => (o.status === 'FAILED' ? `failed/${batch.batchId}/` : o.status === 'IMPORTED_NON_PRIMARY' ? `conflicts/${batch.batchId}/` : undefined);
  const byKey = new Map(outcomes.map((o) => [o.key, o]));
  await putInstanceRows(deps, outcomes.map((o) => o.object), (obj) => {
    const o = byKey.get(obj.key)!;
    return {
      status: o.status, batchId: batch.batchId, sealedAt: manifest.sealedAt, jobId: job.jobId, attempt,
      imageSetId: o.imageSetId, isPrimary: o.isPrimary, warnings: o.warnings, failure: o.failure, movedTo: movedTo(o),
      listAsFailure: o.status === 'FAILED' || o.status === 'IMPORTED_NON_PRIMARY',
    };
  });

  await quarantineFailed(deps, batch.bucket, batch.batchId, job.jobId, failed);
  await keepConflicts(deps, batch.bucket, batch.batchId, job.jobId, conflicts);
  await deleteImported(deps, batch.bucket, imported.map((o) => o.key));

  const retry: RetryRequest | undefined = retrying.length
    ? { attempt: attempt + 1, clientToken: clientTokenOf(batch.batchId, batch.redrive, attempt + 1), expectedFiles: retrying.length }
    : undefined;
  const at = deps.now();
  await deps.ddb.send(new UpdateCommand({
    TableName: config.tableName, Key: jobKey(job.jobId),
    UpdateExpression: 'SET jobStatus = :s, updatedAt = :at, outputFolder = :f, summary = :sum, attempt = :a',
    ExpressionAttributeValues: { ':s': 'COMPLETED', ':at': at.toISOString(), ':f': `s3://${output.folder.bucket}/${output.folder.prefix}`, ':sum': { ...output.summary }, ':a': attempt },
  }));
  const attemptCounts = {
    importedCount: imported.length, nonPrimaryCount: conflicts.length, failedCount: failed.length,
    warningCount: count(outcomes, 'IMPORTED_WITH_WARNINGS').length, quarantinedCount: failed.length,
    imageSetCount: new Set(outcomes.map((o) => o.imageSetId).filter(Boolean)).size,
  };
  const firstRecording = await addAttempt(deps, batch.batchId, job.jobId, attemptCounts, at);
  const batchStatus = retry ? 'IMPORTING' : await closeBatch(deps, batch.batchId, job.jobId, at);
  await releaseImportSlot(deps, batch.batchId);
  if (firstRecording) {
    deps.metrics.count({
      InstancesImported: imported.length, InstancesFailed: failed.length, InstancesNonPrimary: conflicts.length,
      InstancesWithWarnings: attemptCounts.warningCount, InstancesRetrying: retrying.length, ImportJobsCompleted: 1,
    });
  }
  const result: RecordResultsOutput = {
    batchStatus, imported: imported.length, nonPrimary: conflicts.length, failed: failed.length, retrying: retrying.length,
    warnings: attemptCounts.warningCount, imageSets: attemptCounts.imageSetCount, ...(retry ? { retry } : {}),
  };
  deps.log.info('import-recorded', { batchId: batch.batchId, jobId: job.jobId, attempt, ...result, firstRecording });
  return result;
}

/**
 * Adds one job's counts to the batch item once (conditional on the job not
 * being recorded yet): a rerun of the same job changes nothing.
 */
async function addAttempt(deps: WorkflowDeps, batchId: string, jobId: string, counts: Record<string, number>, at: Date): Promise<boolean> {
  const names = Object.keys(counts);
  try {
    await deps.ddb.send(new UpdateCommand({
      TableName: deps.config.tableName, Key: batchKey(batchId),
      UpdateExpression: `SET jobId = :j, recordedJobs = list_append(if_not_exists(recordedJobs, :none), :jl), updatedAt = :at ADD ${names.map((_n, i) => `#c${i} :c${i}`).join(', ')}`,
      ConditionExpression: '#s IN (:received, :importing) AND NOT contains(recordedJobs, :j)',
      ExpressionAttributeNames: { '#s': 'status', ...Object.fromEntries(names.map((n, i) => [`#c${i}`, n])) },
      ExpressionAttributeValues: {
        ':j': jobId, ':jl': [jobId], ':none': [], ':at': at.toISOString(), ':received': 'RECEIVED', ':importing': 'IMPORTING',
        ...Object.fromEntries(names.map((n, i) => [`:c${i}`, counts[n]])),
      },
    }));
    return true;
  } catch (err) {
    if (isAwsError(err, 'ConditionalCheckFailedException')) return false;
    throw err;
  }
}

/** Sets the final status from the batch's totals over all its jobs; the failure index lists batches with failures or conflicts. */
async function closeBatch(deps: WorkflowDeps, batchId: string, jobId: string, at: Date): Promise<BatchStatus> {
  const item = (await deps.ddb.send(new GetCommand({ TableName: deps.config.tableName, Key: batchKey(batchId), ConsistentRead: true }))).Item ?? {};
  const current = item['status'] as BatchStatus | undefined;
  if (current !== 'RECEIVED' && current !== 'IMPORTING') return current ?? 'IMPORTED';
  const status: BatchStatus = Number(item['failedCount'] ?? 0) > 0 ? 'IMPORTED_WITH_FAILURES' : Number(item['nonPrimaryCount'] ?? 0) > 0 ? 'IMPORTED_WITH_CONFLICTS' : 'IMPORTED';
  const listed = status === 'IMPORTED' ? undefined : failureIndexKeys(at, 'BATCH', batchId);
  try {
    await deps.ddb.send(new UpdateCommand({
      TableName: deps.config.tableName, Key: batchKey(batchId),
      UpdateExpression: 'SET #s = :s, jobId = :j, finishedAt = :at, updatedAt = :at' + (listed ? ', gsi2pk = :g2pk, gsi2sk = :g2sk' : ''),
      ConditionExpression: '#s IN (:received, :importing)',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: {
        ':s': status, ':j': jobId, ':at': at.toISOString(), ':received': 'RECEIVED', ':importing': 'IMPORTING',
        ...(listed ? { ':g2pk': listed.gsi2pk, ':g2sk': listed.gsi2sk } : {}),
      },
    }));
  } catch (err) {
    if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
  }
  return status;
}

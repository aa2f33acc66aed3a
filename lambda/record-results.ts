import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { readBatchManifest } from './batch-manifest';
import type { WorkflowDeps } from './deps';
import { isAwsError } from './errors';
import { releaseImportSlot } from './import-limiter';
import { readImportOutput } from './import-output';
import { instanceOutcomes, type InstanceOutcome } from './instance-outcomes';
import { mapLimit } from './map-limit';
import { deleteImported, quarantineFailed } from './staging-cleanup';
import { batchKey, failureIndexKeys, instanceKeys, jobKey } from './table-keys';
import type { BatchRef, JobRef } from './workflow-types';

export interface RecordResultsOutput {
  readonly batchStatus: 'IMPORTED' | 'IMPORTED_WITH_FAILURES';
  readonly imported: number;
  readonly failed: number;
  readonly warnings: number;
  readonly imageSets: number;
}

/**
 * Step 4–5 for a COMPLETED job: reads the job output, records every instance
 * (conditional puts: a rerun of the same batch changes nothing), quarantines
 * refused instances, deletes imported ones, closes job and batch, frees the
 * slot and emits metrics once (only the run that closes the batch emits).
 */
export async function recordResults(deps: WorkflowDeps, input: { batch: BatchRef; job: JobRef }): Promise<RecordResultsOutput> {
  const { batch, job } = input;
  const { config } = deps;
  const output = await readImportOutput(deps.s3, job.outputS3Uri, config.datastoreId, job.jobId);
  const manifest = await readBatchManifest(deps.s3, batch.bucket, batch.manifestKey, batch.batchId);
  const outcomes = instanceOutcomes(manifest.objects, output, batch.prefix);
  const at = deps.now();
  await mapLimit(outcomes, 16, (o) => putInstance(deps, o, batch.batchId, job.jobId, at));

  const failed = outcomes.filter((o) => o.status === 'FAILED');
  const imported = outcomes.filter((o) => o.status === 'IMPORTED');
  const quarantined = await quarantineFailed(deps, batch.bucket, batch.batchId, job.jobId, failed);
  await deleteImported(deps, batch.bucket, imported.map((o) => o.key));

  const result: RecordResultsOutput = {
    batchStatus: failed.length ? 'IMPORTED_WITH_FAILURES' : 'IMPORTED',
    imported: imported.length, failed: failed.length, warnings: output.warned.length,
    imageSets: new Set(imported.map((o) => o.imageSetId)).size,
  };
  await deps.ddb.send(new UpdateCommand({
    TableName: config.tableName, Key: jobKey(job.jobId),
    UpdateExpression: 'SET jobStatus = :s, updatedAt = :at, outputFolder = :f, summary = :sum',
    ExpressionAttributeValues: { ':s': 'COMPLETED', ':at': at.toISOString(), ':f': `s3://${output.folder.bucket}/${output.folder.prefix}`, ':sum': { ...output.summary } },
  }));
  const closedNow = await closeBatch(deps, batch.batchId, job.jobId, result, quarantined.length, at);
  await releaseImportSlot(deps, batch.batchId);
  if (closedNow) {
    deps.metrics.count({ InstancesImported: result.imported, InstancesFailed: result.failed, ImportJobsCompleted: 1 });
  }
  deps.log.info('import-recorded', { batchId: batch.batchId, jobId: job.jobId, ...result, quarantined: quarantined.length, firstRecording: closedNow });
  return result;
}

async function putInstance(deps: WorkflowDeps, o: InstanceOutcome, batchId: string, jobId: string, at: Date): Promise<void> {
  const failure = o.status === 'FAILED' ? failureIndexKeys(at, 'SOP', o.sopInstanceUid) : {};
  try {
    await deps.ddb.send(new PutCommand({
      TableName: deps.config.tableName,
      Item: {
        ...instanceKeys(o.studyInstanceUid, o.sopInstanceUid), ...failure, type: 'INSTANCE',
        studyInstanceUid: o.studyInstanceUid, seriesInstanceUid: o.seriesInstanceUid, sopInstanceUid: o.sopInstanceUid,
        sopClassUid: o.sopClassUid, transferSyntaxUid: o.transferSyntaxUid, callingAeTitle: o.callingAeTitle, bytes: o.bytes,
        status: o.status, imageSetId: o.imageSetId, isPrimary: o.isPrimary, warnings: o.warnings, failure: o.failure,
        batchId, jobId, stagingKey: o.key, recordedAt: at.toISOString(),
      },
      // Same batch again (redelivery / rerun): no change. A later batch with the same SOP Instance UID (a resend) supersedes it.
      ConditionExpression: 'attribute_not_exists(pk) OR batchId <> :b',
      ExpressionAttributeValues: { ':b': batchId },
    }));
  } catch (err) {
    if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
  }
}

async function closeBatch(deps: WorkflowDeps, batchId: string, jobId: string, r: RecordResultsOutput, quarantined: number, at: Date): Promise<boolean> {
  const failure = r.failed ? failureIndexKeys(at, 'BATCH', batchId) : undefined;
  try {
    await deps.ddb.send(new UpdateCommand({
      TableName: deps.config.tableName, Key: batchKey(batchId),
      UpdateExpression: 'SET #s = :s, jobId = :j, importedCount = :i, failedCount = :f, warningCount = :w, imageSetCount = :n, quarantinedCount = :q, finishedAt = :at, updatedAt = :at' + (failure ? ', gsi2pk = :g2pk, gsi2sk = :g2sk' : ''),
      ConditionExpression: '#s IN (:received, :importing)',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: {
        ':s': r.batchStatus, ':j': jobId, ':i': r.imported, ':f': r.failed, ':w': r.warnings, ':n': r.imageSets, ':q': quarantined,
        ':at': at.toISOString(), ':received': 'RECEIVED', ':importing': 'IMPORTING',
        ...(failure ? { ':g2pk': failure.gsi2pk, ':g2sk': failure.gsi2sk } : {}),
      },
    }));
    return true;
  } catch (err) {
    if (isAwsError(err, 'ConditionalCheckFailedException')) return false;
    throw err;
  }
}

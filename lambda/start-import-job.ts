import { StartDICOMImportJobCommand } from '@aws-sdk/client-medical-imaging';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { WorkflowDeps } from './deps';
import { isAwsError } from './errors';
import { acquireImportSlot, takeStartToken } from './import-limiter';
import { batchKey, jobKey } from './table-keys';
import type { BatchRef, JobRef, RetryRequest } from './workflow-types';

/** Seconds before the first status check. */
export const FIRST_CHECK_SECONDS = 10;

/**
 * Step 2: one import job for the batch prefix. Takes an import slot and a
 * start token first (errors named for the state machine's Retry), then calls
 * StartDICOMImportJob with clientToken = batch id, so a repeated call returns
 * the same job. SDK errors (ThrottlingException, ServiceQuotaExceededException,
 * ...) keep their names. With `retry` (server-error files left in incoming/
 * by record-results) the job gets the retry's own clientToken.
 */
export async function startImportJob(deps: WorkflowDeps, batch: BatchRef, retry?: RetryRequest): Promise<JobRef> {
  const { config } = deps;
  const clientToken = retry?.clientToken ?? batch.clientToken;
  await acquireImportSlot(deps, batch.batchId);
  await takeStartToken(deps, batch.batchId);
  const inputS3Uri = `s3://${batch.bucket}/${batch.prefix}`;
  const outputS3Uri = `s3://${config.resultsBucket}/${config.resultsPrefix}${clientToken}/`;
  const res = await deps.medicalImaging.send(new StartDICOMImportJobCommand({
    datastoreId: config.datastoreId,
    dataAccessRoleArn: config.dataAccessRoleArn,
    clientToken,
    jobName: clientToken.slice(0, 64),
    inputS3Uri,
    outputS3Uri,
  }));
  const jobId = res.jobId!;
  const submittedAt = (res.submittedAt ?? deps.now()).toISOString();
  await recordJobStarted(deps, batch, clientToken, jobId, submittedAt, inputS3Uri, outputS3Uri);
  deps.log.info('import-job-started', { batchId: batch.batchId, jobId, clientToken, inputS3Uri, attempt: retry?.attempt ?? 0 });
  return {
    jobId, jobStatus: (res.jobStatus ?? 'SUBMITTED') as JobRef['jobStatus'], submittedAt, outputS3Uri, checks: 0, waitSeconds: FIRST_CHECK_SECONDS,
    attempt: retry?.attempt ?? 0, expectedFiles: retry?.expectedFiles ?? batch.count,
  };
}

async function recordJobStarted(deps: WorkflowDeps, batch: BatchRef, clientToken: string, jobId: string, submittedAt: string, inputS3Uri: string, outputS3Uri: string): Promise<void> {
  const { ddb, config } = deps;
  const at = deps.now().toISOString();
  await ddb.send(new PutCommand({
    TableName: config.tableName,
    Item: { ...jobKey(jobId), type: 'JOB', jobId, batchId: batch.batchId, clientToken, jobStatus: 'SUBMITTED', datastoreId: config.datastoreId, inputS3Uri, outputS3Uri, submittedAt, updatedAt: at },
    ConditionExpression: 'attribute_not_exists(pk)',
  })).catch((err: unknown) => {
    if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
  });
  await ddb.send(new UpdateCommand({
    TableName: config.tableName, Key: batchKey(batch.batchId),
    UpdateExpression: 'SET #s = :importing, jobId = :j, updatedAt = :at',
    ConditionExpression: '#s IN (:received, :importing)',
    ExpressionAttributeNames: { '#s': 'status' },
    ExpressionAttributeValues: { ':importing': 'IMPORTING', ':received': 'RECEIVED', ':j': jobId, ':at': at },
  })).catch((err: unknown) => {
    if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
  });
}

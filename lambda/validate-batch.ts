import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { BATCH_ID_PATTERN, clientTokenOf, manifestKeyOf } from './batch-id';
import { readBatchManifest, type BatchManifest } from './batch-manifest';
import type { WorkflowDeps } from './deps';
import { BatchTooLargeError, BatchValidationError, isAwsError } from './errors';
import { putInstanceRows } from './instance-rows';
import { batchKey } from './table-keys';
import type { BatchRef, ImportRequest } from './workflow-types';

/** Most bytes one import job may take: 10 GB, not adjustable ("AWS HealthImaging endpoints and quotas"). */
export const IMPORT_JOB_MAX_BYTES = 10_000_000_000;

/**
 * Step 1: the manifest is valid and within one job's size, every object it
 * lists is staged with its size, the batch is claimed in DynamoDB
 * (conditional put) and every instance gets its STAGED row (so a lookup by
 * SOP Instance UID answers from now on). A batch an earlier execution
 * already finished comes back with alreadyDone = true.
 */
export async function validateBatch(deps: WorkflowDeps, req: ImportRequest): Promise<BatchRef> {
  const { config, s3 } = deps;
  const redrive = req.redrive ?? 0;
  const problems: string[] = [];
  if (!BATCH_ID_PATTERN.test(req.batchId ?? '')) problems.push(`batchId ${JSON.stringify(req.batchId)} does not match ${BATCH_ID_PATTERN}`);
  if (req.bucket !== config.stagingBucket) problems.push(`bucket ${req.bucket} is not the staging bucket`);
  if (req.manifestKey !== manifestKeyOf(req.batchId)) problems.push(`manifestKey ${req.manifestKey} is not ${manifestKeyOf(req.batchId)}`);
  if (!Number.isInteger(redrive) || redrive < 0) problems.push('redrive must be a non-negative integer');
  if (problems.length) throw new BatchValidationError(`invalid import request: ${problems.join('; ')}`);

  const manifest = await readBatchManifest(s3, req.bucket, req.manifestKey, req.batchId);
  if (manifest.bytes > IMPORT_JOB_MAX_BYTES) {
    throw new BatchTooLargeError(`batch ${manifest.batchId} holds ${manifest.bytes} bytes, more than the ${IMPORT_JOB_MAX_BYTES} one HealthImaging import job takes; lower BATCH_MAX_BYTES and split the batch (docs/operations.md)`);
  }
  const ref: BatchRef = {
    batchId: manifest.batchId, bucket: req.bucket, manifestKey: req.manifestKey, prefix: manifest.prefix,
    count: manifest.count, bytes: manifest.bytes, clientToken: clientTokenOf(manifest.batchId, redrive), redrive, alreadyDone: false,
  };
  if (!(await claimBatch(deps, manifest, ref))) {
    deps.log.info('batch-already-done', { batchId: ref.batchId });
    return { ...ref, alreadyDone: true };
  }
  await checkStagedObjects(deps, manifest, req.bucket);
  await putInstanceRows(deps, manifest.objects, () => ({ status: 'STAGED', batchId: manifest.batchId, sealedAt: manifest.sealedAt }));
  deps.log.info('batch-validated', { batchId: ref.batchId, count: ref.count, bytes: ref.bytes, redrive });
  return ref;
}

/** True when this execution may import the batch; false when it is already finished. */
async function claimBatch(deps: WorkflowDeps, m: BatchManifest, ref: BatchRef): Promise<boolean> {
  const at = deps.now().toISOString();
  const { ddb, config } = deps;
  try {
    await ddb.send(new PutCommand({
      TableName: config.tableName,
      Item: {
        ...batchKey(m.batchId), type: 'BATCH', batchId: m.batchId, status: 'RECEIVED', redrive: ref.redrive,
        stagingBucket: ref.bucket, manifestKey: ref.manifestKey, prefix: m.prefix, count: m.count, bytes: m.bytes,
        sealReason: m.sealReason, sealedAt: m.sealedAt, callingAeTitles: m.callingAeTitles ?? [],
        studyInstanceUids: m.studyInstanceUids ?? [], receivedAt: at, updatedAt: at,
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    }));
    return true;
  } catch (err) {
    if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
  }
  const existing = (await ddb.send(new GetCommand({ TableName: config.tableName, Key: batchKey(m.batchId), ConsistentRead: true }))).Item;
  const status = existing?.['status'] as string | undefined;
  if (status === 'RECEIVED' || status === 'IMPORTING') return true; // a concurrent or resumed run: downstream steps are idempotent
  if (status === 'FAILED' && ref.redrive > Number(existing?.['redrive'] ?? 0)) {
    try {
      await ddb.send(new UpdateCommand({
        TableName: config.tableName, Key: batchKey(m.batchId),
        UpdateExpression: 'SET #s = :received, redrive = :r, updatedAt = :at REMOVE gsi2pk, gsi2sk, #e',
        ConditionExpression: '#s = :failed AND (attribute_not_exists(redrive) OR redrive < :r)',
        ExpressionAttributeNames: { '#s': 'status', '#e': 'error' },
        ExpressionAttributeValues: { ':received': 'RECEIVED', ':failed': 'FAILED', ':r': ref.redrive, ':at': at },
      }));
      return true;
    } catch (err) {
      if (isAwsError(err, 'ConditionalCheckFailedException')) return false;
      throw err;
    }
  }
  return false;
}

async function checkStagedObjects(deps: WorkflowDeps, m: BatchManifest, bucket: string): Promise<void> {
  const staged = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await deps.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: m.prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) staged.set(o.Key!, o.Size ?? 0);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const missing = m.objects.filter((o) => !staged.has(o.key)).map((o) => o.key);
  const wrongSize = m.objects.filter((o) => staged.has(o.key) && staged.get(o.key) !== o.bytes).map((o) => `${o.key} (${staged.get(o.key)} != ${o.bytes})`);
  if (missing.length || wrongSize.length) {
    throw new BatchValidationError(`batch ${m.batchId} disagrees with its staged objects: missing [${missing.slice(0, 10).join(', ')}]${missing.length > 10 ? ` and ${missing.length - 10} more` : ''}; wrong size [${wrongSize.slice(0, 10).join(', ')}]`);
  }
  const listed = new Set(m.objects.map((o) => o.key));
  const extra = [...staged.keys()].filter((k) => !listed.has(k));
  if (extra.length) deps.log.warn('batch-extra-objects', { batchId: m.batchId, extra: extra.slice(0, 20), count: extra.length });
}

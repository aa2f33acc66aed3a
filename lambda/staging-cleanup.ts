import { CopyObjectCommand, DeleteObjectsCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { conflictsPrefixOf, failedPrefixOf } from './batch-id';
import type { WorkflowDeps } from './deps';
import { isAwsError } from './errors';
import type { InstanceOutcome } from './instance-outcomes';
import { mapLimit } from './map-limit';

/** Deletes staged objects that were imported (DeleteObjects, 1,000 keys per call). */
export async function deleteImported(deps: WorkflowDeps, bucket: string, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const chunk = keys.slice(i, i + 1000);
    const res = await deps.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true } }));
    if (res.Errors?.length) throw new Error(`could not delete ${res.Errors.length} staged objects, first: ${res.Errors[0]!.Key} ${res.Errors[0]!.Code}`);
  }
}

/**
 * Moves each instance to `<destPrefix><SOPInstanceUID>.dcm` with a
 * `.reason.json` beside it, then deletes the staged copy. Used for refused
 * instances (`failed/<batchId>/`) and non-primary ones (`conflicts/<batchId>/`).
 * Re-runnable: a source already moved is recognised by its moved copy.
 * Returns the destination key of each instance, in input order.
 */
export async function moveWithReason(deps: WorkflowDeps, bucket: string, destPrefix: string, batchId: string, jobId: string, outcomes: readonly InstanceOutcome[], reason: (o: InstanceOutcome) => object): Promise<string[]> {
  const moved = await mapLimit(outcomes, 8, async (o) => {
    const dest = `${destPrefix}${safeName(o.object.sopInstanceUid)}.dcm`;
    try {
      await deps.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: dest, CopySource: `${bucket}/${encodeURIComponent(o.key).replace(/%2F/g, '/')}`, MetadataDirective: 'COPY' }));
    } catch (err) {
      if (!isAwsError(err, 'NoSuchKey', 'NotFound')) throw err;
      await deps.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: dest })); // already moved by an earlier run, else this throws
    }
    await deps.s3.send(new PutObjectCommand({
      Bucket: bucket, Key: `${dest.slice(0, -4)}.reason.json`, ContentType: 'application/json',
      Body: JSON.stringify({ batchId, jobId, sourceKey: o.key, sopInstanceUid: o.object.sopInstanceUid, studyInstanceUid: o.object.studyInstanceUid, status: o.status, ...reason(o), movedAt: deps.now().toISOString() }, null, 2),
    }));
    return { source: o.key, dest };
  });
  await deleteImported(deps, bucket, moved.map((m) => m.source));
  return moved.map((m) => m.dest);
}

/** Refused instances to `failed/<batchId>/` with the failure as reason. */
export const quarantineFailed = (deps: WorkflowDeps, bucket: string, batchId: string, jobId: string, failed: readonly InstanceOutcome[]): Promise<string[]> =>
  moveWithReason(deps, bucket, failedPrefixOf(batchId), batchId, jobId, failed, (o) => ({ failure: o.failure }));

/** Non-primary instances to `conflicts/<batchId>/` with the image set they went to (docs/operations.md, reconciling non-primary data). */
export const keepConflicts = (deps: WorkflowDeps, bucket: string, batchId: string, jobId: string, conflicts: readonly InstanceOutcome[]): Promise<string[]> =>
  moveWithReason(deps, bucket, conflictsPrefixOf(batchId), batchId, jobId, conflicts, (o) => ({
    imageSetId: o.imageSetId, isPrimary: false,
    reason: 'HealthImaging stored this instance in a non-primary image set: its metadata conflicts with the primary image set of its series (see docs/operations.md).',
  }));

const safeName = (uid: string) => uid.replace(/[^0-9A-Za-z._-]/g, '_');

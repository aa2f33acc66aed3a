import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type _Object } from '@aws-sdk/client-s3';
import { BATCH_ID_PATTERN, incomingPrefixOf, manifestKeyOf } from './batch-id';
import type { BatchManifest, ManifestObject } from './batch-manifest';
import type { WorkflowDeps } from './deps';
import { isAwsError } from './errors';
import { mapLimit } from './map-limit';
import { UNKNOWN_STUDY } from './table-keys';

export interface SweepResult {
  readonly sealed: string[];
  readonly open: string[];
}

/**
 * Seals batches an SCP task never sealed (killed, crashed): an `incoming/<batchId>/`
 * prefix with no `batches/<batchId>.json` whose newest object is older than
 * orphanAgeSeconds. The manifest is rebuilt from each object's S3 metadata
 * and written with If-None-Match: * so a late seal by the SCP wins.
 */
export async function sweepOrphanBatches(deps: WorkflowDeps): Promise<SweepResult> {
  const bucket = deps.config.stagingBucket;
  const sealed: string[] = [];
  const open: string[] = [];
  for (const batchId of await listIncomingBatches(deps, bucket)) {
    if (await exists(deps, bucket, manifestKeyOf(batchId))) continue;
    const objects = await listAll(deps, bucket, incomingPrefixOf(batchId));
    if (objects.length === 0) continue;
    const newest = Math.max(...objects.map((o) => o.LastModified!.getTime()));
    if (deps.now().getTime() - newest < deps.config.orphanAgeSeconds * 1000) {
      open.push(batchId);
      continue;
    }
    const manifest = await buildManifest(deps, bucket, batchId, objects);
    try {
      await deps.s3.send(new PutObjectCommand({
        Bucket: bucket, Key: manifestKeyOf(batchId), Body: JSON.stringify(manifest, null, 2),
        ContentType: 'application/json', IfNoneMatch: '*',
      }));
      sealed.push(batchId);
      deps.log.warn('orphan-batch-sealed', { batchId, count: manifest.count, bytes: manifest.bytes });
    } catch (err) {
      if (!isAwsError(err, 'PreconditionFailed', 'ConditionalRequestConflict')) throw err;
      deps.log.info('orphan-batch-sealed-by-other', { batchId });
    }
  }
  return { sealed, open };
}

async function listIncomingBatches(deps: WorkflowDeps, bucket: string): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  do {
    const page = await deps.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'incoming/', Delimiter: '/', ContinuationToken: token }));
    for (const p of page.CommonPrefixes ?? []) {
      const id = p.Prefix!.slice('incoming/'.length, -1);
      if (BATCH_ID_PATTERN.test(id)) ids.push(id);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return ids;
}

async function listAll(deps: WorkflowDeps, bucket: string, prefix: string): Promise<_Object[]> {
  const out: _Object[] = [];
  let token: string | undefined;
  do {
    const page = await deps.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    out.push(...(page.Contents ?? []));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

async function exists(deps: WorkflowDeps, bucket: string, key: string): Promise<boolean> {
  try {
    await deps.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err) {
    if (isAwsError(err, 'NotFound', 'NoSuchKey')) return false;
    throw err;
  }
}

async function buildManifest(deps: WorkflowDeps, bucket: string, batchId: string, listed: _Object[]): Promise<BatchManifest> {
  const objects: ManifestObject[] = await mapLimit(listed.filter((o) => o.Key!.endsWith('.dcm')), 8, async (o) => {
    const head = await deps.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: o.Key! }));
    const md = head.Metadata ?? {};
    return {
      key: o.Key!, sopInstanceUid: md['sop-instance-uid'] || o.Key!.slice(incomingPrefixOf(batchId).length, -4),
      sopClassUid: md['sop-class-uid'] ?? '', studyInstanceUid: md['study-instance-uid'] ?? '', seriesInstanceUid: md['series-instance-uid'] ?? '',
      transferSyntaxUid: md['transfer-syntax-uid'] ?? '', callingAeTitle: md['calling-ae-title'] ?? '',
      bytes: head.ContentLength ?? o.Size ?? 0, storedAt: (o.LastModified ?? deps.now()).toISOString(),
    };
  });
  const times = listed.map((o) => o.LastModified!.getTime());
  return {
    schemaVersion: 1, batchId, prefix: incomingPrefixOf(batchId), sealReason: 'sweeper',
    openedAt: new Date(Math.min(...times)).toISOString(), sealedAt: deps.now().toISOString(),
    count: objects.length, bytes: objects.reduce((s, o) => s + o.bytes, 0),
    callingAeTitles: [...new Set(objects.map((o) => o.callingAeTitle).filter(Boolean))],
    studyInstanceUids: [...new Set(objects.map((o) => o.studyInstanceUid).filter((u) => u && u !== UNKNOWN_STUDY))],
    objects,
  };
}

import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DeidKeys, DeidOptions, DeidResult, DeidentifyStream } from '../deid/api';
import { readBatchManifest, type BatchManifest, type ManifestObject } from '../batch-manifest';
import { batchKey, failureIndexKeys } from '../table-keys';
import { incomingPrefixOf, manifestKeyOf } from '../batch-id';
import { derivedBatchId } from './derived-batch';
import { mapLimit } from '../map-limit';
import { putInstanceRows } from '../instance-rows';
import type { Logger } from '../logger';
import type { ResearchConfig } from './config';
import type { ResearchMetrics } from './metrics';
import { processedKeyOf, researchBatchKey, researchInstanceKey, RESEARCH_INSTANCE_PREFIX } from './keys';

/** Everything the research cores need; handlers build it once per container, tests inject their own. */
export interface ResearchDeps {
  readonly config: ResearchConfig;
  readonly s3: S3Client;
  readonly ddb: DynamoDBDocumentClient;
  /** The engine (lambda/deid). */
  readonly deidentify: DeidentifyStream;
  /** Sub-keys, derived once per container (KMS GenerateMac in AWS). */
  readonly keys: () => Promise<DeidKeys>;
  readonly log: Logger;
  readonly metrics: ResearchMetrics;
  readonly now: () => Date;
  /** Folder for the de-identified output before upload (Lambda: /tmp). */
  readonly tmpDir?: string;
}

/** Input of the research state machine: the same as the import workflow's. */
export interface ResearchRequest {
  readonly batchId: string;
  readonly manifestKey: string;
}

/** One Map item: a slice of the manifest's objects (a 5000-instance batch is 200 small items). */
export interface ResearchChunk {
  readonly batchId: string;
  readonly manifestKey: string;
  readonly first: number;
  readonly count: number;
}

export interface ResearchPlan {
  readonly batchId: string;
  readonly count: number;
  readonly chunks: ResearchChunk[];
}

export type InstanceOutcome = 'COPIED' | 'REFUSED' | 'FAILED';

export interface ChunkResult {
  readonly copied: number;
  readonly refused: number;
  readonly failed: number;
}

export interface ResearchSummary {
  readonly batchId: string;
  readonly status: 'COMPLETE' | 'PARTIAL';
  readonly count: number;
  readonly copied: number;
  readonly refused: number;
  readonly failed: number;
}

/** Thrown by a chunk when an instance failed for a reason worth retrying (the state machine retries the chunk; copied instances are skipped). */
export class ResearchRetryableError extends Error {
  override readonly name = 'ResearchRetryableError';
}

const TRANSIENT = new Set(['SlowDown', 'InternalError', 'ServiceUnavailable', 'RequestTimeout', 'ThrottlingException', 'ProvisionedThroughputExceededException', 'TimeoutError', 'ECONNRESET', 'EPIPE', 'NetworkingError']);
const isTransient = (err: unknown): boolean => {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  return TRANSIENT.has(e?.name ?? '') || TRANSIENT.has(e?.code ?? '') || (e?.$metadata?.httpStatusCode ?? 0) >= 500 || Boolean(e?.$retryable);
};
const isRefusal = (err: unknown): err is Error & { code: string } => (err as Error)?.name === 'DeidRefusedError' && typeof (err as { code?: unknown }).code === 'string';

/** Reads the manifest, opens the batch's research record, and cuts the objects into Map items. */
export async function planResearchBatch(deps: ResearchDeps, req: ResearchRequest): Promise<ResearchPlan> {
  const manifest = await readBatchManifest(deps.s3, deps.config.stagingBucket, req.manifestKey, req.batchId);
  const chunks: ResearchChunk[] = [];
  for (let first = 0; first < manifest.count; first += deps.config.chunkSize) {
    chunks.push({ batchId: req.batchId, manifestKey: req.manifestKey, first, count: Math.min(deps.config.chunkSize, manifest.count - first) });
  }
  await deps.ddb.send(new PutCommand({
    TableName: deps.config.tableName,
    Item: { ...researchBatchKey(req.batchId), status: 'COPYING', count: manifest.count, startedAt: deps.now().toISOString() },
    // A re-run keeps the original start time and any final status the summary wrote.
    ConditionExpression: 'attribute_not_exists(pk)',
  })).catch((err: Error) => { if (err.name !== 'ConditionalCheckFailedException') throw err; });
  deps.log.info('research_batch_planned', { batchId: req.batchId, count: manifest.count, chunks: chunks.length });
  return { batchId: req.batchId, count: manifest.count, chunks };
}

const manifests = new Map<string, BatchManifest>();

/** De-identifies the chunk's instances (a few at a time); every instance ends with a record. */
export async function copyResearchChunk(deps: ResearchDeps, chunk: ResearchChunk): Promise<ChunkResult> {
  let manifest = manifests.get(chunk.manifestKey);
  if (!manifest) {
    manifest = await readBatchManifest(deps.s3, deps.config.stagingBucket, chunk.manifestKey, chunk.batchId);
    if (manifests.size > 20) manifests.clear();
    manifests.set(chunk.manifestKey, manifest);
  }
  const objects = manifest.objects.slice(chunk.first, chunk.first + chunk.count);
  const retryable: number[] = [];
  const outcomes = await mapLimit(objects.map((o, i) => [o, chunk.first + i] as const), deps.config.instanceConcurrency, async ([o, ordinal]) => {
    const r = await copyInstance(deps, chunk.batchId, ordinal, o);
    if (r.retryable) retryable.push(ordinal);
    return r.outcome;
  });
  const result = {
    copied: outcomes.filter((o) => o === 'COPIED').length,
    refused: outcomes.filter((o) => o === 'REFUSED').length,
    failed: outcomes.filter((o) => o === 'FAILED').length,
  };
  deps.log.info('research_chunk_done', { batchId: chunk.batchId, first: chunk.first, ...result, retryable: retryable.length });
  if (retryable.length) throw new ResearchRetryableError(`${retryable.length} instance(s) of batch ${chunk.batchId} failed transiently (ordinals ${retryable.slice(0, 10).join(', ')})`);
  return result;
}

/** One instance: staged object (version recorded) → engine → temp file (SHA-256) → processed bucket → record. */
export async function copyInstance(deps: ResearchDeps, batchId: string, ordinal: number, o: ManifestObject): Promise<{ outcome: InstanceOutcome; retryable: boolean }> {
  const { config } = deps;
  const key = researchInstanceKey(batchId, ordinal);
  const existing = (await deps.ddb.send(new GetCommand({ TableName: config.tableName, Key: key }))).Item;
  if (existing && (existing['status'] === 'COPIED' || existing['status'] === 'REFUSED')) return { outcome: existing['status'] as InstanceOutcome, retryable: false };

  const tmp = join(deps.tmpDir ?? tmpdir(), `research-${randomUUID()}.dcm`);
  let source: { versionId?: string; etag?: string } = {};
  const started = Date.now();
  try {
    const got = await deps.s3.send(new GetObjectCommand({ Bucket: config.stagingBucket, Key: o.key }));
    source = { versionId: got.VersionId ?? 'null', etag: got.ETag };
    const hash = createHash('sha256');
    const file = createWriteStream(tmp);
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) { hash.update(chunk); file.write(chunk, cb); },
      final(cb) { file.end(cb); },
      destroy(err, cb) { file.destroy(); cb(err); },
    });
    const options: DeidOptions = {
      keys: await deps.keys(), dates: config.dates, retain: config.retain, allowBurnedIn: config.allowBurnedIn, patientIdPrefix: config.patientIdPrefix,
    };
    const result = await deps.deidentify(got.Body as Readable, out, options);
    const digest = hash.digest();
    const processedKey = processedKeyOf(result);
    const size = (await stat(tmp)).size;
    await upload(deps, processedKey, tmp, size, digest);
    const copy = { processedKey, sop: result.sopInstanceUid, study: result.studyInstanceUid, series: result.seriesInstanceUid, sopClass: result.sopClassUid, ts: result.transferSyntaxUid };
    const only = config.mode === 'DeidentifiedOnly' ? await archiveAndStage(deps, batchId, o, source, copy)
      : config.researchImport ? { stagedKey: await stageCopy(deps, batchId, copy) } : {};
    await record(deps, batchId, ordinal, o, source, {
      status: 'COPIED', processedKey, sha256: digest.toString('hex'), bytesOut: size, ...only,
      sopClassUid: result.sopClassUid, transferSyntaxUid: result.transferSyntaxUid,
      studyInstanceUid: result.studyInstanceUid, seriesInstanceUid: result.seriesInstanceUid, sopInstanceUid: result.sopInstanceUid,
      gsi1pk: `RSTUDY#${result.studyInstanceUid}`, gsi1sk: `RSOP#${result.sopInstanceUid}`,
    });
    deps.log.info('research_instance_copied', { batchId, ordinal, bytesIn: result.bytesIn, bytesOut: size, ms: Date.now() - started });
    return { outcome: 'COPIED', retryable: false };
  } catch (err) {
    if (isRefusal(err)) {
      const only = config.mode === 'DeidentifiedOnly' && source.etag ? await archiveAndStage(deps, batchId, o, source) : {};
      await record(deps, batchId, ordinal, o, source, { status: 'REFUSED', reason: err.code, ...only, ...failureIndexKeys(deps.now(), 'SOP', `research:${batchId}:${ordinal}`) });
      deps.log.warn('research_instance_refused', { batchId, ordinal, reason: err.code });
      return { outcome: 'REFUSED', retryable: false };
    }
    const name = (err as Error)?.name ?? 'Error';
    const reason = isAwsNoSuchKey(err) ? 'SOURCE_MISSING' : 'COPY_FAILED';
    await record(deps, batchId, ordinal, o, source, { status: 'FAILED', reason, errorName: name, ...failureIndexKeys(deps.now(), 'SOP', `research:${batchId}:${ordinal}`) });
    // Error names only: an engine or SDK message could quote the input.
    deps.log.error('research_instance_failed', { batchId, ordinal, reason, errorName: name });
    return { outcome: 'FAILED', retryable: isTransient(err) };
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * DeidentifiedOnly: the original goes to the raw bucket (versioned; the version
 * id is recorded) and, for a copy, the de-identified object is staged in the
 * derived batch with the SCP's object metadata contract.
 */
async function archiveAndStage(deps: ResearchDeps, batchId: string, o: ManifestObject, source: { versionId?: string }, copy?: { processedKey: string; sop: string; study: string; series: string; sopClass: string; ts: string }): Promise<Record<string, unknown>> {
  const { config } = deps;
  const rawKey = `originals/${batchId}/${o.key.slice(o.key.lastIndexOf('/') + 1)}`;
  const versionQuery = source.versionId && source.versionId !== 'null' ? `?versionId=${encodeURIComponent(source.versionId)}` : '';
  const archived = await deps.s3.send(new CopyObjectCommand({ Bucket: config.rawBucket, Key: rawKey, CopySource: `${config.stagingBucket}/${o.key.split('/').map(encodeURIComponent).join('/')}${versionQuery}` }));
  const out: Record<string, unknown> = { rawKey, rawVersionId: archived.VersionId ?? 'null' };
  if (copy) out['stagedKey'] = await stageCopy(deps, batchId, copy);
  return out;
}

/**
 * Stages the de-identified copy in the derived batch of `batchId` with the
 * SCP's object metadata contract (DeidentifiedOnly, and ResearchCopy with
 * ResearchImport); returns the staged key.
 */
async function stageCopy(deps: ResearchDeps, batchId: string, copy: { processedKey: string; sop: string; study: string; series: string; sopClass: string; ts: string }): Promise<string> {
  const { config } = deps;
  const derived = derivedBatchId(batchId);
  const stagedKey = `${incomingPrefixOf(derived)}${copy.sop}.dcm`;
  await deps.s3.send(new CopyObjectCommand({
    Bucket: config.stagingBucket, Key: stagedKey, CopySource: `${config.processedBucket}/${copy.processedKey}`, MetadataDirective: 'REPLACE', ContentType: 'application/dicom',
    Metadata: { 'study-instance-uid': copy.study, 'series-instance-uid': copy.series, 'sop-instance-uid': copy.sop, 'sop-class-uid': copy.sopClass, 'transfer-syntax-uid': copy.ts, 'calling-ae-title': 'DEIDENTIFIED', 'batch-id': derived },
  }));
  return stagedKey;
}

function isAwsNoSuchKey(err: unknown): boolean {
  const n = (err as { name?: string })?.name;
  return n === 'NoSuchKey' || n === 'NotFound';
}

async function upload(deps: ResearchDeps, key: string, file: string, size: number, sha256: Buffer): Promise<void> {
  const common = {
    Bucket: deps.config.processedBucket, Key: key, ContentType: 'application/dicom',
    Metadata: { sha256: sha256.toString('hex') },
  };
  if (size <= 256 * 1024 * 1024) {
    // S3 verifies the whole-object SHA-256 and stores it (GetObject ChecksumMode returns it).
    await deps.s3.send(new PutObjectCommand({ ...common, Body: createReadStream(file), ContentLength: size, ChecksumSHA256: sha256.toString('base64') }));
    return;
  }
  await new Upload({ client: deps.s3, params: { ...common, Body: createReadStream(file), ChecksumAlgorithm: 'SHA256' }, partSize: 64 * 1024 * 1024, queueSize: 4 }).done();
}

async function record(deps: ResearchDeps, batchId: string, ordinal: number, o: ManifestObject, source: { versionId?: string; etag?: string }, fields: Record<string, unknown>): Promise<void> {
  await deps.ddb.send(new PutCommand({
    TableName: deps.config.tableName,
    Item: {
      ...researchInstanceKey(batchId, ordinal), batchId, ordinal, sourceKey: o.key, sourceVersionId: source.versionId, sourceETag: source.etag,
      updatedAt: deps.now().toISOString(), ...fields,
    },
  }));
}

/** Counts the batch's records (instances without one were never processed: recorded FAILED), writes the summary, emits metrics once. */
export async function summarizeResearchBatch(deps: ResearchDeps, input: { batchId: string; plan: ResearchPlan }): Promise<ResearchSummary> {
  const { batchId, plan } = input;
  const items = await researchInstances(deps.ddb, deps.config.tableName, batchId);
  const seen = new Set(items.map((i) => Number(i['ordinal'])));
  let missing = 0;
  for (let ordinal = 0; ordinal < plan.count; ordinal++) {
    if (seen.has(ordinal)) continue;
    missing++;
    await deps.ddb.send(new PutCommand({
      TableName: deps.config.tableName,
      Item: { ...researchInstanceKey(batchId, ordinal), batchId, ordinal, status: 'FAILED', reason: 'NOT_PROCESSED', updatedAt: deps.now().toISOString(), ...failureIndexKeys(deps.now(), 'SOP', `research:${batchId}:${ordinal}`) },
      ConditionExpression: 'attribute_not_exists(pk)',
    })).catch((err: Error) => { if (err.name !== 'ConditionalCheckFailedException') throw err; });
  }
  const count = (s: string) => items.filter((i) => i['status'] === s).length;
  const copied = count('COPIED');
  const refused = count('REFUSED');
  const failed = count('FAILED') + missing;
  const status = failed === 0 ? 'COMPLETE' : 'PARTIAL';
  const previous = (await deps.ddb.send(new GetCommand({ TableName: deps.config.tableName, Key: researchBatchKey(batchId) }))).Item;
  await deps.ddb.send(new PutCommand({
    TableName: deps.config.tableName,
    Item: { ...previous, ...researchBatchKey(batchId), status, count: plan.count, copied, refused, failed, finishedAt: deps.now().toISOString() },
  }));
  if (deps.config.mode === 'DeidentifiedOnly' || deps.config.researchImport) await handOff(deps, batchId, items);
  deps.metrics.count({ ResearchInstancesCopied: copied, ResearchInstancesRefused: refused, ResearchInstancesFailed: failed, ResearchBatchesCopied: 1 });
  deps.log.info('research_batch_summarized', { batchId, status, count: plan.count, copied, refused, failed });
  return { batchId, status, count: plan.count, copied, refused, failed };
}

/**
 * DeidentifiedOnly, or ResearchCopy with ResearchImport: seals the derived
 * batch (the SCP's manifest contract, so the clinical workflow imports it:
 * into the clinical data store with DeidentifiedOnly, into the research data
 * store with ResearchImport), removes archived originals from staging
 * (DeidentifiedOnly only: with ResearchCopy the originals are imported by the
 * clinical execution that waits for this one), and notes the hand-off on the
 * original batch's record.
 */
async function handOff(deps: ResearchDeps, batchId: string, items: Record<string, unknown>[]): Promise<void> {
  const { config } = deps;
  const staged = items.filter((i) => i['status'] === 'COPIED' && typeof i['stagedKey'] === 'string');
  const derived = derivedBatchId(batchId);
  if (staged.length) {
    const now = deps.now().toISOString();
    const objects = staged.map((i) => ({
      key: i['stagedKey'] as string, sopInstanceUid: i['sopInstanceUid'] as string, sopClassUid: i['sopClassUid'] as string,
      studyInstanceUid: i['studyInstanceUid'] as string, seriesInstanceUid: i['seriesInstanceUid'] as string, transferSyntaxUid: i['transferSyntaxUid'] as string,
      callingAeTitle: 'DEIDENTIFIED', bytes: Number(i['bytesOut']), storedAt: String(i['updatedAt']),
    }));
    await deps.s3.send(new PutObjectCommand({
      Bucket: config.stagingBucket, Key: manifestKeyOf(derived), ContentType: 'application/json',
      Body: JSON.stringify({
        schemaVersion: 1, batchId: derived, prefix: incomingPrefixOf(derived), sealReason: 'files', openedAt: now, sealedAt: now,
        count: objects.length, bytes: objects.reduce((s, o) => s + o.bytes, 0), callingAeTitles: ['DEIDENTIFIED'],
        studyInstanceUids: [...new Set(objects.map((o) => o.studyInstanceUid))], objects,
      }),
    }));
  }
  const archived = items.filter((x) => typeof x['rawVersionId'] === 'string' && typeof x['sourceKey'] === 'string');
  if (config.mode === 'DeidentifiedOnly' && archived.length) {
    // ValidateBatch wrote a STAGED row for each original; its final state is "archived, not imported",
    // so a lookup by the original SOP Instance UID says where it went instead of STAGED for ever.
    const rawKeyOf = new Map(archived.map((i) => [i['sourceKey'] as string, i['rawKey'] as string]));
    const manifest = await readBatchManifest(deps.s3, config.stagingBucket, manifestKeyOf(batchId), batchId);
    await putInstanceRows(deps, manifest.objects.filter((o) => rawKeyOf.has(o.key)), (o) => ({
      status: 'ARCHIVED_ORIGINAL', batchId, sealedAt: manifest.sealedAt, movedTo: `s3://${config.rawBucket}/${rawKeyOf.get(o.key)!}`,
    }));
  }
  for (const i of archived) {
    await deps.s3.send(new DeleteObjectCommand({ Bucket: config.stagingBucket, Key: i['sourceKey'] as string }));
  }
  await deps.ddb.send(new UpdateCommand({
    TableName: config.tableName, Key: batchKey(batchId),
    UpdateExpression: config.mode === 'DeidentifiedOnly' ? 'SET deidentifiedOnly = :d, derivedBatchId = :b' : 'SET researchImport = :d, derivedBatchId = :b',
    ExpressionAttributeValues: { ':d': true, ':b': staged.length ? derived : 'none' },
  }));
  deps.log.info('research_batch_handed_off', { batchId, derivedBatchId: staged.length ? derived : undefined, staged: staged.length });
}

/** Every instance record of a research batch (paginated Query). */
export async function researchInstances(ddb: DynamoDBDocumentClient, tableName: string, batchId: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await ddb.send(new QueryCommand({
      TableName: tableName, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :sk)',
      ExpressionAttributeValues: { ':pk': researchBatchKey(batchId).pk, ':sk': RESEARCH_INSTANCE_PREFIX }, ExclusiveStartKey: start,
    }));
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

export type { DeidResult };

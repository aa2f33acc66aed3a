import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mapLimit } from '../../lambda/map-limit';

/** What the CLI needs from the stack (its Outputs) or from flags. */
export interface ResearchTarget {
  readonly processedBucket: string;
  readonly tableName: string;
  readonly defaultExpirySeconds: number;
  readonly maximumExpirySeconds: number;
  readonly researchStateMachineArn?: string;
}

export const PROCESSED_PREFIX = 'studies/';
const UID = /^[0-9]+(\.[0-9]+)*$/;

/** A refusal the CLI reports as a usage error (exit 2). */
export class ResearchCliError extends Error {
  override readonly name = 'ResearchCliError';
}

export type Selector = { key: string } | { study: string } | { study: string; series: string };

/** The processed-bucket prefix or key a selector names; anything outside studies/ is refused. */
export function selectorPrefix(sel: Selector): { prefix: string; single: boolean } {
  if ('key' in sel) {
    const k = sel.key;
    if (!k.startsWith(PROCESSED_PREFIX) || k.includes('..') || k.includes('//') || !k.endsWith('.dcm')) {
      throw new ResearchCliError('refused: only research copies (studies/<StudyUID>/series/<SeriesUID>/<SOPUID>.dcm) can be presigned');
    }
    return { prefix: k, single: true };
  }
  if (!UID.test(sel.study)) throw new ResearchCliError('--study must be a UID');
  if ('series' in sel) {
    if (!UID.test(sel.series)) throw new ResearchCliError('--series must be a UID');
    return { prefix: `${PROCESSED_PREFIX}${sel.study}/series/${sel.series}/`, single: false };
  }
  return { prefix: `${PROCESSED_PREFIX}${sel.study}/`, single: false };
}

export interface ExpiryDecision {
  readonly seconds: number;
  readonly warnings: string[];
}

/**
 * Expiry of the URLs: the request (or the stack default), capped by the
 * stack's maximum and by what is left of the signing credentials (a URL dies
 * with the session that signed it), with a warning for each cut.
 */
export function decideExpiry(requested: number | undefined, target: ResearchTarget, credentialsExpire: Date | undefined, now: Date): ExpiryDecision {
  const warnings: string[] = [];
  let seconds = requested ?? target.defaultExpirySeconds;
  if (!Number.isInteger(seconds) || seconds < 1) throw new ResearchCliError('--expires must be a positive number of seconds');
  if (seconds > target.maximumExpirySeconds) {
    warnings.push(`expiry shortened from ${seconds} s to the stack maximum ${target.maximumExpirySeconds} s (DownloadUrlMaximumExpiry)`);
    seconds = target.maximumExpirySeconds;
  }
  if (credentialsExpire) {
    const left = Math.floor((credentialsExpire.getTime() - now.getTime()) / 1000);
    if (left <= 0) throw new ResearchCliError('the signing credentials have expired: refresh them (e.g. aws sso login) and try again');
    if (seconds > left) {
      warnings.push(`expiry shortened from ${seconds} s to ${left} s: the URLs stop working when the signing credentials expire`);
      seconds = left;
    }
  }
  return { seconds, warnings };
}

export interface PresignedEntry {
  readonly key: string;
  readonly url: string;
  readonly bytes: number;
  readonly sha256?: string;
}

export interface PresignManifest {
  readonly bucket: string;
  readonly expiresAt: string;
  readonly expiresInSeconds: number;
  readonly objects: PresignedEntry[];
}

/** Presigns every research copy a selector names; one audit line per URL (no URL, no signature). */
export async function presign(
  s3: S3Client, target: ResearchTarget, sel: Selector,
  opts: { expires?: number; credentialsExpire?: Date; now?: Date; principal?: string; audit: (line: string) => void; warn: (line: string) => void },
): Promise<PresignManifest> {
  const now = opts.now ?? new Date();
  const { prefix, single } = selectorPrefix(sel);
  const expiry = decideExpiry(opts.expires, target, opts.credentialsExpire, now);
  for (const w of expiry.warnings) opts.warn(w);
  const keys: string[] = [];
  if (single) keys.push(prefix);
  else {
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: target.processedBucket, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!).filter((k) => k.endsWith('.dcm')));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    if (!keys.length) throw new ResearchCliError(`no research copies under ${prefix}`);
  }
  const expiresAt = new Date(now.getTime() + expiry.seconds * 1000).toISOString();
  const objects = await mapLimit(keys.sort(), 8, async (key) => {
    const head = await s3.send(new HeadObjectCommand({ Bucket: target.processedBucket, Key: key })).catch((err: Error) => {
      if (err.name === 'NotFound' || err.name === 'NoSuchKey') throw new ResearchCliError(`no research copy ${key}`);
      throw err;
    });
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: target.processedBucket, Key: key }), { expiresIn: expiry.seconds });
    opts.audit(JSON.stringify({ time: now.toISOString(), event: 'research_url_presigned', bucket: target.processedBucket, key, expiresAt, principal: opts.principal }));
    return { key, url, bytes: Number(head.ContentLength ?? 0), sha256: head.Metadata?.['sha256'] };
  });
  return { bucket: target.processedBucket, expiresAt, expiresInSeconds: expiry.seconds, objects };
}

export interface DownloadReport {
  readonly downloaded: string[];
  readonly skipped: string[];
  readonly failed: Array<{ key: string; reason: string }>;
}

/**
 * Downloads a presign manifest into `outDir` (keys become paths under it),
 * `concurrency` at a time, into `<file>.part` then renamed after its SHA-256
 * matched. A file already there with the right checksum is skipped, so a
 * re-run resumes.
 */
export async function download(manifest: PresignManifest, outDir: string, opts: { concurrency?: number; fetchImpl?: typeof fetch } = {}): Promise<DownloadReport> {
  const root = resolve(outDir);
  const report: DownloadReport = { downloaded: [], skipped: [], failed: [] };
  await mapLimit(manifest.objects, opts.concurrency ?? 4, async (o) => {
    const file = resolve(root, o.key);
    if (!file.startsWith(root + sep)) { report.failed.push({ key: o.key, reason: 'key escapes the output folder' }); return; }
    if (o.sha256 && existsSync(file) && (await sha256File(file)) === o.sha256) { report.skipped.push(o.key); return; }
    await mkdir(dirname(file), { recursive: true });
    const part = `${file}.part`;
    try {
      const res = await (opts.fetchImpl ?? fetch)(o.url);
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}${res.status === 403 ? ' (URL expired or credentials gone: presign again)' : ''}`);
      const hash = createHash('sha256');
      await pipeline(Readable.fromWeb(res.body as never), async function* (src: AsyncIterable<Buffer>) { for await (const c of src) { hash.update(c); yield c; } }, createWriteStream(part));
      const digest = hash.digest('hex');
      if (o.sha256 && digest !== o.sha256) throw new Error('checksum mismatch (SHA-256 differs from the research record)');
      await rename(part, file);
      report.downloaded.push(o.key);
    } catch (err) {
      await rm(part, { force: true });
      report.failed.push({ key: o.key, reason: (err as Error).message });
    }
  });
  return report;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const c of createReadStream(file)) hash.update(c as Buffer);
  return hash.digest('hex');
}

export interface BatchStatus {
  readonly batchId: string;
  readonly research?: { status: string; count: number; copied: number; refused: number; failed: number };
  readonly records: { COPIED: number; REFUSED: number; FAILED: number };
  readonly refused: Array<{ ordinal: number; reason: string }>;
  readonly failed: Array<{ ordinal: number; reason: string }>;
  readonly clinical?: { status?: string; deidentifiedOnly?: boolean; derivedBatchId?: string };
  execution?: string;
}

/** Status of a batch (an SCP batch, an upload batch or a derived one): counts per outcome from the records, refusals with reasons. */
export async function batchStatus(ddb: DynamoDBDocumentClient, target: ResearchTarget, batchId: string): Promise<BatchStatus> {
  const summary = (await ddb.send(new GetCommand({ TableName: target.tableName, Key: { pk: `RESEARCH#${batchId}`, sk: 'BATCH' } }))).Item;
  const clinical = (await ddb.send(new GetCommand({ TableName: target.tableName, Key: { pk: `BATCH#${batchId}`, sk: 'BATCH' } }))).Item;
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await ddb.send(new QueryCommand({ TableName: target.tableName, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :sk)', ExpressionAttributeValues: { ':pk': `RESEARCH#${batchId}`, ':sk': 'INSTANCE#' }, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  if (!summary && !clinical && !items.length) throw new ResearchCliError(`no batch ${batchId} in ${target.tableName}`);
  const by = (s: string) => items.filter((i) => i['status'] === s);
  const list = (s: string) => by(s).map((i) => ({ ordinal: Number(i['ordinal']), reason: String(i['reason'] ?? '') }));
  return {
    batchId,
    research: summary ? { status: String(summary['status']), count: Number(summary['count']), copied: Number(summary['copied'] ?? 0), refused: Number(summary['refused'] ?? 0), failed: Number(summary['failed'] ?? 0) } : undefined,
    records: { COPIED: by('COPIED').length, REFUSED: by('REFUSED').length, FAILED: by('FAILED').length },
    refused: list('REFUSED'),
    failed: list('FAILED'),
    clinical: clinical ? { status: clinical['status'] as string | undefined, deidentifiedOnly: clinical['deidentifiedOnly'] as boolean | undefined, derivedBatchId: clinical['derivedBatchId'] as string | undefined } : undefined,
  };
}

/** Status of a research study (by its new Study UID): copies per series. */
export async function studyStatus(ddb: DynamoDBDocumentClient, target: ResearchTarget, studyUid: string): Promise<{ studyInstanceUid: string; copies: number; series: Record<string, number>; batches: string[] }> {
  if (!UID.test(studyUid)) throw new ResearchCliError('--study must be a UID');
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await ddb.send(new QueryCommand({ TableName: target.tableName, IndexName: 'gsi1', KeyConditionExpression: 'gsi1pk = :pk', ExpressionAttributeValues: { ':pk': `RSTUDY#${studyUid}` }, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  const series: Record<string, number> = {};
  for (const i of items) series[String(i['seriesInstanceUid'])] = (series[String(i['seriesInstanceUid'])] ?? 0) + 1;
  return { studyInstanceUid: studyUid, copies: items.length, series, batches: [...new Set(items.map((i) => String(i['batchId'])))].sort() };
}

export const joinKey = (root: string, key: string) => join(root, ...key.split('/'));

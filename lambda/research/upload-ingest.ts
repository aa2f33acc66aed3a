import { createHash, randomBytes } from 'node:crypto';
import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { incomingPrefixOf, manifestKeyOf } from '../batch-id';
import type { ManifestObject } from '../batch-manifest';
import { mapLimit } from '../map-limit';
import type { Logger } from '../logger';
import type { ResearchMetrics } from './metrics';

/** Prefix users upload to (any folder structure, any name). */
export const UPLOAD_PREFIX = 'uploads/';
/** Where refused uploads go, with `<key>.reason.json` beside them. */
export const FAILED_UPLOAD_PREFIX = 'failed/uploads/';

export interface UploadIngestDeps {
  readonly s3: S3Client;
  readonly stagingBucket: string;
  readonly log: Logger;
  readonly metrics: ResearchMetrics;
  readonly now: () => Date;
  /** Largest object accepted (CopyObject limit: 5 GB). */
  readonly maxObjectBytes: number;
  /** Batch limits (the SCP's defaults: 1000 files, 10 GiB). */
  readonly maxBatchFiles: number;
  readonly maxBatchBytes: number;
}

export type UploadRefusal = 'NOT_DICOM' | 'NO_FILE_META' | 'MISSING_UIDS' | 'TOO_LARGE' | 'EMPTY';

export interface UploadHeader {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly transferSyntaxUid: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
}

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UID = /^[0-9]+(\.[0-9]+)*$/;

/**
 * Part-10 check on the first bytes of an object: 128-byte preamble, "DICM",
 * an explicit-VR little-endian file meta group with SOP Class / Instance UIDs
 * and the transfer syntax; Study / Series UIDs from the top of an explicit-VR
 * little-endian dataset when they are within the bytes read (else empty).
 */
export function readUploadHeader(head: Buffer): UploadHeader | UploadRefusal {
  if (head.length < 132 || head.toString('latin1', 128, 132) !== 'DICM') return 'NOT_DICOM';
  const values = new Map<number, string>();
  let pos = 132;
  let metaEnd = -1;
  let explicit = true;
  const read = (inMeta: boolean): boolean => {
    if (pos + 8 > head.length) return false;
    const tag = ((head.readUInt16LE(pos) << 16) | head.readUInt16LE(pos + 2)) >>> 0;
    if (inMeta && tag >>> 16 !== 0x0002) return false;
    if (!explicit) return false;
    const vr = head.toString('latin1', pos + 4, pos + 6);
    if (!/^[A-Z]{2}$/.test(vr)) return false;
    let len: number;
    let start: number;
    if (LONG_VRS.has(vr)) {
      if (pos + 12 > head.length) return false;
      len = head.readUInt32LE(pos + 8);
      start = pos + 12;
    } else {
      len = head.readUInt16LE(pos + 6);
      start = pos + 8;
    }
    if (len === 0xffffffff || start + len > head.length) return false;
    if (vr === 'UI') values.set(tag, head.toString('latin1', start, start + len).replace(/[\0 ]+$/, ''));
    if (tag === 0x00020000 && vr === 'UL' && len === 4) metaEnd = start + 4 + head.readUInt32LE(start);
    pos = start + len;
    return true;
  };
  while (read(true)) { /* file meta */ }
  if (metaEnd < 0 || pos !== metaEnd) return 'NO_FILE_META';
  const ts = values.get(0x00020010) ?? '';
  explicit = ts === '1.2.840.10008.1.2.1' || ts.startsWith('1.2.840.10008.1.2.4') || ts === '1.2.840.10008.1.2.5';
  while (read(false)) { if (values.has(0x0020000e)) break; }
  const header = {
    sopClassUid: values.get(0x00020002) ?? '', sopInstanceUid: values.get(0x00020003) ?? '', transferSyntaxUid: ts,
    studyInstanceUid: values.get(0x0020000d) ?? '', seriesInstanceUid: values.get(0x0020000e) ?? '',
  };
  for (const uid of [header.sopClassUid, header.sopInstanceUid, header.transferSyntaxUid]) if (!UID.test(uid) || uid.length > 64) return 'MISSING_UIDS';
  return header;
}

interface SqsEvent { Records: Array<{ messageId: string; body: string }> }

/**
 * One invocation = up to the event source's batch of S3 "Object Created"
 * events under uploads/ (SQS batching window = quiet period, batch size =
 * count): valid instances are moved into new batches (split at the file and
 * byte limits) sealed with the SCP's manifest contract, so they flow through
 * the same workflow; anything else is moved to failed/uploads/ with a
 * .reason.json and counted. Object keys are never logged (users name files
 * after patients).
 */
export async function ingestUploads(deps: UploadIngestDeps, event: SqsEvent): Promise<{ batchItemFailures: Array<{ itemIdentifier: string }>; sealed: string[] }> {
  const failures: Array<{ itemIdentifier: string }> = [];
  const accepted: Array<{ messageId: string; key: string; size: number; header: UploadHeader }> = [];
  let rejected = 0;
  await mapLimit(event.Records, 8, async (record) => {
    let key: string;
    try {
      const body = JSON.parse(record.body) as { detail?: { bucket?: { name?: string }; object?: { key?: string } } };
      key = body.detail?.object?.key ?? '';
      if (body.detail?.bucket?.name !== deps.stagingBucket || !key.startsWith(UPLOAD_PREFIX) || key.endsWith('/')) return; // not ours: drop
    } catch {
      return; // unparseable message: nothing to move
    }
    try {
      const head = await deps.s3.send(new HeadObjectCommand({ Bucket: deps.stagingBucket, Key: key }));
      const size = Number(head.ContentLength ?? 0);
      let verdict: UploadHeader | UploadRefusal;
      if (size === 0) verdict = 'EMPTY';
      else if (size > deps.maxObjectBytes) verdict = 'TOO_LARGE';
      else {
        const got = await deps.s3.send(new GetObjectCommand({ Bucket: deps.stagingBucket, Key: key, Range: `bytes=0-${Math.min(size, 256 * 1024) - 1}` }));
        verdict = readUploadHeader(Buffer.from(await got.Body!.transformToByteArray()));
      }
      if (typeof verdict === 'string') {
        await quarantine(deps, key, size, verdict);
        rejected++;
      } else {
        accepted.push({ messageId: record.messageId, key, size, header: verdict });
      }
    } catch (err) {
      if ((err as Error).name === 'NotFound' || (err as Error).name === 'NoSuchKey') return; // already moved by an earlier delivery
      deps.log.error('upload_check_failed', { errorName: (err as Error).name });
      failures.push({ itemIdentifier: record.messageId });
    }
  });

  // Duplicate SOP Instance UIDs within one batch would collide in incoming/: the later ones wait for the next batch.
  const batches: Array<typeof accepted> = [];
  let current: typeof accepted = [];
  let bytes = 0;
  const seen = new Set<string>();
  for (const a of accepted) {
    if (seen.has(a.header.sopInstanceUid)) { failures.push({ itemIdentifier: a.messageId }); continue; }
    if (current.length && (current.length >= deps.maxBatchFiles || bytes + a.size > deps.maxBatchBytes)) { batches.push(current); current = []; bytes = 0; seen.clear(); }
    current.push(a); bytes += a.size; seen.add(a.header.sopInstanceUid);
  }
  if (current.length) batches.push(current);

  const sealed: string[] = [];
  let acceptedCount = 0;
  for (const [i, batch] of batches.entries()) {
    const batchId = uploadBatchId(deps.now(), i);
    const objects: ManifestObject[] = [];
    try {
      await mapLimit(batch, 8, async (a) => {
        const target = `${incomingPrefixOf(batchId)}${a.header.sopInstanceUid}.dcm`;
        await deps.s3.send(new CopyObjectCommand({
          Bucket: deps.stagingBucket, Key: target, CopySource: `${deps.stagingBucket}/${a.key.split('/').map(encodeURIComponent).join('/')}`,
          MetadataDirective: 'REPLACE', ContentType: 'application/dicom',
          Metadata: { 'study-instance-uid': a.header.studyInstanceUid, 'series-instance-uid': a.header.seriesInstanceUid, 'sop-instance-uid': a.header.sopInstanceUid, 'sop-class-uid': a.header.sopClassUid, 'transfer-syntax-uid': a.header.transferSyntaxUid, 'calling-ae-title': 'S3-UPLOAD', 'batch-id': batchId },
        }));
        objects.push({ key: target, sopInstanceUid: a.header.sopInstanceUid, sopClassUid: a.header.sopClassUid, studyInstanceUid: a.header.studyInstanceUid, seriesInstanceUid: a.header.seriesInstanceUid, transferSyntaxUid: a.header.transferSyntaxUid, callingAeTitle: 'S3-UPLOAD', bytes: a.size, storedAt: deps.now().toISOString() });
      });
      objects.sort((x, y) => x.key.localeCompare(y.key));
      const now = deps.now().toISOString();
      // The manifest last: its Object Created event starts the workflow (the SCP's seal contract).
      await deps.s3.send(new PutObjectCommand({
        Bucket: deps.stagingBucket, Key: manifestKeyOf(batchId), ContentType: 'application/json',
        Body: JSON.stringify({ schemaVersion: 1, batchId, prefix: incomingPrefixOf(batchId), sealReason: batch.length >= deps.maxBatchFiles ? 'files' : 'quiet', openedAt: now, sealedAt: now, count: objects.length, bytes: objects.reduce((s, o) => s + o.bytes, 0), callingAeTitles: ['S3-UPLOAD'], studyInstanceUids: [...new Set(objects.map((o) => o.studyInstanceUid).filter(Boolean))], objects }),
      }));
      for (const a of batch) await deps.s3.send(new DeleteObjectCommand({ Bucket: deps.stagingBucket, Key: a.key }));
      sealed.push(batchId);
      acceptedCount += batch.length;
      deps.log.info('upload_batch_sealed', { batchId, count: objects.length });
    } catch (err) {
      // Nothing is lost: the uploads stay, their messages come back; the half-written batch has no manifest (the sweeper may seal it, and the retry makes a new one).
      deps.log.error('upload_batch_failed', { batchId, errorName: (err as Error).name });
      for (const a of batch) failures.push({ itemIdentifier: a.messageId });
    }
  }
  deps.metrics.count({ UploadObjectsAccepted: acceptedCount, UploadObjectsRejected: rejected, UploadBatchesSealed: sealed.length });
  return { batchItemFailures: failures, sealed };
}

async function quarantine(deps: UploadIngestDeps, key: string, size: number, reason: UploadRefusal): Promise<void> {
  const target = `${FAILED_UPLOAD_PREFIX}${key.slice(UPLOAD_PREFIX.length)}`;
  await deps.s3.send(new CopyObjectCommand({ Bucket: deps.stagingBucket, Key: target, CopySource: `${deps.stagingBucket}/${key.split('/').map(encodeURIComponent).join('/')}` }));
  const detail: Record<UploadRefusal, string> = {
    NOT_DICOM: 'not a DICOM Part-10 file: no 128-byte preamble followed by "DICM"',
    NO_FILE_META: 'the file meta information (group 0002) is truncated, not explicit VR little endian, or its group length is wrong',
    MISSING_UIDS: 'Media Storage SOP Class UID, SOP Instance UID or Transfer Syntax UID missing or not a UID',
    TOO_LARGE: `larger than the per-file limit of ${deps.maxObjectBytes} bytes`,
    EMPTY: 'the object is empty',
  };
  await deps.s3.send(new PutObjectCommand({
    Bucket: deps.stagingBucket, Key: `${target}.reason.json`, ContentType: 'application/json',
    Body: JSON.stringify({ reason, detail: detail[reason], bytes: size, uploadedKey: key, quarantinedAt: deps.now().toISOString() }),
  }));
  await deps.s3.send(new DeleteObjectCommand({ Bucket: deps.stagingBucket, Key: key }));
  deps.log.warn('upload_refused', { reason, bytes: size, keyHash: createHash('sha256').update(key).digest('hex').slice(0, 12) });
}

/** `<time>-up<6 hex>-<seq>`: a valid batch id that is never an SCP's (its middle part is 8 hex digits) nor a derived one. */
export function uploadBatchId(now: Date, seq: number): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.[0-9]+Z$/, 'Z');
  return `${stamp}-up${randomBytes(3).toString('hex')}-${String(seq + 1).padStart(6, '0')}`;
}

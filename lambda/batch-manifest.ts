import Ajv from 'ajv';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BATCH_ID_PATTERN, incomingPrefixOf } from './batch-id';
import { BatchNotReadyError, BatchValidationError, isAwsError } from './errors';

/** One staged instance of a batch manifest (docs/data-contracts.md). */
export interface ManifestObject {
  readonly key: string;
  readonly sopInstanceUid: string;
  readonly sopClassUid: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly transferSyntaxUid: string;
  readonly callingAeTitle: string;
  readonly bytes: number;
  readonly storedAt: string;
}

export interface BatchManifest {
  readonly schemaVersion: 1;
  readonly batchId: string;
  readonly prefix: string;
  readonly sealReason: 'files' | 'bytes' | 'quiet' | 'shutdown' | 'sweeper';
  readonly openedAt: string;
  readonly sealedAt: string;
  readonly count: number;
  readonly bytes: number;
  readonly callingAeTitles: string[];
  readonly studyInstanceUids: string[];
  readonly objects: ManifestObject[];
}

const str = { type: 'string' } as const;
const schema = {
  type: 'object',
  required: ['schemaVersion', 'batchId', 'prefix', 'sealReason', 'sealedAt', 'count', 'bytes', 'objects'],
  properties: {
    schemaVersion: { const: 1 }, batchId: { type: 'string', pattern: BATCH_ID_PATTERN.source }, prefix: str,
    sealReason: { enum: ['files', 'bytes', 'quiet', 'shutdown', 'sweeper'] }, openedAt: str, sealedAt: str,
    count: { type: 'integer', minimum: 1, maximum: 5000 }, bytes: { type: 'integer', minimum: 0 },
    callingAeTitles: { type: 'array', items: str }, studyInstanceUids: { type: 'array', items: str },
    objects: {
      type: 'array', minItems: 1, maxItems: 5000,
      items: {
        type: 'object', required: ['key', 'sopInstanceUid', 'bytes'],
        properties: { key: str, sopInstanceUid: { type: 'string', minLength: 1 }, sopClassUid: str, studyInstanceUid: str, seriesInstanceUid: str, transferSyntaxUid: str, callingAeTitle: str, bytes: { type: 'integer', minimum: 0 }, storedAt: str },
      },
    },
  },
} as const;
const validateShape = new Ajv({ allErrors: true }).compile(schema);

/** Checks the manifest against the contract; lists every problem. */
export function parseBatchManifest(text: string, expectedBatchId: string): BatchManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new BatchValidationError(`manifest of ${expectedBatchId} is not JSON`, { cause: err });
  }
  if (!validateShape(doc)) {
    const detail = (validateShape.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    throw new BatchValidationError(`manifest of ${expectedBatchId} breaks the contract: ${detail}`);
  }
  const m = doc as unknown as BatchManifest;
  const problems: string[] = [];
  if (m.batchId !== expectedBatchId) problems.push(`batchId ${m.batchId} != ${expectedBatchId}`);
  if (m.prefix !== incomingPrefixOf(m.batchId)) problems.push(`prefix ${m.prefix} != ${incomingPrefixOf(m.batchId)}`);
  if (m.count !== m.objects.length) problems.push(`count ${m.count} != objects.length ${m.objects.length}`);
  const sum = m.objects.reduce((s, o) => s + o.bytes, 0);
  if (m.bytes !== sum) problems.push(`bytes ${m.bytes} != sum of objects ${sum}`);
  const outside = m.objects.filter((o) => !o.key.startsWith(m.prefix)).map((o) => o.key);
  if (outside.length) problems.push(`objects outside the prefix: ${outside.slice(0, 5).join(', ')}`);
  if (new Set(m.objects.map((o) => o.key)).size !== m.objects.length) problems.push('duplicate object keys');
  if (problems.length) throw new BatchValidationError(`manifest of ${expectedBatchId} is inconsistent: ${problems.join('; ')}`);
  return m;
}

/** Reads and parses `batches/<batchId>.json`; a missing manifest is "not ready" (retried), then invalid. */
export async function readBatchManifest(s3: S3Client, bucket: string, key: string, batchId: string): Promise<BatchManifest> {
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return parseBatchManifest(await res.Body!.transformToString(), batchId);
  } catch (err) {
    if (isAwsError(err, 'NoSuchKey', 'NotFound')) throw new BatchNotReadyError(`manifest s3://${bucket}/${key} not found`, { cause: err });
    throw err;
  }
}

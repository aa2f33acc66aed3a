import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { ImportOutputInvalidError, ImportOutputNotReadyError, isAwsError } from './errors';
import { parseS3Uri, withSlash } from './s3-uri';

/** `jobSummary` of job-output-manifest.json (REFERENCE §2), fields we use. */
export interface JobSummary {
  readonly jobId?: string;
  readonly numberOfScannedFiles?: number;
  readonly numberOfImportedFiles?: number;
  readonly numberOfFilesWithCustomerError?: number;
  readonly numberOfFilesWithServerError?: number;
  readonly numberOfGeneratedImageSets?: number;
  readonly successOutputS3Uri?: string;
  readonly failureOutputS3Uri?: string;
  readonly warningsOutputS3Uri?: string;
  readonly imageSetsSummary?: { imageSetId: string; numberOfMatchedSOPInstances?: number; isPrimary?: boolean }[];
}

export interface ImportedFile { readonly inputFile: string; readonly imageSetId: string; readonly isPrimary?: boolean; readonly warnings?: unknown[] }
export interface FailedFile { readonly inputFile: string; readonly exceptionType: string; readonly message: string }

export interface ImportOutput {
  readonly folder: { bucket: string; prefix: string };
  readonly summary: JobSummary;
  readonly imported: ImportedFile[];
  readonly warned: ImportedFile[];
  readonly failed: FailedFile[];
}

/**
 * The job's output folder. GetDICOMImportJob may return the outputS3Uri as
 * given or with `{datastoreId}-DicomImport-{jobId}/` already appended.
 */
export function outputFolderOf(outputS3Uri: string, datastoreId: string, jobId: string): { bucket: string; prefix: string } {
  const parsed = parseS3Uri(outputS3Uri);
  if (!parsed) throw new ImportOutputInvalidError(`outputS3Uri ${outputS3Uri} is not an s3:// URI`);
  const leaf = `${datastoreId}-DicomImport-${jobId}/`;
  const prefix = withSlash(parsed.key);
  return { bucket: parsed.bucket, prefix: prefix.endsWith(leaf) ? prefix : `${prefix}${leaf}` };
}

/** Reads the manifest and the SUCCESS / WARNING / FAILURE ndjson files of one job. */
export async function readImportOutput(s3: S3Client, outputS3Uri: string, datastoreId: string, jobId: string): Promise<ImportOutput> {
  const folder = outputFolderOf(outputS3Uri, datastoreId, jobId);
  const manifestKey = `${folder.prefix}job-output-manifest.json`;
  let summary: JobSummary;
  try {
    const body = await s3.send(new GetObjectCommand({ Bucket: folder.bucket, Key: manifestKey }));
    summary = (JSON.parse(await body.Body!.transformToString()) as { jobSummary?: JobSummary }).jobSummary ?? {};
  } catch (err) {
    if (isAwsError(err, 'NoSuchKey')) throw new ImportOutputNotReadyError(`s3://${folder.bucket}/${manifestKey} not found yet`, { cause: err });
    if (err instanceof SyntaxError) throw new ImportOutputInvalidError(`s3://${folder.bucket}/${manifestKey} is not JSON`, { cause: err });
    throw err;
  }
  const loc = (given: string | undefined, dflt: string, file: string) => {
    const p = given ? parseS3Uri(given) : undefined;
    if (!p) return { bucket: folder.bucket, key: `${folder.prefix}${dflt}/${file}` };
    return { bucket: p.bucket, key: p.key.endsWith('.ndjson') ? p.key : `${withSlash(p.key)}${file}` };
  };
  const success = await readNdjson(s3, loc(summary.successOutputS3Uri, 'SUCCESS', 'success.ndjson'));
  const warning = await readNdjson(s3, loc(summary.warningsOutputS3Uri, 'WARNING', 'warning.ndjson'));
  const failure = await readNdjson(s3, loc(summary.failureOutputS3Uri, 'FAILURE', 'failure.ndjson'));
  const asImported = (l: Record<string, any>): ImportedFile => ({
    inputFile: String(l['inputFile']), imageSetId: String(l['importResponse']?.imageSetId ?? ''),
    ...(typeof l['importResponse']?.isPrimary === 'boolean' ? { isPrimary: l['importResponse'].isPrimary } : {}),
    ...(Array.isArray(l['warnings']) ? { warnings: l['warnings'] } : {}),
  });
  return {
    folder, summary,
    imported: success.map(asImported),
    warned: warning.map(asImported),
    failed: failure.map((l) => ({ inputFile: String(l['inputFile']), exceptionType: String(l['exception']?.exceptionType ?? 'Unknown'), message: String(l['exception']?.message ?? '') })),
  };
}

/** Streams an ndjson object line by line; a missing file is an empty list. */
async function readNdjson(s3: S3Client, at: { bucket: string; key: string }): Promise<Record<string, any>[]> {
  let body: Readable;
  try {
    body = (await s3.send(new GetObjectCommand({ Bucket: at.bucket, Key: at.key }))).Body as Readable;
  } catch (err) {
    if (isAwsError(err, 'NoSuchKey')) return [];
    throw err;
  }
  const out: Record<string, any>[] = [];
  let n = 0;
  for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
    n += 1;
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as Record<string, any>);
    } catch (err) {
      throw new ImportOutputInvalidError(`s3://${at.bucket}/${at.key} line ${n} is not JSON`, { cause: err });
    }
  }
  return out;
}

/**
 * The staging key an output line names. HealthImaging reports `inputFile`
 * as an s3:// URI, a bucket-relative key, or a path relative to the input
 * prefix; all three map to the same key.
 */
export function stagingKeyOf(inputFile: string, prefix: string): string {
  const parsed = parseS3Uri(inputFile);
  const key = parsed ? parsed.key : inputFile.replace(/^\/+/, '');
  return key.startsWith(prefix) ? key : `${prefix}${key}`;
}

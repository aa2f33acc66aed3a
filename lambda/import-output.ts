import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
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
  readonly imageSetsSummary?: { imageSetId: string; numberOfMatchedSOPInstances?: number; isPrimary?: boolean; imageSetVersion?: number }[];
}

/** One warning of warning.ndjson (page "Warning codes": reasonCode 0xB000–0xB201). */
export interface ImportWarning { readonly reasonCode?: string; readonly type?: string; readonly message?: string }

/** A line of SUCCESS/*.ndjson, its inputFile already mapped to a manifest key. */
export interface SucceededFile { readonly key: string; readonly imageSetId: string; readonly isPrimary: boolean }
/** A line of WARNING/*.ndjson: read with its own reader, never as a success line. */
export interface WarnedFile { readonly key: string; readonly imageSetId?: string; readonly isPrimary?: boolean; readonly warnings: readonly ImportWarning[] }
/** A line of FAILURE/*.ndjson; `server` when HealthImaging's side failed (a redrive may succeed). */
export interface FailedFile { readonly key: string; readonly exceptionType: string; readonly message: string; readonly server: boolean }

/** The job output after it has been checked against its own summary and the batch manifest. */
export interface ReconciledOutput {
  readonly folder: { bucket: string; prefix: string };
  readonly summary: JobSummary;
  readonly succeeded: readonly SucceededFile[];
  readonly warned: readonly WarnedFile[];
  readonly failed: readonly FailedFile[];
}

export interface ReconcileInput {
  readonly outputS3Uri: string;
  readonly datastoreId: string;
  readonly jobId: string;
  /** The staging prefix of the batch (`incoming/<batchId>/`). */
  readonly prefix: string;
  /** Keys of the batch manifest: every inputFile must name one of them. */
  readonly expectedKeys: ReadonlySet<string>;
  /** Files the job was given: the manifest count, or the server-error files a follow-up job re-imports. */
  readonly expectedFiles: number;
}

/**
 * Exception types of failure.ndjson counted as server-side. The page
 * "Understanding import jobs" documents numberOfFilesWithServerError but not
 * the per-line type, so the classification is checked against that count:
 * a disagreement is an ImportOutputInvalidError, never a guess.
 */
const SERVER_EXCEPTION = /InternalServer|ServerError|ServiceUnavailable|Throttl|Timeout/i;

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

/**
 * Reads job-output-manifest.json and every `*.ndjson` under SUCCESS/,
 * WARNING/ and FAILURE/ (listed, no file name assumed), then fails closed:
 * the summary counts must agree with the lines read and with the batch
 * (success + failure + warning-only lines = numberOfScannedFiles = expected
 * keys; success (+ warning-only) = numberOfImportedFiles; failure lines =
 * customer + server errors, server lines = numberOfFilesWithServerError),
 * and every inputFile must name an expected key. Any disagreement raises
 * ImportOutputInvalidError naming every problem; nothing is acted on.
 */
export async function reconcileImportOutput(s3: S3Client, input: ReconcileInput): Promise<ReconciledOutput> {
  const folder = outputFolderOf(input.outputS3Uri, input.datastoreId, input.jobId);
  const summary = await readSummary(s3, folder);
  const problems: string[] = [];
  const counts = {
    scanned: summary.numberOfScannedFiles, imported: summary.numberOfImportedFiles,
    customer: summary.numberOfFilesWithCustomerError, server: summary.numberOfFilesWithServerError,
  };
  for (const [name, v] of Object.entries(counts)) if (!Number.isInteger(v) || (v as number) < 0) problems.push(`jobSummary has no count ${name}`);
  if (problems.length) throw new ImportOutputInvalidError(`job ${input.jobId} output has an unknown layout: ${problems.join('; ')}`);

  const where = (given: string | undefined, dflt: string) => {
    const p = given ? parseS3Uri(given) : undefined;
    return p ? { bucket: p.bucket, prefix: p.key.endsWith('.ndjson') ? p.key : withSlash(p.key) } : { bucket: folder.bucket, prefix: `${folder.prefix}${dflt}/` };
  };
  const [successLines, warningLines, failureLines] = await Promise.all([
    readFolder(s3, where(summary.successOutputS3Uri, 'SUCCESS')),
    readFolder(s3, where(summary.warningsOutputS3Uri, 'WARNING')),
    readFolder(s3, where(summary.failureOutputS3Uri, 'FAILURE')),
  ]);

  const keyOf = (line: Record<string, any>, file: string): string => {
    const inputFile = line['inputFile'];
    if (typeof inputFile !== 'string' || inputFile === '') {
      problems.push(`${file}: a line has no inputFile`);
      return '';
    }
    const key = stagingKeyOf(inputFile, input.prefix);
    if (!input.expectedKeys.has(key)) problems.push(`${file}: inputFile ${inputFile} is not an object of this batch`);
    return key;
  };
  const succeeded: SucceededFile[] = successLines.map(({ line, file }) => {
    const r = line['importResponse'];
    if (typeof r?.imageSetId !== 'string' || r.imageSetId === '' || typeof r?.isPrimary !== 'boolean') problems.push(`${file}: a success line has no importResponse.imageSetId / isPrimary`);
    return { key: keyOf(line, file), imageSetId: String(r?.imageSetId ?? ''), isPrimary: r?.isPrimary !== false };
  });
  const warned: WarnedFile[] = warningLines.map(({ line, file }) => {
    const r = line['importResponse'];
    const warnings = Array.isArray(line['warnings']) ? (line['warnings'] as ImportWarning[]) : [];
    if (!warnings.length) problems.push(`${file}: a warning line has no warnings`);
    return {
      key: keyOf(line, file), warnings,
      ...(typeof r?.imageSetId === 'string' && r.imageSetId ? { imageSetId: r.imageSetId } : {}),
      ...(typeof r?.isPrimary === 'boolean' ? { isPrimary: r.isPrimary } : {}),
    };
  });
  const failed: FailedFile[] = failureLines.map(({ line, file }) => {
    const type = String(line['exception']?.exceptionType ?? '');
    if (!type) problems.push(`${file}: a failure line has no exception.exceptionType`);
    return { key: keyOf(line, file), exceptionType: type || 'Unknown', message: String(line['exception']?.message ?? ''), server: SERVER_EXCEPTION.test(type) };
  });

  const dupes = (keys: string[]) => keys.filter((k, i) => keys.indexOf(k) !== i);
  const successKeys = new Set(succeeded.map((s) => s.key));
  const failedKeys = new Set(failed.map((f) => f.key));
  if (dupes(succeeded.map((s) => s.key)).length || dupes(failed.map((f) => f.key)).length) problems.push('a file is reported twice in the same outcome');
  const both = [...successKeys].filter((k) => failedKeys.has(k));
  if (both.length) problems.push(`${both.length} file(s) are reported both imported and failed`);
  const warningOnly = new Set(warned.map((w) => w.key).filter((k) => !successKeys.has(k) && !failedKeys.has(k)));
  const warnedFailed = warned.filter((w) => failedKeys.has(w.key)).length;
  if (warnedFailed) problems.push(`${warnedFailed} warning line(s) name a failed file`);
  const warnedOnlyWithoutSet = warned.filter((w) => warningOnly.has(w.key) && !w.imageSetId).length;
  if (warnedOnlyWithoutSet) problems.push(`${warnedOnlyWithoutSet} warning-only line(s) have no imageSetId`);

  const reported = successKeys.size + failedKeys.size + warningOnly.size;
  if (reported !== counts.scanned) problems.push(`numberOfScannedFiles ${counts.scanned} != ${reported} files reported`);
  if (counts.scanned !== input.expectedFiles) problems.push(`numberOfScannedFiles ${counts.scanned} != ${input.expectedFiles} files given to the job`);
  // Not documented whether a warning-only file is counted as imported: accept either reading, nothing else.
  if (counts.imported !== successKeys.size && counts.imported !== successKeys.size + warningOnly.size) problems.push(`numberOfImportedFiles ${counts.imported} != ${successKeys.size} success lines (+${warningOnly.size} warning-only)`);
  if (failed.length !== counts.customer! + counts.server!) problems.push(`failure lines ${failed.length} != customer ${counts.customer} + server ${counts.server} errors`);
  const serverLines = failed.filter((f) => f.server).length;
  if (serverLines !== counts.server) problems.push(`${serverLines} failure line(s) read as server errors != numberOfFilesWithServerError ${counts.server}`);
  if (problems.length) {
    const shown = [...new Set(problems)];
    throw new ImportOutputInvalidError(`job ${input.jobId} output does not reconcile: ${shown.slice(0, 8).join('; ')}${shown.length > 8 ? `; and ${shown.length - 8} more` : ''}`);
  }
  return { folder, summary, succeeded, warned, failed };
}

async function readSummary(s3: S3Client, folder: { bucket: string; prefix: string }): Promise<JobSummary> {
  const key = `${folder.prefix}job-output-manifest.json`;
  try {
    const body = await s3.send(new GetObjectCommand({ Bucket: folder.bucket, Key: key }));
    const doc = JSON.parse(await body.Body!.transformToString()) as { jobSummary?: JobSummary };
    if (!doc || typeof doc.jobSummary !== 'object' || doc.jobSummary === null) throw new ImportOutputInvalidError(`s3://${folder.bucket}/${key} has no jobSummary`);
    return doc.jobSummary;
  } catch (err) {
    if (isAwsError(err, 'NoSuchKey')) throw new ImportOutputNotReadyError(`s3://${folder.bucket}/${key} not found yet`, { cause: err });
    if (err instanceof SyntaxError) throw new ImportOutputInvalidError(`s3://${folder.bucket}/${key} is not JSON`, { cause: err });
    throw err;
  }
}

/** Every line of every `*.ndjson` object under a folder (or the one object named). */
async function readFolder(s3: S3Client, at: { bucket: string; prefix: string }): Promise<{ line: Record<string, any>; file: string }[]> {
  const keys: string[] = [];
  if (at.prefix.endsWith('.ndjson')) keys.push(at.prefix);
  else {
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: at.bucket, Prefix: at.prefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!).filter((k) => k.endsWith('.ndjson')));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
  const out: { line: Record<string, any>; file: string }[] = [];
  for (const key of keys.sort()) {
    const file = key.slice(key.lastIndexOf('/', key.lastIndexOf('/') - 1) + 1);
    for (const line of await readNdjson(s3, { bucket: at.bucket, key })) out.push({ line, file });
  }
  return out;
}

/** Streams an ndjson object line by line; a listed object that vanished is an error, not "no lines". */
async function readNdjson(s3: S3Client, at: { bucket: string; key: string }): Promise<Record<string, any>[]> {
  let body: Readable;
  try {
    body = (await s3.send(new GetObjectCommand({ Bucket: at.bucket, Key: at.key }))).Body as Readable;
  } catch (err) {
    if (isAwsError(err, 'NoSuchKey')) throw new ImportOutputInvalidError(`s3://${at.bucket}/${at.key} was listed but cannot be read`, { cause: err });
    throw err;
  }
  const out: Record<string, any>[] = [];
  let n = 0;
  for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
    n += 1;
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (err) {
      throw new ImportOutputInvalidError(`s3://${at.bucket}/${at.key} line ${n} is not JSON`, { cause: err });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ImportOutputInvalidError(`s3://${at.bucket}/${at.key} line ${n} is not a JSON object`);
    out.push(parsed as Record<string, any>);
  }
  return out;
}

/**
 * The staging key an output line names. HealthImaging reports `inputFile`
 * as an s3:// URI, a bucket-relative key, or a path relative to the input
 * prefix; all three map to the same key (whether it is one of the batch's is
 * checked by the caller).
 */
export function stagingKeyOf(inputFile: string, prefix: string): string {
  const parsed = parseS3Uri(inputFile);
  const key = parsed ? parsed.key : inputFile.replace(/^\/+/, '');
  return key.startsWith(prefix) ? key : `${prefix}${key}`;
}

/** What a FAILED job left behind: its summary and per-file failures, when it wrote any. */
export interface FailedJobOutput {
  readonly summary?: JobSummary;
  readonly failures: ReadonlyMap<string, { readonly exceptionType: string; readonly message: string }>;
}

/**
 * Reads whatever output a FAILED job wrote ("a FAILED job may still write
 * output", REFERENCE §2) for the record only: nothing is moved on it, so it
 * is read leniently; a missing or unreadable output is an empty result.
 */
export async function readFailedJobOutput(s3: S3Client, input: Omit<ReconcileInput, 'expectedKeys' | 'expectedFiles'>): Promise<FailedJobOutput> {
  const failures = new Map<string, { exceptionType: string; message: string }>();
  try {
    const folder = outputFolderOf(input.outputS3Uri, input.datastoreId, input.jobId);
    const summary = await readSummary(s3, folder);
    const at = summary.failureOutputS3Uri ? parseS3Uri(summary.failureOutputS3Uri) : undefined;
    const lines = await readFolder(s3, at ? { bucket: at.bucket, prefix: at.key.endsWith('.ndjson') ? at.key : withSlash(at.key) } : { bucket: folder.bucket, prefix: `${folder.prefix}FAILURE/` });
    for (const { line } of lines) {
      if (typeof line['inputFile'] !== 'string') continue;
      failures.set(stagingKeyOf(line['inputFile'], input.prefix), { exceptionType: String(line['exception']?.exceptionType ?? 'Unknown'), message: String(line['exception']?.message ?? '') });
    }
    return { summary, failures };
  } catch {
    return { failures };
  }
}

import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { readDicomAttributes, type DicomAttributes } from './dicom-attributes';

/** One import job as the stand-in keeps it (GetDICOMImportJob's jobProperties). */
export interface StandInJob {
  jobId: string;
  jobName?: string;
  jobStatus: 'SUBMITTED' | 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
  datastoreId: string;
  dataAccessRoleArn: string;
  clientToken: string;
  inputS3Uri: string;
  outputS3Uri: string;
  submittedAt: Date;
  endedAt?: Date;
  message?: string;
  /** Set when the test told the stand-in to fail this job. */
  failWith?: string;
  /** Unhappy shapes the test asked for (see JobFaults). */
  faults?: JobFaults;
}

/** Output faults a test can ask of one job: shapes the reader must refuse, and a late completion. */
export interface JobFaults {
  /** Leave out these output files (a layout change, a partial write). */
  readonly omit?: readonly ('SUCCESS' | 'FAILURE' | 'WARNING' | 'manifest')[];
  /** Add this to numberOfScannedFiles in the summary (a count that does not reconcile). */
  readonly scannedSkew?: number;
  /** Report inputFile in a form no documented reading maps to a batch key. */
  readonly foreignInputFile?: boolean;
  /** Stay IN_PROGRESS this long before running (a job that outlasts the workflow's wait bound). */
  readonly runAfterMs?: number;
}

/** A warning line's entries (page "Warning codes"). */
export interface StandInWarning { readonly reasonCode: string; readonly type: string; readonly message: string }

/** How the job reports a warned file (the page does not say whether it is also in success.ndjson). */
export type WarningStyle = 'success-and-warning' | 'warning-only';

export interface RunnerOptions {
  readonly maxFiles: number;
  /** Warnings for a file; default: 0xB120 for transfer syntaxes HealthImaging stores as a blob. */
  readonly warningsFor: (a: DicomAttributes) => StandInWarning[];
  readonly warningStyle: WarningStyle;
  /** Lines per ndjson object; more lines go to success_2.ndjson, ... Default unlimited. */
  readonly linesPerFile?: number;
  /** SOP Instance UIDs whose next imports fail on the service side: how many more times each. */
  readonly serverErrorOnce: Map<string, number>;
}

/** A primary image set of the data store, per series (page "Understanding image sets"). */
export interface PrimaryImageSet { readonly imageSetId: string; readonly patientId: string; version: number }
/** Image sets of the data store: the primary one per (study, series), stable across jobs. */
export type ImageSetRegistry = Map<string, PrimaryImageSet>;

/**
 * Transfer syntaxes HealthImaging does not transcode (video, private): page
 * "Supported transfer syntaxes" / "Warning codes" — the pixel data is stored
 * as a blob and the file gets warning 0xB120; it is still imported.
 */
const BLOB_TRANSFER_SYNTAXES = new Set(['1.2.840.10008.1.2.4.100', '1.2.840.10008.1.2.4.101', '1.2.840.10008.1.2.4.102', '1.2.840.10008.1.2.4.103', '1.2.840.10008.1.2.4.104', '1.2.840.10008.1.2.4.105', '1.2.840.10008.1.2.4.106', '1.2.840.10008.1.2.4.107', '1.2.840.10008.1.2.4.108']);
export const defaultWarnings = (a: DicomAttributes): StandInWarning[] =>
  BLOB_TRANSFER_SYNTAXES.has(a.transferSyntaxUid) ? [{ reasonCode: '0xB120', type: 'UNSUPPORTED_TRANSFER_SYNTAX', message: 'pixel data stored as a blob' }] : [];

const s3Parts = (uri: string) => {
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (!m) throw new Error(`bad S3 URI ${uri}`);
  return { bucket: m[1]!, key: m[2]! };
};

/**
 * Runs one job like HealthImaging (REFERENCE §2): every object under the
 * input prefix, recursively; gzip-encoded or non-DICOM files are per-file
 * customer errors (job still COMPLETED); instances grouped into image sets;
 * output written under `{outputS3Uri}{datastoreId}-DicomImport-{jobId}/`.
 */
export async function runImportJob(s3: S3Client, job: StandInJob, imageSets: ImageSetRegistry, opts: RunnerOptions): Promise<void> {
  const input = s3Parts(job.inputS3Uri);
  const out = s3Parts(job.outputS3Uri);
  const folder = `${out.key}${out.key === '' || out.key.endsWith('/') ? '' : '/'}${job.datastoreId}-DicomImport-${job.jobId}/`;
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: input.bucket, Prefix: input.key, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key!).filter((k) => !k.endsWith('/')));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const faults = job.faults ?? {};
  const success: object[] = [];
  const warning: object[] = [];
  const failure: object[] = [];
  let customer = 0;
  let server = 0;
  const touched = new Map<string, { imageSetId: string; n: number; isPrimary: boolean; version: number }>();
  const put = (key: string, body: string, type: string) => s3.send(new PutObjectCommand({ Bucket: out.bucket, Key: `${folder}${key}`, Body: body, ContentType: type }));
  const base = `s3://${out.bucket}/${folder}`;

  // "Understanding import jobs": a FAILED job may still write its output folder (manifest + failure lines).
  if (job.failWith || keys.length > opts.maxFiles) {
    job.message = job.failWith ?? `input prefix holds ${keys.length} files, more than the ${opts.maxFiles} allowed per job`;
    const lines = job.failWith ? keys.map((k) => ({ inputFile: `s3://${input.bucket}/${k}`, exception: { exceptionType: 'AccessDeniedException', message: job.message } })) : [];
    if (lines.length) await put('FAILURE/failure.ndjson', lines.map((l) => JSON.stringify(l)).join('\n') + '\n', 'application/x-ndjson');
    await put('job-output-manifest.json', JSON.stringify({ jobSummary: { jobId: job.jobId, datastoreId: job.datastoreId, inputS3Uri: job.inputS3Uri, outputS3Uri: base, failureOutputS3Uri: `${base}FAILURE/`, numberOfScannedFiles: lines.length, numberOfImportedFiles: 0, numberOfFilesWithCustomerError: lines.length, numberOfFilesWithServerError: 0, numberOfGeneratedImageSets: 0, imageSetsSummary: [] } }), 'application/json');
    job.jobStatus = 'FAILED';
    job.endedAt = new Date();
    return;
  }
  for (const key of keys) {
    const inputFile = faults.foreignInputFile ? `s3://some-other-bucket/${key}` : `s3://${input.bucket}/${key}`;
    let attrs: DicomAttributes;
    try {
      const obj = await s3.send(new GetObjectCommand({ Bucket: input.bucket, Key: key }));
      if ((obj.ContentEncoding ?? '').includes('gzip')) throw Object.assign(new Error('objects with Content-Encoding gzip are not supported'), { type: 'UnsupportedContentEncoding' });
      attrs = await readDicomAttributes(await obj.Body!.transformToByteArray());
    } catch (err) {
      const e = err as Error & { type?: string };
      failure.push({ inputFile, exception: { exceptionType: e.type ?? 'InvalidDICOMFile', message: e.message } });
      customer += 1;
      continue;
    }
    // numberOfFilesWithServerError: a failure on the service's side, not the file's (a redrive may succeed).
    const left = opts.serverErrorOnce.get(attrs.sopInstanceUid) ?? 0;
    if (left > 0) {
      opts.serverErrorOnce.set(attrs.sopInstanceUid, left - 1);
      failure.push({ inputFile, exception: { exceptionType: 'InternalServerException', message: 'internal error while importing this file' } });
      server += 1;
      continue;
    }
    // "Understanding image sets": image sets are per series, grouped by study- and series-level elements
    // (Patient ID among them). Data that conflicts with the primary image set already in the data store
    // is persisted as non-primary (a new image set id); an import into an existing image set bumps its version.
    const setKey = `${attrs.studyInstanceUid}|${attrs.seriesInstanceUid}`;
    let primary = imageSets.get(setKey);
    if (!primary) {
      primary = { imageSetId: createHash('sha256').update(`${job.datastoreId}|${setKey}`).digest('hex').slice(0, 32), patientId: attrs.patientId, version: 0 };
      imageSets.set(setKey, primary);
    }
    const isPrimary = primary.patientId === attrs.patientId;
    const imageSetId = isPrimary ? primary.imageSetId : createHash('sha256').update(`${job.jobId}|${setKey}|${attrs.patientId}`).digest('hex').slice(0, 32);
    const seen = touched.get(imageSetId);
    if (!seen && isPrimary) primary.version += 1;
    touched.set(imageSetId, { imageSetId, n: (seen?.n ?? 0) + 1, isPrimary, version: isPrimary ? primary.version : 1 });
    const importResponse = { imageSetId, isPrimary };
    // "Warning codes": a warned file is imported; where it is reported is switchable (the page does not say).
    const warnings = opts.warningsFor(attrs);
    if (warnings.length) warning.push({ inputFile, importResponse, warnings });
    if (!warnings.length || opts.warningStyle === 'success-and-warning') success.push({ inputFile, importResponse });
  }
  const omit = new Set(faults.omit ?? []);
  const writeSplit = async (dir: string, name: string, lines: object[]) => {
    if (omit.has(dir as never)) return;
    const per = opts.linesPerFile ?? Math.max(1, lines.length);
    for (let i = 0, part = 1; i < Math.max(1, lines.length); i += per, part++) {
      const chunk = lines.slice(i, i + per);
      await put(`${dir}/${name}${part > 1 ? `_${part}` : ''}.ndjson`, chunk.map((l) => JSON.stringify(l)).join('\n') + (chunk.length ? '\n' : ''), 'application/x-ndjson');
    }
  };
  await writeSplit('SUCCESS', 'success', success);
  await writeSplit('WARNING', 'warning', warning);
  await writeSplit('FAILURE', 'failure', failure);
  if (!omit.has('manifest')) {
    const warningOnly = opts.warningStyle === 'warning-only' ? warning.length : 0;
    await put('job-output-manifest.json', JSON.stringify({
      jobSummary: {
        jobId: job.jobId, datastoreId: job.datastoreId, inputS3Uri: job.inputS3Uri, outputS3Uri: base,
        successOutputS3Uri: `${base}SUCCESS/`, failureOutputS3Uri: `${base}FAILURE/`, warningsOutputS3Uri: `${base}WARNING/`,
        numberOfScannedFiles: keys.length + (faults.scannedSkew ?? 0), numberOfImportedFiles: success.length + warningOnly,
        numberOfFilesWithCustomerError: customer, numberOfFilesWithServerError: server,
        numberOfGeneratedImageSets: touched.size,
        imageSetsSummary: [...touched.values()].map((t) => ({ imageSetId: t.imageSetId, numberOfMatchedSOPInstances: t.n, isPrimary: t.isPrimary, imageSetVersion: t.version })),
      },
    }), 'application/json');
  }
  job.jobStatus = 'COMPLETED';
  job.endedAt = new Date();
}

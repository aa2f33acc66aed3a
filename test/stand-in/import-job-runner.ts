import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { readDicomAttributes } from './dicom-attributes';

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
}

/** Image sets of the data store: one per (study, series), stable across jobs. */
export type ImageSetRegistry = Map<string, string>;

const s3Parts = (uri: string) => {
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (!m) throw new Error(`bad S3 URI ${uri}`);
  return { bucket: m[1]!, key: m[2]! };
};

/**
 * Runs one job like HealthImaging (REFERENCE §2): every object under the
 * input prefix, recursively; gzip-encoded or non-DICOM files are per-file
 * failures (job still COMPLETED); instances grouped into image sets; output
 * written under `{outputS3Uri}{datastoreId}-DicomImport-{jobId}/`.
 */
export async function runImportJob(s3: S3Client, job: StandInJob, imageSets: ImageSetRegistry, maxFiles: number): Promise<void> {
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
  if (job.failWith || keys.length > maxFiles) {
    job.message = job.failWith ?? `input prefix holds ${keys.length} files, more than the ${maxFiles} allowed per job`;
    job.jobStatus = 'FAILED';
    job.endedAt = new Date();
    return;
  }
  const success: object[] = [];
  const failure: object[] = [];
  const matched = new Map<string, number>();
  for (const key of keys) {
    const inputFile = `s3://${input.bucket}/${key}`;
    try {
      const obj = await s3.send(new GetObjectCommand({ Bucket: input.bucket, Key: key }));
      if ((obj.ContentEncoding ?? '').includes('gzip')) throw Object.assign(new Error('objects with Content-Encoding gzip are not supported'), { type: 'UnsupportedContentEncoding' });
      const attrs = await readDicomAttributes(await obj.Body!.transformToByteArray());
      const setKey = `${attrs.studyInstanceUid}|${attrs.seriesInstanceUid}`;
      let imageSetId = imageSets.get(setKey);
      if (!imageSetId) {
        imageSetId = createHash('sha256').update(`${job.datastoreId}|${setKey}`).digest('hex').slice(0, 32);
        imageSets.set(setKey, imageSetId);
      }
      matched.set(imageSetId, (matched.get(imageSetId) ?? 0) + 1);
      success.push({ inputFile, importResponse: { imageSetId, isPrimary: true } });
    } catch (err) {
      const e = err as Error & { type?: string };
      failure.push({ inputFile, exception: { exceptionType: e.type ?? 'InvalidDICOMFile', message: e.message } });
    }
  }
  const put = (key: string, body: string, type: string) => s3.send(new PutObjectCommand({ Bucket: out.bucket, Key: `${folder}${key}`, Body: body, ContentType: type }));
  const ndjson = (lines: object[]) => lines.map((l) => JSON.stringify(l)).join('\n') + (lines.length ? '\n' : '');
  await put('SUCCESS/success.ndjson', ndjson(success), 'application/x-ndjson');
  await put('FAILURE/failure.ndjson', ndjson(failure), 'application/x-ndjson');
  const base = `s3://${out.bucket}/${folder}`;
  await put('job-output-manifest.json', JSON.stringify({
    jobSummary: {
      jobId: job.jobId, datastoreId: job.datastoreId, inputS3Uri: job.inputS3Uri, outputS3Uri: base,
      successOutputS3Uri: `${base}SUCCESS/`, failureOutputS3Uri: `${base}FAILURE/`, warningsOutputS3Uri: `${base}WARNING/`,
      numberOfScannedFiles: keys.length, numberOfImportedFiles: success.length,
      numberOfFilesWithCustomerError: failure.length, numberOfFilesWithServerError: 0,
      numberOfGeneratedImageSets: matched.size,
      imageSetsSummary: [...matched].map(([imageSetId, n]) => ({ imageSetId, numberOfMatchedSOPInstances: n, isPrimary: true, imageSetVersion: 1 })),
    },
  }), 'application/json');
  job.jobStatus = 'COMPLETED';
  job.endedAt = new Date();
}

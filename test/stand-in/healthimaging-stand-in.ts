import type { S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultWarnings, runImportJob, type ImageSetRegistry, type JobFaults, type StandInJob, type StandInWarning, type WarningStyle } from './import-job-runner';
import type { DicomAttributes } from './dicom-attributes';

export interface StandInOptions {
  /** S3 client the stand-in reads input / writes output with (the data access role's view). */
  readonly s3: S3Client;
  readonly datastoreId: string;
  /** Time a job stays SUBMITTED, then IN_PROGRESS, before it runs. Default 50 ms. */
  readonly stepDelayMs?: number;
  /** GetDICOMImportJob's outputS3Uri: as given, or with the job folder appended (both happen, REFERENCE §2). Default 'as-given'. */
  readonly outputUriStyle?: 'as-given' | 'with-job-folder';
  /** Files per job quota. Default 5000. */
  readonly maxFilesPerJob?: number;
  /** Concurrent jobs quota. Default: the region's (CONCURRENT_JOB_QUOTA). */
  readonly maxConcurrentJobs?: number;
  /** Region whose quotas apply. Default us-east-1. */
  readonly region?: string;
  /** Warnings per file. Default: 0xB120 for video / blob transfer syntaxes. */
  readonly warningsFor?: (a: DicomAttributes) => StandInWarning[];
  /** Where a warned file is reported. Default 'success-and-warning'. */
  readonly warningStyle?: WarningStyle;
  /** Lines per ndjson object before the next object (success_2.ndjson ...). Default unlimited. */
  readonly ndjsonLinesPerFile?: number;
}

/**
 * Concurrent import jobs per data store, page "AWS HealthImaging endpoints
 * and quotas" (General Reference): 100, but 20 in Asia Pacific (Sydney).
 */
export const CONCURRENT_JOB_QUOTA: Readonly<Record<string, number>> = { 'us-east-1': 100, 'us-west-2': 100, 'eu-west-1': 100, 'eu-west-2': 100, 'ap-southeast-2': 20 };

export interface StandInCall { readonly operation: 'StartDICOMImportJob' | 'GetDICOMImportJob' | 'ListDICOMImportJobs'; readonly status: number; readonly at: number; readonly clientToken?: string }

/** A local HealthImaging for the import-job API, spoken to by the real SDK client via an endpoint override. */
export interface HealthImagingStandIn {
  readonly endpoint: string;
  readonly jobs: ReadonlyMap<string, StandInJob>;
  readonly calls: readonly StandInCall[];
  /** The next `n` StartDICOMImportJob calls answer 429 ThrottlingException. */
  throttleStarts(n: number): void;
  /** The next `n` jobs started end FAILED with this message (they still write a job-output-manifest.json). */
  failNextJobs(n: number, message?: string): void;
  /** The next `n` jobs started get these output faults / late completion. */
  faultNextJobs(faults: JobFaults, n?: number): void;
  /** Each of these SOP Instance UIDs fails `times` times (default once) on the service side (numberOfFilesWithServerError), then imports. */
  serverErrorOnce(sopInstanceUids: readonly string[], times?: number): void;
  /** Most jobs SUBMITTED or IN_PROGRESS at one time so far. */
  readonly peakActiveJobs: number;
  /** Resolves once no job is SUBMITTED or IN_PROGRESS. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

const CLIENT_TOKEN = /^[A-Za-z0-9._-]{1,64}$/;
const ROLE_ARN = /^arn:aws(-[^:]+)?:iam::[0-9]{12}:role\/.+$/;

/** Starts the stand-in on 127.0.0.1, port 0. REST paths are those of the SDK's service model. */
export async function startHealthImagingStandIn(opts: StandInOptions): Promise<HealthImagingStandIn> {
  const jobs = new Map<string, StandInJob>();
  const byToken = new Map<string, StandInJob>();
  const imageSets: ImageSetRegistry = new Map();
  const calls: StandInCall[] = [];
  const running = new Set<Promise<void>>();
  let throttle = 0;
  let fail: { n: number; message: string } = { n: 0, message: '' };
  let faultPlan: { n: number; faults: JobFaults } = { n: 0, faults: {} };
  const serverErrors = new Map<string, number>();
  let peakActiveJobs = 0;
  const delay = opts.stepDelayMs ?? 50;
  const quota = opts.maxConcurrentJobs ?? CONCURRENT_JOB_QUOTA[opts.region ?? 'us-east-1'] ?? 100;
  const activeJobs = () => [...jobs.values()].filter((j) => j.jobStatus === 'SUBMITTED' || j.jobStatus === 'IN_PROGRESS').length;

  const props = (j: StandInJob) => ({
    jobId: j.jobId, jobName: j.jobName, jobStatus: j.jobStatus, datastoreId: j.datastoreId, dataAccessRoleArn: j.dataAccessRoleArn,
    submittedAt: j.submittedAt.getTime() / 1000, ...(j.endedAt ? { endedAt: j.endedAt.getTime() / 1000 } : {}),
    inputS3Uri: j.inputS3Uri,
    outputS3Uri: opts.outputUriStyle === 'with-job-folder' ? `${j.outputS3Uri}${j.outputS3Uri.endsWith('/') ? '' : '/'}${j.datastoreId}-DicomImport-${j.jobId}/` : j.outputS3Uri,
    ...(j.message ? { message: j.message } : {}),
  });

  const start = (body: Record<string, unknown>): [number, object] => {
    const problems: string[] = [];
    const token = body['clientToken'];
    if (typeof token !== 'string' || !CLIENT_TOKEN.test(token)) problems.push('clientToken must match [A-Za-z0-9._-]{1,64}');
    if (typeof body['dataAccessRoleArn'] !== 'string' || !ROLE_ARN.test(body['dataAccessRoleArn'])) problems.push('dataAccessRoleArn is not a role ARN');
    for (const f of ['inputS3Uri', 'outputS3Uri']) if (typeof body[f] !== 'string' || !/^s3:\/\/[^/]+\/.*$/.test(body[f] as string)) problems.push(`${f} must be s3://bucket/prefix`);
    if (body['jobName'] !== undefined && (typeof body['jobName'] !== 'string' || (body['jobName'] as string).length > 64)) problems.push('jobName is at most 64 characters');
    if (problems.length) return [400, error('ValidationException', problems.join('; '))];
    if (throttle > 0) {
      throttle -= 1;
      return [429, error('ThrottlingException', 'Rate exceeded')];
    }
    const previous = byToken.get(token as string);
    if (previous) {
      if (previous.inputS3Uri !== body['inputS3Uri'] || previous.outputS3Uri !== body['outputS3Uri']) return [409, error('ConflictException', 'clientToken reused with different parameters')];
      return [200, { datastoreId: previous.datastoreId, jobId: previous.jobId, jobStatus: previous.jobStatus, submittedAt: previous.submittedAt.getTime() / 1000 }];
    }
    // StartDICOMImportJob API reference: ServiceQuotaExceededException (HTTP 402) when a quota is exceeded.
    if (activeJobs() >= quota) return [402, error('ServiceQuotaExceededException', 'concurrent import jobs quota reached')];
    const job: StandInJob = {
      jobId: randomBytes(16).toString('hex'), jobStatus: 'SUBMITTED', datastoreId: opts.datastoreId,
      dataAccessRoleArn: body['dataAccessRoleArn'] as string, clientToken: token as string,
      inputS3Uri: body['inputS3Uri'] as string, outputS3Uri: body['outputS3Uri'] as string, submittedAt: new Date(),
      ...(typeof body['jobName'] === 'string' ? { jobName: body['jobName'] } : {}),
    };
    if (fail.n > 0) {
      fail.n -= 1;
      job.failWith = fail.message;
    }
    if (faultPlan.n > 0) {
      faultPlan.n -= 1;
      job.faults = faultPlan.faults;
    }
    jobs.set(job.jobId, job);
    peakActiveJobs = Math.max(peakActiveJobs, activeJobs());
    byToken.set(job.clientToken, job);
    const run = (async () => {
      await sleep(delay);
      job.jobStatus = 'IN_PROGRESS';
      await sleep(delay + (job.faults?.runAfterMs ?? 0));
      await runImportJob(opts.s3, job, imageSets, {
        maxFiles: opts.maxFilesPerJob ?? 5000, warningsFor: opts.warningsFor ?? defaultWarnings, warningStyle: opts.warningStyle ?? 'success-and-warning',
        serverErrorOnce: serverErrors, ...(opts.ndjsonLinesPerFile ? { linesPerFile: opts.ndjsonLinesPerFile } : {}),
      }).catch((err: Error) => {
        job.jobStatus = 'FAILED';
        job.message = `internal error: ${err.message}`;
        job.endedAt = new Date();
      });
    })();
    running.add(run);
    void run.finally(() => running.delete(run));
    return [200, { datastoreId: job.datastoreId, jobId: job.jobId, jobStatus: job.jobStatus, submittedAt: job.submittedAt.getTime() / 1000 }];
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stand-in');
      const path = url.pathname.split('/').map(decodeURIComponent);
      let result: [number, object];
      let operation: StandInCall['operation'] | undefined;
      let clientToken: string | undefined;
      const unknownStore = (id: string | undefined) => id !== opts.datastoreId;
      // POST /startDICOMImportJob/datastore/{datastoreId}
      if (req.method === 'POST' && path[1] === 'startDICOMImportJob' && path[2] === 'datastore' && path.length === 4) {
        operation = 'StartDICOMImportJob';
        const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>;
        clientToken = body['clientToken'] as string | undefined;
        result = unknownStore(path[3]) ? [404, error('ResourceNotFoundException', `data store ${path[3]} not found`)] : start(body);
      } else if (req.method === 'GET' && path[1] === 'getDICOMImportJob' && path[2] === 'datastore' && path[4] === 'job' && path.length === 6) {
        // GET /getDICOMImportJob/datastore/{datastoreId}/job/{jobId}
        operation = 'GetDICOMImportJob';
        const job = jobs.get(path[5]!);
        result = unknownStore(path[3]) || !job ? [404, error('ResourceNotFoundException', `job ${path[5]} not found`)] : [200, { jobProperties: props(job) }];
      } else if (req.method === 'GET' && path[1] === 'listDICOMImportJobs' && path[2] === 'datastore' && path.length === 4) {
        // GET /listDICOMImportJobs/datastore/{datastoreId}?jobStatus&nextToken&maxResults
        operation = 'ListDICOMImportJobs';
        const status = url.searchParams.get('jobStatus');
        const max = Math.min(Number(url.searchParams.get('maxResults') ?? 50), 50);
        const from = Number(url.searchParams.get('nextToken') ?? 0);
        const all = [...jobs.values()].filter((j) => !status || j.jobStatus === status);
        const page = all.slice(from, from + max).map((j) => { const { inputS3Uri: _i, outputS3Uri: _o, ...summary } = props(j); return summary; });
        result = unknownStore(path[3]) ? [404, error('ResourceNotFoundException', `data store ${path[3]} not found`)] : [200, { jobSummaries: page, ...(from + max < all.length ? { nextToken: String(from + max) } : {}) }];
      } else {
        result = [404, error('UnknownOperationException', `${req.method} ${url.pathname}`)];
      }
      if (operation) calls.push({ operation, status: result[0], at: Date.now(), ...(clientToken ? { clientToken } : {}) });
      const [status, payload] = result;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (status >= 400) headers['x-amzn-errortype'] = (payload as { __type: string }).__type;
      res.writeHead(status, headers).end(JSON.stringify(payload));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    jobs, calls,
    throttleStarts(n) { throttle = n; },
    failNextJobs(n, message = 'The import job failed: the data access role could not read the input prefix') { fail = { n, message }; },
    faultNextJobs(faults, n = 1) { faultPlan = { n, faults }; },
    serverErrorOnce(sops, times = 1) { for (const s of sops) serverErrors.set(s, times); },
    get peakActiveJobs() { return peakActiveJobs; },
    async idle() { while (running.size) await Promise.all([...running]); },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.allSettled([...running]);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const error = (type: string, message: string) => ({ __type: type, message });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

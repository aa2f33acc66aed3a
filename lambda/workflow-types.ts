/** Execution input: written by the trigger (name = batchId) or by an operator redrive. */
export interface ImportRequest {
  readonly bucket: string;
  readonly manifestKey: string;
  readonly batchId: string;
  /** Operator redrive number (1, 2, ...): a new clientToken, so a new import job. */
  readonly redrive?: number;
}

/** `$.batch`: output of validate-batch. */
export interface BatchRef {
  readonly batchId: string;
  readonly bucket: string;
  readonly manifestKey: string;
  readonly prefix: string;
  readonly count: number;
  readonly bytes: number;
  readonly clientToken: string;
  readonly redrive: number;
  /** True when an earlier execution already finished this batch (redelivered event). */
  readonly alreadyDone: boolean;
}

export type JobStatus = 'SUBMITTED' | 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';

/** `$.job`: output of start-import-job, replaced by each check-import-status. */
export interface JobRef {
  readonly jobId: string;
  readonly jobStatus: JobStatus;
  readonly submittedAt: string;
  readonly outputS3Uri: string;
  readonly message?: string;
  /** Status checks so far. */
  readonly checks: number;
  /** Seconds the Wait state waits before the next check. */
  readonly waitSeconds: number;
  /** Automatic re-import of server-error files: 0 for the batch's first job, 1..MAX_IMPORT_ATTEMPTS after. */
  readonly attempt?: number;
  /** Files this job was given (the batch count, or the files retried). */
  readonly expectedFiles?: number;
  /** True once the job has run past jobWaitTimeoutSeconds (polled slowly, slot kept). */
  readonly overdue?: boolean;
}

/** `$.result.retry`: record-results asks for another job over the files left in incoming/. */
export interface RetryRequest {
  readonly attempt: number;
  readonly clientToken: string;
  readonly expectedFiles: number;
}

/** What the Catch puts at `$.error`. */
export interface CaughtError {
  readonly Error: string;
  readonly Cause?: string;
}

/** The whole execution state as record-failure receives it. */
export interface ExecutionState extends ImportRequest {
  readonly batch?: BatchRef;
  readonly job?: JobRef;
  readonly result?: { readonly retry?: RetryRequest };
  readonly error?: CaughtError;
}

/** Batch lifecycle in DynamoDB. */
export type BatchStatus = 'RECEIVED' | 'IMPORTING' | 'IMPORTED' | 'IMPORTED_WITH_CONFLICTS' | 'IMPORTED_WITH_FAILURES' | 'FAILED';
export const FINAL_BATCH_STATUSES: readonly BatchStatus[] = ['IMPORTED', 'IMPORTED_WITH_CONFLICTS', 'IMPORTED_WITH_FAILURES', 'FAILED'];

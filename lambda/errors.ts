/**
 * Error classes of the import workflow. `name` is the contract with the state
 * machine's Retry / Catch (template-src/import-workflow.ts); `code` is stable
 * for logs and DynamoDB; `cause` keeps the underlying error.
 */
export abstract class WorkflowError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The batch manifest is missing, malformed or disagrees with the staged objects. Not retried. */
export class BatchValidationError extends WorkflowError {
  override readonly name = 'BatchValidationError';
  readonly code = 'BATCH_INVALID';
}

/** The manifest or one of its objects is not visible yet (read-after-write lag). Retried briefly. */
export class BatchNotReadyError extends WorkflowError {
  override readonly name = 'BatchNotReadyError';
  readonly code = 'BATCH_NOT_READY';
}

/** Another StartDICOMImportJob of this stack ran less than the start interval ago. Retried with jitter. */
export class StartRateLimitedError extends WorkflowError {
  override readonly name = 'StartRateLimitedError';
  readonly code = 'START_RATE_LIMITED';
}

/** The stack already runs its maximum number of concurrent import jobs. Retried with long backoff. */
export class ImportSlotUnavailableError extends WorkflowError {
  override readonly name = 'ImportSlotUnavailableError';
  readonly code = 'IMPORT_SLOTS_FULL';
}

/** The import job did not end within the configured bound. Goes to the failure path. */
export class ImportJobTimeoutError extends WorkflowError {
  override readonly name = 'ImportJobTimeoutError';
  readonly code = 'IMPORT_JOB_TIMEOUT';
}

/** The job is COMPLETED but its job-output-manifest.json is not readable yet. Retried briefly. */
export class ImportOutputNotReadyError extends WorkflowError {
  override readonly name = 'ImportOutputNotReadyError';
  readonly code = 'IMPORT_OUTPUT_NOT_READY';
}

/** The job output exists but cannot be understood. Goes to the failure path. */
export class ImportOutputInvalidError extends WorkflowError {
  override readonly name = 'ImportOutputInvalidError';
  readonly code = 'IMPORT_OUTPUT_INVALID';
}

/** The batch is larger than one import job may be (10 GB per job, not adjustable). Not retried. */
export class BatchTooLargeError extends WorkflowError {
  override readonly name = 'BatchTooLargeError';
  readonly code = 'BATCH_TOO_LARGE';
}

/**
 * An AWS call failed in a way that outlasted the SDK's own retries but is
 * transient by nature (timeout, connection reset, 5xx, throttling). The
 * state machine retries it on a long schedule instead of failing the batch.
 */
export class TransientAwsError extends WorkflowError {
  override readonly name = 'TransientAwsError';
  readonly code = 'AWS_TRANSIENT';
}

/** Lambda configuration (environment) is invalid; names every wrong variable. */
export class ConfigError extends WorkflowError {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
}

/** True when `err` is an AWS SDK error with this name (ConditionalCheckFailedException, NoSuchKey...). */
export function isAwsError(err: unknown, ...names: string[]): boolean {
  return err instanceof Error && names.includes(err.name);
}

const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN']);
const TRANSIENT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'InternalServerException', 'InternalError', 'ServiceUnavailable', 'ServiceUnavailableException', 'SlowDown', 'ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded']);

/**
 * True for an SDK error the SDK itself classes as retryable (`$retryable`),
 * a 5xx / 429 answer, a known transient name, or a socket error code.
 */
export function isTransientAwsError(err: unknown): boolean {
  if (!(err instanceof Error) || err instanceof WorkflowError) return false;
  const e = err as Error & { $retryable?: unknown; $metadata?: { httpStatusCode?: number }; code?: string };
  const status = e.$metadata?.httpStatusCode ?? 0;
  return Boolean(e.$retryable) || status >= 500 || status === 429 || TRANSIENT_NAMES.has(e.name) || TRANSIENT_CODES.has(e.code ?? '');
}

/** Runs `fn`; a transient AWS failure leaves it as TransientAwsError (named for the state machine's Retry), others unchanged. */
export async function classifyAwsErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isTransientAwsError(err)) throw new TransientAwsError(`transient AWS error: ${(err as Error).name}: ${(err as Error).message}`, { cause: err });
    throw err;
  }
}

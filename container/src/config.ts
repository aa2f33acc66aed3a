import { availableParallelism } from 'node:os';
import Ajv, { type ErrorObject } from 'ajv';
import { ConfigError } from './errors';
import { PRODUCT_CODE_PATTERN } from './marketplace';

/**
 * The SCP's configuration. This module is the only one that reads
 * `process.env`; everything else receives a frozen `ScpConfig`.
 */
export interface ScpConfig {
  readonly aeTitle: string;
  readonly host: string;
  readonly port: number;
  readonly healthPort: number;
  readonly storageUri: string;
  readonly s3Endpoint: string | undefined;
  readonly requireCalledAeTitle: boolean;
  readonly allowedCallingAeTitles: readonly string[];
  readonly supportedSopClassUids: readonly string[];
  readonly maximumAssociations: number;
  readonly maximumPduSize: number;
  readonly acseTimeoutMs: number;
  readonly dimseTimeoutMs: number;
  /** Bytes per second a sender must average inside a DIMSE message (0: no check). */
  readonly minimumReceiveRate: number;
  readonly networkTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly batchMaxFiles: number;
  readonly batchMaxBytes: number;
  readonly batchQuietMs: number;
  readonly maximumInstanceBytes: number;
  readonly logLevel: LogLevel;
  readonly marketplaceProductCode: string | undefined;
  /** Worker processes (WORKERS; `auto` resolved to the CPUs available). 1: one process, no primary. */
  readonly workers: number;
  /** CloudFormation stack name: dimension of the AssociationUtilization metric (unset: not published). */
  readonly stackName: string | undefined;
}

/** Upper bound of WORKERS. */
export const MAXIMUM_WORKERS = 64;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One row per variable: default, JSON-schema of the raw string, meaning. Drives validation and the README table. */
export interface VariableSpec {
  readonly name: string;
  readonly default: string | undefined;
  readonly schema: Record<string, unknown>;
  readonly description: string;
}

const UINT = { type: 'string', pattern: '^[0-9]+$' };
const UID_LIST = { type: 'string', pattern: '^$|^[0-9]+(\\.[0-9]+)*(\\s*,\\s*[0-9]+(\\.[0-9]+)*)*$' };
/** AE title: 1–16 chars of the default repertoire, no backslash or control characters, not all spaces. */
const AE = '(?=[^,]*[^ ,])[\\x20-\\x2b\\x2d-\\x5b\\x5d-\\x7e]{1,16}';
/** Size limit of one HealthImaging import job (10 GB, not adjustable). */
export const IMPORT_JOB_MAX_BYTES = 10_000_000_000;
const GIB = 1024 * 1024 * 1024;

export const VARIABLES: readonly VariableSpec[] = [
  { name: 'AE_TITLE', default: 'STORESCP', schema: { type: 'string', pattern: `^${AE}$` }, description: 'AE title of the SCP (1–16 characters, no backslash or comma, not all spaces).' },
  { name: 'SCP_HOST', default: '0.0.0.0', schema: { type: 'string', minLength: 1 }, description: 'Address the DICOM and health listeners bind (`npm start` uses 127.0.0.1).' },
  { name: 'SCP_PORT', default: '11112', schema: { ...UINT, maxLength: 5 }, description: 'DICOM port (1–65535).' },
  { name: 'HEALTH_PORT', default: '8081', schema: { ...UINT, maxLength: 5 }, description: 'HTTP port of `/health` and `/metrics`.' },
  { name: 'STORAGE_URI', default: 'file://./data', schema: { type: 'string', pattern: '^(file://.+|s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?|null:)$' }, description: '`file://<dir>` (local folder), `s3://<bucket>[/<prefix>]` (AWS), or `null:` (benchmarks: discards data).' },
  { name: 'S3_ENDPOINT', default: undefined, schema: { type: 'string', pattern: '^https?://[^\\s]+$' }, description: 'Endpoint of an S3-compatible server (path-style); unset in AWS.' },
  { name: 'REQUIRE_CALLED_AE_TITLE', default: 'false', schema: { type: 'string', enum: ['true', 'false'] }, description: 'Reject associations whose Called AE Title is not AE_TITLE.' },
  { name: 'REQUIRE_CALLING_AE_TITLE', default: '', schema: { type: 'string', pattern: `^$|^${AE}(\\s*,\\s*${AE})*$` }, description: 'Comma-separated Calling AE Titles allowed; empty = any.' },
  { name: 'SUPPORTED_SOP_CLASS_UIDS', default: '', schema: UID_LIST, description: 'Comma-separated SOP Class UIDs accepted; empty = every storage SOP class.' },
  { name: 'MAXIMUM_ASSOCIATIONS', default: '300', schema: UINT, description: 'Concurrent associations per task; beyond it: rejected (transient, local limit exceeded).' },
  { name: 'MAXIMUM_PDU_SIZE', default: '131072', schema: UINT, description: 'Maximum PDU length we receive (bytes, 4096–4194304). 128 KiB: what dcmtk accepts at most, large enough that per-PDU overhead is under 0.01 %; data is streamed, so it does not bound memory.' },
  { name: 'ACSE_TIMEOUT', default: '30', schema: UINT, description: 'Seconds to wait for A-ASSOCIATE-RQ after connect, and for the peer to close after release.' },
  { name: 'DIMSE_TIMEOUT', default: '60', schema: UINT, description: 'Seconds allowed between PDUs inside one DIMSE message, and for storage to commit an instance.' },
  { name: 'MINIMUM_RECEIVE_RATE', default: '1024', schema: UINT, description: 'Bytes per second a sender must average inside a DIMSE message, over each DIMSE_TIMEOUT window (time the SCP itself holds the sender back does not count); a slower one, e.g. a byte trickled just inside DIMSE_TIMEOUT, is aborted. 0 turns the check off.' },
  { name: 'NETWORK_TIMEOUT', default: '90', schema: UINT, description: 'Seconds an association may stay idle before it is aborted.' },
  { name: 'DRAIN_TIMEOUT', default: '100', schema: UINT, description: 'Seconds in-flight associations may run after SIGTERM before they are aborted (below ECS\'s 120 s stop timeout).' },
  { name: 'BATCH_MAX_FILES', default: '1000', schema: UINT, description: 'Seal a batch at this many instances (HealthImaging: 5,000 files per import job).' },
  { name: 'BATCH_MAX_BYTES', default: String(2 * GIB), schema: UINT, description: 'Seal a batch once it holds this many bytes (HealthImaging: 10 GB per import job; the 8 GB margin absorbs instances in flight when the limit is reached).' },
  { name: 'BATCH_QUIET_SECONDS', default: '30', schema: UINT, description: 'Seal a batch after this many seconds without a new instance.' },
  { name: 'MAXIMUM_INSTANCE_BYTES', default: String(4 * GIB), schema: UINT, description: 'Largest instance accepted (HealthImaging imports files up to 4 GB); larger ones get 0xA700 and are not stored.' },
  { name: 'LOG_LEVEL', default: 'info', schema: { type: 'string', enum: ['debug', 'info', 'warn', 'error'] }, description: 'Lowest level logged (JSON lines on stdout).' },
  { name: 'MARKETPLACE_PRODUCT_CODE', default: undefined, schema: { type: 'string', pattern: PRODUCT_CODE_PATTERN }, description: 'When set, RegisterUsage is called at start (transient errors retried for 45 s); not entitled → exit 3.' },
  { name: 'WORKERS', default: 'auto', schema: { type: 'string', pattern: '^(auto|[0-9]+)$' }, description: 'Processes sharing the DICOM port (1–64): one primary grants association slots (MAXIMUM_ASSOCIATIONS holds for the task), aggregates `/health` and `/metrics`, and replaces a worker that dies after sealing its batch. `auto` = `os.availableParallelism()`: the vCPUs of a Fargate task; elsewhere the CPUs the process may use (Node.js 24, as in the image, also honours a cgroup CPU quota). 1 = a single process, as before.' },
  { name: 'STACK_NAME', default: undefined, schema: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9-]{0,127}$' }, description: 'CloudFormation stack name (the template sets it). When set, the SCP publishes `AssociationUtilization` (CloudWatch embedded metric format on stdout) for the second autoscaling policy.' },
];

const schema = {
  type: 'object',
  properties: Object.fromEntries(VARIABLES.map((v) => [v.name, v.schema])),
};

const ajv = new Ajv({ allErrors: true });
const validateRaw = ajv.compile(schema);

function describe(err: ErrorObject, raw: Record<string, string>): string {
  const name = err.instancePath.replace(/^\//, '');
  const spec = VARIABLES.find((v) => v.name === name);
  if (err.keyword === 'enum') return `${name} must be one of ${(err.params as { allowedValues: string[] }).allowedValues.join(', ')}`;
  return `${name}=${JSON.stringify(raw[name])} is invalid: ${spec?.description ?? err.message ?? ''}`;
}

function splitList(s: string): string[] {
  return s.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
}

/**
 * Validates the environment and returns the frozen configuration.
 * Every wrong variable is named in one `ConfigError`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ScpConfig {
  const raw: Record<string, string> = {};
  for (const v of VARIABLES) {
    const value = env[v.name];
    if (value !== undefined && !(value === '' && v.default === undefined)) raw[v.name] = value;
    else if (v.default !== undefined) raw[v.name] = v.default;
  }
  const problems: string[] = [];
  if (!validateRaw(raw)) {
    const seen = new Set<string>();
    for (const e of validateRaw.errors ?? []) {
      if (seen.has(e.instancePath)) continue;
      seen.add(e.instancePath);
      problems.push(describe(e, raw));
    }
  }
  const int = (name: string): number => Number(raw[name]);
  const invalid = new Set(problems.map((p) => p.split(/[= ]/)[0]));
  const range = (name: string, min: number, max: number): void => {
    const n = int(name);
    if (!invalid.has(name) && Number.isInteger(n) && (n < min || n > max)) problems.push(`${name} must be between ${min} and ${max} (got ${raw[name]})`);
  };
  range('SCP_PORT', 1, 65535);
  range('HEALTH_PORT', 1, 65535);
  range('MAXIMUM_ASSOCIATIONS', 1, 10000);
  range('MAXIMUM_PDU_SIZE', 4096, 4194304);
  range('ACSE_TIMEOUT', 1, 3600);
  range('DIMSE_TIMEOUT', 1, 3600);
  range('NETWORK_TIMEOUT', 1, 86400);
  range('MINIMUM_RECEIVE_RATE', 0, 1_000_000_000);
  range('DRAIN_TIMEOUT', 0, 115);
  range('BATCH_MAX_FILES', 1, 5000);
  range('BATCH_MAX_BYTES', 1, 10_000_000_000);
  range('BATCH_QUIET_SECONDS', 1, 3600);
  range('MAXIMUM_INSTANCE_BYTES', 1, 4 * GIB);
  if (raw.WORKERS !== 'auto') range('WORKERS', 1, MAXIMUM_WORKERS);
  // One import job takes at most 10 GB (not adjustable, "AWS HealthImaging endpoints and quotas"); a batch is
  // sealed after the instance that crosses BATCH_MAX_BYTES, so that instance must fit under the cap too.
  if (!invalid.has('BATCH_MAX_BYTES') && !invalid.has('MAXIMUM_INSTANCE_BYTES') && int('BATCH_MAX_BYTES') + int('MAXIMUM_INSTANCE_BYTES') > IMPORT_JOB_MAX_BYTES) {
    problems.push(`BATCH_MAX_BYTES + MAXIMUM_INSTANCE_BYTES must be at most ${IMPORT_JOB_MAX_BYTES} (10 GB per HealthImaging import job; got ${int('BATCH_MAX_BYTES') + int('MAXIMUM_INSTANCE_BYTES')})`);
  }
  if (int('SCP_PORT') === int('HEALTH_PORT') && problems.length === 0) problems.push('SCP_PORT and HEALTH_PORT must differ');
  if (raw.S3_ENDPOINT !== undefined && !raw.STORAGE_URI.startsWith('s3://')) problems.push('S3_ENDPOINT is set but STORAGE_URI is not an s3:// URI');
  if (problems.length > 0) throw new ConfigError(problems);

  return Object.freeze({
    aeTitle: raw.AE_TITLE.trim(),
    host: raw.SCP_HOST,
    port: int('SCP_PORT'),
    healthPort: int('HEALTH_PORT'),
    storageUri: raw.STORAGE_URI,
    s3Endpoint: raw.S3_ENDPOINT,
    requireCalledAeTitle: raw.REQUIRE_CALLED_AE_TITLE === 'true',
    allowedCallingAeTitles: Object.freeze(splitList(raw.REQUIRE_CALLING_AE_TITLE)),
    supportedSopClassUids: Object.freeze(splitList(raw.SUPPORTED_SOP_CLASS_UIDS)),
    maximumAssociations: int('MAXIMUM_ASSOCIATIONS'),
    maximumPduSize: int('MAXIMUM_PDU_SIZE'),
    acseTimeoutMs: int('ACSE_TIMEOUT') * 1000,
    dimseTimeoutMs: int('DIMSE_TIMEOUT') * 1000,
    networkTimeoutMs: int('NETWORK_TIMEOUT') * 1000,
    minimumReceiveRate: int('MINIMUM_RECEIVE_RATE'),
    drainTimeoutMs: int('DRAIN_TIMEOUT') * 1000,
    batchMaxFiles: int('BATCH_MAX_FILES'),
    batchMaxBytes: int('BATCH_MAX_BYTES'),
    batchQuietMs: int('BATCH_QUIET_SECONDS') * 1000,
    maximumInstanceBytes: int('MAXIMUM_INSTANCE_BYTES'),
    logLevel: raw.LOG_LEVEL as LogLevel,
    marketplaceProductCode: raw.MARKETPLACE_PRODUCT_CODE,
    workers: raw.WORKERS === 'auto' ? Math.min(availableParallelism(), MAXIMUM_WORKERS) : int('WORKERS'),
    stackName: raw.STACK_NAME,
  });
}

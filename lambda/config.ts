import Ajv from 'ajv';
import { ConfigError } from './errors';

/** Validated, frozen configuration of every workflow Lambda. The only module that reads process.env. */
export interface WorkflowConfig {
  readonly tableName: string;
  readonly stagingBucket: string;
  readonly resultsBucket: string;
  readonly resultsPrefix: string;
  readonly datastoreId: string;
  /** ResearchImport on (DeidentificationMode=ResearchCopy): derived (de-identified) batches are imported into this second data store. */
  readonly researchDatastoreId?: string;
  readonly dataAccessRoleArn: string;
  readonly maxConcurrentJobs: number;
  readonly startIntervalMs: number;
  readonly jobWaitTimeoutSeconds: number;
  readonly orphanAgeSeconds: number;
  readonly metricsNamespace: string;
  readonly stackName: string;
  /** Only the trigger function has it. */
  readonly stateMachineArn?: string;
  /** Local testing only: endpoint overrides (S3 is then path-style). */
  readonly s3Endpoint?: string;
  readonly dynamodbEndpoint?: string;
  readonly medicalImagingEndpoint?: string;
  readonly sfnEndpoint?: string;
}

const VARS = {
  tableName: ['TABLE_NAME', 'string'], stagingBucket: ['STAGING_BUCKET', 'string'],
  resultsBucket: ['RESULTS_BUCKET', 'string'], resultsPrefix: ['RESULTS_PREFIX', 'string', 'import-results/'],
  datastoreId: ['DATASTORE_ID', 'string'], researchDatastoreId: ['RESEARCH_DATASTORE_ID', 'optional'], dataAccessRoleArn: ['DATA_ACCESS_ROLE_ARN', 'string'],
  maxConcurrentJobs: ['MAX_CONCURRENT_JOBS', 'integer', '20'], startIntervalMs: ['START_INTERVAL_MS', 'integer', '1100'],
  jobWaitTimeoutSeconds: ['JOB_WAIT_TIMEOUT_SECONDS', 'integer', '21600'], orphanAgeSeconds: ['ORPHAN_AGE_SECONDS', 'integer', '900'],
  metricsNamespace: ['METRICS_NAMESPACE', 'string', 'DICOMStoreSCP'], stackName: ['STACK_NAME', 'string', 'local'],
  stateMachineArn: ['STATE_MACHINE_ARN', 'optional'], s3Endpoint: ['S3_ENDPOINT', 'optional'],
  dynamodbEndpoint: ['DYNAMODB_ENDPOINT', 'optional'], medicalImagingEndpoint: ['MEDICAL_IMAGING_ENDPOINT', 'optional'],
  sfnEndpoint: ['SFN_ENDPOINT', 'optional'],
} as const;

const schema = {
  type: 'object',
  properties: {
    tableName: { type: 'string', minLength: 1 }, stagingBucket: { type: 'string', minLength: 3 },
    resultsBucket: { type: 'string', minLength: 3 }, resultsPrefix: { type: 'string', pattern: '^$|/$' },
    datastoreId: { type: 'string', pattern: '^[0-9a-z]{32}$' }, researchDatastoreId: { type: 'string', pattern: '^[0-9a-z]{32}$' }, dataAccessRoleArn: { type: 'string', pattern: '^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+' },
    maxConcurrentJobs: { type: 'integer', minimum: 1, maximum: 100 }, startIntervalMs: { type: 'integer', minimum: 0 },
    jobWaitTimeoutSeconds: { type: 'integer', minimum: 60 }, orphanAgeSeconds: { type: 'integer', minimum: 0 },
    metricsNamespace: { type: 'string', minLength: 1 }, stackName: { type: 'string', minLength: 1 },
  },
  required: ['tableName', 'stagingBucket', 'resultsBucket', 'datastoreId', 'dataAccessRoleArn'],
} as const;

const validate = new Ajv({ allErrors: true }).compile(schema);

/** Reads and validates the environment; the error names every wrong variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): WorkflowConfig {
  const out: Record<string, unknown> = {};
  for (const [field, [name, type, dflt]] of Object.entries(VARS) as [string, readonly [string, string, string?]][]) {
    const raw = env[name] ?? dflt;
    if (raw === undefined || raw === '') continue;
    out[field] = type === 'integer' && /^-?[0-9]+$/.test(raw) ? Number(raw) : raw;
  }
  if (!validate(out)) {
    const problems = (validate.errors ?? []).map((e) => {
      const field = (e.instancePath.slice(1) || String(e.params['missingProperty'] ?? '')) as keyof typeof VARS;
      return `${VARS[field]?.[0] ?? field} ${e.message ?? 'is invalid'}`;
    });
    throw new ConfigError(`invalid workflow configuration: ${problems.join('; ')}`);
  }
  return Object.freeze(out) as unknown as WorkflowConfig;
}

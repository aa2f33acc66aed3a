import type { DateMode, RetainOption } from '../deid/api';
import { ConfigError } from '../errors';

/** Configuration of the research Lambdas (template-src/research-copy.ts sets it). The only research module reading process.env. */
export interface ResearchConfig {
  readonly tableName: string;
  readonly stagingBucket: string;
  readonly processedBucket: string;
  /** ResearchCopy (copies only) or DeidentifiedOnly (also archive originals, stage a derived batch). */
  readonly mode: 'ResearchCopy' | 'DeidentifiedOnly';
  /** DeidentifiedOnly: versioned bucket of the originals. */
  readonly rawBucket?: string;
  /** KMS HMAC key the sub-keys are derived from (GenerateMac). */
  readonly keyArn: string;
  readonly dates: DateMode;
  readonly retain: readonly RetainOption[];
  readonly allowBurnedIn: boolean;
  readonly patientIdPrefix: string;
  readonly chunkSize: number;
  readonly instanceConcurrency: number;
  readonly metricsNamespace: string;
  readonly stackName: string;
  readonly s3Endpoint?: string;
  readonly dynamodbEndpoint?: string;
  readonly kmsEndpoint?: string;
}

const DATE_MODES: readonly DateMode[] = ['remove', 'shift', 'keep-year', 'keep'];
const RETAIN: readonly RetainOption[] = ['patient-characteristics', 'device-identity', 'institution-identity', 'uids'];

/** Reads and validates the environment; the error names every wrong variable (never a value). */
export function loadResearchConfig(env: NodeJS.ProcessEnv = process.env): ResearchConfig {
  const problems: string[] = [];
  const req = (name: string): string => {
    const v = env[name];
    if (!v) problems.push(`${name} is not set`);
    return v ?? '';
  };
  const int = (name: string, dflt: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) problems.push(`${name} must be an integer in ${min}..${max}`);
    return n;
  };
  const dates = (env['DEID_DATES'] || 'remove') as DateMode;
  if (!DATE_MODES.includes(dates)) problems.push(`DEID_DATES must be one of ${DATE_MODES.join(', ')}`);
  const retain = (env['DEID_RETAIN'] ?? '').split(',').map((s) => s.trim()).filter(Boolean) as RetainOption[];
  for (const r of retain) if (!RETAIN.includes(r)) problems.push(`DEID_RETAIN has an unknown option (allowed: ${RETAIN.join(', ')})`);
  const privateTags = env['DEID_PRIVATE_TAGS'] || 'remove';
  if (!['remove', 'keep-safe'].includes(privateTags)) problems.push('DEID_PRIVATE_TAGS must be remove or keep-safe');
  const burnedIn = env['DEID_BURNED_IN'] || 'quarantine';
  if (!['quarantine', 'allow'].includes(burnedIn)) problems.push('DEID_BURNED_IN must be quarantine or allow');
  const prefix = env['DEID_PATIENT_ID_PREFIX'] ?? 'ANON-';
  if (!/^[A-Za-z0-9_-]{0,16}$/.test(prefix)) problems.push('DEID_PATIENT_ID_PREFIX must be up to 16 letters, digits, - or _');
  const mode = (env['DEID_MODE'] || 'ResearchCopy') as ResearchConfig['mode'];
  if (mode !== 'ResearchCopy' && mode !== 'DeidentifiedOnly') problems.push('DEID_MODE must be ResearchCopy or DeidentifiedOnly');
  if (mode === 'DeidentifiedOnly' && !env['RAW_BUCKET']) problems.push('RAW_BUCKET is not set (DeidentifiedOnly)');
  const config: ResearchConfig = {
    mode,
    rawBucket: env['RAW_BUCKET'] || undefined,
    tableName: req('TABLE_NAME'),
    stagingBucket: req('STAGING_BUCKET'),
    processedBucket: req('PROCESSED_BUCKET'),
    keyArn: req('DEID_KEY_ARN'),
    dates,
    retain: privateTags === 'keep-safe' ? [...retain, 'safe-private'] : retain,
    allowBurnedIn: burnedIn === 'allow',
    patientIdPrefix: prefix,
    chunkSize: int('RESEARCH_CHUNK_SIZE', 25, 1, 200),
    instanceConcurrency: int('RESEARCH_INSTANCE_CONCURRENCY', 4, 1, 32),
    metricsNamespace: env['METRICS_NAMESPACE'] || 'DICOMStoreSCP',
    stackName: env['STACK_NAME'] || 'local',
    s3Endpoint: env['S3_ENDPOINT'] || undefined,
    dynamodbEndpoint: env['DYNAMODB_ENDPOINT'] || undefined,
    kmsEndpoint: env['KMS_ENDPOINT'] || undefined,
  };
  if (problems.length) throw new ConfigError(`invalid research configuration: ${problems.join('; ')}`);
  return Object.freeze(config);
}

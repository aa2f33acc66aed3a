import { S3Client } from '@aws-sdk/client-s3';
import { KMSClient } from '@aws-sdk/client-kms';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { deidentifyStream, deriveKeys, type DeidKeys } from '../deid/index';
import { createLogger } from '../logger';
import { loadResearchConfig } from './config';
import { kmsMac } from './keys';
import { createResearchMetrics } from './metrics';
import { ingestUploads, type UploadIngestDeps } from './upload-ingest';
import { copyResearchChunk, planResearchBatch, summarizeResearchBatch, type ResearchChunk, type ResearchDeps, type ResearchPlan, type ResearchRequest } from './research-copy';

let cached: ResearchDeps | undefined;

/** Config, clients and the sub-keys once per container; the keys are derived with KMS GenerateMac on first use (cold start). */
function runtime(component: string): ResearchDeps {
  if (!cached) {
    const config = loadResearchConfig();
    const s3 = new S3Client(config.s3Endpoint ? { endpoint: config.s3Endpoint, forcePathStyle: true } : {});
    const ddb = DynamoDBDocumentClient.from(new DynamoDBClient(config.dynamodbEndpoint ? { endpoint: config.dynamodbEndpoint } : {}), { marshallOptions: { removeUndefinedValues: true } });
    const kms = new KMSClient(config.kmsEndpoint ? { endpoint: config.kmsEndpoint } : {});
    let keys: Promise<DeidKeys> | undefined;
    cached = {
      config, s3, ddb, deidentify: deidentifyStream,
      keys: () => {
        keys ??= deriveKeys(kmsMac(kms, config.keyArn)).catch((err: unknown) => { keys = undefined; throw err; });
        return keys;
      },
      log: createLogger('research'), metrics: createResearchMetrics(config.metricsNamespace, config.stackName), now: () => new Date(),
    };
  }
  return { ...cached, log: createLogger(component) };
}

/** Forgets the cached runtime (tests change the environment between suites). */
export function resetResearchRuntime(): void {
  cached = undefined;
  uploadDeps = undefined;
}

export const researchPlanBatch = (event: ResearchRequest) => planResearchBatch(runtime('research-plan'), event);
export const researchCopyChunk = (event: ResearchChunk) => copyResearchChunk(runtime('research-copy'), event);
export const researchSummarize = (event: { batchId: string; plan: ResearchPlan }) => summarizeResearchBatch(runtime('research-summarize'), event);

/** S3 upload ingest (SQS event source over EventBridge "Object Created" events under uploads/). */
export const uploadIngest = (event: { Records: Array<{ messageId: string; body: string }> }) => {
  const env = process.env;
  const s3 = new S3Client(env['S3_ENDPOINT'] ? { endpoint: env['S3_ENDPOINT'], forcePathStyle: true } : {});
  uploadDeps ??= {
    s3, stagingBucket: env['STAGING_BUCKET'] ?? '', log: createLogger('upload-ingest'), now: () => new Date(),
    metrics: createResearchMetrics(env['METRICS_NAMESPACE'] || 'DICOMStoreSCP', env['STACK_NAME'] || 'local'),
    maxObjectBytes: Number(env['UPLOAD_MAX_OBJECT_BYTES'] || 5 * 1024 ** 3),
    maxBatchFiles: Number(env['UPLOAD_BATCH_MAX_FILES'] || 1000),
    maxBatchBytes: Number(env['UPLOAD_BATCH_MAX_BYTES'] || 10 * 1024 ** 3),
  };
  if (!uploadDeps.stagingBucket) throw new Error('STAGING_BUCKET is not set');
  return ingestUploads(uploadDeps, event);
};
let uploadDeps: UploadIngestDeps | undefined;

import { S3Client } from '@aws-sdk/client-s3';
import { KMSClient } from '@aws-sdk/client-kms';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { deidentifyStream, deriveKeys, type DeidKeys } from '../deid/index';
import { createLogger } from '../logger';
import { loadResearchConfig } from './config';
import { kmsMac } from './keys';
import { createResearchMetrics } from './metrics';
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
}

export const researchPlanBatch = (event: ResearchRequest) => planResearchBatch(runtime('research-plan'), event);
export const researchCopyChunk = (event: ResearchChunk) => copyResearchChunk(runtime('research-copy'), event);
export const researchSummarize = (event: { batchId: string; plan: ResearchPlan }) => summarizeResearchBatch(runtime('research-summarize'), event);

import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { MedicalImagingClient } from '@aws-sdk/client-medical-imaging';
import { loadConfig } from '../../lambda/config';
import type { WorkflowDeps } from '../../lambda/deps';
import { silentLogger } from '../../lambda/logger';
import type { MetricName } from '../../lambda/metrics';

/** Pinned clock of every unit test. */
export const NOW = new Date('2026-11-23T11:30:00.000Z');

export const TEST_ENV = {
  TABLE_NAME: 'workflow', STAGING_BUCKET: 'staging', RESULTS_BUCKET: 'results', DATASTORE_ID: '0123456789abcdef0123456789abcdef',
  DATA_ACCESS_ROLE_ARN: 'arn:aws:iam::123456789012:role/ahi', MAX_CONCURRENT_JOBS: '2', START_INTERVAL_MS: '1000', JOB_WAIT_TIMEOUT_SECONDS: '3600',
};

/** Deps with real (mockable) clients, a pinned clock and recorded metrics. */
export function testDeps(now: Date = NOW): WorkflowDeps & { emitted: Partial<Record<MetricName, number>>[] } {
  const emitted: Partial<Record<MetricName, number>>[] = [];
  const creds = { region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };
  return {
    config: loadConfig(TEST_ENV),
    s3: new S3Client(creds),
    ddb: DynamoDBDocumentClient.from(new DynamoDBClient(creds)),
    medicalImaging: new MedicalImagingClient(creds),
    now: () => now,
    log: silentLogger,
    metrics: { count: (v) => emitted.push(v) },
    sleep: async () => undefined,
    emitted,
  };
}

export const conditionalFailure = () => Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });

import type { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { MedicalImagingClient } from '@aws-sdk/client-medical-imaging';
import type { WorkflowConfig } from './config';
import type { Logger } from './logger';
import type { Metrics } from './metrics';

/** Everything a core function needs; handlers build it once per container, tests inject their own. */
export interface WorkflowDeps {
  readonly config: WorkflowConfig;
  readonly s3: S3Client;
  readonly ddb: DynamoDBDocumentClient;
  readonly medicalImaging: MedicalImagingClient;
  readonly now: () => Date;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Pause inside an invocation (default setTimeout); tests pass a recorder. */
  readonly sleep?: (ms: number) => Promise<void>;
}

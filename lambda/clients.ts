import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { MedicalImagingClient } from '@aws-sdk/client-medical-imaging';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { WorkflowConfig } from './config';

/** SDK clients of the workflow; endpoint overrides exist for local runs only. */
export interface WorkflowClients {
  readonly s3: S3Client;
  readonly ddb: DynamoDBDocumentClient;
  readonly medicalImaging: MedicalImagingClient;
  readonly sfn: SFNClient;
}

export function createClients(config: WorkflowConfig): WorkflowClients {
  // The SDK's own retries stay on (3 attempts); the state machine retries on top with backoff.
  const s3 = new S3Client(config.s3Endpoint ? { endpoint: config.s3Endpoint, forcePathStyle: true } : {});
  const ddbBase = new DynamoDBClient(config.dynamodbEndpoint ? { endpoint: config.dynamodbEndpoint } : {});
  const ddb = DynamoDBDocumentClient.from(ddbBase, { marshallOptions: { removeUndefinedValues: true } });
  const medicalImaging = new MedicalImagingClient(config.medicalImagingEndpoint ? { endpoint: config.medicalImagingEndpoint } : {});
  const sfn = new SFNClient(config.sfnEndpoint ? { endpoint: config.sfnEndpoint } : {});
  return { s3, ddb, medicalImaging, sfn };
}

import { App, BootstraplessSynthesizer, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ImportWorkflow, type ImportWorkflowProps } from '../../template-src/import-workflow';

/** A stack holding only the import workflow and the minimum it needs (tests only). */
export function buildWorkflowTestStack(overrides: Partial<ImportWorkflowProps> = {}): { app: App; stack: Stack; workflow: ImportWorkflow } {
  const app = new App();
  const stack = new Stack(app, 'WorkflowTest', { synthesizer: new BootstraplessSynthesizer({}) });
  const stagingBucket = new s3.Bucket(stack, 'Staging', { enforceSSL: true, encryption: s3.BucketEncryption.S3_MANAGED });
  const resultsBucket = new s3.Bucket(stack, 'Results', { enforceSSL: true, versioned: true });
  const table = new dynamodb.Table(stack, 'Table', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
  });
  const dataAccessRole = new iam.Role(stack, 'DataAccess', { assumedBy: new iam.ServicePrincipal('medical-imaging.amazonaws.com') });
  const workflow = new ImportWorkflow(stack, 'ImportWorkflow', {
    stagingBucket, resultsBucket, table, dataAccessRole,
    datastoreId: '0123456789abcdef0123456789abcdef',
    datastoreArn: 'arn:aws:medical-imaging:us-east-1:111122223333:datastore/0123456789abcdef0123456789abcdef',
    lambdaCode: lambda.Code.fromInline('exports.x = 1'),
    logRetentionDays: 30,
    ...overrides,
  });
  return { app, stack, workflow };
}

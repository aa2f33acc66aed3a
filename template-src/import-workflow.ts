import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/**
 * Contract between the stack (template issue) and the import workflow
 * (pipeline issue). The pipeline issue implements the construct body.
 */
export interface ImportWorkflowProps {
  /** Staging bucket the SCP writes `incoming/` and `batches/` into. */
  readonly stagingBucket: s3.IBucket;
  /** Bucket HealthImaging writes import job output into (versioned). */
  readonly resultsBucket: s3.IBucket;
  /** Job / batch / instance table (key schema in docs/data-contracts.md). */
  readonly table: dynamodb.ITable;
  /** HealthImaging data store id (created or given). */
  readonly datastoreId: string;
  /** HealthImaging data store ARN. */
  readonly datastoreArn: string;
  /** Role HealthImaging assumes to read staging and write results. */
  readonly dataAccessRole: iam.IRole;
  /** Code of every workflow Lambda (one zip, one handler per function). */
  readonly lambdaCode: lambda.Code;
  /** CloudWatch Logs retention in days for the workflow's log groups. */
  readonly logRetentionDays: number;
}

export class ImportWorkflow extends Construct {
  /** The import state machine (one execution per sealed batch). */
  public readonly stateMachine!: sfn.IStateMachine;
  /** Every Lambda function of the workflow (for error alarms). */
  public readonly functions: lambda.IFunction[] = [];
  /** Every dead-letter queue of the workflow (for depth alarms). */
  public readonly deadLetterQueues: sqs.IQueue[] = [];
  /** Instances HealthImaging refused (custom metric, for the import-failure alarm). */
  public readonly instancesFailedMetric!: cloudwatch.IMetric;

  constructor(scope: Construct, id: string, props: ImportWorkflowProps) {
    super(scope, id);
    void props;
  }
}

import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';

/** Fixed logical id of the table: renaming the construct must never replace it. */
export const JOB_TABLE_LOGICAL_ID = 'JobTable';

/**
 * The job / batch / instance table of docs/data-contracts.md: `pk`/`sk`,
 * GSIs `gsi1` (SOP instance lookup) and `gsi2` (recent failures), projection
 * ALL; on-demand, point-in-time recovery, KMS encryption (AWS managed key),
 * retained on stack deletion (RetainExceptOnCreate, see StatefulRetention).
 * No deletion protection in the template: it would make CloudFormation fail
 * to roll back a failed first create (it cannot delete the table); the
 * deployment guide has buyers turn it on once the stack is created.
 */
export class JobTable extends Construct {
  /** The table. */
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const key = (name: string): dynamodb.Attribute => ({ name, type: dynamodb.AttributeType.STRING });
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: key('pk'),
      sortKey: key('sk'),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const index of ['gsi1', 'gsi2']) {
      this.table.addGlobalSecondaryIndex({
        indexName: index,
        partitionKey: key(`${index}pk`),
        sortKey: key(`${index}sk`),
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
    (this.table.node.defaultChild as dynamodb.CfnTable).overrideLogicalId(JOB_TABLE_LOGICAL_ID);
    Validations.of(this.table).acknowledge({
      id: 'HIPAA.Security-DynamoDBInBackupPlan',
      reason:
        'Point-in-time recovery gives 35 days of continuous backups; AWS Backup plans are an account-level policy the customer applies by tag, not something one product stack should create.',
    });
  }
}

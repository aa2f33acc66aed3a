import { Aws, Fn, RemovalPolicy, Token, type CfnCondition, Validations } from 'aws-cdk-lib';
import { CfnDatastore } from 'aws-cdk-lib/aws-healthimaging';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/** Properties of {@link HealthImaging}. */
export interface HealthImagingProps {
  /** True when the stack must create the data store (ExistingDatastoreId empty). */
  readonly createDatastore: CfnCondition;
  /** Id of an existing data store, used when `createDatastore` is false. */
  readonly existingDatastoreId: string;
  /** Import input: HealthImaging reads `incoming/*` here. */
  readonly stagingBucket: s3.IBucket;
  /** Import output: HealthImaging writes job output here. */
  readonly resultsBucket: s3.IBucket;
  /** Customer managed KMS key of an existing data store, used when `datastoreKeyGiven`. */
  readonly datastoreKeyArn: string;
  /** True when ExistingDatastoreKmsKeyArn is not empty. */
  readonly datastoreKeyGiven: CfnCondition;
}

/**
 * The HealthImaging data store (created, or an existing one) and the data
 * access role import jobs run with.
 */
export class HealthImaging extends Construct {
  /** Data store id, created or given. */
  public readonly datastoreId: string;
  /** Data store ARN, created or given. */
  public readonly datastoreArn: string;
  /** Role HealthImaging assumes for import jobs of this data store only. */
  public readonly dataAccessRole: iam.Role;
  private readonly props: HealthImagingProps;

  constructor(scope: Construct, id: string, props: HealthImagingProps) {
    super(scope, id);
    this.props = props;
    const datastore = new CfnDatastore(this, 'Datastore', { datastoreName: Aws.STACK_NAME });
    datastore.overrideLogicalId('Datastore');
    datastore.cfnOptions.condition = props.createDatastore;
    // Any property change replaces a data store, and it holds the images of record.
    datastore.applyRemovalPolicy(RemovalPolicy.RETAIN);

    this.datastoreId = Token.asString(
      Fn.conditionIf(props.createDatastore.logicalId, datastore.attrDatastoreId, props.existingDatastoreId),
    );
    this.datastoreArn = Token.asString(
      Fn.conditionIf(
        props.createDatastore.logicalId,
        datastore.attrDatastoreArn,
        `arn:${Aws.PARTITION}:medical-imaging:${Aws.REGION}:${Aws.ACCOUNT_ID}:datastore/${props.existingDatastoreId}`,
      ),
    );

    this.dataAccessRole = new iam.Role(this, 'DataAccessRole', {
      description: 'Assumed by AWS HealthImaging to read staged DICOM and write import job output',
      assumedBy: new iam.ServicePrincipal('medical-imaging.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnEquals: { 'aws:SourceArn': this.datastoreArn },
        },
      }),
    });
    this.dataAccessRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [props.stagingBucket.bucketArn, props.resultsBucket.bucketArn],
      }),
    );
    this.dataAccessRole.addToPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [props.stagingBucket.arnForObjects('incoming/*')] }),
    );
    this.dataAccessRole.addToPolicy(
      new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [props.resultsBucket.arnForObjects('*')] }),
    );
    const policy = this.dataAccessRole.node.findChild('DefaultPolicy');
    Validations.of(policy).acknowledge({
      id: 'HIPAA.Security-IAMNoInlinePolicy',
      reason: 'A standalone AWS::IAM::Policy attached only to this role, scoped to this stack\'s buckets; a managed policy would be a reusable artifact with no added control.',
    });
    for (const finding of [
      'Resource::<StagingBucket.Arn>/incoming/*',
      'Resource::<ResultsBucket.Arn>/*',
    ]) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[${finding}]`,
        reason:
          'Import jobs read every object of a batch prefix under incoming/ and write job output under generated folder names; object keys are not known in advance.',
      });
    }
  }

  /**
   * Lets `roles` use the existing data store's customer managed key, through
   * HealthImaging only (kms:ViaService), when ExistingDatastoreKmsKeyArn is
   * given. HealthImaging needs DescribeKey for every call, GenerateDataKey for
   * writes (imports), Decrypt for reads, and grants for its own use (AWS
   * HealthImaging Developer Guide, "Data encryption").
   */
  public grantDatastoreKeyUse(roles: readonly iam.IRole[]): void {
    const policy = new iam.Policy(this, 'DatastoreKeyUse', {
      roles: [...roles],
      statements: [
        new iam.PolicyStatement({
          actions: ['kms:DescribeKey', 'kms:GenerateDataKey', 'kms:Decrypt', 'kms:CreateGrant', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'],
          resources: [this.props.datastoreKeyArn],
          conditions: { StringEquals: { 'kms:ViaService': `medical-imaging.${Aws.REGION}.amazonaws.com` } },
        }),
      ],
    });
    (policy.node.defaultChild as iam.CfnPolicy).cfnOptions.condition = this.props.datastoreKeyGiven;
    Validations.of(policy).acknowledge({
      id: 'HIPAA.Security-IAMNoInlinePolicy',
      reason: 'A standalone AWS::IAM::Policy, present only when ExistingDatastoreKmsKeyArn is given, scoped to that one key through HealthImaging.',
    });
  }
}

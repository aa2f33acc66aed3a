import { Aws, Duration, RemovalPolicy, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/** Properties of {@link Storage}. */
/** What every bucket of the stack has: SSE-S3, TLS 1.2+ only, no public access, owner-enforced, retained. */
export const SECURE_BUCKET = {
  encryption: s3.BucketEncryption.S3_MANAGED,
  enforceSSL: true,
  minimumTLSVersion: 1.2,
  blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
  objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
  removalPolicy: RemovalPolicy.RETAIN,
} as const;

export interface StorageProps {
  /** Days after which staging objects (incoming/, batches/, failed/) expire (may be a token). */
  readonly stagingRetentionDays: number;
}

/** Days after which access log objects in the log bucket expire. */
export const LOG_BUCKET_EXPIRATION_DAYS = 365;

/** Key prefix under which the load balancer writes its access logs in the log bucket. */
export const NLB_ACCESS_LOG_PREFIX = 'nlb';

/**
 * The three buckets: staging (SCP → import), results (HealthImaging job
 * output) and logs (server access logs of both, and NLB access logs). All are
 * SSE-S3 encrypted, TLS-only (TLS ≥ 1.2), public access blocked, owner-enforced,
 * retained on stack deletion, with fixed logical ids.
 */
export class Storage extends Construct {
  /** Bucket receiving S3 server access logs and NLB access logs. */
  public readonly logBucket: s3.Bucket;
  /** `incoming/<batchId>/<uid>.dcm`, `batches/<batchId>.json`, `failed/...` (docs/data-contracts.md). */
  public readonly stagingBucket: s3.Bucket;
  /** HealthImaging import job output (manifest and ndjson files); versioned. */
  public readonly resultsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    const secure = SECURE_BUCKET;

    this.logBucket = new s3.Bucket(this, 'LogBucket', {
      ...secure,
      versioned: true,
      // Access logs would otherwise grow without bound; a year covers audit look-backs.
      lifecycleRules: [
        { id: 'expire-noncurrent', noncurrentVersionExpiration: Duration.days(30) },
        { id: 'expire-access-logs', expiration: Duration.days(LOG_BUCKET_EXPIRATION_DAYS) },
      ],
    });
    fixLogicalId(this.logBucket, 'LogBucket');
    Validations.of(this.logBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log destination bucket; logging it into itself would loop.',
    });
    Validations.of(this.logBucket).acknowledge({
      id: 'HIPAA.Security-S3BucketLoggingEnabled',
      reason: 'This is the access-log destination bucket; logging it into itself would loop.',
    });
    this.allowLoadBalancerLogDelivery();

    const retention = Duration.days(Token.asNumber(props.stagingRetentionDays));
    this.stagingBucket = new s3.Bucket(this, 'StagingBucket', {
      ...secure,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 'staging/',
      lifecycleRules: [
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        ...['incoming/', 'batches/', 'failed/', 'conflicts/'].map((prefix) => ({
          id: `expire-${prefix.replace('/', '')}`,
          prefix,
          expiration: retention,
        })),
      ],
    });
    fixLogicalId(this.stagingBucket, 'StagingBucket');
    // EventBridge notifications let the import workflow react to sealed batches
    // (Object Created under batches/) without a notification custom resource.
    (this.stagingBucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };
    Validations.of(this.stagingBucket).acknowledge({
      id: 'HIPAA.Security-S3BucketVersioningEnabled',
      reason:
        'Transient staging: every object is written once under a unique key and deleted after a successful import; the durable copy is in HealthImaging. Versioning would keep deleted PHI copies.',
    });

    this.resultsBucket = new s3.Bucket(this, 'ResultsBucket', {
      ...secure,
      versioned: true,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 'results/',
      lifecycleRules: [{ id: 'expire-noncurrent', noncurrentVersionExpiration: Duration.days(90) }],
    });
    fixLogicalId(this.resultsBucket, 'ResultsBucket');

    for (const bucket of [this.logBucket, this.stagingBucket, this.resultsBucket]) {
      Validations.of(bucket).acknowledge({
        id: 'HIPAA.Security-S3BucketReplicationEnabled',
        reason:
          'Cross-Region replication is the customer\'s disaster-recovery choice (destination Region, account); images of record live in HealthImaging.',
      });
      Validations.of(bucket).acknowledge({
        id: 'HIPAA.Security-S3DefaultEncryptionKMS',
        reason:
          'Encrypted at rest with SSE-S3 (AES-256), as the product documents; SSE-KMS would require every reader (HealthImaging data access role, Lambdas, the SCP) to hold key grants for no added control in this design.',
      });
    }
  }

  /** Bucket policy for NLB access logs (delivered by delivery.logs.amazonaws.com). */
  private allowLoadBalancerLogDelivery(): void {
    const conditions = {
      StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
      ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:*` },
    };
    const principal = new iam.ServicePrincipal('delivery.logs.amazonaws.com');
    this.logBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'LoadBalancerLogDeliveryWrite',
        principals: [principal],
        actions: ['s3:PutObject'],
        resources: [this.logBucket.arnForObjects(`${NLB_ACCESS_LOG_PREFIX}/AWSLogs/${Aws.ACCOUNT_ID}/*`)],
        conditions: {
          ...conditions,
          StringEquals: { ...conditions.StringEquals, 's3:x-amz-acl': 'bucket-owner-full-control' },
        },
      }),
    );
    this.logBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'LoadBalancerLogDeliveryAclCheck',
        principals: [principal],
        actions: ['s3:GetBucketAcl'],
        resources: [this.logBucket.bucketArn],
        conditions,
      }),
    );
  }
}

function fixLogicalId(bucket: s3.Bucket, logicalId: string): void {
  (bucket.node.defaultChild as s3.CfnBucket).overrideLogicalId(logicalId);
}

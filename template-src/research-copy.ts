import { Aspects, Aws, CfnOutput, CfnResource, type CfnCondition, Duration, Fn, type IAspect, RemovalPolicy, Size, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as eventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct, type IConstruct } from 'constructs';
import { dependOnPolicyOnly, LAMBDA_RUNTIME, logicalIdOf } from './import-workflow';
import { vendedLogGroupName } from './log-retention';
import { SECURE_BUCKET } from './storage';
import { RESEARCH_SUBSTITUTIONS } from './research-hook';
import type { ResearchParameters } from './research-parameters';

/** Key prefix of research copies in the processed bucket (studies/<new StudyUID>/series/<new SeriesUID>/<new SOPUID>.dcm). */
export const PROCESSED_PREFIX = 'studies/';
/** Metric namespace shared with the import workflow (docs/operations.md). */
export const RESEARCH_METRICS_NAMESPACE = 'DICOMStoreSCP';
/** Instances per Map item: the Map's items stay far below the 256 KiB state payload for a 5000-instance batch. */
export const RESEARCH_CHUNK_SIZE = 25;
/** Map iterations (chunks) of one batch in flight at once. */
export const RESEARCH_MAP_CONCURRENCY = 8;
/** Instances one chunk Lambda de-identifies at once. */
export const RESEARCH_INSTANCE_CONCURRENCY = 4;

/** Export names in lambda/index.ts, one per research function. */
export const RESEARCH_HANDLERS = ['researchPlanBatch', 'researchCopyChunk', 'researchSummarize', 'uploadIngest'] as const;
/** Upload ingest: S3 events of uploads/ wait in SQS up to this long (the quiet period) or until this many (the count limit). */
export const UPLOAD_BATCH_WINDOW_SECONDS = 60;
export const UPLOAD_BATCH_MAX_FILES = 1000;
type ResearchHandler = (typeof RESEARCH_HANDLERS)[number];

/** Properties of {@link ResearchCopy}. */
export interface ResearchCopyProps {
  readonly params: ResearchParameters;
  /** Staging bucket (incoming/ objects are read, with their version). */
  readonly stagingBucket: s3.IBucket;
  /** Access-log destination. */
  readonly logBucket: s3.IBucket;
  /** The workflow table (research records live beside the clinical ones, own key prefixes). */
  readonly table: dynamodb.ITable;
  /** Code of the one Lambda bundle. */
  readonly lambdaCode: lambda.Code;
  /** Literal retention; the stack's LogRetentionPolicy replaces it with the parameter. */
  readonly logRetentionDays: number;
}

/**
 * Research copies: a KMS HMAC key (or an existing one), the processed bucket,
 * and the research state machine that de-identifies every instance of a sealed
 * batch (Map over chunks of the manifest) into
 * `studies/<new StudyUID>/series/<new SeriesUID>/<new SOPUID>.dcm`.
 * Every resource of this construct carries the DeidentificationOn condition:
 * with DeidentificationMode=Off the template creates none of it.
 */
export class ResearchCopy extends Construct {
  public readonly processedBucket: s3.Bucket;
  /** DeidentifiedOnly: versioned bucket of the originals. */
  public readonly rawBucket: s3.Bucket;
  public readonly stateMachine: sfn.StateMachine;
  /** ARN of the HMAC key (created or given). */
  public readonly keyArn: string;
  public readonly functions: lambda.Function[] = [];
  /** Dead-letter queue of the upload events (alarm). */
  public uploadDeadLetterQueue!: sqs.IQueue;
  /** Instances that could not be copied for a reason other than a refusal (alarm). */
  public readonly instancesFailedMetric: cloudwatch.IMetric;
  /** Instances the engine refused (burned-in, unparseable). */
  public readonly instancesRefusedMetric: cloudwatch.IMetric;

  private readonly params: ResearchParameters;

  constructor(scope: Construct, id: string, props: ResearchCopyProps) {
    super(scope, id);
    const { params } = props;
    this.params = params;
    // AWS::StackName, not the synthesis name: the Lambdas' metric dimension must match the alarms in any buyer stack.
    const stackName = Aws.STACK_NAME;

    // The HMAC key: created (and kept on delete) unless an ARN was given.
    const key = new kms.CfnKey(this, 'DeidKey', {
      description: `HMAC key of ${Aws.STACK_NAME}: pseudonyms of research copies (UIDs, patient ids, date shifts) are derived from it`,
      keySpec: 'HMAC_256',
      keyUsage: 'GENERATE_VERIFY_MAC',
      enableKeyRotation: false,
      keyPolicy: {
        Version: '2012-10-17',
        Statement: [{
          Sid: 'AccountAdministersThroughIam',
          Effect: 'Allow',
          Principal: { AWS: `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:root` },
          Action: 'kms:*',
          Resource: '*',
        }],
      },
    });
    key.overrideLogicalId('DeidKey');
    key.cfnOptions.condition = params.createKey;
    // Deleting the key makes every pseudonym unlinkable forever: keep it, except when its own creation fails.
    key.applyRemovalPolicy(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE);
    // Fn::If on "DeidKeyArn is empty" (inside resources that exist only when the mode is not Off): cfn-lint
    // then knows the Ref is only reached with an ARN and does not test the default '' against ARN patterns.
    this.keyArn = Token.asString(Fn.conditionIf(params.keyArnEmpty.logicalId, key.attrArn, params.keyArn.valueAsString));
    Validations.of(key).acknowledge({ id: 'AwsSolutions-KMS5', reason: 'HMAC_256 keys do not support automatic rotation in KMS; rotating would also break pseudonym linkage, so rotation is a documented manual decision.' });

    // Processed bucket: research copies, keyed by de-identified UIDs only.
    this.processedBucket = new s3.Bucket(this, 'ProcessedBucket', {
      ...SECURE_BUCKET,
      versioned: true,
      lifecycleRules: [
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        { id: 'expire-noncurrent', noncurrentVersionExpiration: Duration.days(30) },
        { id: 'tier-copies', prefix: PROCESSED_PREFIX, transitions: [{ storageClass: s3.StorageClass.INTELLIGENT_TIERING, transitionAfter: Duration.days(30) }] },
      ],
    });
    const processedCfn = this.processedBucket.node.defaultChild as s3.CfnBucket;
    processedCfn.overrideLogicalId('ProcessedBucket');
    // Access logs: set on the CfnBucket, and the log bucket's (unconditional) policy allows the S3 logging
    // service for this prefix and account only, so it references no conditional resource.
    logAccessTo(processedCfn, props.logBucket, 'processed/', 'ProcessedBucketAccessLogs');
    Validations.of(this.processedBucket).acknowledge(
      { id: 'HIPAA.Security-S3BucketReplicationEnabled', reason: 'Research copies can be regenerated from HealthImaging / raw originals; cross-Region replication is the customer\'s disaster-recovery choice.' },
      { id: 'HIPAA.Security-S3DefaultEncryptionKMS', reason: 'SSE-S3 (AES-256) like the other buckets; presigned downloads by researchers would otherwise need kms:Decrypt grants on a key for every reader.' },
    );

    // DeidentifiedOnly: the originals, versioned, kept RawRetentionDays (the research state machine keeps them there).
    const rawScope = new Construct(this, 'Raw');
    this.rawBucket = new s3.Bucket(rawScope, 'RawBucket', {
      ...SECURE_BUCKET,
      versioned: true,
      lifecycleRules: [
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        { id: 'expire-originals', expiration: Duration.days(Token.asNumber(params.rawRetentionDays.valueAsNumber)), noncurrentVersionExpiration: Duration.days(Token.asNumber(params.rawRetentionDays.valueAsNumber)) },
      ],
    });
    const rawCfn = this.rawBucket.node.defaultChild as s3.CfnBucket;
    rawCfn.overrideLogicalId('RawBucket');
    logAccessTo(rawCfn, props.logBucket, 'raw/', 'RawBucketAccessLogs');
    Validations.of(this.rawBucket).acknowledge(
      { id: 'HIPAA.Security-S3BucketReplicationEnabled', reason: 'Originals of DeidentifiedOnly mode; cross-Region replication is the customer\'s disaster-recovery choice (destination Region, account).' },
      { id: 'HIPAA.Security-S3DefaultEncryptionKMS', reason: 'SSE-S3 (AES-256) like the other buckets of the stack; SSE-KMS would need key grants for every reader for no added control in this design.' },
    );

    const env: Record<string, string> = {
      TABLE_NAME: props.table.tableName,
      STAGING_BUCKET: props.stagingBucket.bucketName,
      PROCESSED_BUCKET: this.processedBucket.bucketName,
      DEID_KEY_ARN: this.keyArn,
      DEID_MODE: params.mode.valueAsString,
      RAW_BUCKET: Token.asString(Fn.conditionIf(params.deidentifiedOnly.logicalId, this.rawBucket.bucketName, '')),
      DEID_DATES: params.dateHandling.valueAsString,
      DEID_RETAIN: params.retainOptions.valueAsString,
      DEID_PRIVATE_TAGS: params.privateTags.valueAsString,
      DEID_BURNED_IN: params.burnedIn.valueAsString,
      DEID_PATIENT_ID_PREFIX: params.patientIdPrefix.valueAsString,
      RESEARCH_CHUNK_SIZE: String(RESEARCH_CHUNK_SIZE),
      RESEARCH_INSTANCE_CONCURRENCY: String(RESEARCH_INSTANCE_CONCURRENCY),
      METRICS_NAMESPACE: RESEARCH_METRICS_NAMESPACE,
      STACK_NAME: stackName,
      NODE_OPTIONS: '--enable-source-maps',
    };
    const retention = props.logRetentionDays as logs.RetentionDays;
    const fns = {} as Record<ResearchHandler, lambda.Function>;
    const roles = {} as Record<ResearchHandler, iam.Role>;
    for (const name of RESEARCH_HANDLERS) {
      const logGroup = new logs.LogGroup(this, `${name}Logs`, { retention });
      Validations.of(logGroup).acknowledge({ id: 'HIPAA.Security-CloudWatchLogGroupEncrypted', reason: 'Encrypted by CloudWatch Logs with AWS-owned keys; research Lambdas log batch ids, ordinals, counts and refusal codes, never a value read from an instance.' });
      const role = new iam.Role(this, `${name}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: `research copy: ${name}` });
      role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
      role.addToPolicy(new iam.PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'], resources: [props.table.tableArn] }));
      const copy = name === 'researchCopyChunk';
      const fn = new lambda.Function(this, `${name}Function`, {
        runtime: LAMBDA_RUNTIME,
        architecture: lambda.Architecture.ARM_64,
        code: props.lambdaCode,
        handler: `index.${name}`,
        role,
        logGroup,
        tracing: lambda.Tracing.ACTIVE,
        memorySize: copy ? 1024 : 256,
        // A chunk streams up to RESEARCH_CHUNK_SIZE instances through /tmp (one output file per instance in flight).
        ephemeralStorageSize: copy ? Size.gibibytes(10) : undefined,
        timeout: copy || name === 'uploadIngest' ? Duration.minutes(15) : Duration.minutes(2),
        environment: { ...env },
        description: `DICOM research copy: ${name}`,
      });
      Validations.of(fn).acknowledge(
        { id: 'AwsSolutions-L1', reason: 'Pinned to Node.js 22: the bundle is built by esbuild for node22 and tested on it.' },
        { id: 'HIPAA.Security-LambdaInsideVPC', reason: 'Talks only to S3, DynamoDB and KMS public endpoints over TLS with IAM auth; no VPC resources to reach.' },
        { id: 'HIPAA.Security-LambdaConcurrency', reason: 'Concurrency is bounded by the research Map state (MaxConcurrency) and one execution per sealed batch; reserved concurrency fails in accounts with a low limit.' },
        { id: 'HIPAA.Security-LambdaDLQ', reason: name === 'uploadIngest' ? 'Invoked by an SQS event source; the source queue has a redrive policy to a DLQ.' : 'Invoked synchronously by Step Functions; failures are caught in the state machine and recorded per instance, a DLQ would never receive anything.' },
      );
      Validations.of(role).acknowledge(
        { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray PutTraceSegments / PutTelemetryRecords support no resource-level permissions.' },
        { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: 'A standalone AWS::IAM::Policy attached to this one role only, built from least-privilege grants; a managed policy would add a reusable artifact without adding control.' },
      );
      fns[name] = fn;
      roles[name] = role;
      this.functions.push(fn);
    }
    const stagingIds = logicalIdOf(props.stagingBucket);
    // DeidentifiedOnly: originals archived to the raw bucket; de-identified copies staged as a derived batch
    // (incoming/ + batches/, the SCP's manifest contract); archived originals removed from staging.
    const rawObjects = Token.asString(Fn.conditionIf(params.deidentifiedOnly.logicalId, this.rawBucket.arnForObjects('originals/*'), Aws.NO_VALUE));
    roles.researchCopyChunk.addToPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [props.stagingBucket.arnForObjects('incoming/*'), rawObjects] }));
    roles.researchCopyChunk.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.processedBucket.arnForObjects(`${PROCESSED_PREFIX}*`)] }));
    roles.researchSummarize.addToPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [props.stagingBucket.arnForObjects('batches/*')] }));
    roles.researchSummarize.addToPolicy(new iam.PolicyStatement({ actions: ['s3:DeleteObject'], resources: [props.stagingBucket.arnForObjects('incoming/*')] }));
    for (const prefix of ['batches/', 'incoming/']) Validations.of(roles.researchSummarize).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${stagingIds}.Arn>/${prefix}*]`, reason: 'DeidentifiedOnly: seals the derived batch manifest and removes archived originals; batch ids and object names are not known in advance.' });
    Validations.of(roles.researchCopyChunk).acknowledge({ id: 'AwsSolutions-IAM5[Resource::{"Fn::If":["DeidentifiedOnlyMode",{"Fn::Join":["",[{"Fn::GetAtt":["RawBucket","Arn"]},"/originals/*"]]},{"Ref":"AWS::NoValue"}]}]', reason: 'DeidentifiedOnly: archives each original under originals/<batch id>/; names are not known in advance.' });
    roles.researchPlanBatch.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [props.stagingBucket.arnForObjects('batches/*')] }));
    roles.researchCopyChunk.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:GetObjectVersion'], resources: [props.stagingBucket.arnForObjects('batches/*'), props.stagingBucket.arnForObjects('incoming/*')] }));
    roles.researchCopyChunk.addToPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.processedBucket.arnForObjects(`${PROCESSED_PREFIX}*`)] }));
    roles.researchCopyChunk.addToPolicy(new iam.PolicyStatement({ actions: ['kms:GenerateMac'], resources: [this.keyArn] }));
    for (const [role, prefixes] of [[roles.researchPlanBatch, ['batches/']], [roles.researchCopyChunk, ['batches/', 'incoming/']]] as const) {
      for (const prefix of prefixes) Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${stagingIds}.Arn>/${prefix}*]`, reason: 'Object actions scoped to one prefix of the staging bucket; batch ids and SOP Instance UIDs are not known in advance.' });
    }
    Validations.of(roles.researchCopyChunk).acknowledge({ id: `AwsSolutions-IAM5[Resource::<ProcessedBucket.Arn>/${PROCESSED_PREFIX}*]`, reason: 'Writes research copies under studies/; the de-identified UIDs of the object keys are computed per instance.' });

    // S3 upload ingest: Object Created under uploads/ -> EventBridge -> SQS (batching window = quiet period) -> uploadIngest.
    fns.uploadIngest.addEnvironment('UPLOAD_BATCH_MAX_FILES', String(UPLOAD_BATCH_MAX_FILES));
    const queue = (qid: string, retention: Duration, extra: Partial<sqs.QueueProps> = {}) => new sqs.Queue(this, qid, { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: retention, ...extra });
    const uploadDlq = queue('UploadEventDlq', Duration.days(14));
    Validations.of(uploadDlq).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is the dead-letter queue of the upload event queue and of its EventBridge target.' });
    this.uploadDeadLetterQueue = uploadDlq;
    const uploadQueue = queue('UploadEventQueue', Duration.days(4), { visibilityTimeout: Duration.minutes(16 * 6), deadLetterQueue: { queue: uploadDlq, maxReceiveCount: 5 } });
    new events.Rule(this, 'UploadEventRule', {
      description: 'An object was uploaded under uploads/ in the staging bucket',
      eventPattern: { source: ['aws.s3'], detailType: ['Object Created'], detail: { bucket: { name: [props.stagingBucket.bucketName] }, object: { key: [{ prefix: 'uploads/' }] } } },
      targets: [new targets.SqsQueue(uploadQueue, { deadLetterQueue: uploadDlq, retryAttempts: 185, maxEventAge: Duration.hours(24) })],
    });
    fns.uploadIngest.addEventSource(new eventSources.SqsEventSource(uploadQueue, {
      batchSize: UPLOAD_BATCH_MAX_FILES, maxBatchingWindow: Duration.seconds(UPLOAD_BATCH_WINDOW_SECONDS), maxConcurrency: 2, reportBatchItemFailures: true,
    }));
    const st = (prefix: string) => props.stagingBucket.arnForObjects(`${prefix}*`);
    roles.uploadIngest.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:DeleteObject'], resources: [st('uploads/')] }));
    roles.uploadIngest.addToPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [st('incoming/'), st('batches/'), st('failed/uploads/')] }));
    for (const prefix of ['uploads/', 'incoming/', 'batches/', 'failed/uploads/']) Validations.of(roles.uploadIngest).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${stagingIds}.Arn>/${prefix}*]`, reason: 'Upload ingest moves user-named objects from uploads/ into new batches or failed/uploads/; names are not known in advance.' });

    for (const name of RESEARCH_HANDLERS) dependOnPolicyOnly(fns[name].node.defaultChild as CfnResource, roles[name]);
    this.stateMachine = this.buildStateMachine(fns);
    dependOnPolicyOnly(this.stateMachine.node.defaultChild as CfnResource, this.stateMachine.role as iam.Role);
    const sm = this.stateMachine;
    Validations.of(sm).acknowledge(
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'CloudWatch Logs delivery and X-Ray actions of Step Functions support no resource-level permissions.' },
      { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: 'CDK-generated AWS::IAM::Policy attached to the research state machine role only (invoke the research functions, logs, X-Ray).' },
    );
    for (const name of RESEARCH_HANDLERS) {
      Validations.of(sm).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(fns[name])}.Arn>:*]`, reason: 'Invoking a function version/alias of this workflow\'s own function (CDK LambdaInvoke grant).' });
    }

    const metric = (metricName: string) => new cloudwatch.Metric({
      namespace: RESEARCH_METRICS_NAMESPACE, metricName, dimensionsMap: { StackName: stackName }, statistic: 'Sum', period: Duration.minutes(5),
    });
    this.instancesFailedMetric = metric('ResearchInstancesFailed');
    this.instancesRefusedMetric = metric('ResearchInstancesRefused');

    const out = (outputId: string, value: string, description: string, condition: CfnCondition) =>
      new CfnOutput(Stack.of(this), outputId, { value, description, condition });
    out('ProcessedBucketName', this.processedBucket.bucketName, 'S3 bucket of de-identified research copies (studies/<StudyUID>/series/<SeriesUID>/<SOPUID>.dcm).', params.enabled);
    out('ResearchStateMachineArn', this.stateMachine.stateMachineArn, 'Step Functions state machine writing the research copy of each batch.', params.enabled);
    out('DeidentificationKeyArn', this.keyArn, 'KMS HMAC key the pseudonyms are derived from (changing it starts an unlinkable mapping).', params.enabled);
    out('ResearchDownloadDefaultExpiry', params.downloadDefaultExpiry.valueAsString, 'Seconds a presigned research download URL lives when no expiry is asked for.', params.enabled);
    out('ResearchDownloadMaximumExpiry', params.downloadMaximumExpiry.valueAsString, 'Longest expiry (s) the research CLI signs.', params.enabled);
    out('RawBucketName', this.rawBucket.bucketName, 'DeidentifiedOnly: versioned bucket keeping the original instances.', params.deidentifiedOnly);

    Aspects.of(this).add(new ConditionAll(params.enabled, [[key, params.createKey], [rawScope, params.deidentifiedOnly]]));
  }

  /**
   * Lets the clinical import state machine start this one (research-hook.ts):
   * fills its DefinitionSubstitutions and grants its role, in a policy that
   * exists only when de-identification is on.
   */
  public startedBy(clinical: sfn.StateMachine): void {
    const on = this.params.enabled.logicalId;
    (clinical.node.defaultChild as sfn.CfnStateMachine).definitionSubstitutions = {
      [RESEARCH_SUBSTITUTIONS.enabled]: Token.asString(Fn.conditionIf(on, 'true', 'false')),
      [RESEARCH_SUBSTITUTIONS.mode]: this.params.mode.valueAsString,
      [RESEARCH_SUBSTITUTIONS.stateMachineArn]: Token.asString(Fn.conditionIf(on, this.stateMachine.stateMachineArn, 'none')),
    };
    const policy = new iam.Policy(this, 'ClinicalStartsResearch', {
      roles: [clinical.role],
      statements: [
        new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [this.stateMachine.stateMachineArn] }),
        new iam.PolicyStatement({
          actions: ['states:DescribeExecution', 'states:StopExecution'],
          resources: [`arn:${Aws.PARTITION}:states:${Aws.REGION}:${Aws.ACCOUNT_ID}:execution:${this.stateMachine.stateMachineName}:*`],
        }),
        // startExecution.sync:2 waits through a managed EventBridge rule (Step Functions developer guide, "IAM policies for starting executions").
        new iam.PolicyStatement({
          actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
          resources: [`arn:${Aws.PARTITION}:events:${Aws.REGION}:${Aws.ACCOUNT_ID}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule`],
        }),
      ],
    });
    Validations.of(policy).acknowledge(
      { id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<ResearchStateMachine56755795.Name>:*]', reason: 'Executions of the research state machine are named after the clinical execution; their ARNs are not known in advance.' },
      { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: 'A standalone AWS::IAM::Policy attached to the clinical state machine role only, created only when de-identification is on.' },
    );
  }

  /**
   * Research alarms (docs/operations.md), on the stack's alarm topic; like
   * everything here they exist only when de-identification is on.
   */
  public addAlarms(topic: sns.ITopic): void {
    const alarm = (id: string, metric: cloudwatch.IMetric, description: string) => {
      const a = new cloudwatch.Alarm(this, id, {
        alarmName: `${Aws.STACK_NAME}-${id}`, alarmDescription: description, metric, threshold: 0, evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(new cwActions.SnsAction(topic));
    };
    alarm('ResearchInstancesFailed', this.instancesFailedMetric, 'Instances got no research copy for a reason other than a refusal (see docs/operations.md, research copies).');
    alarm('ResearchExecutionsFailed', this.stateMachine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }), 'A research-copy execution failed (manifest unreadable, DynamoDB or S3 unavailable after retries); the clinical import went on.');
    alarm('DeadLettersUploadEventDlq', this.uploadDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }), 'Upload events could not be processed 5 times; the uploads are still under uploads/.');
    for (const fn of this.functions) {
      alarm(`LambdaErrors${fn.node.id}`, fn.metricErrors({ period: Duration.minutes(1), statistic: 'Sum' }), 'A research-copy Lambda function reported errors.');
    }
  }

  private buildStateMachine(fns: Record<ResearchHandler, lambda.Function>): sfn.StateMachine {
    const invoke = (id: string, fn: lambda.IFunction, resultPath: string) =>
      new tasks.LambdaInvoke(this, id, { lambdaFunction: fn, payloadResponseOnly: true, retryOnServiceExceptions: true, resultPath });
    const transient = ['ThrottlingException', 'ProvisionedThroughputExceededException', 'SlowDown', 'InternalError', 'ResearchRetryableError'];

    const plan = invoke('PlanResearchBatch', fns.researchPlanBatch, '$.plan')
      .addRetry({ errors: transient, interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 6, jitterStrategy: sfn.JitterType.FULL });
    const copy = invoke('CopyChunk', fns.researchCopyChunk, sfn.JsonPath.DISCARD)
      .addRetry({ errors: transient, interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 5, jitterStrategy: sfn.JitterType.FULL })
      .addRetry({ errors: ['States.ALL'], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 2 })
      // A chunk that still fails is recorded by the summary (its instances have no record and count as FAILED); the batch goes on.
      .addCatch(new sfn.Pass(this, 'ChunkNotCopied'), { resultPath: '$.error' });
    const map = new sfn.Map(this, 'CopyEachChunk', {
      itemsPath: '$.plan.chunks',
      maxConcurrency: RESEARCH_MAP_CONCURRENCY,
      resultPath: sfn.JsonPath.DISCARD,
    });
    map.itemProcessor(copy);
    const summarize = invoke('SummarizeResearchBatch', fns.researchSummarize, '$.summary')
      .addRetry({ errors: transient, interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 6, jitterStrategy: sfn.JitterType.FULL });
    const definition = plan.next(map).next(summarize).next(new sfn.Succeed(this, 'ResearchCopied'));

    const logGroup = new logs.LogGroup(this, 'StateMachineLogs', { logGroupName: vendedLogGroupName('states', 'research'), retention: logs.RetentionDays.ONE_YEAR });
    Validations.of(logGroup).acknowledge({ id: 'HIPAA.Security-CloudWatchLogGroupEncrypted', reason: 'Encrypted by CloudWatch Logs with AWS-owned keys; execution data is not logged (includeExecutionData false).' });
    return new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      comment: 'Writes a de-identified research copy of every instance of one sealed batch; one bad instance never fails the batch',
    });
  }
}

/** Puts `condition` on every resource of the scope, or the stricter condition of the subtree it is in. */
class ConditionAll implements IAspect {
  constructor(private readonly condition: CfnCondition, private readonly stricter: Array<[IConstruct, CfnCondition]>) {}
  public visit(node: IConstruct): void {
    if (!(node instanceof CfnResource)) return;
    const match = this.stricter.find(([scope]) => node === scope || node.node.path.startsWith(`${scope.node.path}/`));
    node.cfnOptions.condition = match ? match[1] : this.condition;
  }
}

/** Server access logs of a (conditional) bucket into the stack's log bucket under `prefix`: set on the
 * CfnBucket, with a statement in the log bucket's policy for the S3 logging service, this account only. */
function logAccessTo(bucket: s3.CfnBucket, logBucket: s3.IBucket, prefix: string, sid: string): void {
  bucket.loggingConfiguration = { destinationBucketName: logBucket.bucketName, logFilePrefix: prefix };
  logBucket.addToResourcePolicy(new iam.PolicyStatement({
    sid,
    principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
    actions: ['s3:PutObject'],
    resources: [logBucket.arnForObjects(`${prefix}*`)],
    conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
  }));
}

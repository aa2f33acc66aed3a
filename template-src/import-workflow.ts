import { Aws, CfnElement, type CfnResource, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as eventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** The Lambda runtime of every function of the stack (one Node.js major everywhere: test/release/toolchain.test.ts). */
export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_24_X;
import { vendedLogGroupName } from './log-retention';

/**
 * Contract between the stack (template issue) and the import workflow
 * (pipeline issue). Required props are agreed with the stack; optional props
 * only tune the workflow and each documents its default.
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
  /** Most import jobs this stack runs at once (the data store quota is 100, 20 in ap-southeast-2); a token (parameter) is passed through. @default 20 */
  readonly maxConcurrentJobs?: number;
  /** Least time between two StartDICOMImportJob calls of this stack (quota ≈1 TPS). @default Duration.millis(1100) */
  readonly startInterval?: Duration;
  /** Longest wait for one import job before the batch goes to the failure path. @default Duration.hours(6) */
  readonly jobWaitTimeout?: Duration;
  /** How often the sweeper looks for orphaned (never sealed) batches. @default Duration.minutes(5) */
  readonly sweepInterval?: Duration;
  /** Age of the newest object of an unsealed batch before the sweeper seals it. @default Duration.minutes(15) */
  readonly orphanAge?: Duration;
  /** Key prefix of import job output in the results bucket. @default 'import-results/' */
  readonly resultsPrefix?: string;
  /**
   * Turn on EventBridge notifications on the staging bucket (property override
   * on its CfnBucket, no custom resource). Set false when the bucket is
   * imported and already sends events to EventBridge. @default true
   */
  readonly enableStagingBucketEventBridge?: boolean;
  /**
   * KMS key for the workflow's log groups (its key policy must allow the
   * CloudWatch Logs service principal). @default - CloudWatch Logs' own encryption
   */
  readonly logsEncryptionKey?: kms.IKey;
  /** States run between validation and the import (research copies, template-src/research-hook.ts). @default - none */
  readonly beforeImport?: (scope: Construct, next: sfn.IChainable) => sfn.IChainable;
}

/** One alarm over a workflow metric (threshold: more than 0 in one 5-minute period). */
export interface ImportResultAlarm {
  readonly id: string;
  readonly metric: cloudwatch.IMetric;
  readonly description: string;
}

/** Metric namespace of the workflow's EMF metrics (docs/data-contracts.md). */
export const IMPORT_METRICS_NAMESPACE = 'DICOMStoreSCP';

/** Export names in lambda/index.ts, one per function. */
const HANDLERS = [
  'validateBatch', 'startImportJob', 'checkImportStatus', 'recordResults',
  'recordFailure', 'triggerStateMachine', 'sweepOrphanBatches',
] as const;
type HandlerName = (typeof HANDLERS)[number];

/**
 * The HealthImaging import workflow: S3 seal event → EventBridge → SQS →
 * trigger Lambda → one Step Functions execution per sealed batch (name =
 * batchId) → validate → start job (rate- and concurrency-limited) → poll with
 * backoff → record results / failure; plus the scheduled orphan-batch sweeper.
 */
export class ImportWorkflow extends Construct {
  /** The import state machine (one execution per sealed batch). */
  public readonly stateMachine: sfn.IStateMachine;
  /** Every Lambda function of the workflow (for error alarms). */
  public readonly functions: lambda.IFunction[] = [];
  /** Every dead-letter queue of the workflow (for depth alarms). */
  public readonly deadLetterQueues: sqs.IQueue[] = [];
  /** Instances HealthImaging refused (custom metric, for the import-failure alarm). */
  public readonly instancesFailedMetric: cloudwatch.IMetric;
  /** Import jobs that ended FAILED (custom metric). */
  public readonly importJobsFailedMetric: cloudwatch.IMetric;
  /**
   * Alarms of the import results (docs/operations.md, alarms table): each
   * fires on the first occurrence in 5 minutes. The monitoring construct
   * creates them with the stack's alarm action.
   */
  public readonly resultAlarms: readonly ImportResultAlarm[];
  /** Queue between the seal events and the trigger Lambda (for age-of-oldest-message alarms). */
  public readonly eventQueue: sqs.IQueue;
  /** Functions by export name. */
  public readonly functionsByName: Readonly<Record<HandlerName, lambda.IFunction>>;
  private readonly logsKey?: kms.IKey;

  constructor(scope: Construct, id: string, props: ImportWorkflowProps) {
    super(scope, id);
    validateProps(props);
    this.logsKey = props.logsEncryptionKey;
    // The deploying stack's name (a Ref), not the synthesizing stack's id: the
    // Lambdas' StackName dimension and the alarms / dashboard must agree per stack.
    const stackName = Aws.STACK_NAME;
    const retention = props.logRetentionDays as logs.RetentionDays;
    const resultsPrefix = props.resultsPrefix ?? 'import-results/';
    const jobWaitTimeout = props.jobWaitTimeout ?? Duration.hours(6);

    const commonEnv: Record<string, string> = {
      TABLE_NAME: props.table.tableName,
      STAGING_BUCKET: props.stagingBucket.bucketName,
      RESULTS_BUCKET: props.resultsBucket.bucketName,
      RESULTS_PREFIX: resultsPrefix,
      DATASTORE_ID: props.datastoreId,
      DATA_ACCESS_ROLE_ARN: props.dataAccessRole.roleArn,
      MAX_CONCURRENT_JOBS: Token.isUnresolved(props.maxConcurrentJobs) ? Token.asString(props.maxConcurrentJobs) : String(props.maxConcurrentJobs ?? 20),
      START_INTERVAL_MS: String((props.startInterval ?? Duration.millis(1100)).toMilliseconds()),
      JOB_WAIT_TIMEOUT_SECONDS: String(jobWaitTimeout.toSeconds()),
      ORPHAN_AGE_SECONDS: String((props.orphanAge ?? Duration.minutes(15)).toSeconds()),
      METRICS_NAMESPACE: IMPORT_METRICS_NAMESPACE,
      STACK_NAME: stackName,
      NODE_OPTIONS: '--enable-source-maps',
    };

    const fns = {} as Record<HandlerName, lambda.Function>;
    const roles = {} as Record<HandlerName, iam.Role>;
    for (const name of HANDLERS) {
      const logGroup = new logs.LogGroup(this, `${name}Logs`, { retention, encryptionKey: props.logsEncryptionKey });
      const role = new iam.Role(this, `${name}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `import workflow: ${name}`,
      });
      role.addToPolicy(new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }));
      const fn = new lambda.Function(this, `${name}Function`, {
        runtime: LAMBDA_RUNTIME,
        architecture: lambda.Architecture.ARM_64,
        code: props.lambdaCode,
        handler: `index.${name}`,
        role,
        logGroup,
        tracing: lambda.Tracing.ACTIVE,
        memorySize: name === 'recordResults' ? 1024 : 256,
        // validateBatch and recordFailure write one row per instance (up to 5,000 conditional puts).
        timeout: name === 'recordResults' || name === 'sweepOrphanBatches' ? Duration.minutes(15) : name === 'validateBatch' || name === 'recordFailure' ? Duration.minutes(5) : Duration.seconds(30),
        environment: { ...commonEnv },
        description: `DICOM import workflow: ${name}`,
      });
      Validations.of(fn).acknowledge(
        { id: 'AwsSolutions-L1', reason: 'Pinned to Node.js 24: the bundle is built by esbuild for node24 and tested on it.' },
        { id: 'HIPAA.Security-LambdaInsideVPC', reason: 'Talks only to S3, DynamoDB, HealthImaging and Step Functions public endpoints over TLS with IAM auth; no VPC resources to reach.' },
        { id: 'HIPAA.Security-LambdaConcurrency', reason: 'Concurrency is bounded by the SQS event source maxConcurrency, the Step Functions workflow and the import-slot semaphore; reserved concurrency fails in accounts with a low limit.' },
      );
      Validations.of(role).acknowledge(
        { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray PutTraceSegments / PutTelemetryRecords support no resource-level permissions.' },
        { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: 'A standalone AWS::IAM::Policy attached to this one role only, built from least-privilege grants; a managed policy would add a reusable artifact without adding control.' },
      );
      if (!props.logsEncryptionKey) ackLogsKey(logGroup);
      fns[name] = fn;
      roles[name] = role;
      this.functions.push(fn);
    }
    this.functionsByName = fns;
    for (const name of HANDLERS) {
      if (name === 'sweepOrphanBatches' || name === 'triggerStateMachine') continue;
      Validations.of(fns[name]).acknowledge({ id: 'HIPAA.Security-LambdaDLQ', reason: 'Invoked synchronously by Step Functions; failures go to the Catch / failure path, a DLQ would never receive anything.' });
    }

    grantTable(props.table, Object.values(roles));
    grantStaging(props, roles);
    grantResults(props, roles.recordResults, resultsPrefix);
    grantResults(props, roles.recordFailure, resultsPrefix);
    grantHealthImaging(props, roles);

    this.stateMachine = this.buildStateMachine(fns, retention, props.beforeImport);

    // Seal events: S3 (EventBridge) → rule → SQS → trigger Lambda.
    const eventDlq = this.newQueue('SealEventDeliveryDlq', Duration.days(14));
    Validations.of(eventDlq).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is the dead-letter queue of the EventBridge target.' });
    const triggerDlq = this.newQueue('SealEventDlq', Duration.days(14));
    Validations.of(triggerDlq).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is the dead-letter queue of the seal event queue.' });
    const eventQueue = this.newQueue('SealEventQueue', Duration.days(4), {
      visibilityTimeout: Duration.seconds(180),
      deadLetterQueue: { queue: triggerDlq, maxReceiveCount: 5 },
    });
    this.eventQueue = eventQueue;
    if (props.enableStagingBucketEventBridge ?? true) enableEventBridge(props.stagingBucket);
    new events.Rule(this, 'SealEventRule', {
      description: 'A batch manifest was written to batches/ in the staging bucket',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: { bucket: { name: [props.stagingBucket.bucketName] }, object: { key: [{ prefix: 'batches/' }] } },
      },
      targets: [new targets.SqsQueue(eventQueue, { deadLetterQueue: eventDlq, retryAttempts: 185, maxEventAge: Duration.hours(24) })],
    });
    fns.triggerStateMachine.addEnvironment('STATE_MACHINE_ARN', this.stateMachine.stateMachineArn);
    this.stateMachine.grantStartExecution(roles.triggerStateMachine);
    fns.triggerStateMachine.addEventSource(new eventSources.SqsEventSource(eventQueue, {
      batchSize: 10, maxConcurrency: 2, reportBatchItemFailures: true,
    }));
    Validations.of(fns.triggerStateMachine).acknowledge({ id: 'HIPAA.Security-LambdaDLQ', reason: 'Invoked by an SQS event source; the source queue has a redrive policy to a DLQ.' });

    // Orphan sweeper: scheduled, async invocations dead-letter to a queue.
    const sweeperDlq = this.newQueue('SweeperDlq', Duration.days(14));
    Validations.of(sweeperDlq).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is the dead-letter queue of the sweeper function.' });
    const sweeperCfn = fns.sweepOrphanBatches.node.defaultChild as lambda.CfnFunction;
    sweeperCfn.deadLetterConfig = { targetArn: sweeperDlq.queueArn };
    sweeperDlq.grantSendMessages(roles.sweepOrphanBatches);
    new events.Rule(this, 'SweepSchedule', {
      description: 'Seal batches orphaned by an SCP task that died before sealing',
      schedule: events.Schedule.rate(props.sweepInterval ?? Duration.minutes(5)),
      targets: [new targets.LambdaFunction(fns.sweepOrphanBatches, { retryAttempts: 2 })],
    });
    this.deadLetterQueues.push(eventDlq, triggerDlq, sweeperDlq);

    for (const name of HANDLERS) dependOnPolicyOnly(fns[name].node.defaultChild as CfnResource, roles[name]);
    const smRole = (this.stateMachine as sfn.StateMachine).role as iam.Role;
    dependOnPolicyOnly((this.stateMachine as sfn.StateMachine).node.defaultChild as CfnResource, smRole);

    const metric = (metricName: string) => new cloudwatch.Metric({
      namespace: IMPORT_METRICS_NAMESPACE, metricName, dimensionsMap: { StackName: stackName },
      statistic: 'Sum', period: Duration.minutes(5),
    });
    this.instancesFailedMetric = metric('InstancesFailed');
    this.importJobsFailedMetric = metric('ImportJobsFailed');

    // HealthImaging's own image-set events (EventBridge reference "AWS HealthImaging events", source
    // aws.medical-imaging): a second, independent signal of non-primary data. The rule needs no target:
    // its AWS/Events MatchedEvents metric feeds the NonPrimaryImageSetEvents alarm.
    const nonPrimaryRule = new events.Rule(this, 'NonPrimaryImageSetRule', {
      description: 'HealthImaging created or updated a non-primary image set in this data store (conflicting metadata)',
      eventPattern: {
        source: ['aws.medical-imaging'],
        detailType: ['Image Set Created', 'Image Set Updated'],
        detail: { datastoreId: [props.datastoreId], isPrimary: [false] },
      },
    });
    const matched = new cloudwatch.Metric({
      namespace: 'AWS/Events', metricName: 'MatchedEvents', dimensionsMap: { RuleName: nonPrimaryRule.ruleName },
      statistic: 'Sum', period: Duration.minutes(5),
    });
    this.resultAlarms = [
      { id: 'ImportOutputsInvalid', metric: metric('ImportOutputsInvalid'), description: 'An import job output did not reconcile with its summary or the batch: nothing was moved, the batch is FAILED for an operator (docs/operations.md).' },
      { id: 'InstancesNonPrimary', metric: metric('InstancesNonPrimary'), description: 'HealthImaging stored instances in a non-primary image set (conflicting metadata); copies are kept under conflicts/ for reconciliation (docs/operations.md).' },
      { id: 'NonPrimaryImageSetEvents', metric: matched, description: 'HealthImaging reported a non-primary image set through EventBridge: reconcile it (docs/operations.md).' },
      { id: 'ImportJobsOverdue', metric: metric('ImportJobsOverdue'), description: 'An import job is still running past the job wait bound; it keeps its slot and is polled every 15 minutes (docs/operations.md).' },
    ];
  }

  private newQueue(id: string, retentionPeriod: Duration, extra: Partial<sqs.QueueProps> = {}): sqs.Queue {
    return new sqs.Queue(this, id, {
      encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod, ...extra,
    });
  }

  private buildStateMachine(fns: Record<HandlerName, lambda.Function>, retention: logs.RetentionDays, beforeImport?: ImportWorkflowProps['beforeImport']): sfn.StateMachine {
    // payloadResponseOnly: Resource is the function ARN itself, the whole state is the event, the result is the handler's return value.
    // Lambda's own throttling (TooManyRequests) is retried on every task, on top of CDK's service-exception retry.
    const invoke = (id: string, fn: lambda.IFunction, resultPath: string) =>
      new tasks.LambdaInvoke(this, id, { lambdaFunction: fn, payloadResponseOnly: true, retryOnServiceExceptions: true, resultPath })
        .addRetry({ errors: ['Lambda.TooManyRequestsException'], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 8, maxDelay: Duration.minutes(2), jitterStrategy: sfn.JitterType.FULL });
    const transient = ['ThrottlingException', 'InternalServerException', 'TransientAwsError'];
    const transientRetry = { errors: transient, interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 8, maxDelay: Duration.minutes(5), jitterStrategy: sfn.JitterType.FULL };
    const toFailure = { resultPath: '$.error' };

    const recordFailure = invoke('RecordFailure', fns.recordFailure, '$.failure')
      .addRetry({ errors: ['States.ALL'], interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 4, jitterStrategy: sfn.JitterType.FULL })
      .next(new sfn.Fail(this, 'ImportFailed', { error: 'ImportFailed', cause: 'The batch was recorded as FAILED and kept in staging; see the batch item in DynamoDB.' }));

    const validate = invoke('ValidateBatch', fns.validateBatch, '$.batch')
      .addRetry({ errors: ['BatchNotReadyError'], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 3 })
      .addRetry(transientRetry)
      .addCatch(recordFailure, toFailure);
    const start = invoke('StartImportJob', fns.startImportJob, '$.job')
      .addRetry({ errors: ['ThrottlingException', 'InternalServerException', 'TransientAwsError'], interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 8, maxDelay: Duration.seconds(60), jitterStrategy: sfn.JitterType.FULL })
      .addRetry({ errors: ['StartRateLimitedError'], interval: Duration.seconds(1), backoffRate: 1.5, maxAttempts: 40, maxDelay: Duration.seconds(10), jitterStrategy: sfn.JitterType.FULL })
      // The data store's concurrent-job quota (ServiceQuotaExceededException) is the same wait as a busy slot of ours.
      .addRetry({ errors: ['ImportSlotUnavailableError', 'ServiceQuotaExceededException'], interval: Duration.seconds(30), backoffRate: 1.5, maxAttempts: 500, maxDelay: Duration.minutes(5), jitterStrategy: sfn.JitterType.FULL })
      .addCatch(recordFailure, toFailure);
    const wait = new sfn.Wait(this, 'WaitForImportJob', { time: sfn.WaitTime.secondsPath('$.job.waitSeconds') });
    const check = invoke('CheckImportStatus', fns.checkImportStatus, '$.job')
      .addRetry(transientRetry)
      .addCatch(recordFailure, toFailure);
    const record = invoke('RecordResults', fns.recordResults, '$.result')
      .addRetry({ errors: ['ImportOutputNotReadyError'], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 5 })
      .addRetry({ errors: ['ProvisionedThroughputExceededException', 'ThrottlingException', 'SlowDown', 'InternalError', 'TransientAwsError'], interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 6, jitterStrategy: sfn.JitterType.FULL })
      .addCatch(recordFailure, toFailure);
    // Server-error files stay in incoming/ and are re-imported by a follow-up job with its own clientToken (bounded in record-results).
    const retryServerErrors = new sfn.Choice(this, 'ServerErrorsToRetry?')
      .when(sfn.Condition.isPresent('$.result.retry'), start)
      .otherwise(new sfn.Succeed(this, 'Imported'));
    record.next(retryServerErrors);

    const importChain = start.next(wait).next(check).next(
      new sfn.Choice(this, 'JobEnded?')
        .when(sfn.Condition.stringEquals('$.job.jobStatus', 'COMPLETED'), record)
        .when(sfn.Condition.stringEquals('$.job.jobStatus', 'FAILED'), recordFailure)
        .otherwise(wait),
    );
    const definition = validate.next(
      new sfn.Choice(this, 'AlreadyImported?')
        .when(sfn.Condition.booleanEquals('$.batch.alreadyDone', true), new sfn.Succeed(this, 'NothingToDo'))
        .otherwise(beforeImport ? beforeImport(this, importChain) : importChain),
    );

    const logGroup = new logs.LogGroup(this, 'StateMachineLogs', { logGroupName: vendedLogGroupName('states', 'import'), retention, encryptionKey: this.logsKey });
    if (!this.logsKey) ackLogsKey(logGroup);
    const sm = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      comment: 'Imports one sealed DICOM batch into AWS HealthImaging and records the result per instance',
    });
    Validations.of(sm).acknowledge(
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'CloudWatch Logs delivery and X-Ray actions of Step Functions support no resource-level permissions.' },
      { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: 'CDK-generated AWS::IAM::Policy attached to the state machine role only (invoke the workflow functions, logs, X-Ray).' },
    );
    for (const name of ['validateBatch', 'startImportJob', 'checkImportStatus', 'recordResults', 'recordFailure'] as const) {
      Validations.of(sm).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(fns[name])}.Arn>:*]`, reason: 'Invoking a function version/alias of this workflow\'s own function (CDK LambdaInvoke grant).' });
    }
    return sm;
  }
}

function validateProps(props: ImportWorkflowProps): void {
  const problems: string[] = [];
  if (props.maxConcurrentJobs !== undefined && !Token.isUnresolved(props.maxConcurrentJobs) && !(Number.isInteger(props.maxConcurrentJobs) && props.maxConcurrentJobs >= 1 && props.maxConcurrentJobs <= 100)) problems.push('maxConcurrentJobs must be an integer in 1..100 (HealthImaging quota 100 per data store)');
  if (props.startInterval && props.startInterval.toMilliseconds() < 500) problems.push('startInterval must be at least 500 ms (StartDICOMImportJob ≈1 TPS, burst 2)');
  if (props.resultsPrefix !== undefined && props.resultsPrefix !== '' && !props.resultsPrefix.endsWith('/')) problems.push('resultsPrefix must end with "/"');
  if (!Number.isInteger(props.logRetentionDays) || props.logRetentionDays < 1) problems.push('logRetentionDays must be a positive integer');
  if (problems.length) throw new Error(`ImportWorkflow: invalid props:\n- ${problems.join('\n- ')}`);
}

function enableEventBridge(bucket: s3.IBucket): void {
  const cfn = bucket.node.defaultChild;
  if (cfn instanceof s3.CfnBucket) {
    cfn.addPropertyOverride('NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled', true);
    return;
  }
  throw new Error('ImportWorkflow: the staging bucket is not defined in this stack; turn on its EventBridge notifications yourself and pass enableStagingBucketEventBridge: false');
}

function grantTable(table: dynamodb.ITable, roles: iam.Role[]): void {
  for (const role of roles) {
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
      resources: [table.tableArn, `${table.tableArn}/index/*`],
    }));
    table.encryptionKey?.grantEncryptDecrypt(role);
    Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(table)}.Arn>/index/*]`, reason: 'Query on the table\'s own gsi1 / gsi2 indexes.' });
  }
}

function grantStaging(props: ImportWorkflowProps, roles: Record<HandlerName, iam.Role>): void {
  const b = props.stagingBucket;
  const obj = (prefix: string) => b.arnForObjects(`${prefix}*`);
  const allow = (role: iam.Role, actions: string[], resources: string[]) => {
    role.addToPolicy(new iam.PolicyStatement({ actions, resources }));
    b.encryptionKey?.grantEncryptDecrypt(role);
  };
  const list = (role: iam.Role) => allow(role, ['s3:ListBucket'], [b.bucketArn]);
  allow(roles.validateBatch, ['s3:GetObject'], [obj('batches/')]);
  list(roles.validateBatch);
  allow(roles.recordFailure, ['s3:GetObject'], [obj('batches/')]);
  allow(roles.recordResults, ['s3:GetObject'], [obj('batches/'), obj('incoming/')]);
  allow(roles.recordResults, ['s3:DeleteObject'], [obj('incoming/')]);
  allow(roles.recordResults, ['s3:PutObject'], [obj('failed/'), obj('conflicts/')]);
  list(roles.recordResults);
  allow(roles.sweepOrphanBatches, ['s3:GetObject'], [obj('incoming/'), obj('batches/')]);
  allow(roles.sweepOrphanBatches, ['s3:PutObject'], [obj('batches/')]);
  list(roles.sweepOrphanBatches);
  const reason = 'Object actions scoped to one prefix of the staging bucket; object keys (batch ids, SOP Instance UIDs) are not known in advance.';
  for (const role of [roles.validateBatch, roles.recordResults, roles.recordFailure, roles.sweepOrphanBatches]) {
    for (const prefix of ['batches/', 'incoming/', 'failed/', 'conflicts/']) {
      Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(b)}.Arn>/${prefix}*]`, reason });
    }
  }
}

function grantResults(props: ImportWorkflowProps, role: iam.Role, prefix: string): void {
  role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [props.resultsBucket.arnForObjects(`${prefix}*`)] }));
  role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [props.resultsBucket.bucketArn] }));
  props.resultsBucket.encryptionKey?.grantDecrypt(role);
  Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(props.resultsBucket)}.Arn>/${prefix}*]`, reason: 'Reads import job output under the results prefix; output folder names carry job ids not known in advance.' });
}

function grantHealthImaging(props: ImportWorkflowProps, roles: Record<HandlerName, iam.Role>): void {
  roles.startImportJob.addToPolicy(new iam.PolicyStatement({
    actions: ['medical-imaging:StartDICOMImportJob', 'medical-imaging:GetDICOMImportJob'],
    resources: [props.datastoreArn],
  }));
  roles.startImportJob.addToPolicy(new iam.PolicyStatement({
    actions: ['iam:PassRole'],
    resources: [props.dataAccessRole.roleArn],
    conditions: { StringEquals: { 'iam:PassedToService': 'medical-imaging.amazonaws.com' } },
  }));
  roles.checkImportStatus.addToPolicy(new iam.PolicyStatement({
    actions: ['medical-imaging:GetDICOMImportJob'],
    resources: [props.datastoreArn],
  }));
}

/** The logical id cdk-nag prints in granular IAM5 findings for a resource of this stack. */
export function logicalIdOf(resource: Construct): string {
  const child = resource.node.defaultChild;
  return child instanceof CfnElement ? Stack.of(resource).getLogicalId(child) : resource.node.id;
}

/**
 * CDK makes a function / state machine depend on its role and the role's
 * policy; the role is already referenced by GetAtt (cfn-lint W3005), the
 * policy is the dependency that matters (permissions in place before use).
 */
export function dependOnPolicyOnly(resource: CfnResource, role: iam.Role): void {
  const policy = role.node.tryFindChild('DefaultPolicy')?.node.defaultChild as CfnResource | undefined;
  resource.addOverride('DependsOn', policy ? [Stack.of(resource).getLogicalId(policy)] : undefined);
}

function ackLogsKey(logGroup: logs.LogGroup): void {
  Validations.of(logGroup).acknowledge({ id: 'HIPAA.Security-CloudWatchLogGroupEncrypted', reason: 'Encrypted by CloudWatch Logs with AWS-owned keys; pass logsEncryptionKey for a customer-managed key. Logs carry UIDs, AE titles and counts, no pixel data or patient demographics.' });
}

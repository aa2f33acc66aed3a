import { Aws, Duration, Validations, type CfnCondition } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { ImportWorkflow } from './import-workflow';

/** Properties of {@link Monitoring}. */
export interface MonitoringProps {
  /** E-mail subscribed to the alarm topic, when `alarmEmailGiven`. */
  readonly alarmEmail: string;
  /** True when AlarmEmail is not empty. */
  readonly alarmEmailGiven: CfnCondition;
  /** ECS cluster name. */
  readonly clusterName: string;
  /** ECS service name. */
  readonly serviceName: string;
  /** `net/<name>/<id>` of the load balancer. */
  readonly loadBalancerFullName: string;
  /** `targetgroup/<name>/<id>` of the target group. */
  readonly targetGroupFullName: string;
}

/** Every alarm of the stack is named `<stack name>-<id>`: the topic policy relies on it. */
const ALARM_NAME_PREFIX = `${Aws.STACK_NAME}-`;

/** ARN pattern matching every alarm of this stack (and no alarm of another stack with a different name). */
export function alarmArnPattern(): string {
  return `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:${ALARM_NAME_PREFIX}*`;
}

/** Alarms: the troubleshooting guide's recommendations, to one SNS topic. */
export class Monitoring extends Construct {
  /** Topic every alarm notifies (alarm and OK). */
  public readonly topic: sns.Topic;
  /** Every alarm created so far. */
  public readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'AlarmTopic', { displayName: 'DICOM Store SCP alarms', enforceSSL: true });
    // A topic policy replaces SNS's default policy: with only enforceSSL's Deny
    // in it, CloudWatch could not publish and every alarm would fire silently.
    // Allow CloudWatch, for this account's alarms named by this stack only.
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsOfThisStack',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: { 'aws:SourceArn': alarmArnPattern() },
        },
      }),
    );
    Validations.of(this.topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry alarm names and metric values, no PHI; CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key, and a customer managed key adds cost and a key policy to maintain.',
    });
    Validations.of(this.topic).acknowledge({
      id: 'HIPAA.Security-SNSEncryptedKMS',
      reason: 'Alarm notifications carry alarm names and metric values, no PHI; CloudWatch alarms cannot publish to a topic encrypted with the AWS managed SNS key.',
    });
    const subscription = new sns.CfnSubscription(this, 'AlarmEmailSubscription', {
      topicArn: this.topic.topicArn,
      protocol: 'email',
      endpoint: props.alarmEmail,
    });
    subscription.cfnOptions.condition = props.alarmEmailGiven;

    const ecsMetric = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/ECS',
        metricName,
        dimensionsMap: { ClusterName: props.clusterName, ServiceName: props.serviceName },
        statistic: 'Average',
        period: Duration.minutes(5),
      });
    this.alarm('ScpCpuHigh', ecsMetric('CPUUtilization'), 80, 2, 'SCP tasks average CPU above 80 % for 10 minutes: raise AutoscaleMaxCapacity or TaskCPU.');
    this.alarm('ScpMemoryHigh', ecsMetric('MemoryUtilization'), 80, 2, 'SCP tasks average memory above 80 % for 10 minutes: raise TaskMemoryLimit or lower MaximumAssociations.');
    const healthy = new cloudwatch.Metric({
      namespace: 'AWS/NetworkELB',
      metricName: 'HealthyHostCount',
      dimensionsMap: { LoadBalancer: props.loadBalancerFullName, TargetGroup: props.targetGroupFullName },
      statistic: 'Minimum',
      period: Duration.minutes(1),
    });
    this.alarm('NoHealthyScpTask', healthy, 1, 3, 'No SCP task has passed its health check for 3 minutes: senders cannot store images.', cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, cloudwatch.TreatMissingData.BREACHING);
  }

  /** Alarms over the import workflow's public members; members it does not (yet) create are skipped. */
  public addWorkflowAlarms(workflow: ImportWorkflow): void {
    const stateMachine = workflow.stateMachine as ImportWorkflow['stateMachine'] | undefined;
    if (stateMachine) {
      const period = { period: Duration.minutes(5), statistic: 'Sum' };
      this.alarm('ImportExecutionsFailed', stateMachine.metricFailed(period), 0, 1, 'An import workflow execution failed: a batch was not imported (see docs/operations.md).');
      this.alarm('ImportExecutionsTimedOut', stateMachine.metricTimedOut(period), 0, 1, 'An import workflow execution timed out.');
    }
    // startImportJob / checkImportStatus throw HealthImaging throttling and "all import slots busy"
    // on purpose: the state machine retries them with backoff, and a batch that really fails is
    // caught by ImportExecutionsFailed. For those two, alarm only on sustained errors.
    const retried = new Set<lambda.IFunction>([workflow.functionsByName.startImportJob, workflow.functionsByName.checkImportStatus].filter((f): f is lambda.IFunction => f !== undefined));
    for (const fn of workflow.functions) {
      if (retried.has(fn)) {
        this.alarm(`LambdaErrors${fn.node.id}`, fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }), 10, 3, 'An import Lambda kept failing for 15 minutes (more than 10 errors every 5 minutes): HealthImaging is throttling or refusing jobs; check quotas (docs/operations.md).');
      } else {
        this.alarm(`LambdaErrors${fn.node.id}`, fn.metricErrors({ period: Duration.minutes(1), statistic: 'Sum' }), 0, 1, 'A Lambda function of the import workflow reported errors.');
      }
    }
    for (const queue of workflow.deadLetterQueues) {
      const depth = queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' });
      this.alarm(`DeadLetters${queue.node.id}`, depth, 0, 1, 'Messages are waiting in a dead-letter queue of the import workflow: redrive them after fixing the cause.');
    }
    const failed = workflow.instancesFailedMetric as cloudwatch.IMetric | undefined;
    if (failed) {
      this.alarm('InstancesFailedImport', failed, 0, 1, 'HealthImaging refused instances; they are quarantined under failed/ with the reason.');
    }
    for (const a of (workflow.resultAlarms as ImportWorkflow['resultAlarms'] | undefined) ?? []) this.alarm(a.id, a.metric, 0, 1, a.description);
  }

  private alarm(
    id: string,
    metric: cloudwatch.IMetric,
    threshold: number,
    evaluationPeriods: number,
    description: string,
    comparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    treatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
  ): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      alarmName: `${ALARM_NAME_PREFIX}${id}`,
      alarmDescription: description,
      metric,
      threshold,
      evaluationPeriods,
      comparisonOperator,
      treatMissingData,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    alarm.addOkAction(new actions.SnsAction(this.topic));
    this.alarms.push(alarm);
  }
}

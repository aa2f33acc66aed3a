import { Aws, Fn, Token, type CfnCondition } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Construct } from 'constructs';

/** Properties of {@link ScpService}. */
export interface ScpServiceProps {
  /** Task definition of the SCP. */
  readonly taskDefinition: ecs.TaskDefinition;
  /** Name of the container registered in the target group. */
  readonly containerName: string;
  /** DICOM port of the container. */
  readonly containerPort: number;
  /** Private subnet ids (list token). */
  readonly subnetIds: string[];
  /** Security group managed by the stack. */
  readonly securityGroupId: string;
  /** Optional extra security group (SecurityGroupID) and its condition. */
  readonly extraSecurityGroup: { readonly id: string; readonly given: CfnCondition };
  /** Target group of the load balancer. */
  readonly targetGroup: elbv2.CfnTargetGroup;
  /** Listener the target group is attached to (the service must wait for it). */
  readonly listener: elbv2.CfnListener;
  /** Initial and minimum task count (token). */
  readonly minCapacity: number;
  /** Maximum task count (token). */
  readonly maxCapacity: number;
}

/** Average CPU utilisation the service scales to (REFERENCE §1). */
export const CPU_TARGET_PERCENT = 50;

/**
 * Average AssociationUtilization (established associations as a percentage of
 * MAXIMUM_ASSOCIATIONS, published by every task in CloudWatch embedded metric
 * format: container/src/association-utilization.ts) the service scales to. A
 * task whose event loop is saturated can show little average CPU on several
 * vCPUs; its association table still fills.
 */
export const ASSOCIATION_TARGET_PERCENT = 70;
/** Namespace and name of that metric (the container's contract). */
export const ASSOCIATION_METRIC = { namespace: 'DICOMStoreSCP', metricName: 'AssociationUtilization' } as const;
/** Both target-tracking policies use these cooldowns (seconds). */
export const SCALING_COOLDOWN_SECONDS = 60;

/**
 * ECS cluster (Container Insights on) and the Fargate service in the private
 * subnets without public IPs, rolling deployments with circuit breaker, CPU
 * and association-utilization target tracking from minCapacity to
 * maxCapacity with 60 s cooldowns (Application Auto Scaling scales out when
 * either policy asks, in only when both allow).
 */
export class ScpService extends Construct {
  /** The cluster. */
  public readonly cluster: ecs.CfnCluster;
  /** The service. */
  public readonly service: ecs.CfnService;

  constructor(scope: Construct, id: string, props: ScpServiceProps) {
    super(scope, id);
    this.cluster = new ecs.CfnCluster(this, 'Cluster', {
      clusterSettings: [{ name: 'containerInsights', value: 'enabled' }],
    });
    this.cluster.overrideLogicalId('Cluster');

    this.service = new ecs.CfnService(this, 'Service', {
      cluster: this.cluster.ref,
      taskDefinition: props.taskDefinition.taskDefinitionArn,
      launchType: 'FARGATE',
      platformVersion: 'LATEST',
      desiredCount: props.minCapacity,
      enableEcsManagedTags: true,
      propagateTags: 'SERVICE',
      healthCheckGracePeriodSeconds: 60,
      deploymentConfiguration: {
        minimumHealthyPercent: 100,
        maximumPercent: 200,
        deploymentCircuitBreaker: { enable: true, rollback: true },
      },
      networkConfiguration: {
        awsvpcConfiguration: {
          assignPublicIp: 'DISABLED',
          subnets: props.subnetIds,
          securityGroups: Token.asList(
            Fn.conditionIf(
              props.extraSecurityGroup.given.logicalId,
              [props.securityGroupId, props.extraSecurityGroup.id],
              [props.securityGroupId],
            ),
          ),
        },
      },
      loadBalancers: [
        { containerName: props.containerName, containerPort: props.containerPort, targetGroupArn: props.targetGroup.ref },
      ],
    });
    this.service.overrideLogicalId('Service');
    this.service.node.addDependency(props.listener);

    const target = new autoscaling.CfnScalableTarget(this, 'ScalableTarget', {
      serviceNamespace: 'ecs',
      scalableDimension: 'ecs:service:DesiredCount',
      resourceId: `service/${this.cluster.ref}/${this.service.attrName}`,
      minCapacity: props.minCapacity,
      maxCapacity: props.maxCapacity,
    });
    new autoscaling.CfnScalingPolicy(this, 'CpuTracking', {
      policyName: 'cpu-target-tracking',
      policyType: 'TargetTrackingScaling',
      scalingTargetId: target.ref,
      targetTrackingScalingPolicyConfiguration: {
        targetValue: CPU_TARGET_PERCENT,
        scaleInCooldown: SCALING_COOLDOWN_SECONDS,
        scaleOutCooldown: SCALING_COOLDOWN_SECONDS,
        predefinedMetricSpecification: { predefinedMetricType: 'ECSServiceAverageCPUUtilization' },
      },
    });
    new autoscaling.CfnScalingPolicy(this, 'AssociationTracking', {
      policyName: 'association-target-tracking',
      policyType: 'TargetTrackingScaling',
      scalingTargetId: target.ref,
      targetTrackingScalingPolicyConfiguration: {
        targetValue: ASSOCIATION_TARGET_PERCENT,
        scaleInCooldown: SCALING_COOLDOWN_SECONDS,
        scaleOutCooldown: SCALING_COOLDOWN_SECONDS,
        customizedMetricSpecification: {
          namespace: ASSOCIATION_METRIC.namespace,
          metricName: ASSOCIATION_METRIC.metricName,
          dimensions: [{ name: 'StackName', value: Aws.STACK_NAME }],
          statistic: 'Average',
          unit: 'Percent',
        },
      },
    });
  }
}

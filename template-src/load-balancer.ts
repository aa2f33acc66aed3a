import { Aws, Fn, Token, Validations, type CfnCondition } from 'aws-cdk-lib';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { NLB_ACCESS_LOG_PREFIX } from './storage';

/** Properties of {@link DicomLoadBalancer}. */
export interface DicomLoadBalancerProps {
  /** VPC id. */
  readonly vpcId: string;
  /** True: internet-facing in the public subnets; false: internal in the private subnets. */
  readonly internetFacing: CfnCondition;
  /** Public subnet ids (list token). */
  readonly publicSubnetIds: string[];
  /** Private subnet ids (list token). */
  readonly privateSubnetIds: string[];
  /** Security group of the load balancer. */
  readonly securityGroupId: string;
  /** DICOM port of the listener (token). */
  readonly scpPort: number;
  /** DICOM port of the targets (the container). */
  readonly containerPort: number;
  /** Container health port (HTTP GET /health, 200 = accepting). */
  readonly healthPort: number;
  /** True when a TLS certificate is given. */
  readonly tlsEnabled: CfnCondition;
  /** ACM certificate ARN (used only when `tlsEnabled`). */
  readonly certificateArn: string;
  /** NLB TLS security policy name of the TLS listener (the TLSSecurityPolicy parameter). */
  readonly tlsSecurityPolicy: string;
  /** Access log destination; it must already allow delivery.logs.amazonaws.com. */
  readonly logBucket: s3.IBucket;
  /**
   * Seconds the load balancer keeps routing existing associations of a
   * deregistering task before ECS stops it. Default: 120.
   */
  readonly deregistrationDelaySeconds?: number;
}


/**
 * Network Load Balancer with one listener on the DICOM port (TCP, or TLS
 * terminated with the ACM certificate) and an IP target group with client IP
 * preservation and an HTTP health check on the container's health port.
 */
export class DicomLoadBalancer extends Construct {
  /** The load balancer. */
  public readonly loadBalancer: elbv2.CfnLoadBalancer;
  /** The target group the ECS service registers its tasks in. */
  public readonly targetGroup: elbv2.CfnTargetGroup;
  /** The listener (the ECS service must depend on it). */
  public readonly listener: elbv2.CfnListener;

  constructor(scope: Construct, id: string, props: DicomLoadBalancerProps) {
    super(scope, id);
    this.loadBalancer = new elbv2.CfnLoadBalancer(this, 'Resource', {
      type: 'network',
      scheme: Token.asString(Fn.conditionIf(props.internetFacing.logicalId, 'internet-facing', 'internal')),
      subnets: Token.asList(
        Fn.conditionIf(props.internetFacing.logicalId, props.publicSubnetIds, props.privateSubnetIds),
      ),
      securityGroups: [props.securityGroupId],
      ipAddressType: 'ipv4',
      loadBalancerAttributes: [
        { key: 'load_balancing.cross_zone.enabled', value: 'true' },
        { key: 'access_logs.s3.enabled', value: 'true' },
        { key: 'access_logs.s3.bucket', value: props.logBucket.bucketName },
        { key: 'access_logs.s3.prefix', value: NLB_ACCESS_LOG_PREFIX },
      ],
    });
    this.loadBalancer.overrideLogicalId('LoadBalancer');
    Validations.of(this.loadBalancer).acknowledge({
      id: 'HIPAA.Security-ELBDeletionProtectionEnabled',
      reason:
        'The load balancer holds no data and is re-created by the stack; deletion protection would make stack deletion and scheme changes (a replacement) fail.',
    });
    const logPolicy = props.logBucket.policy?.node.defaultChild;
    if (logPolicy) this.loadBalancer.node.addDependency(logPolicy);

    this.targetGroup = new elbv2.CfnTargetGroup(this, 'Targets', {
      vpcId: props.vpcId,
      targetType: 'ip',
      protocol: 'TCP',
      port: props.containerPort,
      healthCheckEnabled: true,
      healthCheckProtocol: 'HTTP',
      healthCheckPort: String(props.healthPort),
      healthCheckPath: '/health',
      matcher: { httpCode: '200' },
      healthCheckIntervalSeconds: 10,
      healthCheckTimeoutSeconds: 5,
      healthyThresholdCount: 2,
      unhealthyThresholdCount: 2,
      targetGroupAttributes: [
        { key: 'preserve_client_ip.enabled', value: 'true' },
        { key: 'deregistration_delay.timeout_seconds', value: String(props.deregistrationDelaySeconds ?? 120) },
        // Associations still open when the delay ends are drained by the task itself (SIGTERM).
        { key: 'deregistration_delay.connection_termination.enabled', value: 'false' },
      ],
    });
    this.targetGroup.overrideLogicalId('TargetGroup');

    const tls = props.tlsEnabled.logicalId;
    this.listener = new elbv2.CfnListener(this, 'Listener', {
      loadBalancerArn: this.loadBalancer.ref,
      port: props.scpPort,
      protocol: Token.asString(Fn.conditionIf(tls, 'TLS', 'TCP')),
      sslPolicy: Token.asString(Fn.conditionIf(tls, props.tlsSecurityPolicy, Aws.NO_VALUE)),
      certificates: Token.asAny(
        Fn.conditionIf(tls, [{ CertificateArn: props.certificateArn }], Aws.NO_VALUE),
      ) as unknown as elbv2.CfnListener.CertificateProperty[],
      defaultActions: [{ type: 'forward', targetGroupArn: this.targetGroup.ref }],
    });
    this.listener.overrideLogicalId('Listener');
    Validations.of(this.listener).acknowledge({
      id: 'HIPAA.Security-ALBHttpToHttpsRedirection',
      reason: 'Network Load Balancer listener carrying DICOM (TCP or TLS), not HTTP: there is nothing to redirect.',
    });
    Validations.of(this.listener).acknowledge({
      id: 'HIPAA.Security-ELBv2ACMCertificateRequired',
      reason:
        'The listener is TLS with the ACM certificate of TLSCertificateARN whenever one is given; plain TCP remains for senders on private links (VPN, Direct Connect) that cannot speak DICOM TLS.',
    });
  }
}

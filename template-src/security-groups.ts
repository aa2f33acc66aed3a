import { Validations, type CfnCondition, type CfnParameter } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

/** One optional sender range: the CIDR parameter and its "given" condition. */
export interface SenderRange {
  /** Parameter holding the CIDR ("" = no rule). */
  readonly cidr: CfnParameter;
  /** True when the parameter is not empty. */
  readonly given: CfnCondition;
  /** Rule description shown in the EC2 console. */
  readonly description: string;
}

/** Properties of {@link SecurityGroups}. */
export interface SecurityGroupsProps {
  /** VPC id. */
  readonly vpcId: string;
  /** DICOM port of the listener (token). */
  readonly scpPort: number;
  /** DICOM port the container listens on. */
  readonly containerPort: number;
  /** Health check port of the container. */
  readonly healthPort: number;
  /** Sender ranges allowed to reach the DICOM port (VpcCIDR, PeerCIDR1..3). */
  readonly senders: readonly SenderRange[];
}

/**
 * The two security groups of the data path. The load balancer's admits the
 * DICOM port from the sender ranges only, and may only talk to the tasks; the
 * tasks' admits traffic from the load balancer's group only (which keeps
 * working with client IP preservation) and may only open HTTPS connections
 * (AWS APIs through NAT or VPC endpoints).
 */
export class SecurityGroups extends Construct {
  /** Attached to the Network Load Balancer. */
  public readonly loadBalancer: ec2.CfnSecurityGroup;
  /** Attached to the SCP tasks. */
  public readonly service: ec2.CfnSecurityGroup;

  constructor(scope: Construct, id: string, props: SecurityGroupsProps) {
    super(scope, id);
    const port = (p: number) => ({ ipProtocol: 'tcp', fromPort: p, toPort: p });

    this.service = new ec2.CfnSecurityGroup(this, 'Service', {
      vpcId: props.vpcId,
      groupDescription: 'DICOM SCP tasks: reachable only from the load balancer; HTTPS egress only',
      // An explicit egress list replaces EC2's default allow-all rule.
      securityGroupEgress: [
        { ...port(443), cidrIp: '0.0.0.0/0', description: 'HTTPS to AWS APIs (S3, ECR, CloudWatch Logs, Marketplace Metering) via NAT or VPC endpoints' },
      ],
    });
    this.service.overrideLogicalId('ServiceSecurityGroup');

    this.loadBalancer = new ec2.CfnSecurityGroup(this, 'LoadBalancer', {
      vpcId: props.vpcId,
      groupDescription: 'DICOM load balancer: DICOM port from the allowed sender ranges only',
      securityGroupEgress: [
        { ...port(props.containerPort), destinationSecurityGroupId: this.service.attrGroupId, description: 'DICOM to the SCP tasks' },
        { ...port(props.healthPort), destinationSecurityGroupId: this.service.attrGroupId, description: 'Health checks of the SCP tasks' },
      ],
    });
    this.loadBalancer.overrideLogicalId('LoadBalancerSecurityGroup');

    for (const [i, sender] of props.senders.entries()) {
      const rule = new ec2.CfnSecurityGroupIngress(this, `Sender${i}`, {
        groupId: this.loadBalancer.attrGroupId,
        ...port(props.scpPort),
        cidrIp: sender.cidr.valueAsString,
        description: sender.description,
      });
      rule.overrideLogicalId(`LoadBalancerIngress${sender.cidr.node.id}`);
      rule.cfnOptions.condition = sender.given;
      // cdk-nag cannot evaluate a CIDR that is a parameter; the parameter's
      // AllowedPattern accepts only /8../32, so 0.0.0.0/0 cannot be entered.
      const why = `Source is the ${sender.cidr.node.id} parameter, whose AllowedPattern refuses prefixes shorter than /8 (no 0.0.0.0/0); the port is SCPPort, DICOM only.`;
      for (const id of ['AwsSolutions-EC23', 'HIPAA.Security-EC2RestrictedSSH', 'HIPAA.Security-EC2RestrictedCommonPorts']) {
        Validations.of(rule).acknowledge({ id, reason: why });
      }
    }

    for (const [name, p] of [['Dicom', props.containerPort], ['Health', props.healthPort]] as const) {
      const rule = new ec2.CfnSecurityGroupIngress(this, `FromLoadBalancer${name}`, {
        groupId: this.service.attrGroupId,
        ...port(p),
        sourceSecurityGroupId: this.loadBalancer.attrGroupId,
        description: `${name === 'Dicom' ? 'DICOM' : 'Health checks'} from the load balancer`,
      });
      rule.overrideLogicalId(`ServiceIngress${name}FromLoadBalancer`);
    }
  }
}

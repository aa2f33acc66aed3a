import type { CfnParameter } from 'aws-cdk-lib';
import type { ParameterCatalogue } from './parameter-catalogue';
import {
  AE_TITLE,
  AE_TITLE_LIST,
  OPTIONAL_CERTIFICATE_ARN,
  OPTIONAL_CIDR,
  OPTIONAL_SECURITY_GROUP_ID,
} from './patterns';

/** Parameters of the Network, DICOM and Security groups (names from the deployment guide). */
export interface NetworkParameters {
  readonly vpcId: CfnParameter;
  readonly publicSubnetIds: CfnParameter;
  readonly privateSubnetIds: CfnParameter;
  readonly securityGroupId: CfnParameter;
  readonly vpcCidr: CfnParameter;
  readonly loadBalancerScheme: CfnParameter;
  readonly aeTitle: CfnParameter;
  readonly scpPort: CfnParameter;
  /** PeerCIDR1..3, in order. */
  readonly peerCidrs: readonly CfnParameter[];
  readonly requireCalledAeTitle: CfnParameter;
  readonly requireCallingAeTitle: CfnParameter;
  readonly tlsCertificateArn: CfnParameter;
  readonly tlsSecurityPolicy: CfnParameter;
}

/**
 * Network Load Balancer TLS security policies offered (Elastic Load Balancing
 * User Guide, "Security policies for your Network Load Balancer"). The
 * default is the console's restricted TLS 1.3/1.2 forward-secrecy policy; the
 * Ext policies add the CBC and non-ECDHE ciphers older DICOM TLS senders may
 * need.
 */
export const TLS_SECURITY_POLICIES = Object.freeze([
  'ELBSecurityPolicy-TLS13-1-2-Res-2021-06',
  'ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-2-2021-06',
  'ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06',
  'ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06',
] as const);

/** Declares the network-facing parameters. */
export function addNetworkParameters(catalogue: ParameterCatalogue): NetworkParameters {
  const vpcId = catalogue.add('VpcID', {
    group: 'Network',
    label: 'VPC',
    type: 'AWS::EC2::VPC::Id',
    description: 'VPC to deploy into. Every subnet below must belong to it.',
  });
  const publicSubnetIds = catalogue.add('PublicSubnetIDs', {
    group: 'Network',
    label: 'Public subnets (load balancer)',
    type: 'List<AWS::EC2::Subnet::Id>',
    description:
      'At least two subnets in different Availability Zones. The internet-facing load balancer is placed here. With an internal load balancer they are not used: select the private subnets again.',
  });
  const privateSubnetIds = catalogue.add('PrivateSubnetIDs', {
    group: 'Network',
    label: 'Private subnets (SCP tasks)',
    type: 'List<AWS::EC2::Subnet::Id>',
    description:
      'At least two subnets in different Availability Zones for the SCP tasks (and for an internal load balancer). They need a route to a NAT gateway, or VPC endpoints for ECR, S3, CloudWatch Logs and AWS Marketplace Metering.',
  });
  const loadBalancerScheme = catalogue.add('LoadBalancerScheme', {
    group: 'Network',
    label: 'Load balancer scheme',
    type: 'String',
    default: 'internet-facing',
    allowedValues: ['internet-facing', 'internal'],
    description:
      'internet-facing: the load balancer gets public addresses in the public subnets (senders reach it over the internet, restricted to the peer CIDRs). internal: private addresses in the private subnets (senders over VPN, Direct Connect or peering).',
  });
  const vpcCidr = catalogue.add('VpcCIDR', {
    group: 'Network',
    label: 'VPC CIDR allowed to send',
    type: 'String',
    default: '',
    pattern: OPTIONAL_CIDR,
    description:
      'Adds the "VPC internal access" rule: this range may connect to the DICOM port. Empty = no such rule. Only effective with an internal load balancer: senders inside the VPC reach an internet-facing one from their NAT gateway\'s public address (allow that in a PeerCIDR).',
  });
  const securityGroupId = catalogue.add('SecurityGroupID', {
    group: 'Network',
    label: 'Additional security group for the SCP tasks (optional)',
    type: 'String',
    default: '',
    pattern: OPTIONAL_SECURITY_GROUP_ID,
    description:
      'Optional existing security group attached to the SCP tasks in addition to the one this stack manages, for VPC endpoint, proxy or firewall rules that admit traffic by source security group. Senders are not allowed through it: use VpcCIDR and PeerCIDR1-3.',
  });

  const aeTitle = catalogue.add('SCPAETitle', {
    group: 'DICOM',
    label: 'SCP AE title',
    type: 'String',
    default: 'STORESCP',
    pattern: AE_TITLE,
    description: 'Application Entity title of this SCP; senders use it as the called AE title.',
  });
  const scpPort = catalogue.add('SCPPort', {
    group: 'DICOM',
    label: 'DICOM port',
    type: 'Number',
    default: 11112,
    minValue: 1,
    maxValue: 65535,
    constraintDescription: 'A TCP port from 1 to 65535 (11112 is usual; 2762 for DICOM TLS; 104 is the historical DICOM port).',
    description: 'TCP port senders connect to on the load balancer (the tasks always listen on 11112 behind it).',
  });
  const peerCidrs = [1, 2, 3].map((n) =>
    catalogue.add(`PeerCIDR${n}`, {
      group: 'DICOM',
      label: `Allowed sender range ${n}`,
      type: 'String',
      default: '',
      pattern: OPTIONAL_CIDR,
      description: `IPv4 range whose senders may connect to the DICOM port (for example the hospital's public range). Empty = no rule.`,
    }),
  );
  const requireCalledAeTitle = catalogue.add('RequireCalledAETitle', {
    group: 'DICOM',
    label: 'Require called AE title',
    type: 'String',
    default: 'false',
    allowedValues: ['true', 'false'],
    description: 'true: reject associations whose called AE title is not the SCP AE title.',
  });
  const requireCallingAeTitle = catalogue.add('RequireCallingAETitle', {
    group: 'DICOM',
    label: 'Allowed calling AE titles',
    type: 'String',
    default: '',
    pattern: AE_TITLE_LIST,
    description: 'Comma-separated calling AE titles allowed to associate. Empty = any calling AE title.',
  });

  const tlsCertificateArn = catalogue.add('TLSCertificateARN', {
    group: 'Security',
    label: 'TLS certificate (ACM ARN, optional)',
    type: 'String',
    default: '',
    pattern: OPTIONAL_CERTIFICATE_ARN,
    description:
      'When set, the load balancer listener speaks DICOM over TLS (TLS 1.2/1.3) with this AWS Certificate Manager certificate of this Region. Empty = plain TCP.',
  });

  const tlsSecurityPolicy = catalogue.add('TLSSecurityPolicy', {
    group: 'Security',
    label: 'TLS security policy',
    type: 'String',
    default: TLS_SECURITY_POLICIES[0],
    allowedValues: [...TLS_SECURITY_POLICIES],
    description:
      'Protocols and ciphers of the TLS listener (used only with a certificate). The default allows TLS 1.3 and 1.2 with forward-secret AES-GCM ciphers; choose an Ext policy only if an older sender cannot connect.',
  });

  return {
    vpcId,
    publicSubnetIds,
    privateSubnetIds,
    securityGroupId,
    vpcCidr,
    loadBalancerScheme,
    aeTitle,
    scpPort,
    peerCidrs,
    requireCalledAeTitle,
    requireCallingAeTitle,
    tlsCertificateArn,
    tlsSecurityPolicy,
  };
}

import type { MarketplaceConfig } from './marketplace-config';
import { quickCreateUrl } from './quick-create';
import { bucketName, objectUrl } from './release-layout';

/** One Region's launch link. */
export interface LaunchLink {
  readonly region: string;
  readonly templateUrl: string;
  readonly quickCreateUrl: string;
}

/** The template URL and quick-create link of every Region the listing offers (template in that Region's bucket). */
export function launchLinks(marketplace: MarketplaceConfig, templateKey: string): LaunchLink[] {
  return marketplace.regions.map((region) => {
    const templateUrl = objectUrl(bucketName(marketplace.artifactBucketPrefix, region), region, templateKey);
    return { region, templateUrl, quickCreateUrl: quickCreateUrl({ region, templateUrl }) };
  });
}

/**
 * The delivery option's UsageInstructions: the numbered steps a hospital IT
 * administrator follows after "Continue to Configuration", with a
 * quick-create link per Region, then the seller's own text
 * (marketplace.json usageInstructions). The Catalog API limit (4,000
 * characters) is checked by the change set.
 */
export function usageInstructions(marketplace: MarketplaceConfig, links: readonly LaunchLink[]): string {
  const guide = `${marketplace.sourceUrl.replace(/\/$/, '')}/blob/main/docs/deployment.md`;
  return [
    'Launch with AWS CloudFormation (about 15 minutes), signed in to the account that subscribed:',
    '1. Once per account, if it never ran Amazon ECS, create the ECS service-linked role (in AWS CloudShell): aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com ("has been taken" means it exists).',
    '2. Have ready: a VPC with 2 public and 2 private subnets in the same 2 Availability Zones (private ones routed through a NAT gateway), the IP range your modalities / PACS send from, an e-mail address for alarms.',
    '3. Open the link for your Region:',
    ...links.map((l) => `${l.region}: ${l.quickCreateUrl}`),
    '4. Fill in VpcID, PublicSubnetIDs, PrivateSubnetIDs, PeerCIDR1 (sender range) and AlarmEmail; keep the other defaults.',
    '5. Tick "I acknowledge that AWS CloudFormation might create IAM resources", then Create stack. Wait for CREATE_COMPLETE.',
    '6. Confirm the "AWS Notification - Subscription Confirmation" e-mail.',
    '7. Outputs tab: configure senders with NetworkLoadBalancerDNS, DICOMPort and DICOMAETitle.',
    marketplace.usageInstructions,
    `Guide, IAM permissions and first-hour checks: ${guide}`,
  ].join('\n');
}

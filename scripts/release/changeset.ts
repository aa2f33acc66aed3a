import { createHash } from 'node:crypto';
import type { MarketplaceConfig } from './marketplace-config';
import { imageTagReference } from './release-layout';
import { launchLinks, usageInstructions } from './usage-instructions';

/** One change of a Catalog API StartChangeSet request, with the details as a JSON document. */
export interface CatalogChange {
  readonly ChangeType: 'AddDeliveryOptions';
  readonly Entity: { readonly Type: 'ContainerProduct@1.0'; readonly Identifier: string };
  readonly ChangeName: string;
  readonly DetailsDocument: AddDeliveryOptionsDetails;
}

export interface AddDeliveryOptionsDetails {
  readonly Version: { readonly VersionTitle: string; readonly ReleaseNotes: string };
  readonly DeliveryOptions: readonly {
    readonly DeliveryOptionTitle: string;
    readonly Details: {
      readonly EcrDeliveryOptionDetails: {
        readonly ContainerImages: readonly string[];
        readonly CompatibleServices: readonly ['ECS'];
        readonly DeploymentResources: readonly { readonly Name: string; readonly Url: string }[];
        readonly Description: string;
        readonly UsageInstructions: string;
      };
    };
  }[];
}

/**
 * The StartChangeSet request body, as written to dist/marketplace-changeset.json
 * (also usable as `aws marketplace-catalog start-change-set --cli-input-json`).
 */
export interface ChangeSetRequest {
  readonly Catalog: 'AWSMarketplace';
  readonly ChangeSetName: string;
  /** Derived from the release's content: resubmitting the same release is idempotent. */
  readonly ClientRequestToken: string;
  readonly ChangeSet: readonly CatalogChange[];
}

export interface ChangeSetInput {
  readonly marketplace: MarketplaceConfig;
  /** Key of the template in every regional seller bucket (release-layout templateKey). */
  readonly templateKey: string;
  /** Manifest digest of the image (feeds the request token only: Marketplace lists the tag). */
  readonly imageDigest: string;
}

export class ChangeSetError extends Error {
  override readonly name = 'ChangeSetError';
  readonly code = 'ERR_CHANGESET';
}

/** Catalog API limits the generated request must respect (REFERENCE.md §3). */
export const CATALOG_LIMITS = Object.freeze({
  VersionTitle: 64,
  DeliveryOptionTitle: 72,
  Description: 1000,
  UsageInstructions: 4000,
  DeploymentResources: 4,
  DeploymentResourceUrl: 256,
  ContainerImagesMin: 1,
  ContainerImagesMax: 50,
  ChangeSetName: 100,
});

function uuidFrom(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Generates the AddDeliveryOptions change set for a new version of the ContainerProduct. */
export function buildChangeSet(input: ChangeSetInput): ChangeSetRequest {
  const m = input.marketplace;
  const links = launchLinks(m, input.templateKey);
  const home = links[0]!;
  const details: AddDeliveryOptionsDetails = {
    Version: { VersionTitle: m.version, ReleaseNotes: m.releaseNotes },
    DeliveryOptions: [
      {
        DeliveryOptionTitle: m.deliveryOptionTitle,
        Details: {
          EcrDeliveryOptionDetails: {
            ContainerImages: [imageTagReference(m.sellerEcrRepository, m.version)],
            CompatibleServices: ['ECS'],
            DeploymentResources: [
              { Name: 'AWS CloudFormation template', Url: home.templateUrl },
              { Name: `Launch stack in ${home.region} (CloudFormation quick-create)`, Url: home.quickCreateUrl },
            ],
            Description: m.deliveryOptionDescription,
            UsageInstructions: usageInstructions(m, links),
          },
        },
      },
    ],
  };
  const request: ChangeSetRequest = {
    Catalog: 'AWSMarketplace',
    ChangeSetName: `Add version ${m.version}`,
    ClientRequestToken: uuidFrom(`${m.productId}\n${m.version}\n${input.imageDigest}\n${home.templateUrl}`),
    ChangeSet: [
      {
        ChangeType: 'AddDeliveryOptions',
        Entity: { Type: 'ContainerProduct@1.0', Identifier: m.productId },
        ChangeName: 'AddVersion',
        DetailsDocument: details,
      },
    ],
  };
  const problems = checkLimits(request);
  if (problems.length) throw new ChangeSetError(`change set exceeds Catalog API limits:\n  - ${problems.join('\n  - ')}`);
  return request;
}

/** Every Catalog API limit the request breaks (empty when it fits). */
export function checkLimits(request: ChangeSetRequest): string[] {
  const problems: string[] = [];
  const max = (what: string, value: string, limit: number) => {
    if (value.length > limit) problems.push(`${what} is ${value.length} characters (max ${limit})`);
    if (value.trim().length === 0) problems.push(`${what} is empty`);
  };
  max('ChangeSetName', request.ChangeSetName, CATALOG_LIMITS.ChangeSetName);
  for (const change of request.ChangeSet) {
    const d = change.DetailsDocument;
    max('Version.VersionTitle', d.Version.VersionTitle, CATALOG_LIMITS.VersionTitle);
    for (const option of d.DeliveryOptions) {
      max('DeliveryOptionTitle', option.DeliveryOptionTitle, CATALOG_LIMITS.DeliveryOptionTitle);
      const e = option.Details.EcrDeliveryOptionDetails;
      max('Description', e.Description, CATALOG_LIMITS.Description);
      max('UsageInstructions', e.UsageInstructions, CATALOG_LIMITS.UsageInstructions);
      if (e.ContainerImages.length < CATALOG_LIMITS.ContainerImagesMin || e.ContainerImages.length > CATALOG_LIMITS.ContainerImagesMax) {
        problems.push(`ContainerImages has ${e.ContainerImages.length} entries (1–${CATALOG_LIMITS.ContainerImagesMax})`);
      }
      if (e.DeploymentResources.length > CATALOG_LIMITS.DeploymentResources) {
        problems.push(`DeploymentResources has ${e.DeploymentResources.length} entries (max ${CATALOG_LIMITS.DeploymentResources})`);
      }
      for (const r of e.DeploymentResources) max(`DeploymentResources[${r.Name}].Url`, r.Url, CATALOG_LIMITS.DeploymentResourceUrl);
    }
  }
  return problems;
}

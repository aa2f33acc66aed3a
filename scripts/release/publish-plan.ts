import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildReport } from './build-report';
import { buildChangeSet, type ChangeSetRequest } from './changeset';
import type { MarketplaceConfig } from './marketplace-config';
import { bucketName, objectUrl } from './release-layout';

/** One object to put in one regional seller bucket. */
export interface PlannedUpload {
  readonly region: string;
  readonly bucket: string;
  readonly key: string;
  /** Local file (absolute). */
  readonly file: string;
  readonly size: number;
  readonly sha256: string;
  readonly contentType: string;
  readonly url: string;
}

export interface PlannedImagePush {
  /** Local OCI archive (absolute). */
  readonly archive: string;
  /** skopeo source and destination. */
  readonly source: string;
  readonly destination: string;
  readonly registry: string;
  readonly registryId: string;
  readonly repositoryName: string;
  readonly tag: string;
  readonly digest: string;
}

/** Everything `npm run publish` would do, in order. */
export interface PublishPlan {
  readonly product: string;
  readonly version: string;
  readonly revision: string;
  readonly uploads: readonly PlannedUpload[];
  readonly image: PlannedImagePush;
  readonly changeSet: { readonly file: string; readonly request: ChangeSetRequest };
}

export class PublishPlanError extends Error {
  override readonly name = 'PublishPlanError';
  readonly code = 'ERR_PUBLISH_PLAN';
}

/**
 * Builds the publish plan from marketplace.json and the build report. Refuses
 * a dist/ that was built from another marketplace.json (other version,
 * buckets, listing text) so a release can only publish what it built.
 */
export function planPublish(marketplace: MarketplaceConfig, report: BuildReport, distDir: string): PublishPlan {
  const problems: string[] = [];
  if (report.version !== marketplace.version) problems.push(`dist/ holds version ${report.version}, marketplace.json says ${marketplace.version}`);
  const home = marketplace.regions[0]!;
  const expectedUrl = objectUrl(bucketName(marketplace.artifactBucketPrefix, home), home, report.template.key);
  if (report.template.url !== expectedUrl) problems.push(`template URL ${report.template.url} does not match marketplace.json (${expectedUrl})`);
  if (!report.image.tag.startsWith(`${marketplace.sellerEcrRepository}:`)) problems.push(`image ${report.image.tag} is not in ${marketplace.sellerEcrRepository}`);
  const changeSetFile = join(distDir, report.changeset.file);
  let request: ChangeSetRequest | undefined;
  try {
    request = JSON.parse(readFileSync(changeSetFile, 'utf8')) as ChangeSetRequest;
    const expected = buildChangeSet({ marketplace, templateKey: report.template.key, imageDigest: report.image.digest });
    if (JSON.stringify(expected) !== JSON.stringify(request)) problems.push(`${report.changeset.file} differs from what marketplace.json gives now`);
  } catch (err) {
    problems.push(`${report.changeset.file}: ${(err as Error).message}`);
  }
  if (problems.length || !request) {
    throw new PublishPlanError(`dist/ does not match marketplace.json; run \`npm run build\` again:\n  - ${problems.join('\n  - ')}`);
  }

  const uploads: PlannedUpload[] = [];
  for (const region of marketplace.regions) {
    const bucket = bucketName(marketplace.artifactBucketPrefix, region);
    for (const a of [
      { ...report.lambda, contentType: 'application/zip' },
      { ...report.template, contentType: 'application/json' },
    ]) {
      uploads.push({
        region,
        bucket,
        key: a.key,
        file: join(distDir, a.file),
        size: a.size,
        sha256: a.sha256,
        contentType: a.contentType,
        url: objectUrl(bucket, region, a.key),
      });
    }
  }
  const slash = marketplace.sellerEcrRepository.indexOf('/');
  const registry = marketplace.sellerEcrRepository.slice(0, slash);
  const archive = join(distDir, report.image.file);
  return {
    product: report.product,
    version: report.version,
    revision: report.revision,
    uploads,
    image: {
      archive,
      source: `oci-archive:${archive}`,
      destination: `docker://${report.image.tag}`,
      registry,
      registryId: registry.split('.')[0]!,
      repositoryName: marketplace.sellerEcrRepository.slice(slash + 1),
      tag: marketplace.version,
      digest: report.image.digest,
    },
    changeSet: { file: changeSetFile, request },
  };
}

function size(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

/** The plan as printed by `npm run publish` (dry run and --apply alike). */
export function formatPlan(plan: PublishPlan, dryRun: boolean): string {
  const change = plan.changeSet.request.ChangeSet[0]!;
  const lines = [
    dryRun
      ? 'DRY RUN: nothing will be uploaded, pushed or submitted. Re-run with `npm run publish -- --apply` to publish.'
      : 'APPLY: publishing for real.',
    `Release ${plan.product} ${plan.version} (revision ${plan.revision})`,
    '',
    `1. S3 uploads (${plan.uploads.length} objects, ${new Set(plan.uploads.map((u) => u.region)).size} regions; existing objects with the same sha256 are skipped):`,
    ...plan.uploads.map((u) => `   ${u.region.padEnd(15)} s3://${u.bucket}/${u.key}  (${size(u.size)}, sha256 ${u.sha256.slice(0, 12)}…)`),
    '',
    '2. Image push (skopeo copy --preserve-digests):',
    `   ${plan.image.source}`,
    `   → ${plan.image.destination}`,
    `   digest ${plan.image.digest} (verified in ECR after the push)`,
    '',
    '3. Catalog API StartChangeSet:',
    `   ${change.ChangeType} on ${change.Entity.Type} ${change.Entity.Identifier}, version "${change.DetailsDocument.Version.VersionTitle}"`,
    `   ChangeSetName "${plan.changeSet.request.ChangeSetName}", ClientRequestToken ${plan.changeSet.request.ClientRequestToken}`,
    `   template ${change.DetailsDocument.DeliveryOptions[0]!.Details.EcrDeliveryOptionDetails.DeploymentResources[0]!.Url}`,
    `   request body: ${plan.changeSet.file}`,
  ];
  return `${lines.join('\n')}\n`;
}

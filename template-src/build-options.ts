import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PRODUCT_CODE_PATTERN } from '../container/src/marketplace';

/** Build-time inputs placed in the template, so a buyer never types them. */
export interface TemplateBuildOptions {
  /** Container image of this version (Marketplace ECR), e.g. `<registry>/<repo>:<version>` or with `@sha256:`. */
  readonly imageUri: string;
  /** Regional seller buckets are `<lambdaBucketPrefix>-<region>`. */
  readonly lambdaBucketPrefix: string;
  /** Key of the Lambda zip in each regional bucket: `lambda/<version>/lambda-<sha256>.zip`. */
  readonly lambdaKey: string;
  /** Marketplace product code (the SCP calls RegisterUsage with it). */
  readonly productCode: string;
  /** Product version (template description). */
  readonly version: string;
}

/** Placeholder digest used when no zip was built; the release build always overrides it. */
export const PLACEHOLDER_LAMBDA_SHA256 = '0'.repeat(64);

/** The Lambda zip key for a version and the zip's sha256 (hex). */
export function lambdaKeyFor(version: string, sha256: string): string {
  return `lambda/${version}/lambda-${sha256}.zip`;
}

/** The subset of marketplace.json the template needs. */
interface MarketplaceListing {
  readonly version: string;
  readonly productCode: string;
  readonly sellerEcrRepository: string;
  readonly artifactBucketPrefix: string;
}

/**
 * Defaults from marketplace.json: image `<sellerEcrRepository>:<version>`,
 * zip key with the placeholder digest.
 * @param marketplacePath path of marketplace.json (default: the repository's)
 */
export function defaultBuildOptions(marketplacePath = join(__dirname, '..', 'marketplace.json')): TemplateBuildOptions {
  const listing = JSON.parse(readFileSync(marketplacePath, 'utf8')) as MarketplaceListing;
  return {
    imageUri: `${listing.sellerEcrRepository}:${listing.version}`,
    lambdaBucketPrefix: listing.artifactBucketPrefix,
    lambdaKey: lambdaKeyFor(listing.version, PLACEHOLDER_LAMBDA_SHA256),
    productCode: listing.productCode,
    version: listing.version,
  };
}

/** Every problem with the options, so a release fails with the whole list at once. */
export function buildOptionProblems(options: TemplateBuildOptions): string[] {
  const problems: string[] = [];
  if (!/^[a-z0-9.-]+(:[0-9]+)?\/[a-z0-9._/-]+(:[A-Za-z0-9._-]{1,128})?(@sha256:[0-9a-f]{64})?$/.test(options.imageUri)) {
    problems.push(`imageUri "${options.imageUri}" is not a full image reference (registry/repository:tag or @sha256:digest)`);
  }
  // Bucket name = prefix + "-" + the longest HealthImaging region (14 chars) must stay within 63.
  if (!/^[a-z0-9][a-z0-9.-]{1,47}$/.test(options.lambdaBucketPrefix)) {
    problems.push(`lambdaBucketPrefix "${options.lambdaBucketPrefix}" is not a valid S3 bucket name prefix of at most 48 characters`);
  }
  if (!/^lambda\/[^/]+\/lambda-[0-9a-f]{64}\.zip$/.test(options.lambdaKey)) {
    problems.push(`lambdaKey "${options.lambdaKey}" is not lambda/<version>/lambda-<sha256>.zip`);
  }
  if (!new RegExp(PRODUCT_CODE_PATTERN).test(options.productCode)) {
    problems.push(`productCode "${options.productCode}" is empty, longer than 255 characters or has characters other than letters, digits, - and _`);
  }
  if (!/^[0-9A-Za-z.+-]{1,40}$/.test(options.version)) {
    problems.push(`version "${options.version}" is not a version string`);
  }
  return problems;
}

/**
 * Where each artifact of a release lives. One module so the build (which
 * bakes the locations into the template and the change set) and publish
 * (which uploads to them) cannot disagree.
 */

/** Regional seller bucket: Lambda code must be in the function's region. */
export function bucketName(prefix: string, region: string): string {
  return `${prefix}-${region}`;
}

/**
 * Content-addressed like the Lambda zip (a template URL never changes
 * meaning), and short: the URL is repeated, percent-encoded, in one
 * quick-create link per Region inside the 4,000-character usage
 * instructions, and a quick-create link must fit a 256-character
 * DeploymentResources URL. 16 hex digits (64 bits) of the sha256 cannot
 * collide among one product's releases.
 */
export function templateKey(version: string, sha256: string): string {
  return `t/${version}/${sha256.slice(0, 16)}.json`;
}

/** Virtual-hosted-style HTTPS URL of an object (what CloudFormation and Marketplace fetch). */
export function objectUrl(bucket: string, region: string, key: string): string {
  return `https://${bucket}.s3.${region}.amazonaws.com/${key}`;
}

/** `<repo>:<version>`: the tag Marketplace lists (ContainerImages). */
export function imageTagReference(repository: string, version: string): string {
  return `${repository}:${version}`;
}

/** `<repo>:<version>@sha256:...`: what the template runs; the digest wins if the tag moves. */
export function imagePinnedReference(repository: string, version: string, digest: string): string {
  return `${repository}:${version}@${digest}`;
}

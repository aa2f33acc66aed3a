/**
 * `npm run build`: the release artifacts in dist/, built together so the
 * template points at exactly the Lambda zip and image built with it.
 *
 *   lambda.zip                 esbuild bundle of lambda/index.ts, reproducible zip
 *   image.oci.tar              OCI image archive, built without a container engine
 *   template.json              CloudFormation template (zip by sha256 key, image by tag@digest)
 *   marketplace-changeset.json Catalog API AddDeliveryOptions request
 *   build-report.json          sizes, digests, keys (read by `npm run publish`)
 *   SHA256SUMS                 of all of the above
 *
 * Options: --out <dir> (default dist).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readBuildInfo } from './release/build-info';
import { buildChangeSet } from './release/changeset';
import { formatSha256Sums, sha256Hex } from './release/checksums';
import { buildImage } from './release/image-build';
import { buildLambdaZip } from './release/lambda-zip';
import { loadMarketplaceConfig } from './release/marketplace-config';
import { bucketName, imagePinnedReference, imageTagReference, objectUrl, templateKey } from './release/release-layout';
import { formatReport, type BuildReport } from './release/build-report';
import { synthesizeReleaseTemplate } from './release/template-build';

export const ARTIFACTS = {
  lambda: 'lambda.zip',
  image: 'image.oci.tar',
  template: 'template.json',
  changeset: 'marketplace-changeset.json',
  report: 'build-report.json',
  sums: 'SHA256SUMS',
} as const;

function parseArgs(argv: readonly string[]): { out: string } {
  let out = 'dist';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out' && argv[i + 1]) out = argv[++i]!;
    else throw new Error(`unknown argument ${a} (usage: npm run build [-- --out <dir>])`);
  }
  return { out };
}

async function step<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
  const t0 = Date.now();
  process.stdout.write(`build: ${name} ...\n`);
  const value = await fn();
  process.stdout.write(`build: ${name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return value;
}

async function main(): Promise<void> {
  const started = Date.now();
  const cwd = resolve(__dirname, '..');
  const { out } = parseArgs(process.argv.slice(2));
  const dist = resolve(cwd, out);
  const marketplace = loadMarketplaceConfig(join(cwd, 'marketplace.json'));
  const pkgVersion = (JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')) as { version: string }).version;
  if (pkgVersion !== marketplace.version) {
    throw new Error(`marketplace.json version ${marketplace.version} differs from package.json version ${pkgVersion}: bump both`);
  }
  const info = readBuildInfo(cwd);
  const created = new Date(info.epoch * 1000).toISOString().replace('.000Z', 'Z');

  const lambda = await step('lambda.zip (esbuild lambda/index.ts)', () => buildLambdaZip(cwd, marketplace.version));
  const image = await step('image.oci.tar (daemonless OCI image)', () =>
    buildImage({
      cwd,
      cacheDir: join(cwd, 'node_modules', '.cache', 'dicom-store-scp-release'),
      epoch: info.epoch,
      labels: { title: marketplace.productTitle, version: marketplace.version, revision: info.revision, source: marketplace.sourceUrl, created },
      refName: imageTagReference(marketplace.sellerEcrRepository, marketplace.version),
      log: (line) => process.stdout.write(`build:   ${line}\n`),
    }),
  );
  const imageReference = imagePinnedReference(marketplace.sellerEcrRepository, marketplace.version, image.manifestDigest);
  const template = await step('template.json (template-src synthesis, cdk-nag)', () =>
    synthesizeReleaseTemplate({
      imageUri: imageReference,
      lambdaBucketPrefix: marketplace.artifactBucketPrefix,
      lambdaKey: lambda.key,
      productCode: marketplace.productCode,
      version: marketplace.version,
    }),
  );
  const templateBytes = Buffer.from(template);
  const templateSha = sha256Hex(templateBytes);
  const tKey = templateKey(marketplace.version, templateSha);
  const homeRegion = marketplace.regions[0]!;
  const templateUrl = objectUrl(bucketName(marketplace.artifactBucketPrefix, homeRegion), homeRegion, tKey);
  const changeset = buildChangeSet({ marketplace, templateKey: tKey, imageDigest: image.manifestDigest });
  const changesetBytes = Buffer.from(`${JSON.stringify(changeset, null, 2)}\n`);

  const report: BuildReport = {
    product: marketplace.productTitle,
    version: marketplace.version,
    revision: info.revision,
    created,
    regions: marketplace.regions,
    lambda: { file: ARTIFACTS.lambda, size: lambda.bytes.length, sha256: lambda.sha256, key: lambda.key },
    image: {
      file: ARTIFACTS.image,
      size: image.archive.length,
      digest: image.manifestDigest,
      configDigest: image.config.digest,
      tag: imageTagReference(marketplace.sellerEcrRepository, marketplace.version),
      reference: imageReference,
      nodeVersion: image.nodeVersion,
      debianPackages: image.packages,
      layers: image.layers.map((l) => ({ name: l.name, digest: l.digest, size: l.size, uncompressedSize: l.uncompressedSize })),
    },
    template: { file: ARTIFACTS.template, size: templateBytes.length, sha256: templateSha, key: tKey, url: templateUrl },
    changeset: { file: ARTIFACTS.changeset, sha256: sha256Hex(changesetBytes), clientRequestToken: changeset.ClientRequestToken },
  };
  const reportBytes = Buffer.from(`${JSON.stringify(report, null, 2)}\n`);
  const files: Record<string, Buffer> = {
    [ARTIFACTS.lambda]: lambda.bytes,
    [ARTIFACTS.image]: image.archive,
    [ARTIFACTS.template]: templateBytes,
    [ARTIFACTS.changeset]: changesetBytes,
    [ARTIFACTS.report]: reportBytes,
  };
  mkdirSync(dist, { recursive: true });
  for (const name of Object.values(ARTIFACTS)) rmSync(join(dist, name), { force: true });
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dist, name), data);
  writeFileSync(join(dist, ARTIFACTS.sums), formatSha256Sums(files));

  process.stdout.write(`\n${formatReport(report)}\nbuild: wrote ${dist} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`build failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}

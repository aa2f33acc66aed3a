import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildReport } from '../../../scripts/release/build-report';
import { buildChangeSet } from '../../../scripts/release/changeset';
import { formatSha256Sums, sha256Hex } from '../../../scripts/release/checksums';
import { parseMarketplaceConfig, type MarketplaceConfig } from '../../../scripts/release/marketplace-config';
import { bucketName, imagePinnedReference, imageTagReference, objectUrl, templateKey } from '../../../scripts/release/release-layout';

/** A complete, valid listing (no placeholders). */
export function sampleMarketplace(): Record<string, unknown> {
  return {
    productTitle: 'DICOM Store SCP for AWS HealthImaging',
    version: '1.4.0',
    releaseNotes: 'Adds TLS listeners.',
    productId: 'prod-abcdefghijk12',
    productCode: 'a1b2c3d4e5f6g7h8i9j0k1l2m',
    sellerEcrRepository: '709825985650.dkr.ecr.us-east-1.amazonaws.com/acme-imaging/dicom-store-scp',
    artifactBucketPrefix: 'acme-dicom-scp',
    regions: ['us-east-1', 'eu-west-1'],
    deliveryOptionTitle: 'DICOM Store SCP on Amazon ECS',
    deliveryOptionDescription: 'One CloudFormation stack.',
    usageInstructions: 'Launch the template; send DICOM to the NetworkLoadBalancerDNS output.',
    sourceUrl: 'https://github.com/acme/dicom-store-scp',
  };
}

export interface SampleDist {
  readonly dir: string;
  readonly marketplace: MarketplaceConfig;
  readonly marketplaceFile: string;
  readonly report: BuildReport;
  readonly files: Readonly<Record<string, Buffer>>;
}

/**
 * A dist/ as `npm run build` writes it, with small stand-in artifacts (the
 * publish code treats them as opaque bytes), for publish plan / apply tests.
 */
export function sampleDist(overrides: Record<string, unknown> = {}): SampleDist {
  const marketplace = parseMarketplaceConfig({ ...sampleMarketplace(), ...overrides });
  const dir = mkdtempSync(join(tmpdir(), 'release-dist-'));
  const lambda = Buffer.from('PK stand-in lambda zip');
  const template = Buffer.from('{"Resources":{}}\n');
  const image = Buffer.from('stand-in oci archive');
  const digest = `sha256:${sha256Hex(Buffer.from('manifest'))}`;
  const lambdaSha = sha256Hex(lambda);
  const templateSha = sha256Hex(template);
  const tKey = templateKey(marketplace.version, templateSha);
  const home = marketplace.regions[0]!;
  const templateUrl = objectUrl(bucketName(marketplace.artifactBucketPrefix, home), home, tKey);
  const changeset = buildChangeSet({ marketplace, templateKey: tKey, imageDigest: digest });
  const changesetBytes = Buffer.from(`${JSON.stringify(changeset, null, 2)}\n`);
  const report: BuildReport = {
    product: marketplace.productTitle,
    version: marketplace.version,
    revision: 'abc123',
    created: '2026-01-01T00:00:00Z',
    regions: marketplace.regions,
    lambda: { file: 'lambda.zip', size: lambda.length, sha256: lambdaSha, key: `lambda/${marketplace.version}/lambda-${lambdaSha}.zip` },
    image: {
      file: 'image.oci.tar',
      size: image.length,
      digest,
      configDigest: digest,
      tag: imageTagReference(marketplace.sellerEcrRepository, marketplace.version),
      reference: imagePinnedReference(marketplace.sellerEcrRepository, marketplace.version, digest),
      nodeVersion: '24.0.0',
      debianPackages: [],
      layers: [],
    },
    template: { file: 'template.json', size: template.length, sha256: templateSha, key: tKey, url: templateUrl },
    changeset: { file: 'marketplace-changeset.json', sha256: sha256Hex(changesetBytes), clientRequestToken: changeset.ClientRequestToken },
  };
  const files: Record<string, Buffer> = {
    'lambda.zip': lambda,
    'template.json': template,
    'image.oci.tar': image,
    'marketplace-changeset.json': changesetBytes,
    'build-report.json': Buffer.from(`${JSON.stringify(report, null, 2)}\n`),
  };
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
  writeFileSync(join(dir, 'SHA256SUMS'), formatSha256Sums(files));
  const marketplaceFile = join(dir, 'marketplace.json');
  writeFileSync(marketplaceFile, JSON.stringify({ ...sampleMarketplace(), ...overrides }, null, 2));
  return { dir, marketplace, marketplaceFile, report, files };
}

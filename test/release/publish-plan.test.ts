import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseMarketplaceConfig } from '../../scripts/release/marketplace-config';
import { formatPlan, planPublish, PublishPlanError } from '../../scripts/release/publish-plan';
import { parsePublishArgs } from '../../scripts/publish';
import { REPO_ROOT } from './helpers/built-image';
import { sampleDist, sampleMarketplace, type SampleDist } from './helpers/sample-release';

const execFileP = promisify(execFile);

describe('release: publish plan (dry run)', function () {
  this.timeout(60_000);
  let dist: SampleDist;
  beforeEach(() => {
    dist = sampleDist();
  });
  afterEach(() => rmSync(dist.dir, { recursive: true, force: true }));

  it('uploads the zip and the template to the bucket of every region, under the built keys', () => {
    const plan = planPublish(dist.marketplace, dist.report, dist.dir);
    expect(plan.uploads.map((u) => `${u.region} s3://${u.bucket}/${u.key}`)).to.deep.equal([
      `us-east-1 s3://acme-dicom-scp-us-east-1/${dist.report.lambda.key}`,
      `us-east-1 s3://acme-dicom-scp-us-east-1/${dist.report.template.key}`,
      `eu-west-1 s3://acme-dicom-scp-eu-west-1/${dist.report.lambda.key}`,
      `eu-west-1 s3://acme-dicom-scp-eu-west-1/${dist.report.template.key}`,
    ]);
    expect(plan.uploads.every((u) => u.file.startsWith(dist.dir))).to.equal(true);
    expect(plan.uploads[1]!.url).to.equal(dist.report.template.url);
  });

  it('pushes the OCI archive to <repo>:<version> and expects the built digest', () => {
    const plan = planPublish(dist.marketplace, dist.report, dist.dir);
    expect(plan.image).to.deep.include({
      source: `oci-archive:${join(dist.dir, 'image.oci.tar')}`,
      destination: 'docker://709825985650.dkr.ecr.us-east-1.amazonaws.com/acme-imaging/dicom-store-scp:1.4.0',
      registry: '709825985650.dkr.ecr.us-east-1.amazonaws.com',
      registryId: '709825985650',
      repositoryName: 'acme-imaging/dicom-store-scp',
      tag: '1.4.0',
      digest: dist.report.image.digest,
    });
  });

  it('prints DRY RUN and every step of the plan', () => {
    const text = formatPlan(planPublish(dist.marketplace, dist.report, dist.dir), true);
    expect(text.split('\n')[0]).to.match(/^DRY RUN: nothing will be uploaded, pushed or submitted/);
    expect(text).to.include(`s3://acme-dicom-scp-eu-west-1/${dist.report.template.key}`);
    expect(text).to.include('→ docker://709825985650.dkr.ecr.us-east-1.amazonaws.com/acme-imaging/dicom-store-scp:1.4.0');
    expect(text).to.include('AddDeliveryOptions on ContainerProduct@1.0 prod-abcdefghijk12, version "1.4.0"');
  });

  it('refuses a dist/ built for another version or from another listing text', () => {
    const bumped = parseMarketplaceConfig({ ...sampleMarketplace(), version: '1.5.0' });
    expect(() => planPublish(bumped, dist.report, dist.dir)).to.throw(PublishPlanError, /dist\/ holds version 1\.4\.0, marketplace.json says 1\.5\.0/);
    const edited = parseMarketplaceConfig({ ...sampleMarketplace(), usageInstructions: 'Changed after the build.' });
    expect(() => planPublish(edited, dist.report, dist.dir)).to.throw(PublishPlanError, /marketplace-changeset.json differs/);
  });

  it('`npm run publish` without --apply prints the plan and exits 0 without touching AWS', async () => {
    const { stdout } = await execFileP(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'scripts', 'publish.ts'), '--dist', dist.dir, '--marketplace', dist.marketplaceFile],
      // Unroutable endpoints: any AWS call would fail the run.
      { env: { PATH: process.env['PATH'] ?? '', AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x' } },
    );
    expect(stdout).to.match(/^DRY RUN/);
    expect(stdout).to.include('3. Catalog API StartChangeSet');
  });

  it('`--apply` refuses placeholders and artifacts that no longer match SHA256SUMS, before any AWS call', async () => {
    const withPlaceholder = sampleDist({ productCode: 'REPLACE_WITH_PRODUCT_CODE' });
    try {
      writeFileSync(join(withPlaceholder.dir, 'lambda.zip'), 'tampered');
      const run = execFileP(
        process.execPath,
        ['--import', 'tsx', join(REPO_ROOT, 'scripts', 'publish.ts'), '--apply', '--dist', withPlaceholder.dir, '--marketplace', withPlaceholder.marketplaceFile],
        { env: { PATH: process.env['PATH'] ?? '', AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x' } },
      );
      const err = await run.then(() => undefined, (e: { code: number; stderr: string }) => e);
      expect(err, 'publish --apply should fail').to.not.equal(undefined);
      expect(err!.code).to.equal(1);
      expect(err!.stderr).to.include('marketplace.json productCode is still a placeholder');
      expect(err!.stderr).to.match(/dist\/lambda\.zip: sha256 [0-9a-f]{64}, SHA256SUMS says/);
    } finally {
      rmSync(withPlaceholder.dir, { recursive: true, force: true });
    }
  });

  it('parses --apply, --wait, --dist and --marketplace; defaults to a dry run', () => {
    expect(parsePublishArgs([])).to.deep.equal({ apply: false, wait: false, dist: 'dist', marketplace: 'marketplace.json' });
    expect(parsePublishArgs(['--apply', '--wait', '--dist', 'd', '--marketplace', 'm.json'])).to.deep.equal({ apply: true, wait: true, dist: 'd', marketplace: 'm.json' });
    expect(() => parsePublishArgs(['--force'])).to.throw(/unknown argument --force/);
  });
});

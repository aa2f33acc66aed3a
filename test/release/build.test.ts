import { expect } from 'chai';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BuildReport } from '../../scripts/release/build-report';
import { REPO_ROOT, run } from './helpers/built-image';

const execFileP = promisify(execFile);

/** Every string value anywhere in a JSON document. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) strings(v, out);
  return out;
}

describe('release: `npm run build` writes a consistent dist/', function () {
  this.timeout(300_000);
  const out = mkdtempSync(join(tmpdir(), 'release-build-'));
  let stdout = '';
  let report: BuildReport;
  let template: unknown;
  const marketplace = JSON.parse(readFileSync(join(REPO_ROOT, 'marketplace.json'), 'utf8')) as { version: string; sellerEcrRepository: string; artifactBucketPrefix: string };

  before(async () => {
    ({ stdout } = await execFileP(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts', 'build.ts'), '--out', out], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 }));
    report = JSON.parse(readFileSync(join(out, 'build-report.json'), 'utf8')) as BuildReport;
    template = JSON.parse(readFileSync(join(out, 'template.json'), 'utf8'));
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  it('writes every artifact and a SHA256SUMS that sha256sum -c accepts', () => {
    const sums = readFileSync(join(out, 'SHA256SUMS'), 'utf8');
    expect(sums.trim().split('\n').map((l) => l.split('  ')[1])).to.deep.equal([
      'build-report.json',
      'image.oci.tar',
      'lambda.zip',
      'marketplace-changeset.json',
      'template.json',
    ]);
    execFileSync('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: out });
  });

  it('names the Lambda zip by its sha256 and the template points at that key', () => {
    const sha = createHash('sha256').update(readFileSync(join(out, 'lambda.zip'))).digest('hex');
    expect(report.lambda.sha256).to.equal(sha);
    expect(report.lambda.key).to.equal(`lambda/${marketplace.version}/lambda-${sha}.zip`);
    expect(strings(template)).to.include(report.lambda.key);
  });

  it('references the image by tag and by the digest of the archive it built', () => {
    const inspect = JSON.parse(run('skopeo', ['inspect', `oci-archive:${join(out, 'image.oci.tar')}`])) as { Digest: string };
    expect(report.image.digest).to.equal(inspect.Digest);
    expect(report.image.reference).to.equal(`${marketplace.sellerEcrRepository}:${marketplace.version}@${inspect.Digest}`);
    expect(strings(template)).to.include(report.image.reference);
  });

  it('writes a change set whose template URL holds the template sha256 in the first region bucket', () => {
    const changeset = JSON.parse(readFileSync(join(out, 'marketplace-changeset.json'), 'utf8')) as {
      ChangeSet: [{ DetailsDocument: { DeliveryOptions: [{ Details: { EcrDeliveryOptionDetails: { DeploymentResources: [{ Url: string }]; ContainerImages: string[] } } }] } }];
    };
    const details = changeset.ChangeSet[0].DetailsDocument.DeliveryOptions[0].Details.EcrDeliveryOptionDetails;
    const sha = createHash('sha256').update(readFileSync(join(out, 'template.json'))).digest('hex');
    expect(details.DeploymentResources[0].Url).to.equal(report.template.url);
    expect(report.template.url).to.equal(`https://${marketplace.artifactBucketPrefix}-us-east-1.s3.us-east-1.amazonaws.com/t/${marketplace.version}/${sha.slice(0, 16)}.json`);
    expect(details.ContainerImages).to.deep.equal([`${marketplace.sellerEcrRepository}:${marketplace.version}`]);
  });

  it('prints a short report with sizes and digests', () => {
    expect(stdout).to.include(`image.oci.tar`);
    expect(stdout).to.include(report.image.digest);
    expect(stdout).to.include(report.lambda.sha256);
    expect(stdout).to.match(/build: wrote .* in [0-9.]+ s/);
  });
});

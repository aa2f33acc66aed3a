import { expect } from 'chai';
import { buildChangeSet, CATALOG_LIMITS, ChangeSetError, checkLimits } from '../../scripts/release/changeset';
import { loadMarketplaceConfig, parseMarketplaceConfig } from '../../scripts/release/marketplace-config';
import { quickCreateUrl, QuickCreateError } from '../../scripts/release/quick-create';
import { templateKey } from '../../scripts/release/release-layout';
import { join } from 'node:path';
import { sampleMarketplace } from './helpers/sample-release';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const KEY = templateKey('1.4.0', 'ff'.repeat(32));
const URL = `https://acme-dicom-scp-us-east-1.s3.us-east-1.amazonaws.com/${KEY}`;

describe('release: marketplace-changeset.json (Catalog API AddDeliveryOptions)', () => {
  const marketplace = parseMarketplaceConfig(sampleMarketplace());

  it('adds a version to the ContainerProduct with one ECS delivery option, template and quick-create link', () => {
    const cs = buildChangeSet({ marketplace, templateKey: KEY, imageDigest: DIGEST });
    expect(cs.Catalog).to.equal('AWSMarketplace');
    expect(cs.ChangeSet).to.have.length(1);
    const change = cs.ChangeSet[0]!;
    expect(change.ChangeType).to.equal('AddDeliveryOptions');
    expect(change.Entity).to.deep.equal({ Type: 'ContainerProduct@1.0', Identifier: 'prod-abcdefghijk12' });
    expect(change.DetailsDocument.Version).to.deep.equal({ VersionTitle: '1.4.0', ReleaseNotes: 'Adds TLS listeners.' });
    const option = change.DetailsDocument.DeliveryOptions[0]!;
    expect(option.DeliveryOptionTitle).to.equal('DICOM Store SCP on Amazon ECS');
    const e = option.Details.EcrDeliveryOptionDetails;
    expect(e.ContainerImages).to.deep.equal(['709825985650.dkr.ecr.us-east-1.amazonaws.com/acme-imaging/dicom-store-scp:1.4.0']);
    expect(e.CompatibleServices).to.deep.equal(['ECS']);
    expect(e.DeploymentResources).to.deep.equal([
      { Name: 'AWS CloudFormation template', Url: URL },
      { Name: 'Launch stack in us-east-1 (CloudFormation quick-create)', Url: quickCreateUrl({ region: 'us-east-1', templateUrl: URL }) },
    ]);
    expect(e.Description).to.equal('One CloudFormation stack.');
  });

  it('writes numbered usage instructions with the ECS service-linked-role step and one quick-create link per Region', () => {
    const text = buildChangeSet({ marketplace, templateKey: KEY, imageDigest: DIGEST }).ChangeSet[0]!.DetailsDocument.DeliveryOptions[0]!.Details.EcrDeliveryOptionDetails.UsageInstructions;
    const steps = text.split('\n').filter((l) => /^\d+\. /.test(l)).map((l) => Number(l.split('.')[0]));
    expect(steps).to.deep.equal([1, 2, 3, 4, 5, 6, 7]);
    expect(text).to.contain('aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com');
    for (const region of marketplace.regions) {
      const templateUrl = `https://acme-dicom-scp-${region}.s3.${region}.amazonaws.com/${KEY}`;
      expect(text).to.contain(`${region}: ${quickCreateUrl({ region, templateUrl })}`);
    }
    expect(text).to.contain(marketplace.usageInstructions);
    expect(text).to.contain('https://github.com/acme/dicom-store-scp/blob/main/docs/deployment.md');
  });

  it('fits the Catalog API limits with this repository\'s marketplace.json (all five Regions)', () => {
    const real = loadMarketplaceConfig(join(__dirname, '..', '..', 'marketplace.json'));
    const cs = buildChangeSet({ marketplace: real, templateKey: templateKey(real.version, 'ab'.repeat(32)), imageDigest: DIGEST });
    const e = cs.ChangeSet[0]!.DetailsDocument.DeliveryOptions[0]!.Details.EcrDeliveryOptionDetails;
    expect(real.regions).to.have.length(5);
    expect(e.UsageInstructions.length).to.be.at.most(CATALOG_LIMITS.UsageInstructions);
    for (const r of e.DeploymentResources) expect(r.Url.length, r.Name).to.be.at.most(CATALOG_LIMITS.DeploymentResourceUrl);
    expect(checkLimits(cs)).to.deep.equal([]);
  });

  it('derives a stable UUID-shaped ClientRequestToken that changes with the image digest', () => {
    const a = buildChangeSet({ marketplace, templateKey: KEY, imageDigest: DIGEST });
    const b = buildChangeSet({ marketplace, templateKey: KEY, imageDigest: DIGEST });
    const c = buildChangeSet({ marketplace, templateKey: KEY, imageDigest: `sha256:${'cd'.repeat(32)}` });
    expect(a.ClientRequestToken).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(b.ClientRequestToken).to.equal(a.ClientRequestToken);
    expect(c.ClientRequestToken).to.not.equal(a.ClientRequestToken);
    expect(a.ChangeSetName).to.equal('Add version 1.4.0');
  });

  it('refuses a listing whose quick-create link exceeds the 256 characters DeploymentResources allows', () => {
    const long = parseMarketplaceConfig({ ...sampleMarketplace(), artifactBucketPrefix: `acme-${'x'.repeat(43)}` });
    expect(() => buildChangeSet({ marketplace: long, templateKey: KEY, imageDigest: DIGEST })).to.throw(ChangeSetError, /DeploymentResources\[Launch stack in us-east-1 \(CloudFormation quick-create\)\]\.Url is 2\d\d characters \(max 256\)/);
  });

  it('refuses usage instructions over 4,000 characters', () => {
    const wordy = parseMarketplaceConfig({ ...sampleMarketplace(), usageInstructions: 'w'.repeat(3900) });
    expect(() => buildChangeSet({ marketplace: wordy, templateKey: KEY, imageDigest: DIGEST })).to.throw(ChangeSetError, /UsageInstructions is \d+ characters \(max 4000\)/);
  });

  it('lists every limit broken at once', () => {
    const cs = buildChangeSet({ marketplace, templateKey: KEY, imageDigest: DIGEST });
    const broken = JSON.parse(JSON.stringify(cs)) as typeof cs & { ChangeSet: [{ DetailsDocument: { DeliveryOptions: [{ DeliveryOptionTitle: string; Details: { EcrDeliveryOptionDetails: { Description: string; ContainerImages: string[] } } }] } }] };
    const option = broken.ChangeSet[0].DetailsDocument.DeliveryOptions[0];
    option.DeliveryOptionTitle = 'x'.repeat(73);
    option.Details.EcrDeliveryOptionDetails.Description = 'y'.repeat(1001);
    option.Details.EcrDeliveryOptionDetails.ContainerImages = [];
    expect(checkLimits(broken)).to.deep.equal([
      'DeliveryOptionTitle is 73 characters (max 72)',
      'Description is 1001 characters (max 1000)',
      'ContainerImages has 0 entries (1–50)',
    ]);
  });
});

describe('release: CloudFormation quick-create link', () => {
  it('opens the quick-create page of the Region with the template and stack name percent-encoded', () => {
    const url = quickCreateUrl({ region: 'eu-west-2', templateUrl: 'https://b-eu-west-2.s3.eu-west-2.amazonaws.com/t/1.0.0/0123456789abcdef.json' });
    expect(url).to.equal(
      'https://console.aws.amazon.com/cloudformation/home?region=eu-west-2#/stacks/quickcreate?templateURL=https%3A%2F%2Fb-eu-west-2.s3.eu-west-2.amazonaws.com%2Ft%2F1.0.0%2F0123456789abcdef.json&stackName=dicom-store-scp',
    );
    const query = new URLSearchParams(url.split('#/stacks/quickcreate?')[1]);
    expect(query.get('templateURL')).to.equal('https://b-eu-west-2.s3.eu-west-2.amazonaws.com/t/1.0.0/0123456789abcdef.json');
  });

  it('pre-fills parameters as param_<Name>', () => {
    const url = quickCreateUrl({ region: 'us-east-1', templateUrl: 'https://x/t.json', stackName: 'pacs-scp', parameters: { LoadBalancerScheme: 'internal', SCPAETitle: 'HOSP SCP' } });
    const query = new URLSearchParams(url.split('#/stacks/quickcreate?')[1]);
    expect(query.get('stackName')).to.equal('pacs-scp');
    expect(query.get('param_LoadBalancerScheme')).to.equal('internal');
    expect(query.get('param_SCPAETitle')).to.equal('HOSP SCP');
  });

  it('refuses an invalid stack name, Region or a non-HTTPS template', () => {
    expect(() => quickCreateUrl({ region: 'us-east-1', templateUrl: 'https://x', stackName: '1scp' })).to.throw(QuickCreateError, /stack name/);
    expect(() => quickCreateUrl({ region: 'mars', templateUrl: 'https://x' })).to.throw(QuickCreateError, /Region/);
    expect(() => quickCreateUrl({ region: 'us-east-1', templateUrl: 'http://x' })).to.throw(QuickCreateError, /HTTPS/);
  });
});

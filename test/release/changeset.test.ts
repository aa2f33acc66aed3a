import { expect } from 'chai';
import { buildChangeSet, ChangeSetError, checkLimits } from '../../scripts/release/changeset';
import { parseMarketplaceConfig } from '../../scripts/release/marketplace-config';
import { sampleMarketplace } from './helpers/sample-release';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const URL = 'https://acme-dicom-scp-us-east-1.s3.us-east-1.amazonaws.com/templates/1.4.0/template-ff.json';

describe('release: marketplace-changeset.json (Catalog API AddDeliveryOptions)', () => {
  const marketplace = parseMarketplaceConfig(sampleMarketplace());

  it('adds a version to the ContainerProduct with one ECS delivery option', () => {
    const cs = buildChangeSet({ marketplace, templateUrl: URL, imageDigest: DIGEST });
    expect(cs.Catalog).to.equal('AWSMarketplace');
    expect(cs.ChangeSet).to.have.length(1);
    const change = cs.ChangeSet[0]!;
    expect(change.ChangeType).to.equal('AddDeliveryOptions');
    expect(change.Entity).to.deep.equal({ Type: 'ContainerProduct@1.0', Identifier: 'prod-abcdefghijk12' });
    expect(change.DetailsDocument.Version).to.deep.equal({ VersionTitle: '1.4.0', ReleaseNotes: 'Adds TLS listeners.' });
    expect(change.DetailsDocument.DeliveryOptions).to.have.length(1);
    const option = change.DetailsDocument.DeliveryOptions[0]!;
    expect(option.DeliveryOptionTitle).to.equal('DICOM Store SCP on Amazon ECS');
    expect(option.Details.EcrDeliveryOptionDetails).to.deep.equal({
      ContainerImages: ['709825985650.dkr.ecr.us-east-1.amazonaws.com/acme-imaging/dicom-store-scp:1.4.0'],
      CompatibleServices: ['ECS'],
      DeploymentResources: [{ Name: 'AWS CloudFormation template', Url: URL }],
      Description: 'One CloudFormation stack.',
      UsageInstructions: 'Launch the template; send DICOM to the NetworkLoadBalancerDNS output.',
    });
  });

  it('derives a stable UUID-shaped ClientRequestToken that changes with the image digest', () => {
    const a = buildChangeSet({ marketplace, templateUrl: URL, imageDigest: DIGEST });
    const b = buildChangeSet({ marketplace, templateUrl: URL, imageDigest: DIGEST });
    const c = buildChangeSet({ marketplace, templateUrl: URL, imageDigest: `sha256:${'cd'.repeat(32)}` });
    expect(a.ClientRequestToken).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(b.ClientRequestToken).to.equal(a.ClientRequestToken);
    expect(c.ClientRequestToken).to.not.equal(a.ClientRequestToken);
    expect(a.ChangeSetName).to.equal('Add version 1.4.0');
  });

  it('refuses a template URL longer than the 256 characters DeploymentResources allows', () => {
    const long = `https://example.com/${'t'.repeat(240)}`;
    expect(() => buildChangeSet({ marketplace, templateUrl: long, imageDigest: DIGEST })).to.throw(ChangeSetError, /DeploymentResources\[AWS CloudFormation template\]\.Url is 260 characters \(max 256\)/);
  });

  it('lists every limit broken at once', () => {
    const cs = buildChangeSet({ marketplace, templateUrl: URL, imageDigest: DIGEST });
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

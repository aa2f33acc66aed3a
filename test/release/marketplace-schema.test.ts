import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MarketplaceConfigError, parseMarketplaceConfig, placeholders } from '../../scripts/release/marketplace-config';
import { REPO_ROOT } from './helpers/built-image';
import { sampleMarketplace } from './helpers/sample-release';

function problemsOf(value: Record<string, unknown>): readonly string[] {
  try {
    parseMarketplaceConfig(value);
  } catch (err) {
    expect(err).to.be.instanceOf(MarketplaceConfigError);
    return (err as MarketplaceConfigError).problems;
  }
  return [];
}

describe('release: marketplace.json schema (ajv, Catalog API limits)', () => {
  it('accepts the repository marketplace.json, whose placeholders publish --apply refuses', () => {
    const config = parseMarketplaceConfig(JSON.parse(readFileSync(join(REPO_ROOT, 'marketplace.json'), 'utf8')));
    expect(config.regions).to.include('us-east-1');
    expect(placeholders(config)).to.have.members(['productId', 'productCode', 'sellerEcrRepository', 'artifactBucketPrefix', 'sourceUrl']);
  });

  it('accepts the sample listing and finds no placeholder in it', () => {
    expect(problemsOf(sampleMarketplace())).to.deep.equal([]);
    expect(placeholders(parseMarketplaceConfig(sampleMarketplace()))).to.deep.equal([]);
  });

  for (const [field, max] of [
    ['version', 64],
    ['deliveryOptionTitle', 72],
    ['deliveryOptionDescription', 1000],
    ['usageInstructions', 4000],
    ['releaseNotes', 30000],
    ['artifactBucketPrefix', 48],
  ] as const) {
    it(`limits ${field} to ${max} characters`, () => {
      const fill = (n: number) => (field === 'version' ? `1.0.0-${'a'.repeat(n - 6)}` : field === 'artifactBucketPrefix' ? 'a'.repeat(n) : 'x'.repeat(n));
      expect(problemsOf({ ...sampleMarketplace(), [field]: fill(max) })).to.deep.equal([]);
      expect(problemsOf({ ...sampleMarketplace(), [field]: fill(max + 1) }).join('\n')).to.include(`/${field}: must NOT have more than ${max} characters`);
    });
  }

  it('rejects an image repository outside the Marketplace ECR registry', () => {
    const problems = problemsOf({ ...sampleMarketplace(), sellerEcrRepository: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme/scp' });
    expect(problems.join('\n')).to.include('/sellerEcrRepository: must match pattern');
  });

  it('rejects regions where HealthImaging is not offered, duplicates, and an empty list', () => {
    expect(problemsOf({ ...sampleMarketplace(), regions: ['us-east-1', 'sa-east-1'] }).join('\n')).to.include('/regions/1: must be equal to one of the allowed values');
    expect(problemsOf({ ...sampleMarketplace(), regions: ['us-east-1', 'us-east-1'] }).join('\n')).to.include('/regions: must NOT have duplicate items');
    expect(problemsOf({ ...sampleMarketplace(), regions: [] }).join('\n')).to.include('/regions: must NOT have fewer than 1 items');
  });

  it('rejects a version that is not a valid image tag (build metadata)', () => {
    expect(problemsOf({ ...sampleMarketplace(), version: '1.0.0+build.5' }).join('\n')).to.include('/version: must match pattern');
  });

  it('reports every problem at once, including unknown and missing properties', () => {
    const { usageInstructions: _dropped, ...rest } = sampleMarketplace();
    void _dropped;
    const problems = problemsOf({ ...rest, productTitel: 'typo', artifactBucketPrefix: 'Upper_Case' });
    expect(problems).to.have.length(3);
    expect(problems.join('\n')).to.include('unknown property "productTitel"');
    expect(problems.join('\n')).to.include("must have required property 'usageInstructions'");
    expect(problems.join('\n')).to.include('/artifactBucketPrefix: must match pattern');
  });
});

import { expect } from 'chai';
import { defaultBuildOptions, lambdaKeyFor } from '../../template-src/build-options';
import { HEALTHIMAGING_REGIONS } from '../../template-src/rules';
import { synthesizeTemplate } from '../../template-src/synthesize';
import { productTemplate, resourcesOfType, type Json } from './template-fixture';

describe('template synthesis', () => {
  const template = productTemplate();
  const text = JSON.stringify(template);

  it('carries nothing from CDK bootstrap or CDK metadata', () => {
    expect(template.Parameters).not.to.have.property('BootstrapVersion');
    expect(template.Rules ?? {}).not.to.have.property('CheckBootstrapVersion');
    expect(resourcesOfType(template, 'AWS::CDK::Metadata')).to.have.length(0);
    expect(text).not.to.contain('aws:cdk:');
    expect(text).not.to.match(/AssetParameters|cdk-hnb659fds|aws:asset:/);
  });

  it('hard-codes no region, account or partition beyond the Marketplace image and the region rule', () => {
    const image = defaultBuildOptions().imageUri;
    // Parameter descriptions may show examples; what deploys is below.
    // The per-Region import-job quota rules name their Region by design (test/template/import-results.test.ts checks them).
    const rules = Object.fromEntries(Object.entries(template.Rules as Record<string, Json>).filter(([k]) => !k.startsWith('ImportJobsWithinQuota')));
    const deployed = JSON.stringify({ r: template.Resources, o: template.Outputs, c: template.Conditions, rules });
    const allowed = deployed
      .split(image).join('')
      .replace(/:ecr:us-east-1:709825985650:repository\/[a-z0-9._/-]+/g, '')
      .split(JSON.stringify([...HEALTHIMAGING_REGIONS])).join('')
      .replace(/Launch the stack in one of: [a-z0-9, -]+\./, '');
    expect(allowed).not.to.match(/arn:aws(-cn|-us-gov)?:/);
    expect(allowed).not.to.match(/\b(us|eu|ap|sa|ca|me|af|il|mx)-(east|west|north|south|central|northeast|southeast)-[1-9]\b/);
    expect(allowed).not.to.match(/(?<![0-9])[0-9]{12}(?![0-9])/);
  });

  it('gives no resource a fixed physical name (two stacks can share a region)', () => {
    const nameProperties = ['BucketName', 'TableName', 'FunctionName', 'RoleName', 'QueueName', 'TopicName', 'LogGroupName', 'ClusterName', 'ServiceName', 'StateMachineName', 'DashboardName', 'Name'];
    for (const [id, r] of Object.entries(template.Resources as Record<string, Json>)) {
      for (const prop of nameProperties) {
        const value = r.Properties?.[prop];
        if (typeof value === 'string') expect.fail(`${id}.${prop} is the fixed name "${value}"`);
      }
    }
  });

  it('places the build options in the template (image, Lambda code location, product code)', () => {
    const options = {
      imageUri: '709825985650.dkr.ecr.us-east-1.amazonaws.com/acme/scp:9.9.9@sha256:' + 'a'.repeat(64),
      lambdaBucketPrefix: 'acme-artifacts',
      lambdaKey: lambdaKeyFor('9.9.9', 'b'.repeat(64)),
      productCode: 'prodcode123',
      version: '9.9.9',
    };
    const custom = JSON.stringify(synthesizeTemplate(options));
    expect(custom).to.contain(options.imageUri);
    expect(custom).to.contain(`"${options.lambdaKey}"`);
    expect(custom).to.contain('"prodcode123"');
    expect(custom).to.contain('acme-artifacts-');
    expect(custom).to.contain('9.9.9');
  });

  it('refuses invalid build options, naming each problem', () => {
    const bad = { ...defaultBuildOptions(), imageUri: 'not an image', lambdaKey: 'lambda.zip' };
    expect(() => synthesizeTemplate(bad)).to.throw(/imageUri[\s\S]*lambdaKey/);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { productTemplate, resourcesOfType } from './template-fixture';

const guide = readFileSync(join(__dirname, '..', '..', 'docs', 'deployment.md'), 'utf8');

describe('docs/deployment.md matches the launch path and the template', () => {
  const template = productTemplate();

  it('describes the quick-create launch, not a Marketplace launch button', () => {
    expect(guide).to.contain('Continue to Configuration');
    expect(guide).to.contain('quick-create link');
    expect(guide).to.not.match(/Launch CloudFormation/);
  });

  it('has the ECS service-linked-role pre-step and lists iam:CreateServiceLinkedRole', () => {
    expect(guide).to.contain('aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com');
    expect(guide).to.contain('CreateServiceLinkedRole');
  });

  it('proves alarm delivery with set-alarm-state on an alarm the stack really creates', () => {
    const match = /set-alarm-state --alarm-name "\$STACK-([A-Za-z0-9]+)"/.exec(guide);
    expect(match, 'set-alarm-state command').to.not.equal(null);
    const ids = resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties.AlarmName['Fn::Join'][1][1] as string);
    expect(ids).to.include(`-${match![1]}`);
  });

  it('names only Outputs and parameters the template has', () => {
    for (const name of ['JobTableName', 'AlarmTopicArn', 'ClusterName', 'ServiceName', 'DatastoreId', 'StateMachineArn', 'NetworkLoadBalancerDNS']) {
      expect(guide, name).to.contain(`<${name}>`.replace(/^</, '')).and.to.satisfy(() => name in template.Outputs);
    }
    for (const p of ['TLSSecurityPolicy', 'VpcCIDR', 'TaskDesiredCount', 'AutoscaleMaxCapacity']) {
      expect(template.Parameters, p).to.have.property(p);
      expect(guide, p).to.contain(`\`${p}\``);
    }
  });

  it('tells the buyer to turn on table deletion protection after the create', () => {
    expect(guide).to.contain('--deletion-protection-enabled');
    for (const [, t] of resourcesOfType(template, 'AWS::DynamoDB::Table')) expect(t.Properties.DeletionProtectionEnabled).to.not.equal(true);
  });
});

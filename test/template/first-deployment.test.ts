import { expect } from 'chai';
import { REGISTER_USAGE_DEADLINE_MS } from '../../container/src/marketplace';
import { STACK_ID } from '../../template-src/synthesize';
import { STATEFUL_TYPES } from '../../template-src/stateful-retention';
import { TLS_SECURITY_POLICIES } from '../../template-src/network-parameters';
import { failedAssertions, type RuleEnvironment } from './rule-evaluator';
import { createdResources, productTemplate, resource, resourcesOfType, type Json } from './template-fixture';

/**
 * Every string value of a template fragment that is not a logical-id
 * reference (Ref, GetAtt, DependsOn, Condition) or a policy statement's Sid
 * (a label CDK derives from the construct path; it names nothing in the account).
 */
function valueStrings(x: Json, out: string[] = []): string[] {
  if (typeof x === 'string') out.push(x);
  else if (Array.isArray(x)) x.forEach((v) => valueStrings(v, out));
  else if (x && typeof x === 'object') {
    for (const [k, v] of Object.entries(x)) {
      if (k === 'Ref' || k === 'DependsOn' || k === 'Condition' || k === 'Sid') continue;
      if (k === 'Fn::GetAtt') continue;
      if (k === 'Fn::If') valueStrings((v as Json[]).slice(1), out);
      else valueStrings(v, out);
    }
  }
  return out;
}

describe('template: works the first time in a buyer account', () => {
  const template = productTemplate();

  describe('alarm delivery', () => {
    const [[topicId]] = resourcesOfType(template, 'AWS::SNS::Topic') as [[string, Json]];
    const [, topicPolicy] = resourcesOfType(template, 'AWS::SNS::TopicPolicy').find(([, p]) =>
      (p.Properties.Topics as Json[]).some((t) => JSON.stringify(t) === JSON.stringify({ Ref: topicId })),
    )!;
    const statements = topicPolicy.Properties.PolicyDocument.Statement as Json[];

    it('lets CloudWatch publish to the alarm topic, for this account and this stack\'s alarms only', () => {
      const allow = statements.filter((s) => s.Effect === 'Allow');
      expect(allow).to.have.length(1);
      expect(allow[0].Principal).to.deep.equal({ Service: 'cloudwatch.amazonaws.com' });
      expect(allow[0].Action).to.equal('sns:Publish');
      expect(allow[0].Resource).to.deep.equal({ Ref: topicId });
      expect(allow[0].Condition.StringEquals['aws:SourceAccount']).to.deep.equal({ Ref: 'AWS::AccountId' });
      const arn = JSON.stringify(allow[0].Condition.ArnLike['aws:SourceArn']);
      expect(arn).to.contain(':cloudwatch:').and.contain(':alarm:').and.contain('{"Ref":"AWS::StackName"}').and.contain('-*');
    });

    it('keeps the TLS-only deny on the topic', () => {
      const deny = statements.filter((s) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false');
      expect(deny).to.have.length(1);
    });

    it('names every alarm <stack name>-<id>, so the policy\'s ARN pattern covers each of them', () => {
      const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm');
      expect(alarms.length).to.be.above(5);
      for (const [id, a] of alarms) {
        expect(a.Properties.AlarmName['Fn::Join'][1][0], id).to.deep.equal({ Ref: 'AWS::StackName' });
        expect(a.Properties.AlarmName['Fn::Join'][1][1], id).to.match(/^-[A-Za-z0-9]+$/);
      }
    });
  });

  describe('stack-name independence', () => {
    it('contains the synthesis stack name in no value (metric dimensions, dashboard, environment, names, outputs)', () => {
      const found = valueStrings({ Resources: template.Resources, Outputs: template.Outputs }).filter((s) => s.includes(STACK_ID));
      expect(found).to.deep.equal([]);
    });

    it('uses AWS::StackName for the import metrics dimension the Lambdas publish with', () => {
      const envs = resourcesOfType(template, 'AWS::Lambda::Function').map(([, f]) => f.Properties.Environment?.Variables ?? {});
      const withStack = envs.filter((v) => 'STACK_NAME' in v);
      expect(withStack.length).to.be.above(0);
      for (const v of withStack) expect(v.STACK_NAME).to.deep.equal({ Ref: 'AWS::StackName' });
    });
  });

  describe('clean rollback of a failed create', () => {
    it('gives every stateful resource DeletionPolicy RetainExceptOnCreate and UpdateReplacePolicy Retain', () => {
      const stateful = Object.entries(template.Resources as Record<string, Json>).filter(([, r]) => STATEFUL_TYPES.includes(r.Type));
      expect(new Set(stateful.map(([, r]) => r.Type))).to.deep.equal(new Set(STATEFUL_TYPES));
      for (const [id, r] of stateful) {
        expect(r.DeletionPolicy, id).to.equal('RetainExceptOnCreate');
        expect(r.UpdateReplacePolicy, id).to.equal('Retain');
      }
    });

    it('has no DynamoDB deletion protection that would block the rollback', () => {
      for (const [id, t] of resourcesOfType(template, 'AWS::DynamoDB::Table')) {
        expect(t.Properties.DeletionProtectionEnabled, id).to.not.equal(true);
      }
    });

    it('gives a starting task a health-check grace period longer than its RegisterUsage retries', () => {
      const [[, service]] = resourcesOfType(template, 'AWS::ECS::Service') as [[string, Json]];
      expect(service.Properties.HealthCheckGracePeriodSeconds * 1000).to.be.above(REGISTER_USAGE_DEADLINE_MS + 10_000);
    });

    it('names the Step Functions log group under /aws/vendedlogs/states/, unique per stack creation', () => {
      const machines = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');
      expect(machines.length).to.be.above(0);
      for (const [id, m] of machines) {
        const [destination] = m.Properties.LoggingConfiguration.Destinations as Json[];
        const logGroupId = destination.CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0];
        const name = resource(template, logGroupId).Properties.LogGroupName['Fn::Join'][1] as Json[];
        expect(name[0], id).to.equal('/aws/vendedlogs/states/');
        expect(name[1]).to.deep.equal({ Ref: 'AWS::StackName' });
        expect(JSON.stringify(name)).to.contain('AWS::StackId');
      }
    });
  });

  describe('Rules catch late failures before anything is created', () => {
    const env: RuleEnvironment = {
      region: 'eu-west-2',
      attributes: {
        'subnet-pub-a': { VpcId: 'vpc-1', AvailabilityZone: 'eu-west-2a' },
        'subnet-pub-b': { VpcId: 'vpc-1', AvailabilityZone: 'eu-west-2b' },
        'subnet-prv-a': { VpcId: 'vpc-1', AvailabilityZone: 'eu-west-2a' },
        'subnet-prv-b': { VpcId: 'vpc-1', AvailabilityZone: 'eu-west-2b' },
        'subnet-prv-c': { VpcId: 'vpc-1', AvailabilityZone: 'eu-west-2c' },
      },
    };
    const good = {
      VpcID: 'vpc-1',
      PublicSubnetIDs: 'subnet-pub-a,subnet-pub-b',
      PrivateSubnetIDs: 'subnet-prv-a,subnet-prv-b',
      PeerCIDR1: '203.0.113.0/24',
    };
    const check = (values: Record<string, string>, region = env.region) => failedAssertions(template, { ...good, ...values }, { ...env, region });

    it('accepts a sound parameter set', () => {
      expect(check({})).to.deep.equal({});
    });

    it('rejects TaskDesiredCount above AutoscaleMaxCapacity for every allowed value, and accepts equal or below', () => {
      const counts = (template.Parameters.TaskDesiredCount.AllowedValues as string[]).map(Number);
      expect(counts).to.deep.equal(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(template.Parameters.AutoscaleMaxCapacity.AllowedValues).to.deep.equal(counts.map(String));
      for (const desired of counts) {
        if (desired > 1) {
          const failed = check({ TaskDesiredCount: String(desired), AutoscaleMaxCapacity: String(desired - 1) });
          expect(Object.keys(failed), `desired ${desired} max ${desired - 1}`).to.deep.equal([`TaskCountsFit${desired}`]);
          expect(failed[`TaskCountsFit${desired}`]![0]).to.contain('AutoscaleMaxCapacity');
        }
        expect(check({ TaskDesiredCount: String(desired), AutoscaleMaxCapacity: String(desired) }), `desired = max = ${desired}`).to.deep.equal({});
      }
      expect(check({ TaskDesiredCount: '1', AutoscaleMaxCapacity: '100' })).to.deep.equal({});
      expect(Object.keys(check({ TaskDesiredCount: '100', AutoscaleMaxCapacity: '1' }))).to.deep.equal(['TaskCountsFit100']);
    });

    it('rejects a private subnet in a zone without a public subnet when the load balancer is internet-facing', () => {
      const failed = check({ PrivateSubnetIDs: 'subnet-prv-a,subnet-prv-c' });
      expect(Object.keys(failed)).to.deep.equal(['SubnetZonesMatch']);
      expect(failed.SubnetZonesMatch![0]).to.contain('Availability Zone');
    });

    it('does not apply the zone rule to an internal load balancer (it uses the private subnets only)', () => {
      expect(check({ PrivateSubnetIDs: 'subnet-prv-a,subnet-prv-c', LoadBalancerScheme: 'internal' })).to.deep.equal({});
    });

    it('accepts public subnets in more zones than the private ones', () => {
      expect(check({ PrivateSubnetIDs: 'subnet-prv-a' })).to.deep.equal({});
    });

    it('refuses a data store KMS key without an existing data store', () => {
      const key = 'arn:aws:kms:eu-west-2:111122223333:key/12345678-1234-1234-1234-123456789012';
      expect(Object.keys(check({ ExistingDatastoreKmsKeyArn: key }))).to.deep.equal(['DatastoreKeyNeedsExistingDatastore']);
      expect(check({ ExistingDatastoreKmsKeyArn: key, ExistingDatastoreId: 'a'.repeat(32) })).to.deep.equal({});
    });

    it('still refuses a Region without HealthImaging and subnets of another VPC', () => {
      expect(Object.keys(check({}, 'sa-east-1'))).to.deep.equal(['RegionSupportsHealthImaging']);
      expect(Object.keys(check({ VpcID: 'vpc-2' }))).to.deep.equal(['SubnetsBelongToVpc']);
    });
  });

  describe('CloudFormation quotas (the smallest values the User Guide has listed, "AWS CloudFormation quotas")', () => {
    it('keeps the released template text within 460,800 bytes for an S3 template URL', () => {
      // Formatted exactly as scripts/release/template-build.ts writes dist/template.json.
      const bytes = Buffer.byteLength(`${JSON.stringify(template, null, 2)}\n`);
      expect(bytes).to.be.at.most(460_800);
    });

    it('stays within 200 resources, 60 parameters and 60 outputs', () => {
      expect(Object.keys(template.Resources).length).to.be.at.most(200);
      expect(Object.keys(template.Parameters).length).to.be.at.most(60);
      expect(Object.keys(template.Outputs).length).to.be.at.most(60);
    });
  });

  describe('least privilege and TLS choice', () => {
    it('lets the override image be pulled from the one repository ContainerImageOverride names', () => {
      const policies = resourcesOfType(template, 'AWS::IAM::Policy').filter(([, p]) => p.Condition === 'ContainerImageOverrideGiven');
      expect(policies).to.have.length(1);
      const [statement] = policies[0]![1].Properties.PolicyDocument.Statement as Json[];
      const arn = JSON.stringify(statement.Resource);
      expect(arn).to.contain('ContainerImageOverride').and.contain('repository/');
      expect(arn).to.not.contain('repository/*');
      expect(arn).to.not.contain(':ecr:*:*:');
    });

    it('resolves the override repository ARN from the image reference the way CloudFormation would', () => {
      const policies = resourcesOfType(template, 'AWS::IAM::Policy').filter(([, p]) => p.Condition === 'ContainerImageOverrideGiven');
      const [statement] = policies[0]![1].Properties.PolicyDocument.Statement as Json[];
      const resolve = (x: Json, image: string): Json => {
        if (typeof x === 'string') return x;
        if (Array.isArray(x)) return x.map((v) => resolve(v, image));
        const [fn, args] = Object.entries(x)[0] as [string, Json];
        if (fn === 'Ref') return args === 'ContainerImageOverride' ? image : args === 'AWS::Partition' ? 'aws' : `<${args}>`;
        if (fn === 'Fn::Join') return (resolve(args[1], image) as string[]).join(args[0]);
        if (fn === 'Fn::Split') return (resolve(args[1], image) as string).split(args[0]);
        if (fn === 'Fn::Select') {
          const list = resolve(args[1], image) as string[];
          if (args[0] >= list.length) throw new Error('Fn::Select index out of range');
          return list[args[0]];
        }
        throw new Error(`unsupported ${fn}`);
      };
      const arnOf = (image: string) => resolve(statement.Resource, image);
      expect(arnOf('123456789012.dkr.ecr.eu-west-1.amazonaws.com/support/scp:1.2.3')).to.equal('arn:aws:ecr:eu-west-1:123456789012:repository/support/scp');
      expect(arnOf(`123456789012.dkr.ecr.us-east-1.amazonaws.com/scp@sha256:${'a'.repeat(64)}`)).to.equal('arn:aws:ecr:us-east-1:123456789012:repository/scp');
      const pattern = new RegExp(template.Parameters.ContainerImageOverride.AllowedPattern);
      expect(pattern.test('docker.io/library/scp:1')).to.equal(false);
    });

    it('uses the TLSSecurityPolicy parameter on the TLS listener, defaulting to the restricted TLS 1.3/1.2 policy', () => {
      const p = template.Parameters.TLSSecurityPolicy;
      expect(p.Default).to.equal('ELBSecurityPolicy-TLS13-1-2-Res-2021-06');
      expect(p.AllowedValues).to.deep.equal([...TLS_SECURITY_POLICIES]);
      const listener = resource(template, 'Listener');
      expect(listener.Properties.SslPolicy['Fn::If'][1]).to.deep.equal({ Ref: 'TLSSecurityPolicy' });
    });

    it('lets the import functions use an existing data store\'s KMS key, only when given and only through HealthImaging', () => {
      const policies = resourcesOfType(template, 'AWS::IAM::Policy').filter(([, p]) => p.Condition === 'ExistingDatastoreKmsKeyArnGiven');
      expect(policies).to.have.length(1);
      const [, policy] = policies[0]!;
      const [statement] = policy.Properties.PolicyDocument.Statement as Json[];
      expect(statement.Resource).to.deep.equal({ Ref: 'ExistingDatastoreKmsKeyArn' });
      expect(statement.Action).to.include.members(['kms:DescribeKey', 'kms:GenerateDataKey', 'kms:Decrypt', 'kms:CreateGrant']);
      expect(JSON.stringify(statement.Condition.StringEquals['kms:ViaService'])).to.contain('medical-imaging.');
      const roles = JSON.stringify(policy.Properties.Roles);
      expect(roles).to.match(/startImportJob/i).and.match(/checkImportStatus/i);
      expect(createdResources(template, {}).has(policies[0]![0])).to.equal(false);
    });

    it('expires access logs in the log bucket', () => {
      const rules = resource(template, 'LogBucket').Properties.LifecycleConfiguration.Rules as Json[];
      expect(rules.some((r) => r.Status === 'Enabled' && r.ExpirationInDays === 365)).to.equal(true);
    });

    it('keeps the data store and table on the default parameter set', () => {
      const created = createdResources(template, {});
      expect(created.has('Datastore')).to.equal(true);
      expect(created.has('JobTable')).to.equal(true);
    });
  });
});

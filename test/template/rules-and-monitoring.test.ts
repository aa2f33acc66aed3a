import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { FARGATE_MEMORY_BY_CPU } from '../../template-src/operations-parameters';
import { productTemplate, resourcesOfType, type Json } from './template-fixture';

describe('template rules and monitoring', () => {
  const template = productTemplate();
  const rules = template.Rules as Record<string, Json>;

  it('refuses Regions without HealthImaging, with the list marketplace.json offers', () => {
    const marketplace = JSON.parse(readFileSync(join(__dirname, '..', '..', 'marketplace.json'), 'utf8'));
    const [list, region] = rules.RegionSupportsHealthImaging.Assertions[0].Assert['Fn::Contains'];
    expect(region).to.deep.equal({ Ref: 'AWS::Region' });
    expect([...list].sort()).to.deep.equal([...marketplace.regions].sort());
  });

  it('checks that both subnet lists belong to VpcID before creating anything', () => {
    const asserts = (rules.SubnetsBelongToVpc.Assertions as Json[]).map((a) => a.Assert['Fn::EachMemberEquals']);
    expect(asserts).to.deep.equal([
      [{ 'Fn::ValueOf': ['PublicSubnetIDs', 'VpcId'] }, { Ref: 'VpcID' }],
      [{ 'Fn::ValueOf': ['PrivateSubnetIDs', 'VpcId'] }, { Ref: 'VpcID' }],
    ]);
    for (const a of rules.SubnetsBelongToVpc.Assertions as Json[]) expect(a.AssertDescription).to.contain('VpcID');
  });

  it('accepts only Fargate memory sizes valid for the chosen CPU', () => {
    for (const [cpu, memory] of Object.entries(FARGATE_MEMORY_BY_CPU)) {
      const rule = rules[`TaskMemoryFitsCpu${cpu}`];
      expect(rule.RuleCondition).to.deep.equal({ 'Fn::Equals': [{ Ref: 'TaskCPU' }, cpu] });
      expect(rule.Assertions[0].Assert['Fn::Contains']).to.deep.equal([memory.map(String), { Ref: 'TaskMemoryLimit' }]);
    }
    expect(template.Parameters.TaskMemoryLimit.AllowedValues).to.include.members(FARGATE_MEMORY_BY_CPU['1024']!.map(String));
  });

  it('requires at least one sender range', () => {
    const or = rules.SendersAllowed.Assertions[0].Assert['Fn::Or'] as Json[];
    expect(or.map((c) => c['Fn::Not'][0]['Fn::Equals'][0].Ref)).to.deep.equal(['VpcCIDR', 'PeerCIDR1', 'PeerCIDR2', 'PeerCIDR3']);
  });

  it('alarms on ECS CPU and memory and on no healthy task, notifying the topic', () => {
    const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const byMetric = (ns: string, name: string) => alarms.filter((a) => a.Namespace === ns && a.MetricName === name);
    expect(byMetric('AWS/ECS', 'CPUUtilization')[0]).to.include({ Threshold: 80, EvaluationPeriods: 2 });
    expect(byMetric('AWS/ECS', 'MemoryUtilization')[0]).to.include({ Threshold: 80 });
    expect(byMetric('AWS/NetworkELB', 'HealthyHostCount')).to.have.length(1);
    const [[topicId]] = resourcesOfType(template, 'AWS::SNS::Topic') as [[string, Json]];
    for (const a of alarms) expect(a.AlarmActions, a.AlarmName).to.deep.equal([{ Ref: topicId }]);
  });

  it('alarms on every workflow Lambda, dead-letter queue and failed execution it creates', () => {
    const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const lambdas = resourcesOfType(template, 'AWS::Lambda::Function').map(([id]) => id);
    for (const fn of lambdas) {
      expect(alarms.some((a) => a.MetricName === 'Errors' && JSON.stringify(a.Dimensions).includes(fn)), fn).to.equal(true);
    }
    // Functions whose errors the state machine retries alarm only on sustained errors; the others on the first.
    const lambdaAlarms = alarms.filter((a) => a.MetricName === 'Errors' && a.Namespace === 'AWS/Lambda');
    const sustained = lambdaAlarms.filter((a) => a.EvaluationPeriods === 3 && a.Threshold === 10);
    expect(sustained.map((a) => JSON.stringify(a.Dimensions))).to.have.length(2);
    expect(sustained.every((a) => /StartImportJob|CheckImportStatus/i.test(JSON.stringify(a.Dimensions)))).to.equal(true);
    expect(lambdaAlarms.filter((a) => a.Threshold === 0)).to.have.length(lambdas.length - 2);
    const machines = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');
    expect(alarms.filter((a) => a.MetricName === 'ExecutionsFailed')).to.have.length(machines.length);
  });

  it('subscribes the alarm e-mail only when one is given', () => {
    const [[, subscription]] = resourcesOfType(template, 'AWS::SNS::Subscription') as [[string, Json]];
    expect(subscription.Condition).to.equal('AlarmEmailGiven');
    expect(subscription.Properties.Endpoint).to.deep.equal({ Ref: 'AlarmEmail' });
  });
});

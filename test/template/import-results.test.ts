import { expect } from 'chai';
import { IMPORT_JOBS_BY_REGION } from '../../template-src/import-parameters';
import { HEALTHIMAGING_REGIONS } from '../../template-src/rules';
import { productTemplate, resourcesOfType, type Json } from './template-fixture';

/** Import-result alarms, the concurrent-job parameter and its per-Region quota (issue 13). */
describe('template: import results and import-job quota', () => {
  const template = productTemplate();
  const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties as Json);
  const alarmNamed = (id: string) => alarms.find((a) => JSON.stringify(a.AlarmName).includes(`-${id}"`));

  it('alarms on the first invalid output, non-primary instance and overdue job (custom metrics), notifying the topic', () => {
    const [[topicId]] = resourcesOfType(template, 'AWS::SNS::Topic') as [[string, Json]];
    for (const id of ['ImportOutputsInvalid', 'InstancesNonPrimary', 'ImportJobsOverdue']) {
      const a = alarmNamed(id);
      expect(a, id).to.include({ Namespace: 'DICOMStoreSCP', MetricName: id, Threshold: 0, EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanThreshold' });
      expect(a.AlarmActions, id).to.deep.equal([{ Ref: topicId }]);
    }
  });

  it("subscribes to HealthImaging's non-primary image-set events of its data store and alarms on a match", () => {
    const rules = resourcesOfType(template, 'AWS::Events::Rule').filter(([, r]) => JSON.stringify(r.Properties.EventPattern ?? {}).includes('aws.medical-imaging'));
    expect(rules).to.have.length(1);
    const [ruleId, rule] = rules[0]!;
    expect(rule.Properties.EventPattern).to.deep.include({ source: ['aws.medical-imaging'], 'detail-type': ['Image Set Created', 'Image Set Updated'] });
    expect(rule.Properties.EventPattern.detail.isPrimary).to.deep.equal([false]);
    expect(rule.Properties.EventPattern.detail.datastoreId).to.have.length(1);
    const a = alarmNamed('NonPrimaryImageSetEvents');
    expect(a).to.include({ Namespace: 'AWS/Events', MetricName: 'MatchedEvents', Threshold: 0 });
    expect(a.Dimensions).to.deep.equal([{ Name: 'RuleName', Value: { Ref: ruleId } }]);
  });

  it('offers MaxConcurrentImportJobs (0 = the Region default from ImportJobsByRegion) and gives it to every workflow function', () => {
    expect(template.Parameters.MaxConcurrentImportJobs).to.include({ Type: 'Number', Default: 0, MinValue: 0, MaxValue: 100 });
    expect(Object.keys(template.Mappings.ImportJobsByRegion).sort()).to.deep.equal([...HEALTHIMAGING_REGIONS].sort());
    expect(template.Mappings.ImportJobsByRegion['ap-southeast-2']).to.deep.equal({ Quota: 20, Default: 15 });
    for (const r of HEALTHIMAGING_REGIONS) expect(template.Mappings.ImportJobsByRegion[r].Default, r).to.be.below(template.Mappings.ImportJobsByRegion[r].Quota);
    const fns = resourcesOfType(template, 'AWS::Lambda::Function').filter(([, f]) => f.Properties.Environment?.Variables?.MAX_CONCURRENT_JOBS !== undefined);
    expect(fns.length).to.be.at.least(5);
    for (const [id, f] of fns) {
      const v = JSON.stringify(f.Properties.Environment.Variables.MAX_CONCURRENT_JOBS);
      expect(v, id).to.contain('"Fn::If"').and.contain('ImportJobsByRegion').and.contain('MaxConcurrentImportJobs');
    }
  });

  it('refuses a MaxConcurrentImportJobs above the quota in ap-southeast-2 before creating anything', () => {
    const rule = template.Rules.ImportJobsWithinQuotaapsoutheast2;
    expect(rule.RuleCondition).to.deep.equal({ 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'ap-southeast-2'] });
    const [values, ref] = rule.Assertions[0].Assert['Fn::Contains'];
    expect(ref).to.deep.equal({ Ref: 'MaxConcurrentImportJobs' });
    expect(values).to.include('0').and.include('20').and.not.include('21');
    expect(Object.keys(template.Rules).filter((k) => k.startsWith('ImportJobsWithinQuota'))).to.deep.equal(['ImportJobsWithinQuotaapsoutheast2']);
    expect(IMPORT_JOBS_BY_REGION['us-east-1']!.Quota).to.equal(100);
  });

  it('lets recordResults keep non-primary copies under conflicts/ and recordFailure read manifests', () => {
    const policy = (fn: string) => resourcesOfType(template, 'AWS::IAM::Policy').find(([id]) => id.includes(fn))![1].Properties.PolicyDocument.Statement as Json[];
    const grants = (fn: string, action: string) => policy(fn).filter((s) => s.Action === action).map((s) => JSON.stringify(s.Resource)).join(' ');
    expect(grants('recordResults', 's3:PutObject')).to.contain('/conflicts/*').and.contain('/failed/*');
    expect(grants('recordFailure', 's3:GetObject')).to.contain('/batches/*');
  });

  it('retries ServiceQuotaExceededException on the busy-slot schedule and Lambda throttling on every task', () => {
    const [, sm] = resourcesOfType(template, 'AWS::StepFunctions::StateMachine')[0]!;
    const def = JSON.stringify(sm.Properties.DefinitionString);
    expect(def).to.match(/ImportSlotUnavailableError\\",\\"ServiceQuotaExceededException/);
    expect(def.match(/Lambda.TooManyRequestsException/g)).to.have.length(5);
    expect(def).to.contain('ServerErrorsToRetry?');
  });
});

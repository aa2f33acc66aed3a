import { expect } from 'chai';
import { createdResources, evaluateConditions, productTemplate, resolveIfs, resourcesOfType, type Json } from '../template/template-fixture';
import { RESEARCH_CHUNK_SIZE, RESEARCH_MAP_CONCURRENCY } from '../../template-src/research-copy';
import { OPTIONAL_KMS_KEY_ARN, RETAIN_OPTION_LIST } from '../../template-src/research-parameters';

const DEID_PARAMETERS = [
  'DeidentificationMode', 'DeidDateHandling', 'DeidRetainOptions', 'DeidPrivateTags', 'DeidBurnedInPolicy', 'DeidPatientIdPrefix',
  'DeidKeyArn', 'RawRetentionDays', 'DownloadUrlDefaultExpiry', 'DownloadUrlMaximumExpiry',
];
const GIVEN_KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

function definitionText(sm: Json): string {
  const d = sm.Properties.DefinitionString;
  return typeof d === 'string' ? d : (d['Fn::Join'][1] as Json[]).map((x) => (typeof x === 'string' ? x : 'X')).join('');
}

describe('template: De-identification parameters and the research-copy resources', () => {
  const template = productTemplate();
  const ui = template.Metadata['AWS::CloudFormation::Interface'];
  const off = createdResources(template, {});
  const research = createdResources(template, { DeidentificationMode: 'ResearchCopy' });
  const only = createdResources(template, { DeidentificationMode: 'DeidentifiedOnly' });
  const givenKey = createdResources(template, { DeidentificationMode: 'ResearchCopy', DeidKeyArn: GIVEN_KEY });

  it('puts every de-identification parameter in the "De-identification" console group with a label and a description', () => {
    const group = (ui.ParameterGroups as Json[]).find((g) => g.Label.default === 'De-identification');
    expect(group?.Parameters).to.deep.equal(DEID_PARAMETERS);
    for (const id of DEID_PARAMETERS) {
      expect(ui.ParameterLabels[id]?.default, id).to.be.a('string').with.length.above(5);
      expect(template.Parameters[id].Description, id).to.have.length.above(20);
    }
    expect(template.Parameters.DeidentificationMode).to.include({ Default: 'Off' });
    expect(template.Parameters.DeidentificationMode.AllowedValues).to.deep.equal(['Off', 'ResearchCopy', 'DeidentifiedOnly']);
    expect(template.Parameters.DeidBurnedInPolicy).to.include({ Default: 'quarantine' });
  });

  it('creates nothing of it with DeidentificationMode=Off (the default)', () => {
    const added = [...research].filter((id) => !off.has(id));
    expect(added.length).to.be.greaterThan(10);
    for (const id of added) expect(['DeidentificationOn', 'CreateDeidKey', 'DeidentifiedOnlyMode'], id).to.include(template.Resources[id].Condition);
    expect([...off].filter((id) => /^(Research|DeidKey|ProcessedBucket|RawBucket)/.test(id))).to.deep.equal([]);
    expect(resourcesOfType(template, 'AWS::KMS::Key').filter(([id]) => off.has(id))).to.deep.equal([]);
    const conditions = evaluateConditions(template, {});
    const outputs = Object.entries(template.Outputs as Record<string, Json>).filter(([, o]) => !o.Condition || conditions[o.Condition]).map(([id]) => id);
    expect(outputs).not.to.include.members(['ProcessedBucketName', 'ResearchStateMachineArn']);
    // The clinical workflow skips the research step: its substitutions say so.
    const [, clinical] = resourcesOfType(template, 'AWS::StepFunctions::StateMachine').find(([id]) => off.has(id))!;
    expect(resolveIfs(clinical.Properties.DefinitionSubstitutions, conditions)).to.deep.equal({ ResearchCopyEnabled: 'false', DeidentificationModeValue: { Ref: 'DeidentificationMode' }, ResearchStateMachineArn: 'none' });
  });

  it('ResearchCopy: HMAC_256 key kept on delete unless an ARN is given; DeidentifiedOnly adds the versioned raw bucket', () => {
    const key = template.Resources.DeidKey;
    expect(key.Properties).to.include({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    expect(key.DeletionPolicy).to.equal('RetainExceptOnCreate');
    expect(key.UpdateReplacePolicy).to.equal('Retain');
    expect(research.has('DeidKey')).to.equal(true);
    expect(givenKey.has('DeidKey')).to.equal(false);
    expect(research.has('ProcessedBucket') && givenKey.has('ProcessedBucket')).to.equal(true);
    expect(research.has('RawBucket')).to.equal(false);
    expect(only.has('RawBucket')).to.equal(true);
    expect(template.Resources.RawBucket.Properties.VersioningConfiguration).to.deep.equal({ Status: 'Enabled' });
    // With a given key, the Lambdas may use that key only.
    const conditions = evaluateConditions(template, { DeidentificationMode: 'ResearchCopy', DeidKeyArn: GIVEN_KEY });
    const policies = resourcesOfType(template, 'AWS::IAM::Policy').filter(([id]) => givenKey.has(id));
    const macStatements = policies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]).filter((s) => [s.Action].flat().includes('kms:GenerateMac'));
    expect(macStatements).to.have.length(1);
    expect(resolveIfs(macStatements[0].Resource, conditions)).to.deep.equal({ Ref: 'DeidKeyArn' });
  });

  it('processed bucket: SSE, TLS-only policy, public access blocked, access-logged, lifecycle, retained', () => {
    const bucket = template.Resources.ProcessedBucket;
    expect(bucket.DeletionPolicy).to.equal('RetainExceptOnCreate'); // the stack's stateful-retention policy (template-src/stateful-retention.ts)
    expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).to.equal('AES256');
    expect(bucket.Properties.PublicAccessBlockConfiguration).to.deep.equal({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(bucket.Properties.LoggingConfiguration.LogFilePrefix).to.equal('processed/');
    expect((bucket.Properties.LifecycleConfiguration.Rules as Json[]).map((r) => r.Id)).to.include.members(['abort-incomplete-uploads', 'expire-noncurrent']);
    const [, policy] = resourcesOfType(template, 'AWS::S3::BucketPolicy').find(([, p]) => p.Properties.Bucket.Ref === 'ProcessedBucket')!;
    const deny = (policy.Properties.PolicyDocument.Statement as Json[]).filter((s) => s.Effect === 'Deny');
    expect(deny.some((s) => s.Condition?.Bool?.['aws:SecureTransport'] === 'false')).to.equal(true);
    expect(deny.some((s) => s.Condition?.NumericLessThan?.['s3:TlsVersion'] === 1.2)).to.equal(true);
  });

  it('research state machine: a Map over manifest chunks with bounded concurrency, retries, and a Catch that never fails the batch', () => {
    const [, sm] = resourcesOfType(template, 'AWS::StepFunctions::StateMachine').find(([, r]) => definitionText(r).includes('PlanResearchBatch'))!;
    const def = JSON.parse(definitionText(sm));
    const map = def.States.CopyEachChunk;
    expect(map).to.include({ Type: 'Map', MaxConcurrency: RESEARCH_MAP_CONCURRENCY, ItemsPath: '$.plan.chunks' });
    const copy = map.ItemProcessor.States.CopyChunk;
    expect((copy.Retry as Json[]).flatMap((r) => r.ErrorEquals)).to.include('ResearchRetryableError');
    expect(copy.Catch[0].ErrorEquals).to.deep.equal(['States.ALL']);
    expect(map.ItemProcessor.States[copy.Catch[0].Next].Type).to.equal('Pass');
    expect(map.Next).to.equal('SummarizeResearchBatch');
    expect(RESEARCH_CHUNK_SIZE * 200).to.be.at.least(5000); // 200 Map items of ~150 bytes hold the largest (5000-instance) batch.
    // The clinical workflow waits for it before importing (and so before cleaning up staging).
    const [, clinical] = resourcesOfType(template, 'AWS::StepFunctions::StateMachine').find(([, r]) => definitionText(r).includes('ValidateBatch'))!;
    const states = JSON.parse(definitionText(clinical)).States;
    expect(states.CopyForResearch.Resource).to.match(/:states:::states:startExecution\.sync:2$/);
    expect(states.CopyForResearch.Next).to.equal('ImportOriginals?');
    expect(states.CopyForResearch.Catch[0].Next).to.equal('ImportOriginals?');
    // DeidentifiedOnly: an original batch ends without an import; derived batches ('*Z-di*') skip the research step.
    expect(states['ImportOriginals?'].Default).to.equal('StartImportJob');
    expect(JSON.stringify(states['ImportOriginals?'].Choices)).to.include('DeidentifiedOnly').and.include('*Z-di*');
    expect(JSON.stringify(states['ResearchCopyOn?'].Choices)).to.include('*Z-di*');
    expect(states.ResearchSettings.Result).to.deep.equal({ enabled: '${ResearchCopyEnabled}', mode: '${DeidentificationModeValue}' });
    expect(clinical.Properties.DefinitionSubstitutions.DeidentificationModeValue).to.deep.equal({ Ref: 'DeidentificationMode' });
  });

  it('parameter patterns accept what they document and refuse the rest', () => {
    const ok = (p: { pattern: string }, v: string) => new RegExp(p.pattern).test(v);
    expect(ok(RETAIN_OPTION_LIST, '')).to.equal(true);
    expect(ok(RETAIN_OPTION_LIST, 'uids,device-identity')).to.equal(true);
    expect(ok(RETAIN_OPTION_LIST, 'uids, device-identity')).to.equal(false);
    expect(ok(RETAIN_OPTION_LIST, 'safe-private')).to.equal(false);
    expect(ok(OPTIONAL_KMS_KEY_ARN, GIVEN_KEY)).to.equal(true);
    expect(ok(OPTIONAL_KMS_KEY_ARN, 'alias/my-key')).to.equal(false);
  });
});

import { expect } from 'chai';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, HIPAASecurityChecks } from 'cdk-nag';
import { buildWorkflowTestStack } from './workflow-test-stack';

describe('template-src/import-workflow (ImportWorkflow construct)', () => {
  const { app, stack, workflow } = buildWorkflowTestStack();
  const template = Template.fromStack(stack);
  void app;

  it('creates seven Node.js 24 functions, one per exported handler, traced', () => {
    const fns = template.findResources('AWS::Lambda::Function', { Properties: { Runtime: 'nodejs24.x', TracingConfig: { Mode: 'Active' } } });
    expect(Object.values(fns).map((f) => f['Properties'].Handler).sort()).to.deep.equal(
      ['index.checkImportStatus', 'index.recordFailure', 'index.recordResults', 'index.startImportJob', 'index.sweepOrphanBatches', 'index.triggerStateMachine', 'index.validateBatch']);
    expect(workflow.functions).to.have.length(7);
  });

  it('lets only start-import-job pass the data access role, and only to HealthImaging', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'iam:PassRole', Condition: { StringEquals: { 'iam:PassedToService': 'medical-imaging.amazonaws.com' } } })]) },
      Roles: [{ Ref: Match.stringLikeRegexp('startImportJobRole') }],
    });
    const passers = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p).includes('iam:PassRole'));
    expect(passers).to.have.length(1);
  });

  it('logs the state machine to a log group with retention and traces it', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { TracingConfiguration: { Enabled: true }, LoggingConfiguration: Match.objectLike({ Level: 'ALL' }) });
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('routes batches/ Object Created events through EventBridge to an SQS queue with a DLQ', () => {
    template.hasResourceProperties('AWS::Events::Rule', { EventPattern: Match.objectLike({ 'detail-type': ['Object Created'], detail: Match.objectLike({ object: { key: [{ prefix: 'batches/' }] } }) }), Targets: [Match.objectLike({ DeadLetterConfig: Match.anyValue() })] });
    template.hasResourceProperties('AWS::SQS::Queue', { RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }) });
    template.hasResourceProperties('AWS::S3::Bucket', { NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } } });
    expect(workflow.deadLetterQueues).to.have.length(3);
  });

  it('leaves no unacknowledged AwsSolutions or HIPAA finding on its own resources', () => {
    const findings = [new AwsSolutionsChecks(), new HIPAASecurityChecks()].flatMap((pack) => pack.validateScope(stack).violations
      .flatMap((v) => v.violatingResources.filter((r) => (r.constructPath ?? '').includes('/ImportWorkflow/')).map((r) => `${v.ruleName} ${r.constructPath}`)));
    expect(findings).to.deep.equal([]);
  });

  it('refuses invalid tuning props, listing every problem', () => {
    expect(() => buildWorkflowTestStack({ maxConcurrentJobs: 0, resultsPrefix: 'x' })).to.throw(/maxConcurrentJobs[\s\S]*resultsPrefix/);
  });
});

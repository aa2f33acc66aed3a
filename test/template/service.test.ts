import { expect } from 'chai';
import { UTILIZATION_METRIC, UTILIZATION_NAMESPACE } from '../../container/src/association-utilization';
import { productTemplate, resource, resourcesOfType, type Json } from './template-fixture';

/** Environment contract with container/ (the SCP reads exactly these). */
const CONTAINER_ENV = [
  'AE_TITLE', 'SCP_HOST', 'SCP_PORT', 'HEALTH_PORT', 'STORAGE_URI', 'REQUIRE_CALLED_AE_TITLE', 'REQUIRE_CALLING_AE_TITLE',
  'SUPPORTED_SOP_CLASS_UIDS', 'MAXIMUM_ASSOCIATIONS', 'DIMSE_TIMEOUT', 'NETWORK_TIMEOUT', 'ACSE_TIMEOUT', 'DRAIN_TIMEOUT',
  'LOG_LEVEL', 'MARKETPLACE_PRODUCT_CODE', 'STACK_NAME',
];

describe('template SCP service', () => {
  const template = productTemplate();
  const [, taskDefinition] = resourcesOfType(template, 'AWS::ECS::TaskDefinition')[0]!;
  const container = taskDefinition.Properties.ContainerDefinitions[0];
  const env = Object.fromEntries((container.Environment as Json[]).map((e) => [e.Name, e.Value]));

  it('sets exactly the environment the SCP container reads', () => {
    expect(Object.keys(env).sort()).to.deep.equal([...CONTAINER_ENV].sort());
    expect(env.STORAGE_URI).to.deep.equal({ 'Fn::Join': ['', ['s3://', { Ref: 'StagingBucket' }]] });
    expect(env.AE_TITLE).to.deep.equal({ Ref: 'SCPAETitle' });
    expect(env.SCP_HOST).to.equal('0.0.0.0');
    expect(env.HEALTH_PORT).to.equal('8081');
    expect(Number(env.DRAIN_TIMEOUT)).to.be.below(container.StopTimeout);
  });

  it('runs read-only with /tmp as the only writable path, an init process and a 120 s stop timeout', () => {
    expect(container.ReadonlyRootFilesystem).to.equal(true);
    expect(container.MountPoints).to.deep.equal([{ ContainerPath: '/tmp', ReadOnly: false, SourceVolume: 'tmp' }]);
    expect(taskDefinition.Properties.Volumes).to.deep.equal([{ Name: 'tmp' }]);
    expect(container.LinuxParameters.InitProcessEnabled).to.equal(true);
    expect(container.StopTimeout).to.equal(120);
  });

  it('sizes tasks from TaskCPU / TaskMemoryLimit and logs to a log group with retention', () => {
    expect(taskDefinition.Properties.Cpu).to.deep.equal({ Ref: 'TaskCPU' });
    expect(taskDefinition.Properties.Memory).to.deep.equal({ Ref: 'TaskMemoryLimit' });
    expect(taskDefinition.Properties.RequiresCompatibilities).to.deep.equal(['FARGATE']);
    expect(container.LogConfiguration.Options['awslogs-group']).to.deep.equal({ Ref: 'ScpLogGroup' });
  });

  it('gives every log group the LogRetentionDays retention', () => {
    const groups = resourcesOfType(template, 'AWS::Logs::LogGroup');
    expect(groups.length).to.be.at.least(1);
    for (const [id, g] of groups) expect(g.Properties.RetentionInDays, id).to.deep.equal({ Ref: 'LogRetentionDays' });
  });

  it('uses the built-in image unless ContainerImageOverride is set', () => {
    expect(container.Image['Fn::If'][0]).to.equal('ContainerImageOverrideGiven');
    expect(container.Image['Fn::If'][1]).to.deep.equal({ Ref: 'ContainerImageOverride' });
  });

  it('lets the task role write only incoming/ and batches/ of the staging bucket, read back only incoming/ (CopyObject), and register usage', () => {
    const taskRoleId = taskDefinition.Properties.TaskRoleArn['Fn::GetAtt'][0] as string;
    const policies = resourcesOfType(template, 'AWS::IAM::Policy').filter(([, p]) =>
      (p.Properties.Roles as Json[]).some((r) => r.Ref === taskRoleId),
    );
    const statements = policies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]);
    const actions = statements.flatMap((s) => [s.Action].flat()).sort();
    expect(actions).to.deep.equal(
      ['aws-marketplace:RegisterUsage', 's3:AbortMultipartUpload', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:PutObject'].sort(),
    );
    const read = statements.find((s) => [s.Action].flat().includes('s3:GetObject'))!;
    expect(JSON.stringify(read.Resource)).to.contain('/incoming/*').and.not.to.contain('/batches/');
    const s3 = statements.find((s) => [s.Action].flat().includes('s3:PutObject'))!;
    const resources = JSON.stringify(s3.Resource);
    expect(resources).to.contain('/incoming/*').and.to.contain('/batches/*');
    expect(resources).not.to.contain('/failed/');
  });

  it('scales on CPU at 50 % and on association utilization at 70 %, between TaskDesiredCount and AutoscaleMaxCapacity, both with 60 s cooldowns', () => {
    const [, target] = resourcesOfType(template, 'AWS::ApplicationAutoScaling::ScalableTarget')[0]!;
    expect(target.Properties.MinCapacity).to.deep.equal({ Ref: 'TaskDesiredCount' });
    expect(target.Properties.MaxCapacity).to.deep.equal({ Ref: 'AutoscaleMaxCapacity' });
    const policies = resourcesOfType(template, 'AWS::ApplicationAutoScaling::ScalingPolicy').map(([, p]) => p);
    expect(policies).to.have.length(2);
    const [targetId] = resourcesOfType(template, 'AWS::ApplicationAutoScaling::ScalableTarget')[0]!;
    for (const p of policies) {
      expect(p.Properties.PolicyType).to.equal('TargetTrackingScaling');
      expect(p.Properties.ScalingTargetId).to.deep.equal({ Ref: targetId });
      expect(p.Properties.TargetTrackingScalingPolicyConfiguration).to.include({ ScaleInCooldown: 60, ScaleOutCooldown: 60 });
    }
    const cpu = policies.find((p) => p.Properties.TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification)!;
    expect(cpu.Properties.TargetTrackingScalingPolicyConfiguration.TargetValue).to.equal(50);
    expect(cpu.Properties.TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.PredefinedMetricType).to.equal('ECSServiceAverageCPUUtilization');
    const assoc = policies.find((p) => p.Properties.TargetTrackingScalingPolicyConfiguration.CustomizedMetricSpecification)!;
    const config = assoc.Properties.TargetTrackingScalingPolicyConfiguration;
    expect(config.TargetValue).to.equal(70);
    // The metric the container publishes (container/src/association-utilization.ts), per stack.
    expect(config.CustomizedMetricSpecification).to.deep.equal({
      Namespace: UTILIZATION_NAMESPACE,
      MetricName: UTILIZATION_METRIC,
      Dimensions: [{ Name: 'StackName', Value: { Ref: 'AWS::StackName' } }],
      Statistic: 'Average',
      Unit: 'Percent',
    });
  });

  it('gives the SCP container the stack name, the dimension of the metric it publishes', () => {
    const [, task] = resourcesOfType(template, 'AWS::ECS::TaskDefinition')[0]!;
    const env = task.Properties.ContainerDefinitions[0].Environment as { Name: string; Value: unknown }[];
    expect(env.find((e) => e.Name === 'STACK_NAME')?.Value).to.deep.equal({ Ref: 'AWS::StackName' });
  });

  it('turns Container Insights on and rolls back failed deployments', () => {
    expect(resource(template, 'Cluster').Properties.ClusterSettings).to.deep.equal([{ Name: 'containerInsights', Value: 'enabled' }]);
    expect(resource(template, 'Service').Properties.DeploymentConfiguration.DeploymentCircuitBreaker).to.deep.equal({
      Enable: true,
      Rollback: true,
    });
  });
});

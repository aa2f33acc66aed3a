import { Aws, Duration, Fn, RemovalPolicy, Token, Validations, type CfnCondition } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { parseEcrImage, repositoryArn, repositoryArnOfParameter } from './container-image';

/** Properties of {@link ScpTaskDefinition}. */
export interface ScpTaskDefinitionProps {
  /** Fargate CPU units (token). */
  readonly cpu: number;
  /** Fargate memory in MiB (token). */
  readonly memoryMiB: number;
  /** Image built with this version (build-time input). */
  readonly defaultImageUri: string;
  /** Parameter value overriding the image ("" = default). */
  readonly imageOverride: string;
  /** True when `imageOverride` is not empty. */
  readonly imageOverridden: CfnCondition;
  /** Bucket the SCP stages instances and batch manifests into. */
  readonly stagingBucket: s3.IBucket;
  /** Log retention in days (token). */
  readonly logRetentionDays: number;
  /** Container environment besides the ports and the storage URI (contract of container/). */
  readonly environment: Readonly<Record<string, string>>;
}

/** Name of the SCP container in the task definition. */
export const SCP_CONTAINER_NAME = 'scp';
/**
 * DICOM port inside the task. Fixed and unprivileged, so the non-root SCP can
 * bind it whatever SCPPort the listener uses (104 would need a capability).
 */
export const CONTAINER_DICOM_PORT = 11112;
/** Health port of the container: GET /health → 200 while accepting, 503 otherwise. */
export const HEALTH_PORT = 8081;

/**
 * The SCP's Fargate task definition: read-only root filesystem with /tmp as
 * the only writable path, init process (so SIGTERM reaches node), 120 s stop
 * timeout (the container drains within 100 s), task role limited to staging
 * writes and Marketplace RegisterUsage.
 */
export class ScpTaskDefinition extends Construct {
  /** The task definition. */
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  /** The SCP container. */
  public readonly container: ecs.ContainerDefinition;
  /** Log group of the SCP container. */
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ScpTaskDefinitionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: Token.asNumber(props.logRetentionDays) as logs.RetentionDays,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    (this.logGroup.node.defaultChild as logs.CfnLogGroup).overrideLogicalId('ScpLogGroup');
    acknowledgeLogEncryption(this.logGroup);

    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: props.cpu,
      memoryLimitMiB: props.memoryMiB,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      family: `${Aws.STACK_NAME}-scp`,
      volumes: [{ name: 'tmp' }],
    });
    const image = Token.asString(
      Fn.conditionIf(props.imageOverridden.logicalId, props.imageOverride, props.defaultImageUri),
    );
    this.container = this.taskDefinition.addContainer(SCP_CONTAINER_NAME, {
      image: ecs.ContainerImage.fromRegistry(image),
      essential: true,
      readonlyRootFilesystem: true,
      linuxParameters: new ecs.LinuxParameters(this, 'Linux', { initProcessEnabled: true }),
      stopTimeout: Duration.seconds(120),
      ulimits: [{ name: ecs.UlimitName.NOFILE, softLimit: 65536, hardLimit: 65536 }],
      portMappings: [
        { name: 'dicom', containerPort: CONTAINER_DICOM_PORT, protocol: ecs.Protocol.TCP },
        { name: 'health', containerPort: HEALTH_PORT, protocol: ecs.Protocol.TCP },
      ],
      environment: {
        ...props.environment,
        SCP_HOST: '0.0.0.0',
        SCP_PORT: String(CONTAINER_DICOM_PORT),
        HEALTH_PORT: String(HEALTH_PORT),
        STORAGE_URI: `s3://${props.stagingBucket.bucketName}`,
      },
      logging: ecs.LogDrivers.awsLogs({
        logGroup: this.logGroup,
        streamPrefix: 'scp',
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
      }),
    });
    this.container.addMountPoints({ containerPath: '/tmp', sourceVolume: 'tmp', readOnly: false });
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment carries only non-secret configuration from stack parameters (AE titles, ports, timeouts, bucket name); the SCP needs no secret, it uses the task role.',
    });

    this.grantTaskPermissions(props.stagingBucket);
    this.grantImagePull(props);
  }

  private grantTaskPermissions(stagingBucket: s3.IBucket): void {
    const role = this.taskDefinition.taskRole;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StageInstancesAndManifests',
        actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        resources: [stagingBucket.arnForObjects('incoming/*'), stagingBucket.arnForObjects('batches/*')],
      }),
    );
    // CopyObject reads its source: when an instance's Study / Series UIDs lie past the SCP's 1 MiB
    // hold-back, the uploaded object is copied onto itself with the final metadata (docs/conformance.md 3).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'RestampInstanceMetadata', actions: ['s3:GetObject'], resources: [stagingBucket.arnForObjects('incoming/*')] }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'MarketplaceMetering', actions: ['aws-marketplace:RegisterUsage'], resources: ['*'] }),
    );
    const policy = role.node.findChild('DefaultPolicy');
    acknowledgeRolePolicy(policy);
    const reasons: Record<string, string> = {
      'Resource::<StagingBucket.Arn>/incoming/*':
        'The SCP writes one object per received instance under incoming/<batchId>/; keys are SOP Instance UIDs not known in advance.',
      'Resource::<StagingBucket.Arn>/batches/*': 'The SCP seals each batch by writing batches/<batchId>.json; batch ids are generated at run time.',
      'Resource::*': 'aws-marketplace:RegisterUsage supports no resource-level permissions (Service Authorization Reference).',
    };
    for (const [finding, reason] of Object.entries(reasons)) {
      Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
    }
  }

  /**
   * The execution role pulls the built-in image from its repository only; an
   * overriding image (a support case) gets a separate, conditional policy.
   */
  private grantImagePull(props: ScpTaskDefinitionProps): void {
    const role = this.taskDefinition.obtainExecutionRole();
    const pull = ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'];
    const builtIn = parseEcrImage(props.defaultImageUri);
    if (builtIn) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'PullImage', actions: pull, resources: [repositoryArn(builtIn)] }));
    }
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
    const policy = role.node.findChild('DefaultPolicy');
    acknowledgeRolePolicy(policy);
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken supports no resource-level permissions; image layers are readable only from the built-in repository.',
    });

    const overridePull = new iam.Policy(this, 'OverrideImagePull', {
      roles: [role],
      // Only the repository ContainerImageOverride names, not every repository.
      statements: [new iam.PolicyStatement({ actions: pull, resources: [repositoryArnOfParameter(props.imageOverride)] })],
    });
    (overridePull.node.defaultChild as iam.CfnPolicy).cfnOptions.condition = props.imageOverridden;
    acknowledgeRolePolicy(overridePull);
  }
}

function acknowledgeRolePolicy(policy: Construct): void {
  Validations.of(policy).acknowledge({
    id: 'HIPAA.Security-IAMNoInlinePolicy',
    reason: 'A standalone AWS::IAM::Policy attached only to this task\'s role, built from least-privilege statements; a managed policy would be a reusable artifact with no added control.',
  });
}

/** Acknowledges the HIPAA KMS finding on a log group, with the reason. */
export function acknowledgeLogEncryption(logGroup: logs.ILogGroup): void {
  Validations.of(logGroup).acknowledge({
    id: 'HIPAA.Security-CloudWatchLogGroupEncrypted',
    reason:
      'CloudWatch Logs encrypts every log group at rest with service-managed keys; the logs carry AE titles, UIDs and sizes, never pixel data or patient demographics.',
  });
}

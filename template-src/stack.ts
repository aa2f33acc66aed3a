import { Aspects, Aws, Stack, type StackProps } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { TemplateBuildOptions } from './build-options';
import { OperationsDashboard } from './dashboard';
import { HealthImaging } from './healthimaging';
import { ImportWorkflow } from './import-workflow';
import { JobTable } from './job-table';
import { LogRetentionPolicy } from './log-retention';
import { DicomLoadBalancer } from './load-balancer';
import { Monitoring } from './monitoring';
import { addNetworkParameters } from './network-parameters';
import { addOperationsParameters } from './operations-parameters';
import { addOutputs } from './outputs';
import { ParameterCatalogue } from './parameter-catalogue';
import { ResearchCopy } from './research-copy';
import { researchCopySteps } from './research-hook';
import { addResearchImportRules, addResearchParameters } from './research-parameters';
import { ResearchImport } from './research-import';
import { addTemplateRules } from './rules';
import { addImportJobParameters } from './import-parameters';
import { CONTAINER_DICOM_PORT, HEALTH_PORT, SCP_CONTAINER_NAME, ScpTaskDefinition } from './scp-task-definition';
import { ScpService } from './scp-service';
import { SecurityGroups } from './security-groups';
import { StatefulRetention } from './stateful-retention';
import { Storage } from './storage';

/** Properties of {@link DicomStoreScpStack}. */
export interface DicomStoreScpStackProps extends StackProps {
  /** Build-time inputs (image, Lambda code location, product code, version). */
  readonly build: TemplateBuildOptions;
}

/** Seconds the SCP drains associations after SIGTERM; below the 120 s stop timeout. */
export const DRAIN_TIMEOUT_SECONDS = 100;

/** The one stack the Marketplace template is synthesized from. */
export class DicomStoreScpStack extends Stack {
  constructor(scope: Construct, id: string, props: DicomStoreScpStackProps) {
    super(scope, id, {
      ...props,
      description: `DICOM Store SCP for AWS HealthImaging ${props.build.version}: DICOM C-STORE SCP on ECS Fargate behind a Network Load Balancer, importing every acknowledged image into AWS HealthImaging.`,
    });
    const catalogue = new ParameterCatalogue(this);
    const net = addNetworkParameters(catalogue);
    const ops = addOperationsParameters(catalogue);
    const importJobs = addImportJobParameters(this, catalogue);
    const deid = addResearchParameters(this, catalogue);
    catalogue.renderInterface();
    addTemplateRules(this, net, ops);
    addResearchImportRules(this, deid, ops.existingDatastoreId);
    Aspects.of(this).add(new LogRetentionPolicy(ops.logRetentionDays.valueAsNumber));
    Aspects.of(this).add(new StatefulRetention());

    const scpPort = net.scpPort.valueAsNumber;
    const storage = new Storage(this, 'Storage', { stagingRetentionDays: ops.stagingRetentionDays.valueAsNumber });
    const jobs = new JobTable(this, 'Jobs');
    const imaging = new HealthImaging(this, 'HealthImaging', {
      createDatastore: catalogue.equals('CreateDatastore', ops.existingDatastoreId, ''),
      existingDatastoreId: ops.existingDatastoreId.valueAsString,
      stagingBucket: storage.stagingBucket,
      resultsBucket: storage.resultsBucket,
      datastoreKeyArn: ops.existingDatastoreKmsKeyArn.valueAsString,
      datastoreKeyGiven: catalogue.given(ops.existingDatastoreKmsKeyArn),
    });

    const groups = new SecurityGroups(this, 'SecurityGroups', {
      vpcId: net.vpcId.valueAsString,
      scpPort,
      containerPort: CONTAINER_DICOM_PORT,
      healthPort: HEALTH_PORT,
      senders: [
        { cidr: net.vpcCidr, given: catalogue.given(net.vpcCidr), description: 'VPC internal DICOM SCP access' },
        ...net.peerCidrs.map((cidr, i) => ({
          cidr,
          given: catalogue.given(cidr),
          description: `DICOM SCP access from allowed sender range ${i + 1}`,
        })),
      ],
    });
    const tlsEnabled = catalogue.given(net.tlsCertificateArn);
    const nlb = new DicomLoadBalancer(this, 'LoadBalancer', {
      vpcId: net.vpcId.valueAsString,
      internetFacing: catalogue.equals('InternetFacing', net.loadBalancerScheme, 'internet-facing'),
      publicSubnetIds: net.publicSubnetIds.valueAsList,
      privateSubnetIds: net.privateSubnetIds.valueAsList,
      securityGroupId: groups.loadBalancer.attrGroupId,
      scpPort,
      containerPort: CONTAINER_DICOM_PORT,
      healthPort: HEALTH_PORT,
      tlsEnabled,
      certificateArn: net.tlsCertificateArn.valueAsString,
      tlsSecurityPolicy: net.tlsSecurityPolicy.valueAsString,
      logBucket: storage.logBucket,
    });

    const task = new ScpTaskDefinition(this, 'ScpTask', {
      cpu: ops.taskCpu.valueAsNumber,
      memoryMiB: ops.taskMemory.valueAsNumber,
      defaultImageUri: props.build.imageUri,
      imageOverride: ops.containerImageOverride.valueAsString,
      imageOverridden: catalogue.given(ops.containerImageOverride),
      stagingBucket: storage.stagingBucket,
      logRetentionDays: ops.logRetentionDays.valueAsNumber,
      environment: {
        AE_TITLE: net.aeTitle.valueAsString,
        REQUIRE_CALLED_AE_TITLE: net.requireCalledAeTitle.valueAsString,
        REQUIRE_CALLING_AE_TITLE: net.requireCallingAeTitle.valueAsString,
        SUPPORTED_SOP_CLASS_UIDS: ops.supportedSopClassUids.valueAsString,
        MAXIMUM_ASSOCIATIONS: ops.maximumAssociations.valueAsString,
        DIMSE_TIMEOUT: ops.dimseTimeout.valueAsString,
        NETWORK_TIMEOUT: ops.networkTimeout.valueAsString,
        ACSE_TIMEOUT: '30',
        DRAIN_TIMEOUT: String(DRAIN_TIMEOUT_SECONDS),
        LOG_LEVEL: ops.logLevel.valueAsString,
        MARKETPLACE_PRODUCT_CODE: props.build.productCode,
        // Dimension of the AssociationUtilization metric the second scaling policy tracks.
        STACK_NAME: Aws.STACK_NAME,
      },
    });
    const service = new ScpService(this, 'Scp', {
      taskDefinition: task.taskDefinition,
      containerName: SCP_CONTAINER_NAME,
      containerPort: CONTAINER_DICOM_PORT,
      subnetIds: net.privateSubnetIds.valueAsList,
      securityGroupId: groups.service.attrGroupId,
      extraSecurityGroup: { id: net.securityGroupId.valueAsString, given: catalogue.given(net.securityGroupId) },
      targetGroup: nlb.targetGroup,
      listener: nlb.listener,
      minCapacity: ops.desiredCount.valueAsNumber,
      maxCapacity: ops.maxCapacity.valueAsNumber,
    });

    const observed = {
      clusterName: service.cluster.ref,
      serviceName: service.service.attrName,
      loadBalancerFullName: nlb.loadBalancer.attrLoadBalancerFullName,
      targetGroupFullName: nlb.targetGroup.attrTargetGroupFullName,
    };
    const monitoring = new Monitoring(this, 'Monitoring', {
      ...observed,
      alarmEmail: ops.alarmEmail.valueAsString,
      alarmEmailGiven: catalogue.given(ops.alarmEmail),
    });
    const dashboard = new OperationsDashboard(this, 'Dashboard', observed);

    // Wired last: the pipeline issue implements this construct's body.
    const artifacts = s3.Bucket.fromBucketName(this, 'ArtifactBucket', `${props.build.lambdaBucketPrefix}-${this.region}`);
    const workflow = new ImportWorkflow(this, 'ImportWorkflow', {
      stagingBucket: storage.stagingBucket,
      resultsBucket: storage.resultsBucket,
      table: jobs.table,
      datastoreId: imaging.datastoreId,
      datastoreArn: imaging.datastoreArn,
      dataAccessRole: imaging.dataAccessRole,
      lambdaCode: lambda.Code.fromBucket(artifacts, props.build.lambdaKey),
      maxConcurrentJobs: importJobs.maxConcurrentJobs,
      // ImportWorkflow validates this as a literal; LogRetentionPolicy below
      // replaces it with the LogRetentionDays parameter in the template.
      logRetentionDays: Number(ops.logRetentionDays.default),
      beforeImport: researchCopySteps,
    });
    // The functions that call HealthImaging on the data store.
    imaging.grantDatastoreKeyUse(
      [workflow.functionsByName.startImportJob, workflow.functionsByName.checkImportStatus]
        .map((fn) => fn.role)
        .filter((role): role is iam.IRole => role !== undefined),
    );
    const research = new ResearchCopy(this, 'Research', {
      params: deid, stagingBucket: storage.stagingBucket, logBucket: storage.logBucket, table: jobs.table,
      lambdaCode: lambda.Code.fromBucket(artifacts, props.build.lambdaKey), logRetentionDays: Number(ops.logRetentionDays.default),
    });
    research.startedBy(workflow.stateMachine as sfn.StateMachine);
    new ResearchImport(this, 'ResearchImportSetup', { params: deid, imaging, workflow, research });
    research.addAlarms(monitoring.topic);
    monitoring.addWorkflowAlarms(workflow);
    dashboard.addWorkflowWidgets(workflow);
    const stateMachine = workflow.stateMachine as ImportWorkflow['stateMachine'] | undefined;

    addOutputs(this, {
      loadBalancerDns: nlb.loadBalancer.attrDnsName,
      scpPort: net.scpPort.valueAsString,
      aeTitle: net.aeTitle.valueAsString,
      tlsEnabled,
      datastoreId: imaging.datastoreId,
      stagingBucketName: storage.stagingBucket.bucketName,
      resultsBucketName: storage.resultsBucket.bucketName,
      logBucketName: storage.logBucket.bucketName,
      tableName: jobs.table.tableName,
      scpLogGroupName: task.logGroup.logGroupName,
      clusterName: service.cluster.ref,
      serviceName: service.service.attrName,
      dashboardName: dashboard.dashboard.dashboardName,
      alarmTopicArn: monitoring.topic.topicArn,
      stateMachineArn: stateMachine?.stateMachineArn,
    });
  }
}

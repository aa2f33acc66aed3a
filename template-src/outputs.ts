import { Aws, CfnOutput, Fn, Validations, type CfnCondition, type Stack } from 'aws-cdk-lib';

/** Values the Outputs are made of. */
export interface StackOutputValues {
  readonly loadBalancerDns: string;
  readonly scpPort: string;
  readonly aeTitle: string;
  readonly tlsEnabled: CfnCondition;
  readonly datastoreId: string;
  readonly stagingBucketName: string;
  readonly resultsBucketName: string;
  readonly logBucketName: string;
  readonly tableName: string;
  readonly scpLogGroupName: string;
  readonly clusterName: string;
  readonly serviceName: string;
  readonly dashboardName: string;
  readonly alarmTopicArn: string;
  /** Absent while the import workflow creates no state machine. */
  readonly stateMachineArn?: string;
}

/**
 * The stack Outputs. The first three keep the names of the deployment guide
 * (modalities are configured from them); the rest help operators.
 */
export function addOutputs(stack: Stack, v: StackOutputValues): void {
  const out = (id: string, value: string, description: string) => new CfnOutput(stack, id, { value, description });
  out('NetworkLoadBalancerDNS', v.loadBalancerDns, 'Host name senders connect to (configure it as the remote host of the modality / PACS).');
  out('DICOMPort', v.scpPort, 'DICOM port on the load balancer.');
  out('DICOMAETitle', v.aeTitle, 'Called AE title to configure on senders.');
  out('DICOMTransport', Fn.conditionIf(v.tlsEnabled.logicalId, 'TLS', 'TCP').toString(), 'TLS when a certificate was given, otherwise plain TCP.');
  out('DatastoreId', v.datastoreId, 'AWS HealthImaging data store the images are imported into.');
  Validations.of(stack).acknowledge({
    id: 'CloudFormation-Validate::W1001',
    reason:
      'The DatastoreId output reads the conditional Datastore only inside Fn::If on its own condition (CreateDatastore), else the ExistingDatastoreId parameter.',
  });
  out('StagingBucketName', v.stagingBucketName, 'S3 bucket where received instances wait for import (incoming/, batches/, failed/).');
  out('ResultsBucketName', v.resultsBucketName, 'S3 bucket holding HealthImaging import job output.');
  out('LogBucketName', v.logBucketName, 'S3 bucket holding S3 and load balancer access logs.');
  out('JobTableName', v.tableName, 'DynamoDB table with the status of every import job, batch and instance.');
  out('ScpLogGroupName', v.scpLogGroupName, 'CloudWatch Logs log group of the SCP tasks.');
  out('ClusterName', v.clusterName, 'ECS cluster of the SCP service.');
  out('ServiceName', v.serviceName, 'ECS service running the SCP tasks.');
  out('AlarmTopicArn', v.alarmTopicArn, 'SNS topic every alarm notifies; subscribe more endpoints here.');
  out(
    'DashboardURL',
    `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards:name=${v.dashboardName}`,
    'CloudWatch dashboard of the stack.',
  );
  if (v.stateMachineArn) {
    out('StateMachineArn', v.stateMachineArn, 'Step Functions state machine importing each sealed batch.');
  }
}

import type { CfnParameter } from 'aws-cdk-lib';
import type { ParameterCatalogue } from './parameter-catalogue';
import { OPTIONAL_DATASTORE_ID, OPTIONAL_EMAIL, OPTIONAL_IMAGE_URI, OPTIONAL_KMS_KEY_ARN, UID_LIST } from './patterns';

/** Fargate memory sizes (MiB) valid for each CPU size this product offers. */
export const FARGATE_MEMORY_BY_CPU: Readonly<Record<string, readonly number[]>> = {
  '1024': range(2048, 8192, 1024),
  '2048': range(4096, 16384, 1024),
  '4096': range(8192, 30720, 1024),
};

/** CloudWatch Logs retention values the service accepts. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Parameters of the Performance, Data, Monitoring and Advanced groups. */
export interface OperationsParameters {
  readonly taskCpu: CfnParameter;
  readonly taskMemory: CfnParameter;
  readonly desiredCount: CfnParameter;
  readonly maxCapacity: CfnParameter;
  readonly existingDatastoreId: CfnParameter;
  readonly existingDatastoreKmsKeyArn: CfnParameter;
  readonly stagingRetentionDays: CfnParameter;
  readonly alarmEmail: CfnParameter;
  readonly logRetentionDays: CfnParameter;
  readonly logLevel: CfnParameter;
  readonly dimseTimeout: CfnParameter;
  readonly maximumAssociations: CfnParameter;
  readonly networkTimeout: CfnParameter;
  readonly supportedSopClassUids: CfnParameter;
  readonly containerImageOverride: CfnParameter;
}

/** Every accepted value of TaskDesiredCount and AutoscaleMaxCapacity: 1 to 100. */
export const TASK_COUNTS: readonly number[] = Object.freeze(Array.from({ length: 100 }, (_, i) => i + 1));

/** Declares sizing, retention, monitoring and advanced parameters. */
export function addOperationsParameters(catalogue: ParameterCatalogue): OperationsParameters {
  const count = (id: string, label: string, def: number, description: string): CfnParameter =>
    catalogue.add(id, {
      group: 'Performance',
      label,
      type: 'Number',
      default: String(def),
      // A list rather than Min/MaxValue: the TaskCountsFit rules compare the
      // two counts by exact value, so every accepted value must be canonical.
      allowedValues: TASK_COUNTS.map(String),
      constraintDescription: 'A whole number of tasks from 1 to 100.',
      description,
    });
  const seconds = (id: string, label: string, def: number, description: string): CfnParameter =>
    catalogue.add(id, {
      group: 'Advanced DICOM',
      label,
      type: 'Number',
      default: def,
      minValue: 1,
      maxValue: 3600,
      constraintDescription: 'A number of seconds from 1 to 3600.',
      description,
    });

  return {
    taskCpu: catalogue.add('TaskCPU', {
      group: 'Performance',
      label: 'Task CPU units',
      type: 'Number',
      default: '1024',
      allowedValues: Object.keys(FARGATE_MEMORY_BY_CPU),
      description: 'Fargate CPU units per SCP task (1024 = 1 vCPU).',
    }),
    taskMemory: catalogue.add('TaskMemoryLimit', {
      group: 'Performance',
      label: 'Task memory (MiB)',
      type: 'Number',
      default: '2048',
      allowedValues: [...new Set(Object.values(FARGATE_MEMORY_BY_CPU).flat())].map(String),
      description:
        'Fargate memory per task, in MiB, valid for the CPU size: 2048-8192 for 1024 CPU, 4096-16384 for 2048, 8192-30720 for 4096 (steps of 1024).',
    }),
    desiredCount: count('TaskDesiredCount', 'Minimum number of tasks', 1, 'Tasks started at creation; autoscaling never goes below this.'),
    maxCapacity: count(
      'AutoscaleMaxCapacity',
      'Maximum number of tasks',
      3,
      'Upper bound of CPU target tracking (50 %, 60 s cooldowns). Must be at least the minimum number of tasks.',
    ),
    existingDatastoreId: catalogue.add('ExistingDatastoreId', {
      group: 'Data and retention',
      label: 'Existing HealthImaging data store id (optional)',
      type: 'String',
      default: '',
      pattern: OPTIONAL_DATASTORE_ID,
      description: 'Empty = the stack creates a data store (kept when the stack is deleted). Otherwise images are imported into this one.',
    }),
    existingDatastoreKmsKeyArn: catalogue.add('ExistingDatastoreKmsKeyArn', {
      group: 'Data and retention',
      label: 'KMS key of the existing data store (optional)',
      type: 'String',
      default: '',
      pattern: OPTIONAL_KMS_KEY_ARN,
      description:
        'Only with ExistingDatastoreId, when that data store is encrypted with a customer managed KMS key: the import functions get permission to use the key through HealthImaging. The key policy must allow this account too.',
    }),
    stagingRetentionDays: catalogue.add('StagingRetentionDays', {
      group: 'Data and retention',
      label: 'Staging retention (days)',
      type: 'Number',
      default: 30,
      minValue: 7,
      maxValue: 3650,
      constraintDescription: 'A number of days from 7 to 3650.',
      description:
        'Safety net: staged instances, batch manifests and quarantined (failed/) instances older than this are deleted. Imported instances are removed as soon as their import succeeds.',
    }),
    alarmEmail: catalogue.add('AlarmEmail', {
      group: 'Monitoring',
      label: 'Alarm e-mail (optional)',
      type: 'String',
      default: '',
      pattern: OPTIONAL_EMAIL,
      description: 'Subscribed to the alarm topic (confirm the e-mail AWS sends). Empty = subscribe later to the AlarmTopicArn output.',
    }),
    logRetentionDays: catalogue.add('LogRetentionDays', {
      group: 'Monitoring',
      label: 'Log retention (days)',
      type: 'Number',
      default: '365',
      allowedValues: LOG_RETENTION_DAYS.map(String),
      description: 'Retention of every CloudWatch Logs log group of the stack.',
    }),
    logLevel: catalogue.add('LogLevel', {
      group: 'Monitoring',
      label: 'SCP log level',
      type: 'String',
      default: 'info',
      allowedValues: ['debug', 'info', 'warn', 'error'],
      description: 'Level of the SCP task logs (JSON lines; info logs every association and instance, warn only problems).',
    }),
    dimseTimeout: seconds('DIMSETimeout', 'DIMSE timeout (s)', 60, 'Seconds to wait for the next DIMSE message of an association.'),
    maximumAssociations: catalogue.add('MaximumAssociations', {
      group: 'Advanced DICOM',
      label: 'Maximum associations per task',
      type: 'Number',
      default: 300,
      minValue: 1,
      maxValue: 2000,
      constraintDescription: 'A whole number from 1 to 2000.',
      description: 'Concurrent associations one task accepts; beyond it new associations are rejected (local limit exceeded).',
    }),
    networkTimeout: seconds('NetworkTimeout', 'Network timeout (s)', 90, 'Seconds an idle connection is kept open.'),
    supportedSopClassUids: catalogue.add('SupportedSOPClassUIDs', {
      group: 'Advanced DICOM',
      label: 'Accepted SOP class UIDs',
      type: 'String',
      default: '',
      pattern: UID_LIST,
      description: 'Comma-separated SOP Class UIDs to accept. Empty = every storage SOP class.',
    }),
    containerImageOverride: catalogue.add('ContainerImageOverride', {
      group: 'Advanced deployment',
      label: 'Container image override (optional)',
      type: 'String',
      default: '',
      pattern: OPTIONAL_IMAGE_URI,
      description: 'Leave empty. Only for support cases: runs this image instead of the one this version ships with.',
    }),
  };
}

function range(from: number, to: number, step: number): number[] {
  const values: number[] = [];
  for (let v = from; v <= to; v += step) values.push(v);
  return values;
}

/** Metric names of docs/data-contracts.md (namespace DICOMStoreSCP, dimension StackName). */
export type MetricName = 'InstancesImported' | 'InstancesFailed' | 'ImportJobsCompleted' | 'ImportJobsFailed' | 'BatchesQuarantined'
  | 'InstancesNonPrimary' | 'InstancesWithWarnings' | 'InstancesRetrying' | 'ImportOutputsInvalid' | 'ImportJobsOverdue';

export interface Metrics {
  /** Emits counts at once; zero values are emitted too, so alarms see 0 instead of missing data. */
  count(values: Partial<Record<MetricName, number>>): void;
}

/**
 * CloudWatch Embedded Metric Format: one JSON log line per call, turned into
 * metrics by CloudWatch Logs (no PutMetricData call, no extra permission).
 */
export function createEmfMetrics(namespace: string, stackName: string, write: (line: string) => void = (l) => process.stdout.write(`${l}\n`), now: () => Date = () => new Date()): Metrics {
  return {
    count(values) {
      const names = Object.keys(values) as MetricName[];
      if (names.length === 0) return;
      write(JSON.stringify({
        _aws: {
          Timestamp: now().getTime(),
          CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [['StackName']], Metrics: names.map((Name) => ({ Name, Unit: 'Count' })) }],
        },
        StackName: stackName,
        ...values,
      }));
    },
  };
}

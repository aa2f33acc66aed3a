import { Metrics as PowertoolsMetrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { SERVICE_NAME } from './logger';

/** Metric names of docs/data-contracts.md (namespace DICOMStoreSCP, dimension StackName). */
export type MetricName = 'InstancesImported' | 'InstancesFailed' | 'ImportJobsCompleted' | 'ImportJobsFailed' | 'BatchesQuarantined'
  | 'InstancesNonPrimary' | 'InstancesWithWarnings' | 'InstancesRetrying' | 'ImportOutputsInvalid' | 'ImportJobsOverdue';

/** Every metric the workflow emits (test/template/workflow-metrics.test.ts checks the alarms against it). */
export const METRIC_NAMES: readonly MetricName[] = [
  'InstancesImported', 'InstancesFailed', 'ImportJobsCompleted', 'ImportJobsFailed', 'BatchesQuarantined',
  'InstancesNonPrimary', 'InstancesWithWarnings', 'InstancesRetrying', 'ImportOutputsInvalid', 'ImportJobsOverdue',
];

export interface Metrics {
  /**
   * Records counts; zero values are recorded too, so alarms see 0 instead of
   * missing data. They are written when the invocation ends (`flush`).
   */
  count(values: Partial<Record<MetricName, number>>): void;
}

/** Metrics of one Lambda container; the handler wrapper flushes after each invocation. */
export interface FlushableMetrics extends Metrics {
  /** Writes what was recorded as one EMF line (nothing when nothing was recorded). */
  flush(): void;
}

/**
 * CloudWatch Embedded Metric Format through Powertools for AWS Lambda's
 * Metrics: JSON log lines that CloudWatch Logs turns into metrics (no
 * PutMetricData call, no extra permission). The one dimension is `StackName`:
 * Powertools adds a `service` dimension by default, which would put every
 * metric under the dimension set {service, StackName} — one the template's
 * alarms and dashboard (dimension set {StackName}) never read — so it is removed.
 */
export function createEmfMetrics(namespace: string, stackName: string): FlushableMetrics {
  const powertools = new PowertoolsMetrics({ namespace, serviceName: SERVICE_NAME });
  powertools.clearDefaultDimensions();
  powertools.setDefaultDimensions({ StackName: stackName });
  return {
    count(values) {
      for (const [name, value] of Object.entries(values)) {
        if (typeof value === 'number') powertools.addMetric(name, MetricUnit.Count, value);
      }
    },
    flush() {
      if (powertools.hasStoredMetrics()) powertools.publishStoredMetrics();
    },
  };
}

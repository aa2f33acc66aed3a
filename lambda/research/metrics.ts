/** Research metric names (namespace DICOMStoreSCP, dimension StackName; docs/operations.md). */
export const RESEARCH_METRIC_NAMES = [
  'ResearchInstancesCopied', 'ResearchInstancesRefused', 'ResearchInstancesFailed', 'ResearchBatchesCopied',
  'UploadObjectsAccepted', 'UploadObjectsRejected', 'UploadBatchesSealed',
] as const;
export type ResearchMetricName = (typeof RESEARCH_METRIC_NAMES)[number];

export interface ResearchMetrics {
  count(values: Partial<Record<ResearchMetricName, number>>): void;
}

/** CloudWatch Embedded Metric Format, one line per call (zero values too, so alarms see 0). */
export function createResearchMetrics(namespace: string, stackName: string, write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): ResearchMetrics {
  return {
    count(values) {
      const names = Object.keys(values);
      if (!names.length) return;
      write(JSON.stringify({
        _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [['StackName']], Metrics: names.map((Name) => ({ Name, Unit: 'Count' })) }] },
        StackName: stackName, ...values,
      }));
    },
  };
}

/**
 * Publishes `AssociationUtilization` — established associations as a
 * percentage of MAXIMUM_ASSOCIATIONS, for the whole task — in CloudWatch
 * embedded metric format (EMF): one JSON line on stdout, which the awslogs
 * driver ships to CloudWatch Logs and CloudWatch turns into a metric
 * (namespace DICOMStoreSCP, dimension StackName). The template's second
 * target-tracking policy scales on its average over the service's tasks: a
 * saturated event loop may show little CPU, a full association table cannot
 * hide.
 *
 * Sampled every second, published every 10 s as a list of the samples (EMF
 * takes up to 100 values per metric), so one busy second counts once.
 */
export const UTILIZATION_NAMESPACE = 'DICOMStoreSCP';
export const UTILIZATION_METRIC = 'AssociationUtilization';

export interface UtilizationOptions {
  readonly stackName: string;
  readonly associations: () => { active: number; max: number };
  readonly out?: { write(s: string): unknown };
  readonly sampleMs?: number;
  readonly samplesPerLine?: number;
  readonly now?: () => number;
}

/** One EMF line (exported for tests). */
export function utilizationLine(stackName: string, samples: readonly number[], timestamp: number): string {
  return `${JSON.stringify({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [{ Namespace: UTILIZATION_NAMESPACE, Dimensions: [['StackName']], Metrics: [{ Name: UTILIZATION_METRIC, Unit: 'Percent' }] }],
    },
    StackName: stackName,
    [UTILIZATION_METRIC]: samples.length === 1 ? samples[0] : samples,
  })}\n`;
}

/** Starts sampling; returns a stop function that publishes what is left. */
export function publishUtilization(opts: UtilizationOptions): () => void {
  const out = opts.out ?? process.stdout;
  const now = opts.now ?? Date.now;
  const perLine = opts.samplesPerLine ?? 10;
  let samples: number[] = [];
  const flush = (): void => {
    if (samples.length === 0) return;
    out.write(utilizationLine(opts.stackName, samples, now()));
    samples = [];
  };
  const timer = setInterval(() => {
    const { active, max } = opts.associations();
    samples.push(Math.round((1000 * Math.min(active, max)) / max) / 10);
    if (samples.length >= perLine) flush();
  }, opts.sampleMs ?? 1000);
  timer.unref();
  return () => {
    clearInterval(timer);
    flush();
  };
}

import * as client from 'prom-client';

/**
 * The SCP's metrics on `/metrics`: a prom-client registry holding the DICOM
 * metrics (names documented in README and docs/operations.md) and prom-client's
 * default process metrics under their standard, unprefixed names
 * (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
 * `nodejs_heap_size_used_bytes`, `nodejs_eventloop_lag_p99_seconds`,
 * `nodejs_active_handles`, `process_open_fds`, ...), so stock Node.js dashboards
 * and the runbook's thresholds read them as they are.
 */

/** A label set: only the label names a metric declares are accepted (checked at compile time). */
export type Labels<L extends string> = Partial<Record<L, string>>;

/** prom-client keeps a metric's current values here; read for `get()` (tests, /health) without an async scrape. */
interface ValuesHolder {
  hashMap?: Record<string, { labels: Record<string, string | number>; value: number }>;
}

function sameLabels(a: Partial<Record<string, string>>, b: Partial<Record<string, string>>): boolean {
  const ka = Object.keys(a).filter((k) => a[k] !== undefined);
  const kb = Object.keys(b).filter((k) => b[k] !== undefined);
  return ka.length === kb.length && kb.every((k) => a[k] === b[k]);
}

/**
 * A counter on a prom-client registry. Label names are declared up front (an
 * undeclared name would throw inside prom-client, on the store path); the
 * type parameter makes an undeclared name a compile error instead.
 */
export class Counter<L extends string = never> {
  readonly metric: client.Counter<L>;
  constructor(registry: client.Registry, readonly name: string, help: string, labelNames: readonly L[] = []) {
    this.metric = new client.Counter<L>({ name, help, labelNames, registers: [registry] });
  }

  inc(labels: Labels<L> = {}, by = 1): void {
    this.metric.inc(labels as client.LabelValues<L>, by);
  }

  /** The current value for exactly this label set (0 when never counted). */
  get(labels: Labels<L> = {}): number {
    return this.values().find((v) => sameLabels(v.labels, labels))?.value ?? 0;
  }

  /** Every label set counted so far, with its value. */
  values(): { labels: Labels<L>; value: number }[] {
    const map = (this.metric as unknown as ValuesHolder).hashMap ?? {};
    return Object.values(map).map((v) => ({
      labels: Object.fromEntries(Object.entries(v.labels).map(([k, x]) => [k, String(x)])) as Labels<L>,
      value: v.value,
    }));
  }
}

/**
 * Buckets of `dicom_store_duration_seconds`: fine below 1 s, where a 512 KiB
 * instance lands (milliseconds on a healthy task), and an edge at each of the
 * runbook's p95 thresholds (5 s warning, 30 s critical) and at DIMSE_TIMEOUT's
 * default (60 s), so "is p95 above 5 s" reads straight off the `le="5"`
 * bucket (below 95 % of `_count` means yes) and `histogram_quantile(0.95, ...)`
 * interpolates within a bucket that ends at the threshold. 120 s and 300 s
 * cover multi-GiB instances, whose store time is mostly the transfer.
 */
export const STORE_DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** A histogram on a prom-client registry. */
export class Histogram {
  readonly metric: client.Histogram<never>;
  constructor(registry: client.Registry, readonly name: string, help: string, buckets: readonly number[]) {
    this.metric = new client.Histogram({ name, help, buckets: [...buckets], registers: [registry] });
  }

  observe(seconds: number): void {
    this.metric.observe(seconds);
  }
}

let processMetrics: client.Registry | undefined;

/**
 * prom-client's default metrics, collected once per process: each collector
 * holds an event-loop delay monitor and a GC observer, so every registry of
 * this process (tests start many apps in one process) shares the same ones.
 */
function processRegistry(): client.Registry {
  if (!processMetrics) {
    processMetrics = new client.Registry();
    client.collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

/** The SCP's metrics, exposed on `/metrics`. */
export class ScpMetrics {
  readonly registry = new client.Registry();
  readonly associationsTotal = new Counter(this.registry, 'dicom_associations_total', 'Associations accepted.');
  readonly associationsRejected = new Counter(this.registry, 'dicom_associations_rejected_total', 'Associations rejected, by reason.', ['reason', 'source', 'result']);
  readonly associationsAborted = new Counter(this.registry, 'dicom_associations_aborted_total', 'Associations aborted, by reason.', ['reason', 'source']);
  readonly instancesStored = new Counter(this.registry, 'dicom_instances_stored_total', 'Instances durably stored and acknowledged with Success.');
  readonly instancesFailed = new Counter(this.registry, 'dicom_instances_failed_total', 'C-STORE requests answered with a failure status, by status.', ['status', 'reason', 'command']);
  readonly bytesStored = new Counter(this.registry, 'dicom_bytes_stored_total', 'Bytes of stored Part-10 objects.');
  readonly batchesSealed = new Counter(this.registry, 'dicom_batches_sealed_total', 'Batches sealed, by reason.', ['reason']);
  readonly echoes = new Counter(this.registry, 'dicom_echo_total', 'C-ECHO requests answered.');
  readonly instancesMissingUids = new Counter(this.registry, 'dicom_instances_missing_uids_total', 'Stored instances whose dataset has no Study or Series Instance UID (recorded as UNKNOWN).');
  readonly storeLatency = new Histogram(this.registry, 'dicom_store_duration_seconds', 'Time from C-STORE request to response.', STORE_DURATION_BUCKETS);

  constructor() {
    for (const m of processRegistry().getMetricsAsArray()) this.registry.registerMetric(m as unknown as client.Metric);
  }

  /**
   * A gauge read at scrape time. `aggregator`: how the cluster primary
   * combines the workers' values (WORKERS > 1): `sum` for counts, `max` for
   * a setting every worker shares.
   */
  addGauge(name: string, help: string, read: () => number, aggregator: 'sum' | 'max' = 'sum'): void {
    new client.Gauge({
      name,
      help,
      aggregator,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /** Content-Type of `render()`'s text (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}

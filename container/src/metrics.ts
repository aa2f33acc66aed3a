/**
 * A tiny Prometheus text-format registry: counters (optionally labelled),
 * gauges read at scrape time, and one histogram type.
 */
type Labels = Record<string, string>;

function key(labels: Labels): string {
  return Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`).join(',');
}

export class Counter {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(key(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, v] of this.values) lines.push(k ? `${this.name}{${k}} ${v}` : `${this.name} ${v}`);
    return lines.join('\n');
  }
}

export class Gauge {
  constructor(readonly name: string, readonly help: string, private readonly read: () => number) {}
  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${this.read()}`].join('\n');
  }
}

export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(readonly name: string, readonly help: string, private readonly buckets: readonly number[]) {
    this.counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count += 1;
    this.buckets.forEach((b, i) => {
      if (v <= b) this.counts[i] += 1;
    });
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{le="${b}"} ${this.counts[i]}`));
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return lines.join('\n');
  }
}

/** The SCP's metrics, exposed on `/metrics`. */
export class ScpMetrics {
  readonly associationsTotal = new Counter('dicom_associations_total', 'Associations accepted.');
  readonly associationsRejected = new Counter('dicom_associations_rejected_total', 'Associations rejected, by reason.');
  readonly associationsAborted = new Counter('dicom_associations_aborted_total', 'Associations aborted, by reason.');
  readonly instancesStored = new Counter('dicom_instances_stored_total', 'Instances durably stored and acknowledged with Success.');
  readonly instancesFailed = new Counter('dicom_instances_failed_total', 'C-STORE requests answered with a failure status, by status.');
  readonly bytesStored = new Counter('dicom_bytes_stored_total', 'Bytes of stored Part-10 objects.');
  readonly batchesSealed = new Counter('dicom_batches_sealed_total', 'Batches sealed, by reason.');
  readonly echoes = new Counter('dicom_echo_total', 'C-ECHO requests answered.');
  readonly instancesMissingUids = new Counter('dicom_instances_missing_uids_total', 'Stored instances whose dataset has no Study or Series Instance UID (recorded as UNKNOWN).');
  readonly storeLatency = new Histogram('dicom_store_duration_seconds', 'Time from C-STORE request to response.', [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);
  private readonly gauges: Gauge[] = [];

  addGauge(name: string, help: string, read: () => number): void {
    this.gauges.push(new Gauge(name, help, read));
  }

  render(): string {
    const all = [this.associationsTotal, this.associationsRejected, this.associationsAborted, this.instancesStored, this.instancesFailed, this.bytesStored, this.batchesSealed, this.echoes, this.instancesMissingUids, this.storeLatency, ...this.gauges];
    return `${all.map((m) => m.render()).join('\n')}\n`;
  }
}

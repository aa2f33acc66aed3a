import { expect } from 'chai';
import { readFileSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { createHealthServer } from '../../container/src/health-server';
import { ScpMetrics, STORE_DURATION_BUCKETS } from '../../container/src/metrics';
import { runDcmtk } from '../helpers/dcmtk';
import { writeTestInstance } from '../helpers/dicom-writer';
import { filesUnder, REPO_ROOT, startScp, tempDir } from '../helpers/scp';

interface Family {
  type: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/** Parses Prometheus text format 0.0.4 into families by name (enough for prom-client's output). */
function parse(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const familyOf = (sample: string): Family | undefined =>
    families.get(sample) ?? families.get(sample.replace(/_(bucket|sum|count)$/, ''));
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) families.set(type[1], { type: type[2], samples: [] });
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable line: ${line}`);
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    const family = familyOf(m[1]);
    if (!family) throw new Error(`sample before its TYPE: ${line}`);
    family.samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return families;
}

const value = (f: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined =>
  (f.get(name) ?? f.get(name.replace(/_(bucket|sum|count)$/, '')))?.samples.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels))?.value;

const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const runbook = readFileSync(path.join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');

function between(text: string, name: string): string {
  const m = new RegExp(`<!-- ${name}:start -->([\\s\\S]*?)<!-- ${name}:end -->`).exec(text);
  if (!m) throw new Error(`no ${name} section`);
  return m[1];
}

/** README's list of the SCP's metrics: name → type. */
function documentedMetrics(): Map<string, string> {
  return new Map([...between(readme, 'metrics').matchAll(/`([a-z_]+)(?:\{[a-z_,]+\})?`\s+\((counter|gauge|histogram)\)/g)].map((m) => [m[1], m[2]]));
}

const CT = '1.2.840.10008.5.1.4.1.1.2';
const STUDY = '1.2.826.0.1.3680043.8.498.5501';

describe('/metrics (prom-client)', function () {
  this.timeout(60_000);
  let scrape: { text: string; contentType: string | null; families: Map<string, Family>; storedBytes: number };

  before(async () => {
    const dir = tempDir();
    const files = [1, 2, 3].map((i) => path.join(dir, `ct${i}.dcm`));
    for (const [i, file] of files.entries()) {
      await writeTestInstance(file, { sopClassUid: CT, sopInstanceUid: `${STUDY}.1.${i}`, studyInstanceUid: STUDY, seriesInstanceUid: `${STUDY}.2`, modality: 'CT', rows: 128, columns: 128 });
    }
    const scp = await startScp({ BATCH_QUIET_SECONDS: '3600' });
    try {
      const r = await runDcmtk('storescu', ['-aec', 'STORESCP', '127.0.0.1', String(scp.port), ...files]);
      expect(r.code, r.stderr).to.equal(0);
      expect((await runDcmtk('echoscu', ['-aec', 'STORESCP', '127.0.0.1', String(scp.port)])).code).to.equal(0);
      const res = await fetch(`http://127.0.0.1:${scp.healthPort}/metrics`);
      expect(res.status).to.equal(200);
      const text = await res.text();
      const stored = filesUnder(scp.dir).filter((f) => f.endsWith('.dcm'));
      expect(stored).to.have.length(3);
      scrape = { text, contentType: res.headers.get('content-type'), families: parse(text), storedBytes: stored.reduce((n, f) => n + statSync(f).size, 0) };
    } finally {
      await scp.stop();
    }
  });

  it('answers in Prometheus text format 0.0.4', () => {
    expect(scrape.contentType).to.equal('text/plain; version=0.0.4; charset=utf-8');
  });

  it('serves every metric README lists, with the documented type, and no undocumented dicom_ metric', () => {
    const documented = documentedMetrics();
    expect(documented.size).to.be.at.least(13);
    for (const [name, type] of documented) expect(scrape.families.get(name)?.type, name).to.equal(type);
    const served = [...scrape.families.keys()].filter((n) => n.startsWith('dicom_'));
    expect(served.sort()).to.deep.equal([...documented.keys()].sort());
  });

  it('counts what happened: three instances stored with their bytes, one association per tool, one echo', () => {
    const f = scrape.families;
    expect(value(f, 'dicom_instances_stored_total')).to.equal(3);
    expect(value(f, 'dicom_bytes_stored_total')).to.equal(scrape.storedBytes);
    expect(value(f, 'dicom_associations_total')).to.equal(2);
    expect(value(f, 'dicom_echo_total')).to.equal(1);
    expect(value(f, 'dicom_batches_open')).to.equal(1);
    expect(value(f, 'dicom_associations_max')).to.equal(300);
  });

  it('has a store-duration histogram with an edge at each runbook threshold and cumulative buckets', () => {
    const h = scrape.families.get('dicom_store_duration_seconds') as Family;
    const buckets = h.samples.filter((s) => s.name.endsWith('_bucket'));
    expect(buckets.map((b) => b.labels.le)).to.deep.equal([...STORE_DURATION_BUCKETS.map(String), '+Inf']);
    for (const edge of ['5', '30', '60']) expect(buckets.map((b) => b.labels.le)).to.include(edge);
    const counts = buckets.map((b) => b.value);
    expect(counts).to.deep.equal([...counts].sort((a, b) => a - b));
    expect(counts[counts.length - 1]).to.equal(3);
    expect(value(scrape.families, 'dicom_store_duration_seconds_count')).to.equal(3);
    expect(value(scrape.families, 'dicom_store_duration_seconds_sum')).to.be.above(0);
  });

  it('serves the process metrics the runbook reads, with their types and live values', () => {
    const want: Record<string, string> = {
      process_cpu_seconds_total: 'counter',
      process_resident_memory_bytes: 'gauge',
      nodejs_heap_size_used_bytes: 'gauge',
      nodejs_heap_size_total_bytes: 'gauge',
      nodejs_eventloop_lag_p99_seconds: 'gauge',
      nodejs_eventloop_lag_max_seconds: 'gauge',
      nodejs_active_handles_total: 'gauge',
      process_open_fds: 'gauge',
      process_max_fds: 'gauge',
      nodejs_gc_duration_seconds: 'histogram',
    };
    for (const [name, type] of Object.entries(want)) expect(scrape.families.get(name)?.type, name).to.equal(type);
    expect(value(scrape.families, 'process_cpu_seconds_total')).to.be.above(0);
    expect(value(scrape.families, 'process_resident_memory_bytes')).to.be.above(16 * 1024 * 1024);
    expect(value(scrape.families, 'process_open_fds')).to.be.above(0);
  });

  it("names only real metrics in the runbook's threshold table", () => {
    const table = between(runbook, 'thresholds');
    const names = new Set([...table.matchAll(/\b((?:dicom|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1].replace(/_(bucket|sum|count)$/, '')));
    expect(names.size).to.be.at.least(10);
    for (const name of names) expect(scrape.families.has(name), `${name} (docs/operations.md)`).to.equal(true);
  });
});

describe('ScpMetrics', () => {
  it('counts a label value it has never seen (a new status such as 0x0122) and reads it back', async () => {
    const m = new ScpMetrics();
    m.instancesFailed.inc({ status: '0xa700' });
    m.instancesFailed.inc({ status: '0x0122', reason: 'sop-class-mismatch' });
    m.instancesFailed.inc({ status: '0x0122', reason: 'sop-class-mismatch' });
    expect(m.instancesFailed.get({ status: '0x0122', reason: 'sop-class-mismatch' })).to.equal(2);
    expect(m.instancesFailed.get({ status: '0x0122' })).to.equal(0);
    expect(m.instancesFailed.get({ status: '0xa700' })).to.equal(1);
    expect(m.instancesFailed.values()).to.have.length(2);
    const f = parse(await m.render());
    expect(value(f, 'dicom_instances_failed_total', { status: '0x0122', reason: 'sop-class-mismatch' })).to.equal(2);
  });

  it('keeps two apps of one process apart, and both see the one set of process metrics', async () => {
    const a = new ScpMetrics();
    const b = new ScpMetrics();
    a.instancesStored.inc();
    a.bytesStored.inc({}, 1000);
    const [fa, fb] = [parse(await a.render()), parse(await b.render())];
    expect(value(fa, 'dicom_instances_stored_total')).to.equal(1);
    expect(value(fb, 'dicom_instances_stored_total')).to.equal(0);
    expect(value(fa, 'dicom_bytes_stored_total')).to.equal(1000);
    expect(fa.has('process_resident_memory_bytes') && fb.has('process_resident_memory_bytes')).to.equal(true);
  });

  it('answers /metrics with 500 when a gauge cannot be read, and /health still answers', async () => {
    const m = new ScpMetrics();
    m.addGauge('dicom_batches_open', 'Batches not yet sealed.', () => {
      throw new Error('batcher gone');
    });
    const server = createHealthServer({ listening: () => true, draining: () => false, storageFailing: () => false, associations: () => ({ active: 0, max: 10 }) }, m);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).to.equal(500);
      expect(await res.text()).to.contain('batcher gone');
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).to.equal(200);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

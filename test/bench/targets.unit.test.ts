import { expect } from 'chai';
import { render, targetLines, targets, timeBudget, type Cell, type PeerDef, type ReportInput } from '../../scripts/bench/report';
import type { RunResult, Workload } from '../../scripts/bench/workloads';

/** The bench's `target ...` lines (issue 19): each figure against its bound, in the agreed format. */

const workload = (name: string, concurrency: number, parallel: boolean): Workload => ({ name, description: name, concurrency, parallel, reps: 1, run: async () => ({ instances: 0, bytes: 0 }) });
const run = (instances: number, seconds: number, cpuSeconds: number, rssGrowth = 0): RunResult => ({ seconds, instances, bytes: instances * 524288, peakRss: 0, rssGrowth, cpuSeconds });

function input(): ReportInput {
  const cells = new Map<string, Cell>();
  const put = (w: string, p: string, r: RunResult): void => void cells.set(`${w}|${p}`, { runs: [r] });
  // single: 200 instances
  put('single', 'dcmtk', run(200, 0.5, 0.1)); // 400/s
  put('single', 'dcmtk-ignore', run(200, 0.4, 0.08)); // 500/s: 2 ms per instance
  put('single', 'ours-file', run(200, 1.0, 0.2)); // 200/s
  put('single', 'ours-null', run(200, 0.5, 0.1)); // 400/s
  put('single', 'ours-s3', run(200, 4, 0.5)); // 50/s
  // parallel-4: 400 instances; the WORKERS=2 peers must be the ones the targets read
  put('parallel-4', 'dcmtk', run(400, 1, 0.4)); // 400/s, 1 ms CPU
  put('parallel-4', 'dcmtk-ignore', run(400, 0.8, 0.2)); // 500/s
  put('parallel-4', 'ours-file', run(400, 4, 2)); // ignored: w2 measured
  put('parallel-4', 'ours-file-w2', run(400, 2, 0.6)); // 200/s, 1.5 ms CPU
  put('parallel-4', 'ours-null', run(400, 4, 1)); // ignored
  put('parallel-4', 'ours-null-w2', run(400, 0.8, 0.3)); // 500/s
  put('parallel-4', 'ours-s3', run(400, 8, 1)); // 50/s
  put('instance-1GiB', 'ours-file', run(1, 2, 1, 20 * 1048576));
  const peers: PeerDef[] = [];
  return {
    startedAt: new Date(0),
    minutes: 1,
    environment: [],
    fsync: { fileSyncMs: 1.5, dirSyncMs: 1.5, samples: 10 } as ReportInput['fsync'],
    ceilings: new Map([[1, 300], [4, 300]]),
    s3Ceilings: new Map([[1, 100], [4, 40]]),
    workloads: [workload('single', 1, false), workload('parallel-4', 4, true), workload('instance-1GiB', 1, false)],
    peers,
    cells,
    robustness: '',
    changes: '',
  };
}

describe('bench target lines', () => {
  it('prints each target as `target <name>: <figure> (goal <op> <value>)`, measured against its bound', () => {
    const lines = targets(input());
    expect(lines).to.include('target null/ignore single: 0.80 (goal >= 1.0)');
    // WORKERS=2 figures where measured: 500 / 500.
    expect(lines).to.include('target null/ignore parallel-4: 1.00 (goal >= 1.0)');
    expect(lines).to.include('target file/dcmtk parallel-4: 0.50 (goal >= 1.0)');
    // Serial bound: 2 ms receive (storescp --ignore) + 3 ms syncs = 200/s; ours 200/s.
    expect(lines).to.include('target file single/serial bound: 1.00 (goal >= 0.8)');
    // CPU per instance: single 1 ms / 0.5 ms; parallel-4 (w2) 1.5 ms / 1 ms.
    expect(lines).to.include('target cpu per instance file/dcmtk single: 2.00 (goal <= 1.0)');
    expect(lines).to.include('target cpu per instance file/dcmtk parallel-4: 1.50 (goal <= 1.0)');
    expect(lines).to.include('target s3/moto ceiling single: 0.50 (goal >= 0.9)');
    expect(lines).to.include('target s3/moto ceiling parallel-4: 1.25 (goal >= 0.9)');
    expect(lines).to.include('target rss growth MiB instance-1GiB: 20 (goal <= 64)');
    for (const l of lines) expect(l).to.match(/^target [^:]+: \d+(\.\d+)? \(goal (>=|<=) \d+\.\d\)$|^target [^:]+: \d+ \(goal <= \d+\)$/);
  });

  it('accounts for the time: receiver and sender CPU against the cores, and the durable commit CPU floor against dcmtk', () => {
    const inp = input();
    // single: ours, file sink: 200 instances in 1 s, receiver 1 ms and sender 4 ms CPU per instance on 2 cores = 50 % busy.
    inp.cells.set('single|ours-file', { runs: [{ ...run(200, 1.0, 0.2), senderCpuSeconds: 0.8 }] });
    const lines = timeBudget({ ...inp, cores: 2, peers: [{ key: 'ours-file', label: 'ours, file sink', against: 'dcmtk' }], commitCpu: new Map([[1, 0.001]]) });
    expect(lines).to.include('| single | ours, file sink | 1.000 | 1.00 | 4.00 | 50 % |');
    // Commit alone 1 ms against dcmtk's 0.5 ms (0.1 s / 200) per instance: 2.00, out of reach.
    expect(lines).to.include('| single | 1 | 1.00 | 0.50 | 2.00 |');
  });

  it('puts the same lines in the report, where targetLines finds them', () => {
    const text = render(input());
    expect(targetLines(text)).to.deep.equal(targets(input()));
  });
});

import type { FsyncCost } from './fsync-probe';
import type { RunResult, Workload } from './workloads';

export interface PeerDef {
  readonly key: 'dcmtk' | 'dcmtk-ignore' | 'ours-file' | 'ours-null' | 'ours-s3' | 'ours-file-w2' | 'ours-null-w2';
  readonly label: string;
  /** The dcmtk peer this one is compared with. */
  readonly against?: 'dcmtk' | 'dcmtk-ignore';
  /** Runs only the workloads with several associations (WORKERS=2 peers). */
  readonly parallelOnly?: boolean;
}

export interface Cell {
  readonly runs: RunResult[];
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const mib = (b: number): string => (b / 1048576).toFixed(0);

export interface Summary {
  readonly seconds: number;
  readonly perSecond: number;
  readonly mbPerSecond: number;
  readonly peakRss: number;
  readonly rssGrowth: number;
  /** Median receiver CPU seconds per instance (processes and children, from /proc). */
  readonly cpuPerInstance: number;
  /** Median sender CPU seconds per instance (0 when not measured). */
  readonly senderCpuPerInstance: number;
}

export function summarize(c: Cell): Summary {
  const seconds = median(c.runs.map((r) => r.seconds));
  const r0 = c.runs[0];
  return {
    seconds,
    perSecond: r0.instances / seconds,
    mbPerSecond: r0.bytes / 1e6 / seconds,
    peakRss: Math.max(...c.runs.map((r) => r.peakRss)),
    rssGrowth: Math.max(...c.runs.map((r) => r.rssGrowth)),
    cpuPerInstance: median(c.runs.map((r) => r.cpuSeconds / r.instances)),
    senderCpuPerInstance: median(c.runs.map((r) => (r.senderCpuSeconds ?? 0) / r.instances)),
  };
}

export interface ReportInput {
  readonly startedAt: Date;
  readonly minutes: number;
  readonly environment: string[];
  readonly fsync: FsyncCost;
  /** Durable-commit ceiling (instances/s) by number of concurrent writers (fsync-probe.ts). */
  readonly ceilings: Map<number, number>;
  /** CPU seconds per instance of the durable-commit probe's threads, by number of writers (fsync-probe.ts). */
  readonly commitCpu?: Map<number, number>;
  /** CPU cores the peers and senders share (os.availableParallelism()). */
  readonly cores?: number;
  /** moto's own PutObject rate (objects/s) by number of concurrent writers (s3-probe.ts). */
  readonly s3Ceilings: Map<number, number>;
  readonly workloads: Workload[];
  readonly peers: PeerDef[];
  readonly cells: Map<string, Cell>;
  readonly robustness: string;
  readonly changes: string;
}

/**
 * One association, synchronous sender: the response waits for the syncs and
 * the next instance waits for the response, so no receiver beats receiving as
 * fast as `storescp --ignore` plus fdatasync and folder fsync, in series.
 */
function serialBound(inp: ReportInput): { receiveMs: number; syncMs: number; perSecond: number; ratio: number } | undefined {
  const ignore = inp.cells.get(cellKey('single', 'dcmtk-ignore'));
  const dcmtk = inp.cells.get(cellKey('single', 'dcmtk'));
  if (!ignore || !dcmtk) return undefined;
  const receiveMs = 1000 / summarize(ignore).perSecond;
  const syncMs = inp.fsync.fileSyncMs + inp.fsync.dirSyncMs;
  const perSecond = 1000 / (receiveMs + syncMs);
  return { receiveMs, syncMs, perSecond, ratio: perSecond / summarize(dcmtk).perSecond };
}

export const cellKey = (w: string, p: string): string => `${w}|${p}`;

type Op = '>=' | '<=';
const targetLine = (name: string, figure: number, op: Op, goal: number, digits = 2): string =>
  `target ${name}: ${figure.toFixed(digits)} (goal ${op} ${goal.toFixed(digits === 0 ? 0 : 1)})`;

/** The targets, each measured against its bound, as `target ...` lines. */
export function targets(inp: ReportInput): string[] {
  const s = (w: string, p: string): Summary | undefined => {
    const c = inp.cells.get(cellKey(w, p));
    return c && c.runs.length ? summarize(c) : undefined;
  };
  /** Ours for a workload: the WORKERS=2 peer when measured, else the single process. */
  const ours = (w: string, sink: 'file' | 'null'): Summary | undefined => s(w, `ours-${sink}-w2`) ?? s(w, `ours-${sink}`);
  const lines: string[] = [];
  for (const w of inp.workloads) {
    const a = ours(w.name, 'null');
    const b = s(w.name, 'dcmtk-ignore');
    if (a && b) lines.push(targetLine(`null/ignore ${w.name}`, a.perSecond / b.perSecond, '>=', 1));
  }
  for (const w of inp.workloads.filter((x) => x.parallel)) {
    const a = ours(w.name, 'file');
    const b = s(w.name, 'dcmtk');
    if (a && b) lines.push(targetLine(`file/dcmtk ${w.name}`, a.perSecond / b.perSecond, '>=', 1));
  }
  const serial = serialBound(inp);
  const single = s('single', 'ours-file');
  if (serial && single) lines.push(targetLine('file single/serial bound', single.perSecond / serial.perSecond, '>=', 0.8));
  for (const w of inp.workloads.filter((x) => x.name !== 'instance-1GiB')) {
    const a = ours(w.name, 'file');
    const b = s(w.name, 'dcmtk');
    if (a && b && b.cpuPerInstance > 0) lines.push(targetLine(`cpu per instance file/dcmtk ${w.name}`, a.cpuPerInstance / b.cpuPerInstance, '<=', 1));
  }
  for (const w of inp.workloads.filter((x) => x.name !== 'instance-1GiB')) {
    const a = s(w.name, 'ours-s3');
    const c = inp.s3Ceilings.get(w.concurrency);
    if (a && c) lines.push(targetLine(`s3/moto ceiling ${w.name}`, a.perSecond / c, '>=', 0.9));
  }
  const big = s('instance-1GiB', 'ours-file');
  if (big) lines.push(targetLine('rss growth MiB instance-1GiB', big.rssGrowth / 1048576, '<=', 64, 0));
  return lines;
}

/**
 * Where the wall time and the CPU of each run went, from this run's figures:
 * receiver and sender CPU per instance, how busy that kept the cores the
 * two share, and the CPU floor of a durable acknowledgement on this disk
 * (the commit probe's threads) set against dcmtk's whole CPU per instance.
 */
export function timeBudget(inp: ReportInput): string[] {
  const s = (w: string, p: string): Summary | undefined => {
    const c = inp.cells.get(cellKey(w, p));
    return c && c.runs.length ? summarize(c) : undefined;
  };
  const cores = inp.cores ?? 1;
  const out: string[] = [
    '## Where the time goes',
    '',
    `The receivers and their senders share this machine's ${cores} core(s). Per workload and receiver: CPU per instance of the receiver (its processes, from /proc) and of the senders (the storescu processes, reaped by the bench, or the bench's in-process SCU), and the share of the cores' capacity both used during the median run: (receiver + sender CPU) × instances / (cores × wall time). Near 100 % a run is CPU-bound here, and it gets faster only with less CPU per instance on one side or the other; well below, it waits (on the disk, on the network, on the sender's synchronous request / response).`,
    '',
    '| Workload | Receiver | wall s | receiver CPU ms / instance | sender CPU ms / instance | cores busy |',
    '|---|---|---:|---:|---:|---:|',
  ];
  for (const w of inp.workloads) {
    for (const p of inp.peers) {
      const x = s(w.name, p.key);
      if (!x || !x.senderCpuPerInstance) continue;
      const instances = x.perSecond * x.seconds;
      const busy = ((x.cpuPerInstance + x.senderCpuPerInstance) * instances) / (cores * x.seconds);
      out.push(`| ${w.name} | ${p.label} | ${x.seconds.toFixed(3)} | ${(1000 * x.cpuPerInstance).toFixed(2)} | ${(1000 * x.senderCpuPerInstance).toFixed(2)} | ${(100 * busy).toFixed(0)} % |`);
    }
  }
  const floors = inp.workloads
    .filter((w) => w.name !== 'instance-1GiB' && inp.commitCpu?.has(w.concurrency))
    .map((w) => {
      const floor = inp.commitCpu?.get(w.concurrency) as number;
      const d = s(w.name, 'dcmtk');
      return `| ${w.name} | ${w.concurrency} | ${(1000 * floor).toFixed(2)} | ${d ? (1000 * d.cpuPerInstance).toFixed(2) : ''} | ${d && d.cpuPerInstance > 0 ? (floor / d.cpuPerInstance).toFixed(2) : ''} |`;
    });
  if (floors.length) {
    out.push(
      '',
      "The CPU a durable acknowledgement costs before any receiving: the threads of the durable-commit probe (write 512 KiB into the page cache, fdatasync, close, rename, folder fsync; files created before the clock) measured with `process.threadCpuUsage()`. Most of it is the kernel writing the data out, which dcmtk's storescp leaves to the kernel's flusher threads (not part of any process's CPU) and which, as the bench deletes each run's files, may never happen for it at all. Where the last column is above 1.00, the CPU-per-instance target against dcmtk is out of reach for any receiver that makes an instance durable before acknowledging it, on this disk.",
      '',
      '| Workload | writers | durable commit alone, CPU ms / instance | dcmtk storescp, whole receive, CPU ms / instance | commit alone / dcmtk |',
      '|---|---:|---:|---:|---:|',
      ...floors,
    );
  }
  out.push('');
  return out;
}

/** The `target ...` lines of a rendered report. */
export function targetLines(report: string): string[] {
  return report.split('\n').filter((l) => l.startsWith('target '));
}

/** Renders docs/performance.md; the last lines are `ratio <workload>: <x.xx>` for each file-sink workload. */
export function render(inp: ReportInput): string {
  const s = (w: string, p: string): Summary | undefined => {
    const c = inp.cells.get(cellKey(w, p));
    return c && c.runs.length ? summarize(c) : undefined;
  };
  const ratio = (w: string, p: string, q: string): number | undefined => {
    const a = s(w, p);
    const b = s(w, q);
    return a && b ? a.perSecond / b.perSecond : undefined;
  };
  const out: string[] = [];
  out.push('# Performance and robustness', '');
  out.push(`Written by \`npm run bench\` (scripts/bench.ts) on ${inp.startedAt.toISOString()}; the run took ${inp.minutes.toFixed(1)} minutes. Do not edit by hand.`, '');
  out.push('## Set-up', '');
  for (const e of inp.environment) out.push(`- ${e}`);
  out.push(
    '- Every peer ran on this machine at the same time (idle between its turns), fed the same corpus by the same sender; repetitions ran in A B A B order (each repetition visits every peer in turn); figures are medians, ratios are ours / dcmtk from this run.',
    '- dcmtk: `storescp -pm +B --max-pdu 131072 -od DIR` (bit-preserving: the dataset is written as received, like ours). For the parallel workloads (4, 16, 500 associations) it runs with `--fork`, one process per association: without it storescp serves one association at a time. Peak RSS of a forking storescp is the largest single process. dcmtk "ignore" is the same with `--ignore` (receives, stores nothing): the counterpart of our null sink.',
    '- Ours: as the image runs it (the esbuild bundle of `container/src/main.ts` that `npm run build` ships as /app/scp.js, the image\'s node flags, NODE_ENV=production), as its own process with production defaults (LOG_LEVEL info, one JSON line per instance to a discarded stdout), warmed up with 2,000 instances (S3: 400) before the first measured run, sinks `file://DIR`, `null:` (protocol cost alone) and `s3://bucket` against `moto_server` on 127.0.0.1 (a Python S3 stand-in: it, not the SCP, bounds the S3 figures).',
    '- Senders: dcmtk `storescu --max-pdu 131072` (one process per association), except the 500-association workload, which uses the in-process SCU of test/helpers/scu-client.ts, 10 associations at a time, so that process start-up does not dominate. `TCP_NODELAY=1` for every dcmtk tool.',
    '- Peak RSS: VmHWM of the receiver, reset (`/proc/PID/clear_refs`) before each run; growth = peak minus RSS at the start of the run. MB = 10^6 bytes.',
    '',
  );
  out.push('## What durability costs (and what dcmtk does not pay)', '');
  const serial = serialBound(inp);
  out.push(
    `Our file sink acknowledges an instance only after its data is fdatasync'ed, the file renamed into place and the folder fsync'ed (docs/conformance.md §3). dcmtk's storescp never calls fsync: its Success means "handed to the page cache". Measured in this run on the same disk (${inp.fsync.samples} samples, 512 KiB files): **fdatasync ${inp.fsync.fileSyncMs.toFixed(2)} ms + folder fsync ${inp.fsync.dirSyncMs.toFixed(2)} ms = ${(inp.fsync.fileSyncMs + inp.fsync.dirSyncMs).toFixed(2)} ms per instance**. On one association a sender waits for each response before sending the next instance (storescu does not use asynchronous operations), so this latency adds to every instance and cannot be hidden: the single-association file-sink ratio below is bounded by it, and is not a like-for-like comparison. The like-for-like comparisons are the null sink against \`storescp --ignore\` (protocol and streaming cost alone) and the parallel workloads, where our fsyncs of concurrent associations overlap (folder fsyncs are group-committed).`,
    '',
  );
  if (serial) {
    out.push(
      `On one association the bound is tighter than the ceiling below, which counts no receiving at all: the next instance arrives only after the response, and the response waits for both syncs, so per instance the receive time and the sync time add up. Even a receiver that takes an instance in as fast as \`storescp --ignore\` did in this run (${serial.receiveMs.toFixed(2)} ms) and then pays nothing but these syncs (${serial.syncMs.toFixed(2)} ms) reaches ${serial.perSecond.toFixed(0)} instances/s: **${serial.ratio.toFixed(2)} of dcmtk's single-association rate**.`,
      '',
    );
  }
  const dcmtkRate = (w: string): number | undefined => s(w, 'dcmtk')?.perSecond;
  const ceilingRows = inp.workloads
    .filter((w) => w.name !== 'instance-1GiB' && inp.ceilings.has(w.concurrency))
    .map((w) => {
      const c = inp.ceilings.get(w.concurrency) as number;
      const d = dcmtkRate(w.name);
      return `| ${w.name} | ${w.concurrency} | ${c.toFixed(0)} | ${d === undefined ? '' : d.toFixed(0)} | ${d === undefined ? '' : (c / d).toFixed(2)} |`;
    });
  if (ceilingRows.length) {
    out.push(
      'The durable-commit ceiling (scripts/bench/fsync-probe.ts) measures, on the same disk in the same run, how many instances per second N threads reach when each does nothing but the file sink\'s commit sequence (write 512 KiB, fdatasync, close, rename, fsync the folder) with synchronous calls, one instance after another, N being the number of associations storing at once, into files created before the clock starts. There is no network, no DICOM, no event loop and no file creation in it: **no receiver that makes an instance durable before acknowledging it can exceed it**. Where the ceiling is below dcmtk\'s measured rate, a file-sink ratio of 1.00 is out of reach for any implementation that keeps that rule; the last column is the best ratio such a receiver could reach.',
      '',
      '| Workload | writers | durable ceiling, instances/s | dcmtk, instances/s | best possible ratio under durability |',
      '|---|---:|---:|---:|---:|',
      ...ceilingRows,
      '',
    );
  }
  const s3Rows = inp.workloads
    .filter((w) => w.name !== 'instance-1GiB' && inp.s3Ceilings.has(w.concurrency))
    .map((w) => {
      const c = inp.s3Ceilings.get(w.concurrency) as number;
      const ours = s(w.name, 'ours-s3')?.perSecond;
      const file = s(w.name, 'ours-file')?.perSecond;
      const cell = (x: number | undefined, digits: number): string => (x === undefined ? '' : x.toFixed(digits));
      return `| ${w.name} | ${w.concurrency} | ${c.toFixed(0)} | ${cell(ours, 0)} | ${cell(ours && ours / c, 2)} | ${cell(file && c / file, 2)} |`;
    });
  if (s3Rows.length) {
    out.push(
      '## What the S3 endpoint allows',
      '',
      "The S3 figures below are bounded by moto_server, the only S3-compatible server these machines can install (a Python stand-in). Its ceiling (scripts/bench/s3-probe.ts) is measured against the same moto in the same run: N concurrent writers doing nothing but `PutObject` of a 512 KiB body already in memory, with the S3 sink's client settings, CRC32 checksum and metadata; no DICOM, no SCP, no streaming; the best of three timed passes of 200 objects after an untimed one (the probe runs in the bench's own process, whose JIT is cold at first). No receiver storing each instance as one object through this endpoint can exceed it by more than the spread of moto's own speed. The last column is the best S3 / file-sink ratio any receiver could reach against moto; where it is below 0.80 the S3 target cannot be shown on this machine.",
      '',
      '| Workload | writers | moto PutObject ceiling, objects/s | ours, S3 sink, instances/s | ours / ceiling | best possible S3 / file-sink ratio against moto |',
      '|---|---:|---:|---:|---:|---:|',
      ...s3Rows,
      '',
    );
  }
  out.push('## Results', '');
  out.push('| Workload | Receiver | median s | instances/s | MB/s | CPU ms / instance | peak RSS MiB | RSS growth MiB | ratio ours / dcmtk |', '|---|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const w of inp.workloads) {
    for (const p of inp.peers) {
      const x = s(w.name, p.key);
      if (!x) continue;
      const r = p.against ? ratio(w.name, p.key, p.against) : undefined;
      out.push(`| ${w.name} | ${p.label} | ${x.seconds.toFixed(3)} | ${x.perSecond.toFixed(1)} | ${x.mbPerSecond.toFixed(1)} | ${(1000 * x.cpuPerInstance).toFixed(2)} | ${mib(x.peakRss)} | ${mib(x.rssGrowth)} | ${r === undefined ? '' : r.toFixed(2)} |`);
    }
  }
  out.push('', 'Workloads:', '');
  for (const w of inp.workloads) out.push(`- \`${w.name}\`: ${w.description}; ${inp.cells.get(cellKey(w.name, 'dcmtk'))?.runs.length ?? 0} repetitions.`);
  out.push('', '## Targets', '');
  const rows: string[] = [];
  for (const w of inp.workloads) {
    if (w.name === 'instance-1GiB') continue;
    const r = ratio(w.name, 'ours-file', 'dcmtk');
    const c = inp.ceilings.get(w.concurrency);
    const d = dcmtkRate(w.name);
    const bound = c !== undefined && d !== undefined ? c / d : undefined;
    let why = r !== undefined && r < 1 && bound !== undefined && bound < 1 ? ` (unreachable while acknowledging only durable instances: ceiling ${bound.toFixed(2)}; ours reaches ${((r / bound) * 100).toFixed(0)} % of it)` : '';
    if (r !== undefined && r < 1 && w.concurrency === 1 && serial && serial.ratio < 1 && (bound === undefined || serial.ratio < bound)) {
      why = ` (unreachable while acknowledging only durable instances: receive at storescp --ignore's speed + syncs ${serial.ratio.toFixed(2)}; ours reaches ${((r / serial.ratio) * 100).toFixed(0)} % of it)`;
    }
    if (r !== undefined) rows.push(`| file sink / dcmtk, ${w.name} | ≥ 1.00 | ${r.toFixed(2)} | ${r >= 1 ? 'met' : 'not met'}${why} |`);
  }
  const big = s('instance-1GiB', 'ours-file');
  if (big) rows.push(`| peak RSS growth, 1 GiB instance (file sink) | ≤ 64 MiB | ${mib(big.rssGrowth)} MiB | ${big.rssGrowth <= 64 * 1048576 ? 'met' : 'not met'} |`);
  for (const w of inp.workloads) {
    const r = ratio(w.name, 'ours-s3', 'ours-file');
    const c = inp.s3Ceilings.get(w.concurrency);
    const file = s(w.name, 'ours-file')?.perSecond;
    const bound = w.name !== 'instance-1GiB' && c !== undefined && file !== undefined ? c / file : undefined;
    const why = r !== undefined && r < 0.8 && bound !== undefined && bound < 0.8 ? ` (unreachable against moto: its own PutObject ceiling is ${bound.toFixed(2)} of the file sink; ours reaches ${((r / bound) * 100).toFixed(0)} % of it)` : '';
    if (r !== undefined) rows.push(`| S3 sink (moto) / file sink, ${w.name} | ≥ 0.80 | ${r.toFixed(2)} | ${r >= 0.8 ? 'met' : 'not met'}${why} |`);
  }
  out.push('| Target | wanted | measured | |', '|---|---|---|---|', ...rows, '');
  out.push(
    '## Targets against the bounds (issue 19)',
    '',
    'One line per target, `target <name>: <figure> (goal <op> <value>)`. Workloads with several associations use `WORKERS=2` (what `WORKERS=auto` gives on a 2-vCPU task and on this machine) when it was measured, the others `WORKERS=1` (one association runs in one worker). CPU is the receiver\'s user + system seconds from /proc, its child processes included (our workers, storescp --fork\'s association processes).',
    '',
    '```',
    ...targets(inp),
    '```',
    '',
  );
  out.push(...timeBudget(inp));
  out.push(inp.changes, '');
  out.push('<!-- robustness:start -->', inp.robustness.trim(), '<!-- robustness:end -->', '');
  out.push('## Ratios', '', 'Ours (file sink) / dcmtk storescp, instances per second, this run (machine-readable: these are the last lines of this file).', '');
  for (const w of inp.workloads) {
    const r = ratio(w.name, 'ours-file', 'dcmtk');
    if (r !== undefined) out.push(`ratio ${w.name}: ${r.toFixed(2)}`);
  }
  return `${out.join('\n')}\n`;
}

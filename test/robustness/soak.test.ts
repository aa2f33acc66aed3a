import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { reportFigures } from '../helpers/robustness-report';
import { spawnScp } from '../helpers/scp';
import { ctDataset, ScuAssociation } from '../helpers/scu-client';

const MiB = 1048576;
/** SOAK_SECONDS overrides the length (default 150 s: a first and a last minute with a gap between). */
const SECONDS = Number(process.env.SOAK_SECONDS ?? 150);
const ASSOCIATIONS = 50;
const ROOT = `1.2.826.0.1.3680043.9.7433.72.${process.pid % 100000}`;

function procStatus(pid: number, field: string): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

const openFds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** Datasets of a few sizes whose SOP Instance UID is patched in place (same length every time). */
function datasetFactory(): (uid: string, n: number) => Buffer {
  const placeholder = `${ROOT}.99.99999.999999`;
  const sizes = [16 << 10, 48 << 10, 96 << 10, 192 << 10];
  const templates = sizes.map((s) => ctDataset(placeholder, `${ROOT}.2`, `${ROOT}.3`, s));
  const at = templates.map((t) => t.indexOf(placeholder));
  return (uid, n) => {
    const i = n % sizes.length;
    const b = Buffer.from(templates[i]);
    b.write(uid.padEnd(placeholder.length, '0').slice(0, placeholder.length), at[i], 'latin1');
    return b;
  };
}

function storedUids(dir: string): Set<string> {
  const out = new Set<string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (e.name.endsWith('.dcm')) out.add(e.name.slice(0, -4));
    }
  };
  walk(path.join(dir, 'incoming'));
  return out;
}

describe('soak', function () {
  this.timeout((SECONDS + 120) * 1000);

  it(`${ASSOCIATIONS} concurrent associations for ${SECONDS} s: no growth in memory or open handles, every acknowledged instance stored`, async () => {
    const scp = await spawnScp({ BATCH_MAX_FILES: '1000', BATCH_QUIET_SECONDS: '5', LOG_LEVEL: 'warn' });
    const pid = scp.child.pid as number;
    const make = datasetFactory();
    try {
      await scp.ready();
      const fdsBefore = openFds(pid);
      const acked: string[] = [];
      const failures: string[] = [];
      let associations = 0;
      const t0 = Date.now();
      const end = t0 + SECONDS * 1000;
      const samples: { t: number; rss: number; fds: number }[] = [];
      const sampler = setInterval(() => samples.push({ t: (Date.now() - t0) / 1000, rss: procStatus(pid, 'VmRSS'), fds: openFds(pid) }), 1000);
      await Promise.all(
        Array.from({ length: ASSOCIATIONS }, async (_, a) => {
          let n = 0;
          while (Date.now() < end) {
            // Associations come and go: 20 instances each, a short pause between instances.
            const assoc = await ScuAssociation.open({ port: scp.port, callingAe: `SOAK${a}`, timeoutMs: 60_000 });
            associations += 1;
            for (let i = 0; i < 20 && Date.now() < end; i++, n++) {
              const uid = `${ROOT}.${a}.${n}`;
              const padded = uid.padEnd(`${ROOT}.99.99999.999999`.length, '0');
              const status = await assoc.store({ sopInstanceUid: padded, dataset: make(padded, n) });
              if (status === 0) acked.push(padded);
              else failures.push(`${padded}: 0x${status.toString(16)}`);
              await new Promise((r) => setTimeout(r, 150));
            }
            await assoc.release();
          }
        }),
      );
      clearInterval(sampler);
      // Idle again: handles must return to where they were (kept folder descriptors close after 5 s idle).
      await new Promise((r) => setTimeout(r, 7000));
      const fdsAfter = openFds(pid);
      const stored = storedUids(scp.dir);
      const missing = acked.filter((u) => !stored.has(u));
      const first = samples.filter((s) => s.t < 60);
      const last = samples.filter((s) => s.t >= SECONDS - 60);
      const rssFirst = median(first.map((s) => s.rss));
      const rssLast = median(last.map((s) => s.rss));
      const fdsFirst = median(first.map((s) => s.fds));
      const fdsLast = median(last.map((s) => s.fds));
      reportFigures('soak', {
        seconds: SECONDS,
        'concurrent associations': ASSOCIATIONS,
        'associations opened': associations,
        'instances acknowledged': acked.length,
        'instances failed': failures.length,
        'acknowledged but not stored': missing.length,
        'median RSS first minute / last minute MiB': `${(rssFirst / MiB).toFixed(1)} / ${(rssLast / MiB).toFixed(1)}`,
        'max RSS first minute / last minute MiB': `${(Math.max(...first.map((s) => s.rss)) / MiB).toFixed(1)} / ${(Math.max(...last.map((s) => s.rss)) / MiB).toFixed(1)}`,
        'median open fds first minute / last minute': `${fdsFirst} / ${fdsLast}`,
        'open fds before / after (idle)': `${fdsBefore} / ${fdsAfter}`,
      });
      expect(scp.child.exitCode).to.equal(null);
      expect(failures).to.deep.equal([]);
      expect(acked.length).to.be.above(ASSOCIATIONS * SECONDS);
      expect(missing).to.deep.equal([]);
      // No growth: the last minute is not above the first (GC noise allowed, far below any leak per instance).
      expect(rssLast - rssFirst, 'RSS growth between the first and the last minute').to.be.below(16 * MiB);
      expect(fdsLast - fdsFirst, 'open handles growth between the first and the last minute').to.be.at.most(4);
      expect(fdsAfter - fdsBefore, 'handles left open once idle').to.be.at.most(2);
    } finally {
      scp.kill('SIGKILL');
      await scp.exited;
    }
  });
});

/**
 * `npm run bench -- --only deid`: one 500 MB instance (1,000 frames of 512 x 512
 * x 16 bit, Explicit VR LE), de-identified by our engine, copied by a plain
 * stream copy (the same bytes through the same Node file streams), and
 * de-identified by GDCM's gdcmanon (Debian libgdcm-tools, PS3.15 Basic
 * Profile in C++), A B C order, medians. Each run is a fresh process; outputs
 * are deleted between runs.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeTestInstance } from '../../test/helpers/dicom-writer';
import { REPO_ROOT } from './peers';

interface Run {
  readonly seconds: number;
  readonly rssGrowth: number;
  readonly maxRss: number;
}

const MiB = 1024 * 1024;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function exec(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: REPO_ROOT, maxBuffer: 16 * MiB, timeout: 30 * 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} failed: ${stderr || err.message}`)) : resolve({ stdout, stderr })));
  });
}

async function ours(mode: 'deid' | 'copy', input: string, output: string): Promise<Run> {
  const { stdout } = await exec(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(REPO_ROOT, 'scripts/bench/deid-run.ts'), mode, input, output]);
  return JSON.parse(stdout.trim().split('\n').pop() as string) as Run;
}

/** gdcmanon under /usr/bin/time: wall seconds and peak RSS; growth is the peak minus gdcmanon's peak on a tiny instance. */
async function gdcmanon(input: string, output: string, cert: string, baseline: number): Promise<Run> {
  const { stderr } = await exec('/usr/bin/time', ['-f', 'BENCH %e %M', 'gdcmanon', '-e', '-c', cert, '-i', input, '-o', output]);
  const m = /BENCH ([\d.]+) (\d+)/.exec(stderr);
  if (!m) throw new Error(`no timing from gdcmanon: ${stderr}`);
  const maxRss = Number(m[2]) * 1024;
  return { seconds: Number(m[1]), maxRss, rssGrowth: Math.max(0, maxRss - baseline) };
}

export async function benchDeid(log: (s: string) => void, reps = 5): Promise<string> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'deid-bench-'));
  try {
    const input = path.join(work, 'in.dcm');
    const small = path.join(work, 'small.dcm');
    const base = { sopClassUid: '1.2.840.10008.5.1.4.1.1.2', studyInstanceUid: '1.2.826.0.1.3680043.8.1', seriesInstanceUid: '1.2.826.0.1.3680043.8.2', modality: 'CT', rows: 512, columns: 512 };
    log('deid: writing a 500 MB instance');
    await writeTestInstance(input, { ...base, sopInstanceUid: '1.2.826.0.1.3680043.8.3', frames: 1000 });
    await writeTestInstance(small, { ...base, sopInstanceUid: '1.2.826.0.1.3680043.8.4', rows: 8, columns: 8 });
    const size = statSync(input).size;
    const cert = path.join(work, 'cert.pem');
    await exec('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(work, 'key.pem'), '-out', cert, '-subj', '/CN=deid-bench', '-days', '1']);
    const gdcmBaseline = (await gdcmanon(small, path.join(work, 'small-out.dcm'), cert, 0)).maxRss;
    const runs: Record<string, Run[]> = { copy: [], deid: [], gdcmanon: [] };
    for (let rep = 0; rep < reps; rep++) {
      for (const who of ['copy', 'deid', 'gdcmanon'] as const) {
        const out = path.join(work, `out-${who}.dcm`);
        // Flush the previous run's writes first, so no run pays for another's write-back.
        await exec('sync', []);
        const r = who === 'gdcmanon' ? await gdcmanon(input, out, cert, gdcmBaseline) : await ours(who, input, out);
        rmSync(out, { force: true });
        runs[who].push(r);
        log(`deid rep ${rep + 1}/${reps} ${who}: ${r.seconds.toFixed(2)} s, peak RSS growth ${(r.rssGrowth / MiB).toFixed(0)} MiB`);
      }
    }
    const m = (who: string, k: keyof Run): number => median(runs[who].map((r) => r[k]));
    const mbps = (who: string): number => size / 1e6 / m(who, 'seconds');
    // Targets from the ratios of each round (runs of one round share the machine's load), median over rounds.
    const paired = (a: string, b: string): number => median(runs[a].map((r, i) => runs[b][i].seconds / r.seconds));
    const vsCopy = paired('deid', 'copy');
    const vsGdcm = paired('deid', 'gdcmanon');
    const growth = m('deid', 'rssGrowth') / MiB;
    const row = (who: string, label: string): string => `| ${label} | ${m(who, 'seconds').toFixed(2)} | ${mbps(who).toFixed(0)} | ${(m(who, 'rssGrowth') / MiB).toFixed(0)} | ${(m(who, 'maxRss') / MiB).toFixed(0)} |`;
    return [
      '## De-identification',
      '',
      `Measured ${new Date().toISOString().slice(0, 16)}Z by \`npm run bench -- --only deid\`: one ${(size / 1e6).toFixed(0)} MB instance (1,000 frames of 512 x 512 x 16 bit, Explicit VR Little Endian), ${reps} rounds in copy / ours / gdcmanon order, medians. Each run is a fresh process writing to the system temporary folder; outputs deleted and \`sync\` run between runs (not timed). Ours: \`deidentifyStream\` with \`dates: shift\` (the header is rewritten, the pixel data streamed through). Copy: the same bytes through the same Node file streams. gdcmanon: GDCM's Basic Profile (\`gdcmanon -e -c cert.pem\`, which also encrypts the original attributes into the file, as PS3.15 E.1.1 describes). RSS growth: ours, peak RSS minus the RSS just before the work (runtime loaded); gdcmanon, its peak minus its peak on an 8 x 8 instance.`,
      '',
      `This machine was shared with other work while it ran (${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)} at the end): the times are noisy, so the targets use the ratio within each round (the three runs of a round share the machine's load), median over the rounds.`,
      '',
      '| Run | seconds | MB/s | peak RSS growth (MiB) | peak RSS (MiB) |',
      '|---|---|---|---|---|',
      row('copy', 'plain file copy (Node streams)'),
      row('deid', 'ours, deidentifyStream'),
      row('gdcmanon', 'gdcmanon (GDCM, C++)'),
      '',
      `Each round, seconds: ${['copy', 'deid', 'gdcmanon'].map((w) => `${w === 'deid' ? 'ours' : w} ${runs[w].map((r) => r.seconds.toFixed(2)).join(', ')}`).join('; ')}.`,
      '',
      `The copy's own growth (${(m('copy', 'rssGrowth') / MiB).toFixed(0)} MiB) is Node's stream buffers and heap; the de-identifier adds ${Math.max(0, (m('deid', 'rssGrowth') - m('copy', 'rssGrowth')) / MiB).toFixed(0)} MiB to it (the header held while it is rewritten, the rules table). gdcmanon reads the whole instance into memory.`,
      '',
      '| Target | wanted | measured | |',
      '|---|---|---|---|',
      `| de-identifier / file copy, throughput (per round) | ≥ 0.50 | ${vsCopy.toFixed(2)} | ${vsCopy >= 0.5 ? 'met' : 'not met'} |`,
      `| gdcmanon time / de-identifier time (per round) | > 1.00 | ${vsGdcm.toFixed(2)} | ${vsGdcm > 1 ? 'met' : 'not met'} |`,
      `| peak RSS growth, de-identifier | ≤ 64 MiB | ${growth.toFixed(0)} MiB | ${growth <= 64 ? 'met' : 'not met'} |`,
    ].join('\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Puts the section between its markers in docs/performance.md (before the closing ratio lines). */
export function spliceDeid(doc: string, section: string): string {
  const block = `<!-- deid:start -->\n${section.trim()}\n<!-- deid:end -->`;
  if (/<!-- deid:start -->[^]*?<!-- deid:end -->/.test(doc)) return doc.replace(/<!-- deid:start -->[^]*?<!-- deid:end -->/, block);
  const at = doc.indexOf('## Ratios');
  return at === -1 ? `${doc.trimEnd()}\n\n${block}\n` : `${doc.slice(0, at)}${block}\n\n${doc.slice(at)}`;
}

export function writeDeidSection(file: string, doc: string, section: string): void {
  writeFileSync(file, spliceDeid(doc, section));
}

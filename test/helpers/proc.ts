import { readFileSync } from 'node:fs';

/** Peak resident set size (VmHWM) of a process, in bytes (Linux /proc). */
export function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmHWM for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Resets a process's VmHWM to its current RSS (Linux ≥ 4.0: write 5 to clear_refs). */
export function resetPeakRss(pid: number): void {
  require('node:fs').writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

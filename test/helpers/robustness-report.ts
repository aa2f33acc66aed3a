import { appendFileSync } from 'node:fs';

/** One figure a robustness test reports (cases tried, faults injected, acked vs stored, memory, handles). */
export interface RobustnessFigure {
  readonly test: string;
  readonly figures: Record<string, string | number>;
}

/**
 * Records a test's figures: printed with the test output, and appended as one
 * JSON line to ROBUSTNESS_REPORT when set (`npm run bench` puts them in docs/performance.md).
 */
export function reportFigures(test: string, figures: Record<string, string | number>): void {
  console.log(`      ${test}: ${Object.entries(figures).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  const file = process.env.ROBUSTNESS_REPORT;
  if (file) appendFileSync(file, `${JSON.stringify({ test, figures } satisfies RobustnessFigure)}\n`);
}

/** The robustness section of docs/performance.md from the recorded JSON lines. */
export function renderRobustness(jsonLines: string, exitCode: number): string {
  const rows = jsonLines.split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l) as RobustnessFigure);
  const out = ['## Robustness', '', `\`npm run test:robustness\` (test/robustness/, also part of \`npm test\`), run by this benchmark: ${exitCode === 0 ? 'all tests passed' : `**FAILED (mocha exit ${exitCode})**`}. 127.0.0.1 only. The tests assert the loss (acknowledged but missing: 0), crash, C-ECHO, memory and handle figures; the others are reported.`, ''];
  for (const r of rows) {
    out.push(`- **${r.test}**`);
    for (const [k, v] of Object.entries(r.figures)) out.push(`  - ${k}: ${v}`);
  }
  return out.join('\n');
}

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface DumpLine {
  readonly vr: string;
  readonly value: string;
  readonly length: number;
}

export function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, TCP_NODELAY: '1' } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** dcmdump of a file's bytes: fails the test if dcmdump reports an error; returns the top-level elements by tag. */
export async function dump(bytes: Buffer): Promise<{ top: Map<string, DumpLine>; text: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'deid-dump-'));
  try {
    const f = join(dir, 'x.dcm');
    await writeFile(f, bytes);
    const r = await run('dcmdump', ['+L', '+E', f]);
    if (r.code !== 0 || /^E: /m.test(r.stderr) || /^E: /m.test(r.stdout)) throw new Error(`dcmdump failed (${r.code}): ${r.stderr}${r.stdout.split('\n').filter((l) => l.startsWith('E:')).join('\n')}`);
    const top = new Map<string, DumpLine>();
    for (const line of r.stdout.split('\n')) {
      const m = /^\(([0-9a-f]{4}),([0-9a-f]{4})\) (\S\S) (.*?)\s+#\s*(\d+|u\/l),/.exec(line);
      if (m) top.set(`${m[1]}${m[2]}`, { vr: m[3], value: m[4], length: m[5] === 'u/l' ? -1 : Number(m[5]) });
    }
    return { top, text: r.stdout };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `sha256sum` format (two spaces, binary names sorted), checkable with `sha256sum -c`. */
export function formatSha256Sums(files: Readonly<Record<string, Buffer>>): string {
  return Object.keys(files)
    .sort()
    .map((name) => `${sha256Hex(files[name]!)}  ${name}\n`)
    .join('');
}

export function parseSha256Sums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m) throw new Error(`bad SHA256SUMS line: ${line}`);
    sums.set(m[2]!, m[1]!);
  }
  return sums;
}

/** Files in `dir` whose content no longer matches SHA256SUMS (empty when all match). */
export function verifySha256Sums(dir: string): string[] {
  const sums = parseSha256Sums(readFileSync(join(dir, 'SHA256SUMS'), 'utf8'));
  const bad: string[] = [];
  for (const [name, expected] of sums) {
    let actual: string;
    try {
      actual = sha256Hex(readFileSync(join(dir, name)));
    } catch {
      bad.push(`${name}: missing`);
      continue;
    }
    if (actual !== expected) bad.push(`${name}: sha256 ${actual}, SHA256SUMS says ${expected}`);
  }
  return bad;
}

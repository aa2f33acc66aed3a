/**
 * `npm run deidentify -- <input file or folder> <output file or folder> [options]`:
 * de-identifies DICOM Part-10 files with the engine in lambda/deid (PS3.15
 * Basic Application Level Confidentiality Profile and options). See --help,
 * and docs/deidentification.md for what is and is not covered.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { DeidRefusedError, deidentifyStream, deriveKeys, localMac, type DateMode, type DeidOptions, type RetainOption, type SafePrivateTag } from '../../lambda/deid/index';

/** Exit codes (documented in --help, README and docs/deidentification.md). */
export const EXIT = { ok: 0, refused: 1, usage: 2, failed: 3 } as const;

const HELP = `Usage: npm run deidentify -- <input file or folder> <output file or folder> [options]

De-identifies DICOM files (PS3.15 Basic Application Level Confidentiality
Profile, edition 2024e). A folder is processed recursively; the output folder
mirrors its layout. Each output is written to a temporary file and renamed.

Options:
  --dates remove|shift|keep-year|keep   date handling (default remove)
  --max-shift-days N                    bound of the per-patient shift (default 365)
  --retain LIST                         comma-separated: patient-characteristics,
                                        device-identity,institution-identity,uids,safe-private
  --safe-private FILE                   JSON allow-list for safe-private:
                                        [{"group":"0019","creator":"GEMS_ACQU_01","element":"1B"}]
  --patient-id-prefix P                 prefix of the pseudonymous Patient ID (default ANON-)
  --allow-burned-in                     process instances likely to carry burned-in text
  --key-file FILE                       the key (64 hex characters); else DEID_KEY
  --json                                print the summary as JSON on stdout
  -h, --help                            this help

The key (32 bytes, 64 hex characters) comes from DEID_KEY or --key-file; there
is no default key. The same key gives the same pseudonyms on every run and
machine; keep it secret (it allows re-linking) and keep it safe (losing it
breaks linkage with earlier outputs).

Exit codes: 0 every input de-identified; 1 at least one input refused (the
others were written); 2 usage error (bad option, no key, missing input);
3 an unexpected failure (e.g. a read or write error).

Example:
  DEID_KEY=$(openssl rand -hex 32) npm run deidentify -- ./study ./study-deid --dates shift --retain patient-characteristics
`;

class UsageError extends Error {}

interface Summary {
  processed: number;
  refused: Record<string, number>;
  failed: number;
}

async function readKey(keyFile: string | undefined, env: string | undefined): Promise<Buffer> {
  const text = keyFile ? (await readFile(keyFile, 'utf8').catch(() => { throw new UsageError(`cannot read --key-file ${keyFile}`); })).trim() : env?.trim();
  if (!text) throw new UsageError('no key: set DEID_KEY (64 hex characters) or pass --key-file; there is no default key');
  if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new UsageError(`the key${keyFile ? ' in --key-file' : ' in DEID_KEY'} must be 64 hex characters (32 bytes)`);
  return Buffer.from(text, 'hex');
}

async function readSafePrivate(file: string): Promise<SafePrivateTag[]> {
  let rows: unknown;
  try {
    rows = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    throw new UsageError(`--safe-private ${file} is not a readable JSON file`);
  }
  if (!Array.isArray(rows)) throw new UsageError('--safe-private must hold a JSON array');
  return rows.map((r: { group?: string; creator?: string; element?: string }, i) => {
    const group = parseInt(String(r.group), 16);
    const element = parseInt(String(r.element), 16);
    if (!(group % 2 === 1 && group <= 0xffff) || typeof r.creator !== 'string' || !(element >= 0 && element <= 0xff)) {
      throw new UsageError(`--safe-private entry ${i}: needs an odd hex group, a creator and a hex element 00-FF`);
    }
    return { group, creator: r.creator, element };
  });
}

async function* walk(dir: string): AsyncGenerator<string> {
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile()) yield p;
  }
}

/** De-identifies one file into a temporary file beside the output, renamed on success, removed on failure. */
export async function deidentifyFile(input: string, output: string, options: DeidOptions): Promise<void> {
  await mkdir(path.dirname(output), { recursive: true });
  const tmp = path.join(path.dirname(output), `.${path.basename(output)}.${randomBytes(6).toString('hex')}.tmp`);
  // The file is created before the engine starts, so no late open can recreate it after the unlink below.
  const out = (await open(tmp, 'wx')).createWriteStream();
  try {
    await deidentifyStream(createReadStream(input), out, options);
    await rename(tmp, output);
  } catch (err) {
    if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

export async function main(argv: string[], env: NodeJS.ProcessEnv, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  try {
    const { values, positionals } = (() => {
      try {
        return parseArgs({
          args: argv,
          allowPositionals: true,
          options: {
            dates: { type: 'string' },
            'max-shift-days': { type: 'string' },
            retain: { type: 'string' },
            'safe-private': { type: 'string' },
            'patient-id-prefix': { type: 'string' },
            'allow-burned-in': { type: 'boolean' },
            'key-file': { type: 'string' },
            json: { type: 'boolean' },
            help: { type: 'boolean', short: 'h' },
          },
        });
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    })();
    if (values.help) {
      out(HELP);
      return EXIT.ok;
    }
    if (positionals.length !== 2) throw new UsageError('expected <input> and <output> (see --help)');
    const [input, output] = positionals.map((p) => path.resolve(p));
    const problems: string[] = [];
    const dates = (values.dates ?? 'remove') as DateMode;
    if (!['remove', 'shift', 'keep-year', 'keep'].includes(dates)) problems.push('--dates must be remove, shift, keep-year or keep');
    const maxShiftDays = values['max-shift-days'] === undefined ? undefined : Number(values['max-shift-days']);
    if (maxShiftDays !== undefined && !(Number.isInteger(maxShiftDays) && maxShiftDays >= 1 && maxShiftDays <= 36500)) problems.push('--max-shift-days must be an integer from 1 to 36500');
    const retain = (values.retain ?? '').split(',').filter(Boolean) as RetainOption[];
    for (const r of retain) if (!['patient-characteristics', 'device-identity', 'institution-identity', 'uids', 'safe-private'].includes(r)) problems.push(`--retain: unknown option ${r}`);
    const prefix = values['patient-id-prefix'];
    if (prefix !== undefined && !/^[A-Za-z0-9._-]{0,32}$/.test(prefix)) problems.push('--patient-id-prefix must be at most 32 letters, digits, dots, dashes or underscores');
    if (values['safe-private'] && !retain.includes('safe-private')) problems.push('--safe-private needs --retain safe-private');
    if (problems.length) throw new UsageError(problems.join('; '));
    const keys = await deriveKeys(localMac(await readKey(values['key-file'], env.DEID_KEY)));
    const options: DeidOptions = {
      keys,
      dates,
      maxShiftDays,
      retain,
      patientIdPrefix: prefix,
      allowBurnedIn: values['allow-burned-in'] ?? false,
      safePrivateTags: values['safe-private'] ? await readSafePrivate(values['safe-private']) : undefined,
    };
    const inStat = await stat(input).catch(() => undefined);
    if (!inStat) throw new UsageError(`input ${positionals[0]} does not exist`);
    const jobs: [string, string][] = [];
    if (inStat.isDirectory()) {
      if (output === input || output.startsWith(input + path.sep)) throw new UsageError('the output folder must not be inside the input folder');
      for await (const f of walk(input)) jobs.push([f, path.join(output, path.relative(input, f))]);
    } else {
      const outStat = await stat(output).catch(() => undefined);
      jobs.push([input, outStat?.isDirectory() ? path.join(output, path.basename(input)) : output]);
    }
    const summary: Summary = { processed: 0, refused: {}, failed: 0 };
    for (const [i, [from, to]] of jobs.entries()) {
      const rel = inStat.isDirectory() ? path.relative(input, from) : path.basename(from);
      try {
        await deidentifyFile(from, to, options);
        summary.processed++;
      } catch (e) {
        if (e instanceof DeidRefusedError) {
          summary.refused[e.code] = (summary.refused[e.code] ?? 0) + 1;
          err(`refused ${rel}: ${e.message}\n`);
        } else {
          summary.failed++;
          err(`failed ${rel}: ${(e as Error).message}\n`);
        }
      }
      if (jobs.length > 1 && ((i + 1) % 100 === 0 || i + 1 === jobs.length)) err(`[deidentify] ${i + 1}/${jobs.length} files\n`);
    }
    const refused = Object.values(summary.refused).reduce((a, b) => a + b, 0);
    err(`de-identified ${summary.processed}, refused ${refused}${refused ? ` (${Object.entries(summary.refused).map(([c, n]) => `${c} ${n}`).join(', ')})` : ''}, failed ${summary.failed}\n`);
    if (values.json) out(`${JSON.stringify(summary)}\n`);
    return summary.failed ? EXIT.failed : refused ? EXIT.refused : EXIT.ok;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`deidentify: ${e.message}\n`);
      return EXIT.usage;
    }
    err(`deidentify: ${(e as Error).message}\n`);
    return EXIT.failed;
  }
}

if (require.main === module) {
  main(process.argv.slice(2), process.env, (s) => process.stdout.write(s), (s) => process.stderr.write(s)).then((code) => {
    process.exitCode = code;
  });
}

import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const pexec = promisify(execFile);

/** Environment for every dcmtk tool: without TCP_NODELAY Debian's build waits ~40 ms per message. */
export const DCMTK_ENV = { ...process.env, TCP_NODELAY: '1' };

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a dcmtk tool and returns its exit code and output (never throws on a non-zero exit). */
export function runDcmtk(tool: string, args: readonly string[], timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { env: DCMTK_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${tool} could not run (is dcmtk installed?): ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Runs a dcmtk tool that must succeed. */
export async function dcmtk(tool: string, args: readonly string[]): Promise<string> {
  const { stdout, stderr } = await pexec(tool, args, { env: DCMTK_ENV, maxBuffer: 64 << 20 }).catch((err: Error & { stderr?: string }) => {
    throw new Error(`${tool} ${args.join(' ')} failed: ${err.message} ${err.stderr ?? ''}`);
  });
  return stdout + stderr;
}

/** Offset where a Part-10 file's dataset starts (after the File Meta group). */
export function datasetOffset(file: Buffer): number {
  if (file.toString('latin1', 128, 132) !== 'DICM') throw new Error('not a Part-10 file');
  if (file.readUInt16LE(132) !== 2 || file.readUInt16LE(134) !== 0) throw new Error('File Meta does not start with (0002,0000)');
  return 132 + 12 + file.readUInt32LE(140);
}

/** The dataset bytes of a Part-10 file. */
export function datasetBytes(path: string): Buffer {
  const file = readFileSync(path);
  return file.subarray(datasetOffset(file));
}

/** The transfer syntax in a Part-10 file's meta header, via dcmdump. */
export async function transferSyntaxOf(path: string): Promise<string> {
  const out = await dcmtk('dcmdump', ['-M', '+P', '0002,0010', '-Un', path]);
  const m = /\[([0-9.]+)\]/.exec(out);
  if (!m) throw new Error(`no transfer syntax in ${path}: ${out}`);
  return m[1];
}

/** The SOP Instance UID (0008,0018) of a DICOM file, via dcmdump (lossy coders may assign a new one). */
export async function sopInstanceUidOf(path: string): Promise<string> {
  const out = await dcmtk('dcmdump', ['+P', '0008,0018', '-Un', path]);
  const m = /\[([0-9.]+)\]/.exec(out);
  if (!m) throw new Error(`no SOP Instance UID in ${path}: ${out}`);
  return m[1];
}

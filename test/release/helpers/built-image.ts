import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildImage, type BuiltImage } from '../../../scripts/release/image-build';

export const REPO_ROOT = resolve(__dirname, '..', '..', '..');
export const CACHE_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'dicom-store-scp-release');
export const TEST_LABELS = Object.freeze({
  title: 'DICOM Store SCP for AWS HealthImaging',
  version: '9.8.7-test',
  revision: '0123456789abcdef0123456789abcdef01234567',
  source: 'https://example.com/dicom-store-scp',
  created: '2026-01-02T03:04:05Z',
});
export const TEST_EPOCH = 1767323045;
export const TEST_REF = 'localhost/dicom-store-scp-release-test:9.8.7-test';

export interface ImageFixture {
  readonly image: BuiltImage;
  /** Path of the written OCI archive. */
  readonly archive: string;
}

let pending: Promise<ImageFixture> | undefined;

/** Builds the real image (current container/src) once per test run and writes the archive to a temp dir. */
export function builtImage(): Promise<ImageFixture> {
  pending ??= (async () => {
    const image = await buildImage({ cwd: REPO_ROOT, cacheDir: CACHE_DIR, labels: TEST_LABELS, epoch: TEST_EPOCH, refName: TEST_REF });
    const dir = mkdtempSync(join(tmpdir(), 'release-image-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const archive = join(dir, 'image.oci.tar');
    writeFileSync(archive, image.archive);
    return { image, archive };
  })();
  return pending;
}

/** Runs a command that must exist; fails loudly (never skips) when it does not. */
export function run(cmd: string, args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input: options.input, env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') throw new Error(`${cmd} is not installed (apt-get install -y ${cmd === 'storescu' || cmd === 'echoscu' ? 'dcmtk' : cmd})`);
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/**
 * podman with its own throw-away storage (vfs driver, under a temp dir), so
 * tests neither need nor touch the host's container storage. Global flags are
 * the ones REFERENCE.md §5 found necessary on these machines.
 */
export class Podman {
  readonly dir = mkdtempSync(join(tmpdir(), 'release-podman-'));
  private readonly global = [
    '--root', join(this.dir, 'root'),
    '--runroot', join(this.dir, 'run'),
    '--storage-driver', 'vfs',
    '--cgroup-manager', 'cgroupfs',
    '--runtime', 'runc',
    '--events-backend', 'none',
  ];

  /** Flags every `podman run` here needs. */
  static readonly RUN_FLAGS = ['--network', 'host', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096', '--pull', 'never'];

  async exec(args: readonly string[], timeoutMs = 120_000): Promise<{ stdout: string; stderr: string }> {
    try {
      return await execFileP('podman', [...this.global, ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    } catch (err) {
      const e = err as { code?: string; stderr?: string; message: string };
      if (e.code === 'ENOENT') throw new Error('podman is not installed (apt-get install -y podman runc)');
      throw new Error(`podman ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
    }
  }

  /** Removes every container and the storage; safe to call twice. */
  async dispose(): Promise<void> {
    await this.exec(['rm', '--all', '--force']).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Writes the image's root filesystem to a directory, for container/Dockerfile:
 * its build stage runs `tsx scripts/release/stage-rootfs.ts /rootfs` and the
 * final `FROM scratch` stage copies /rootfs, so the Docker-built image holds
 * the same files as the daemonless one (only the Debian library versions of
 * the build stage may differ).
 */
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bundleNode } from './bundle';
import { ensureNodeRuntime } from './node-runtime';
import { assembleRootfs } from './rootfs';
import { sortEntries, type TarEntry } from './tar-writer';
import { SCP_ENTRY } from './image-build';

export function writeTree(root: string, entries: readonly TarEntry[]): void {
  mkdirSync(root, { recursive: true });
  for (const e of sortEntries(entries)) {
    const path = join(root, e.path);
    if (e.type === 'dir') {
      mkdirSync(path, { recursive: true });
      chmodSync(path, e.mode);
    } else if (e.type === 'file') {
      writeFileSync(path, e.data);
      chmodSync(path, e.mode);
    } else {
      symlinkSync(e.target, path);
    }
  }
}

async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) throw new Error('usage: tsx scripts/release/stage-rootfs.ts <output-dir>');
  const cwd = resolve(__dirname, '..', '..');
  const node = ensureNodeRuntime(join(cwd, 'node_modules', '.cache', 'dicom-store-scp-release'), (l) => process.stdout.write(`${l}\n`));
  const scp = await bundleNode({ cwd, entry: SCP_ENTRY });
  const rootfs = assembleRootfs({ node, scp: scp.code });
  writeTree(resolve(out), rootfs.layers.flatMap((l) => l.entries));
  process.stdout.write(`rootfs written to ${out}: ${rootfs.packages.map((p) => `${p.name} ${p.version}`).join(', ')}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`stage-rootfs failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}

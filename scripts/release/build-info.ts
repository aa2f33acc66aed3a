import { execFileSync } from 'node:child_process';

/** Facts about the source a build came from. */
export interface BuildInfo {
  /** Commit id, with `-dirty` when the work tree has uncommitted changes. */
  readonly revision: string;
  /** Seconds since the epoch: SOURCE_DATE_EPOCH, else the commit time, else 0. */
  readonly epoch: number;
}

function git(cwd: string, args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/**
 * Reads the revision and a reproducible timestamp. Two builds of the same
 * commit get the same epoch, so every timestamp inside the artifacts matches.
 */
export function readBuildInfo(cwd: string, env: NodeJS.ProcessEnv = process.env): BuildInfo {
  const head = git(cwd, ['rev-parse', 'HEAD']);
  const dirty = head !== undefined && (git(cwd, ['status', '--porcelain', '--untracked-files=no']) ?? '') !== '';
  const revision = head ? `${head}${dirty ? '-dirty' : ''}` : 'unknown';
  const fromEnv = env['SOURCE_DATE_EPOCH'];
  let epoch = 0;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!/^[0-9]+$/.test(fromEnv)) throw new Error(`SOURCE_DATE_EPOCH must be seconds since the epoch, got "${fromEnv}"`);
    epoch = Number(fromEnv);
  } else {
    const t = git(cwd, ['log', '-1', '--format=%ct']);
    if (t && /^[0-9]+$/.test(t)) epoch = Number(t);
  }
  return { revision, epoch };
}

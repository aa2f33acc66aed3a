import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import type { ScpConfig } from '../config';
import { createFileSink } from './file-sink';
import { createNullSink } from './null-sink';
import { createS3Sink } from './s3-sink';
import type { StorageSink } from './sink';

/** `file://./data` and `file://data` are relative to the working folder; `file:///abs` is absolute. */
export function fileUriToPath(uri: string): string {
  const rest = uri.slice('file://'.length);
  if (rest.startsWith('/')) return fileURLToPath(`file://${rest}`);
  return path.resolve(rest);
}

/**
 * Builds the sink STORAGE_URI names. `alone` tells the file sink whether at
 * most one association is open in this process (see the file sink's
 * ON_LOOP_BYTES); without it the sink judges by its own instances alone.
 */
export function createSink(config: ScpConfig, hooks: { alone?: () => boolean } = {}): StorageSink {
  const uri = config.storageUri;
  if (uri === 'null:') return createNullSink();
  if (uri.startsWith('file://')) return createFileSink(fileUriToPath(uri), { alone: hooks.alone });
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new Error(`unsupported STORAGE_URI ${uri}`);
  return createS3Sink({ bucket: m[1], prefix: m[2].replace(/\/+$/, ''), endpoint: config.s3Endpoint, deadlineMs: config.dimseTimeoutMs });
}

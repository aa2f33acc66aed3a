/** `batchId` shape of docs/data-contracts.md: sealing time, process id, sequence. */
export const BATCH_ID_PATTERN = /^[0-9]{8}T[0-9]{6}Z-[a-z0-9]{8}-[0-9]{6}$/;

const MANIFEST_KEY = /^batches\/([^/]+)\.json$/;

/** The batch id of a `batches/<batchId>.json` key, or undefined when the key is not a manifest. */
export function batchIdFromManifestKey(key: string): string | undefined {
  const m = MANIFEST_KEY.exec(key);
  return m && BATCH_ID_PATTERN.test(m[1]!) ? m[1] : undefined;
}

export const manifestKeyOf = (batchId: string): string => `batches/${batchId}.json`;
export const incomingPrefixOf = (batchId: string): string => `incoming/${batchId}/`;
export const failedPrefixOf = (batchId: string): string => `failed/${batchId}/`;
export const conflictsPrefixOf = (batchId: string): string => `conflicts/${batchId}/`;

/**
 * The StartDICOMImportJob clientToken of a batch: the batch id itself (a
 * redelivered seal event reuses it, so HealthImaging starts no second job);
 * an operator redrive gets a new token `<batchId>.r<n>` so a new job starts,
 * and the automatic re-import of server-error files `<token>.a<n>`.
 */
export function clientTokenOf(batchId: string, redrive = 0, attempt = 0): string {
  const base = redrive > 0 ? `${batchId}.r${redrive}` : batchId;
  return attempt > 0 ? `${base}.a${attempt}` : base;
}

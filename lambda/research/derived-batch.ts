import { createHash } from 'node:crypto';
import { BATCH_ID_PATTERN } from '../batch-id';

/**
 * DeidentifiedOnly: the id of the batch the research workflow seals from the
 * de-identified copies of `original`. Same sealing time and sequence, middle
 * part "di" + 6 hex digits of SHA-256(original id): deterministic (a retried
 * summary writes the same batch), valid for BATCH_ID_PATTERN, and never an
 * SCP batch (whose middle part is 8 hex digits, so has no "i").
 */
export function derivedBatchId(original: string): string {
  const m = /^([0-9]{8}T[0-9]{6}Z)-[a-z0-9]{8}-([0-9]{6})$/.exec(original);
  if (!m) throw new Error('not a batch id');
  const id = `${m[1]}-di${createHash('sha256').update(original).digest('hex').slice(0, 6)}-${m[2]}`;
  if (!BATCH_ID_PATTERN.test(id)) throw new Error('derived batch id breaks the contract');
  return id;
}

/** True for batches sealed by derivedBatchId (matches the clinical workflow's '*Z-di*' Choice). */
export const isDerivedBatch = (batchId: string): boolean => /Z-di[0-9a-f]{6}-/.test(batchId);

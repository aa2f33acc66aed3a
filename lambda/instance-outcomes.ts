import type { ManifestObject } from './batch-manifest';
import type { ImportWarning, ReconciledOutput } from './import-output';

/**
 * Per-instance statuses (docs/data-contracts.md). STAGED and BATCH_FAILED are
 * written before / instead of a job result; the others come from the job output.
 */
export type InstanceStatus = 'STAGED' | 'BATCH_FAILED' | 'RETRYING' | 'IMPORTED' | 'IMPORTED_WITH_WARNINGS' | 'IMPORTED_NON_PRIMARY' | 'FAILED' | 'ARCHIVED_ORIGINAL';

/**
 * Order of a row within one arrival of an instance: a write with a lower rank
 * never replaces a higher one (conditional put), so a late or repeated
 * recording never moves a row backwards. RETRYING ranks by attempt; a batch
 * failure overrides STAGED / RETRYING but never a result a job recorded.
 */
export function statusRank(status: InstanceStatus, attempt = 0): number {
  switch (status) {
    case 'STAGED': return 0;
    case 'RETRYING': return 10 + attempt;
    case 'BATCH_FAILED': return 50;
    default: return 100;
  }
}

/** What happened to one staged instance, as recorded in DynamoDB. */
export interface InstanceOutcome {
  readonly key: string;
  readonly object: ManifestObject;
  readonly status: Exclude<InstanceStatus, 'STAGED' | 'BATCH_FAILED' | 'ARCHIVED_ORIGINAL'>;
  readonly imageSetId?: string;
  readonly isPrimary?: boolean;
  readonly warnings?: readonly ImportWarning[];
  readonly failure?: { readonly exceptionType: string; readonly message: string; readonly server?: boolean };
}

/**
 * Joins the expected manifest objects with a reconciled job output (which
 * already guarantees every object is reported exactly once). A success line
 * is never replaced by a warning line: the warning adds its codes only. A
 * server-side failure is RETRYING while attempts remain, else FAILED.
 */
export function instanceOutcomes(objects: readonly ManifestObject[], output: ReconciledOutput, retriesLeft: boolean): InstanceOutcome[] {
  const success = new Map(output.succeeded.map((s) => [s.key, s]));
  const failure = new Map(output.failed.map((f) => [f.key, f]));
  const warnings = new Map<string, { imageSetId?: string; isPrimary?: boolean; warnings: ImportWarning[] }>();
  for (const w of output.warned) {
    const prev = warnings.get(w.key);
    warnings.set(w.key, { imageSetId: prev?.imageSetId ?? w.imageSetId, isPrimary: prev?.isPrimary ?? w.isPrimary, warnings: [...(prev?.warnings ?? []), ...w.warnings] });
  }
  return objects.map((object): InstanceOutcome => {
    const key = object.key;
    const f = failure.get(key);
    if (f) {
      const retry = f.server && retriesLeft;
      return { key, object, status: retry ? 'RETRYING' : 'FAILED', failure: { exceptionType: f.exceptionType, message: f.message, server: f.server } };
    }
    const s = success.get(key);
    const w = warnings.get(key);
    const imageSetId = s?.imageSetId ?? w?.imageSetId;
    const isPrimary = s ? s.isPrimary : w?.isPrimary !== false;
    if (imageSetId === undefined) throw new Error(`instanceOutcomes: ${key} is not in the reconciled output`);
    const status = !isPrimary ? 'IMPORTED_NON_PRIMARY' : w ? 'IMPORTED_WITH_WARNINGS' : 'IMPORTED';
    return { key, object, status, imageSetId, isPrimary, ...(w ? { warnings: w.warnings } : {}) };
  });
}

import type { ManifestObject } from './batch-manifest';
import { stagingKeyOf, type ImportOutput } from './import-output';

/** What happened to one staged instance, as recorded in DynamoDB. */
export interface InstanceOutcome {
  readonly key: string;
  readonly sopInstanceUid: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly sopClassUid: string;
  readonly transferSyntaxUid: string;
  readonly callingAeTitle: string;
  readonly bytes: number;
  readonly status: 'IMPORTED' | 'FAILED';
  readonly imageSetId?: string;
  readonly isPrimary?: boolean;
  readonly warnings?: unknown[];
  readonly failure?: { readonly exceptionType: string; readonly message: string };
}

/**
 * Joins the manifest with the job output. An instance the output does not
 * mention is FAILED (NotReportedByImport) so nothing is dropped silently; a
 * file the output reports that the manifest lacks is recorded from its key.
 */
export function instanceOutcomes(objects: readonly ManifestObject[], output: ImportOutput, prefix: string): InstanceOutcome[] {
  const byKey = new Map<string, InstanceOutcome>();
  const base = (key: string): Omit<InstanceOutcome, 'status'> => {
    const o = objects.find((x) => x.key === key);
    const sop = o?.sopInstanceUid ?? key.slice(prefix.length).replace(/\.dcm$/, '');
    return {
      key, sopInstanceUid: sop, studyInstanceUid: o?.studyInstanceUid ?? '', seriesInstanceUid: o?.seriesInstanceUid ?? '',
      sopClassUid: o?.sopClassUid ?? '', transferSyntaxUid: o?.transferSyntaxUid ?? '', callingAeTitle: o?.callingAeTitle ?? '', bytes: o?.bytes ?? 0,
    };
  };
  for (const f of [...output.imported, ...output.warned]) {
    const key = stagingKeyOf(f.inputFile, prefix);
    byKey.set(key, { ...base(key), status: 'IMPORTED', imageSetId: f.imageSetId, ...(f.isPrimary !== undefined ? { isPrimary: f.isPrimary } : {}), ...(f.warnings ? { warnings: f.warnings } : {}) });
  }
  for (const f of output.failed) {
    const key = stagingKeyOf(f.inputFile, prefix);
    byKey.set(key, { ...base(key), status: 'FAILED', failure: { exceptionType: f.exceptionType, message: f.message } });
  }
  for (const o of objects) {
    if (!byKey.has(o.key)) byKey.set(o.key, { ...base(o.key), status: 'FAILED', failure: { exceptionType: 'NotReportedByImport', message: 'the import job output does not mention this file' } });
  }
  return [...byKey.values()];
}

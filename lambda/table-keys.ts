/**
 * Key schema of the one workflow table (docs/data-contracts.md). Every read
 * the operators need is a GetItem or a Query on the table, gsi1 or gsi2.
 */
export const jobKey = (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'JOB' });
export const batchKey = (batchId: string) => ({ pk: `BATCH#${batchId}`, sk: 'BATCH' });

/** Study used when the SCP could not read (0020,000D), e.g. for a corrupt file. */
export const UNKNOWN_STUDY = 'UNKNOWN';

export function instanceKeys(studyInstanceUid: string, sopInstanceUid: string) {
  const study = studyInstanceUid || UNKNOWN_STUDY;
  return {
    pk: `STUDY#${study}`, sk: `INSTANCE#${sopInstanceUid}`,
    gsi1pk: `SOP#${sopInstanceUid}`, gsi1sk: `STUDY#${study}`,
  };
}

/** gsi2 keys that put an item on the recent-failures list of its day (newest first by gsi2sk). */
export function failureIndexKeys(at: Date, kind: 'BATCH' | 'SOP', id: string) {
  const iso = at.toISOString();
  return { gsi2pk: `FAILURE#${iso.slice(0, 10)}`, gsi2sk: `${iso}#${kind}#${id}` };
}

/** Items of the import limiter (concurrency semaphore and start-rate gate). */
export const slotsKey = { pk: 'LIMIT#import-job-slots', sk: 'LIMIT' };
/**
 * Slot item of a data store: the concurrent-import-job quota is per data store
 * (REFERENCE.md), so the research data store (ResearchImport) has its own
 * semaphore; the clinical one keeps the original item.
 */
export const slotsKeyOf = (datastoreId: string | undefined, clinicalDatastoreId: string) =>
  !datastoreId || datastoreId === clinicalDatastoreId ? slotsKey : { pk: `LIMIT#import-job-slots#${datastoreId}`, sk: 'LIMIT' };
export const startRateKey = { pk: 'LIMIT#start-rate', sk: 'LIMIT' };

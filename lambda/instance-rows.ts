import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ManifestObject } from './batch-manifest';
import type { WorkflowDeps } from './deps';
import { isAwsError } from './errors';
import { statusRank, type InstanceStatus } from './instance-outcomes';
import { mapLimit } from './map-limit';
import { failureIndexKeys, instanceKeys } from './table-keys';

/** What a row says beyond the manifest object (docs/data-contracts.md, "Instance item"). */
export interface InstanceRowFields {
  readonly status: InstanceStatus;
  readonly batchId: string;
  /** Data store the instance is (to be) imported into: the clinical one, or the research one for a derived batch with ResearchImport. */
  readonly datastoreId?: string;
  readonly sealedAt?: string;
  readonly jobId?: string;
  readonly attempt?: number;
  readonly imageSetId?: string;
  readonly isPrimary?: boolean;
  readonly warnings?: readonly unknown[];
  readonly failure?: object;
  /** Where the staged copy is now when it left incoming/ (failed/, conflicts/, or the raw bucket for an archived original). */
  readonly movedTo?: string;
  /** Puts the row on the day's failures index (gsi2). */
  readonly listAsFailure?: boolean;
}

/**
 * One row per SOP Instance UID arrival, written from validation on
 * (STAGED) and upgraded by each later step. The conditional put orders
 * writes by (storedAt, rank): an older arrival never overwrites a newer one
 * (a resend recorded late), and within one arrival a status never goes
 * backwards (a repeated or late recording of the same batch changes nothing).
 * Returns false when the row already said as much or more.
 */
/** What writing a row needs: the table, a client and a clock (the workflow's and the research Lambdas' deps both have them). */
export type RowWriterDeps = Pick<WorkflowDeps, 'ddb' | 'now'> & { readonly config: { readonly tableName: string } };

export async function putInstanceRow(deps: RowWriterDeps, o: ManifestObject, f: InstanceRowFields): Promise<boolean> {
  const at = deps.now();
  const storedAt = o.storedAt || f.sealedAt || at.toISOString();
  const rank = statusRank(f.status, f.attempt);
  const listed = f.listAsFailure ? failureIndexKeys(at, 'SOP', o.sopInstanceUid) : {};
  const optional = Object.fromEntries(Object.entries({
    datastoreId: f.datastoreId, jobId: f.jobId, attempt: f.attempt, imageSetId: f.imageSetId, isPrimary: f.isPrimary, warnings: f.warnings, failure: f.failure, movedTo: f.movedTo,
  }).filter(([, v]) => v !== undefined));
  try {
    await deps.ddb.send(new PutCommand({
      TableName: deps.config.tableName,
      Item: {
        ...instanceKeys(o.studyInstanceUid, o.sopInstanceUid), ...listed, type: 'INSTANCE',
        studyInstanceUid: o.studyInstanceUid, seriesInstanceUid: o.seriesInstanceUid, sopInstanceUid: o.sopInstanceUid,
        sopClassUid: o.sopClassUid, transferSyntaxUid: o.transferSyntaxUid, callingAeTitle: o.callingAeTitle, bytes: o.bytes,
        storedAt, status: f.status, statusRank: rank, batchId: f.batchId, stagingKey: o.key, ...optional, recordedAt: at.toISOString(),
      },
      ConditionExpression: 'attribute_not_exists(pk) OR attribute_not_exists(storedAt) OR storedAt < :st OR (storedAt = :st AND (attribute_not_exists(statusRank) OR statusRank < :r))',
      ExpressionAttributeValues: { ':st': storedAt, ':r': rank },
    }));
    return true;
  } catch (err) {
    if (isAwsError(err, 'ConditionalCheckFailedException')) return false;
    throw err;
  }
}

/** The same fields for many objects, 16 writes at a time. */
export async function putInstanceRows(deps: RowWriterDeps, objects: readonly ManifestObject[], fields: (o: ManifestObject) => InstanceRowFields): Promise<void> {
  await mapLimit(objects, 16, (o) => putInstanceRow(deps, o, fields(o)));
}

import { batchIdFromManifestKey } from './batch-id';
import type { Logger } from './logger';
import type { ImportRequest } from './workflow-types';

/** The minimal SQS event shape the trigger consumes (no @types/aws-lambda dependency). */
export interface SqsEvent { readonly Records: readonly { readonly messageId: string; readonly body: string }[] }
export interface SqsBatchResponse { batchItemFailures: { itemIdentifier: string }[] }

/** Starts an execution named `name`; 'duplicate' when one with that name exists (ExecutionAlreadyExists). */
export type StartExecution = (name: string, input: ImportRequest) => Promise<'started' | 'duplicate'>;

export interface TriggerDeps {
  readonly stagingBucket: string;
  readonly startExecution: StartExecution;
  readonly log: Logger;
}

/**
 * SQS batch of EventBridge "Object Created" events → one execution per sealed
 * batch, named by its batchId: a redelivered seal event finds the name taken
 * and starts nothing. Messages that are not seal events are dropped with a
 * log line; failures are returned for SQS retry (then the DLQ).
 */
export async function triggerStateMachine(deps: TriggerDeps, event: SqsEvent): Promise<SqsBatchResponse> {
  const batchItemFailures: { itemIdentifier: string }[] = [];
  for (const record of event.Records) {
    try {
      const request = sealEventToRequest(record.body, deps.stagingBucket);
      if (!request) {
        deps.log.warn('trigger-ignored', { messageId: record.messageId });
        continue;
      }
      const outcome = await deps.startExecution(request.batchId, request);
      deps.log.info(outcome === 'started' ? 'execution-started' : 'execution-duplicate', { batchId: request.batchId, messageId: record.messageId });
    } catch (err) {
      deps.log.error('trigger-failed', { messageId: record.messageId, err });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
}

/** The import request of an EventBridge S3 Object Created event for `batches/<batchId>.json`, else undefined. */
export function sealEventToRequest(body: string, stagingBucket: string): ImportRequest | undefined {
  let ev: { source?: string; 'detail-type'?: string; detail?: { bucket?: { name?: string }; object?: { key?: string } } };
  try {
    ev = JSON.parse(body) as typeof ev;
  } catch {
    return undefined;
  }
  if (ev.source !== 'aws.s3' || ev['detail-type'] !== 'Object Created') return undefined;
  const bucket = ev.detail?.bucket?.name;
  const key = decodeURIComponent((ev.detail?.object?.key ?? '').replace(/\+/g, ' '));
  const batchId = batchIdFromManifestKey(key);
  if (bucket !== stagingBucket || !batchId) return undefined;
  return { bucket, manifestKey: key, batchId };
}

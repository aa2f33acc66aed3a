import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { WorkflowDeps } from './deps';
import { ImportSlotUnavailableError, StartRateLimitedError, isAwsError } from './errors';
import { ConfigError } from './errors';
import { slotsKeyOf, startRateKey } from './table-keys';
import type { WorkflowConfig } from './config';

/**
 * The data store a batch is imported into: the batch reference's (ResearchImport
 * sets the research data store on derived batches in validate-batch), else the
 * clinical one. Only the two configured data stores are accepted.
 */
export function datastoreOf(config: WorkflowConfig, batch?: { datastoreId?: string }): string {
  const id = batch?.datastoreId;
  if (!id || id === config.datastoreId) return config.datastoreId;
  if (id === config.researchDatastoreId) return id;
  throw new ConfigError(`batch names data store ${id}, which is neither the clinical nor the research data store of this stack`);
}

/**
 * Import slots: a map batchId → acquiredAt on one item. Acquire succeeds when
 * the batch already holds a slot or fewer than maxConcurrentJobs are held;
 * both operations are idempotent, so retries and redeliveries are safe.
 */
export async function acquireImportSlot(deps: WorkflowDeps, batchId: string, datastoreId?: string): Promise<void> {
  const { ddb, config } = deps;
  const slotsKey = slotsKeyOf(datastoreId, config.datastoreId);
  await ddb.send(new UpdateCommand({
    TableName: config.tableName, Key: slotsKey,
    UpdateExpression: 'SET holders = if_not_exists(holders, :empty)',
    ExpressionAttributeValues: { ':empty': {} },
  }));
  try {
    await ddb.send(new UpdateCommand({
      TableName: config.tableName, Key: slotsKey,
      UpdateExpression: 'SET holders.#b = if_not_exists(holders.#b, :at)',
      ConditionExpression: 'attribute_exists(holders.#b) OR size(holders) < :max',
      ExpressionAttributeNames: { '#b': batchId },
      ExpressionAttributeValues: { ':at': deps.now().toISOString(), ':max': config.maxConcurrentJobs },
    }));
  } catch (err) {
    if (isAwsError(err, 'ConditionalCheckFailedException')) {
      throw new ImportSlotUnavailableError(`all ${config.maxConcurrentJobs} import slots are in use`, { cause: err });
    }
    throw err;
  }
}

/** Frees the batch's slot; a no-op when it holds none. */
export async function releaseImportSlot(deps: WorkflowDeps, batchId: string, datastoreId?: string): Promise<void> {
  await deps.ddb.send(new UpdateCommand({
    TableName: deps.config.tableName, Key: slotsKeyOf(datastoreId, deps.config.datastoreId),
    UpdateExpression: 'REMOVE holders.#b',
    ConditionExpression: 'attribute_exists(holders)',
    ExpressionAttributeNames: { '#b': batchId },
  })).catch((err: unknown) => {
    if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
  });
}

/** Attempts at the start token inside one invocation before StartRateLimitedError goes to the state machine. */
export const START_TOKEN_ATTEMPTS = 3;

/**
 * Start-rate gate: at most one StartDICOMImportJob per startIntervalMs for the
 * whole stack, whatever the number of executions (conditional write on one
 * item). A refused token is retried in-process after a jittered interval, so
 * ordinary contention does not surface as a Lambda error (the Errors alarm).
 */
export async function takeStartToken(deps: WorkflowDeps, batchId: string): Promise<void> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    const now = deps.now().getTime();
    try {
      await deps.ddb.send(new UpdateCommand({
        TableName: deps.config.tableName, Key: startRateKey,
        UpdateExpression: 'SET nextStartAt = :next, lastBatchId = :b',
        ConditionExpression: 'attribute_not_exists(nextStartAt) OR nextStartAt <= :now',
        ExpressionAttributeValues: { ':next': now + deps.config.startIntervalMs, ':now': now, ':b': batchId },
      }));
      return;
    } catch (err) {
      if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
      if (attempt >= START_TOKEN_ATTEMPTS) {
        throw new StartRateLimitedError(`another import job started less than ${deps.config.startIntervalMs} ms ago (${attempt} attempts)`, { cause: err });
      }
      await sleep(Math.round(deps.config.startIntervalMs * (0.5 + Math.random())));
    }
  }
}

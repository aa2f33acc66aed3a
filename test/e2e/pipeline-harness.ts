import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { StateMachine } from 'aws-local-stepfunctions';
import * as handlers from '../../lambda/index';
import { resetHandlerRuntime } from '../../lambda/handlers';
import { createLogger } from '../../lambda/logger';
import { triggerStateMachine } from '../../lambda/trigger-state-machine';
import type { ImportRequest } from '../../lambda/workflow-types';
import { MOTO_ENV, startMotoServer, type MotoServer } from '../helpers/moto-server';
import { startHealthImagingStandIn, type HealthImagingStandIn, type StandInOptions } from '../stand-in/healthimaging-stand-in';
import { loadWorkflowDefinition, taskHandlers, type LoadedDefinition } from './workflow-definition';

export const DATASTORE_ID = '0123456789abcdef0123456789abcdef';

export interface ExecutionRecord {
  readonly name: string;
  readonly input: ImportRequest;
  readonly states: string[];
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  error?: string;
  cause?: string;
  output?: unknown;
  readonly done: Promise<void>;
}

export interface Pipeline {
  readonly moto: MotoServer;
  readonly standIn: HealthImagingStandIn;
  readonly s3: S3Client;
  readonly ddb: DynamoDBDocumentClient;
  readonly stagingBucket: string;
  readonly resultsBucket: string;
  readonly tableName: string;
  readonly loaded: LoadedDefinition;
  readonly executions: Map<string, ExecutionRecord>;
  /** Lines the handlers wrote (JSON logs + EMF metrics). */
  readonly output: Record<string, any>[];
  /** Delivers the EventBridge "Object Created" event of a manifest to the real trigger, as SQS would. */
  deliverSealEvent(manifestKey: string, messageId?: string): Promise<void>;
  /** Runs one execution of the definition directly (bypasses the trigger's name de-duplication). */
  runExecution(name: string, input: ImportRequest): ExecutionRecord;
  /** Seal events for every manifest in batches/ not delivered yet. */
  deliverNewSeals(): Promise<string[]>;
  settle(): Promise<void>;
  listKeys(bucket: string, prefix: string): Promise<string[]>;
  getJson(bucket: string, key: string): Promise<any>;
  batch(batchId: string): Promise<Record<string, any> | undefined>;
  job(jobId: string): Promise<Record<string, any> | undefined>;
  study(studyUid: string): Promise<Record<string, any>[]>;
  bySop(sopUid: string): Promise<Record<string, any>[]>;
  failuresOn(day: string): Promise<Record<string, any>[]>;
  metricSum(name: string): number;
  stop(): Promise<void>;
}

/**
 * The whole import side on this machine: moto (S3 + DynamoDB), the
 * HealthImaging stand-in, the state machine from the template run by
 * aws-local-stepfunctions with its Tasks bound to the real handlers.
 */
export async function startPipeline(opts: {
  standIn?: Partial<StandInOptions>;
  env?: Record<string, string>;
  /** Changes the loaded definition (e.g. fills DefinitionSubstitutions) before it runs. */
  definition?: (d: LoadedDefinition['definition']) => LoadedDefinition['definition'];
  /** Local handlers of non-Lambda Task states, by state name. */
  taskHandlers?: Record<string, (input: any) => Promise<any>>;
} = {}): Promise<Pipeline> {
  const moto = await startMotoServer();
  const clientCfg = { endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  const s3 = new S3Client({ ...clientCfg, forcePathStyle: true });
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient(clientCfg));
  const stagingBucket = 'staging';
  const resultsBucket = 'results';
  const tableName = 'workflow';
  await s3.send(new CreateBucketCommand({ Bucket: stagingBucket }));
  await s3.send(new CreateBucketCommand({ Bucket: resultsBucket }));
  const S = 'S' as const;
  await ddb.send(new CreateTableCommand({
    TableName: tableName, BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk'].map((AttributeName) => ({ AttributeName, AttributeType: S })),
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    GlobalSecondaryIndexes: ['gsi1', 'gsi2'].map((IndexName) => ({
      IndexName, Projection: { ProjectionType: 'ALL' },
      KeySchema: [{ AttributeName: `${IndexName}pk`, KeyType: 'HASH' }, { AttributeName: `${IndexName}sk`, KeyType: 'RANGE' }],
    })),
  }));
  const standIn = await startHealthImagingStandIn({ s3, datastoreId: DATASTORE_ID, ...opts.standIn });
  Object.assign(process.env, MOTO_ENV, {
    TABLE_NAME: tableName, STAGING_BUCKET: stagingBucket, RESULTS_BUCKET: resultsBucket, RESULTS_PREFIX: 'import-results/',
    DATASTORE_ID: DATASTORE_ID, DATA_ACCESS_ROLE_ARN: 'arn:aws:iam::123456789012:role/ahi-data-access',
    MAX_CONCURRENT_JOBS: '20', START_INTERVAL_MS: '100', JOB_WAIT_TIMEOUT_SECONDS: '120', ORPHAN_AGE_SECONDS: '1',
    METRICS_NAMESPACE: 'DICOMStoreSCP', STACK_NAME: 'e2e',
    S3_ENDPOINT: moto.endpoint, DYNAMODB_ENDPOINT: moto.endpoint, MEDICAL_IMAGING_ENDPOINT: standIn.endpoint,
    ...opts.env,
  });
  resetHandlerRuntime();

  const output: Record<string, any>[] = [];
  // Powertools writes INFO and EMF lines to stdout, WARN and ERROR to stderr (Lambda sends both to the log group).
  const realWrite = process.stdout.write.bind(process.stdout);
  const realErrWrite = process.stderr.write.bind(process.stderr);
  const capture = (real: typeof realWrite) => ((chunk: unknown, ...rest: unknown[]) => {
    const text = String(chunk);
    if (text.startsWith('{')) {
      for (const line of text.split('\n').filter(Boolean)) {
        try { output.push(JSON.parse(line) as Record<string, any>); } catch { /* not ours */ }
      }
      return true;
    }
    return (real as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  process.stdout.write = capture(realWrite);
  process.stderr.write = capture(realErrWrite);

  const raw = loadWorkflowDefinition();
  const loaded: LoadedDefinition = opts.definition ? { ...raw, definition: opts.definition(raw.definition) } : raw;
  const machine = new StateMachine(loaded.definition as never, { validationOptions: { checkArn: true, checkPaths: true } });
  const byState = taskHandlers(loaded.definition);
  const local: Record<string, (input: any) => Promise<any>> = {};
  for (const [state, fn] of Object.entries(byState)) {
    const h = (handlers as Record<string, (e: any) => Promise<any>>)[fn];
    if (!h) throw new Error(`state ${state} invokes ${fn}, which lambda/index.ts does not export`);
    local[state] = (input) => { if (process.env.E2E_DEBUG) process.stderr.write(`${state} <- ${JSON.stringify(input)}\n`); return h(input).catch((err: Error) => { if (process.env.E2E_DEBUG) process.stderr.write(`${state} !! ${err.name}: ${err.message}\n`); throw err; }); };
  }
  Object.assign(local, opts.taskHandlers);
  const fastRetry = Object.fromEntries(Object.keys(byState).map((s) => [s, 20]));
  const executions = new Map<string, ExecutionRecord>();

  const runExecution = (name: string, input: ImportRequest): ExecutionRecord => {
    const states: string[] = [];
    const exec = machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: local, waitTimeOverrides: { WaitForImportJob: 100 }, retryIntervalOverrides: fastRetry },
      context: { Execution: { Id: `arn:aws:states:us-east-1:123456789012:execution:import:${name}`, Name: name, Input: input, StartTime: new Date().toISOString() } } as never,
    });
    const partial: Omit<ExecutionRecord, 'done'> & { done?: Promise<void> } = { name, input, states, status: 'RUNNING' };
    partial.done = (async () => {
      const logs = (async () => { for await (const ev of exec.eventLogs) if (ev.type === 'StateEntered') states.push((ev as any).state.name); })();
      try {
        partial.output = await exec.result;
        partial.status = 'SUCCEEDED';
      } catch (err) {
        partial.status = 'FAILED';
        partial.error = ((err as Error).cause as Error | undefined)?.name ?? (err as Error).name;
        partial.cause = (err as Error).message;
      }
      await logs.catch(() => undefined);
    })();
    const record = partial as ExecutionRecord;
    executions.set(`${name}#${executions.size}`, record);
    return record;
  };
  const startedNames = new Set<string>();
  const delivered = new Set<string>();
  const deliverSealEvent = async (manifestKey: string, messageId = `m-${Math.random().toString(36).slice(2)}`) => {
    delivered.add(manifestKey);
    const body = JSON.stringify({ version: '0', source: 'aws.s3', 'detail-type': 'Object Created', detail: { bucket: { name: stagingBucket }, object: { key: manifestKey }, reason: 'PutObject' } });
    const res = await triggerStateMachine({
      stagingBucket, log: createLogger('trigger-state-machine'),
      // Step Functions execution names are unique per state machine: a second start with the same name is refused.
      startExecution: async (name, input) => {
        if (startedNames.has(name)) return 'duplicate';
        startedNames.add(name);
        runExecution(name, input);
        return 'started';
      },
    }, { Records: [{ messageId, body }] });
    if (res.batchItemFailures.length) throw new Error(`trigger failed for ${manifestKey}`);
  };
  const listKeys = async (bucket: string, prefix: string) => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  };
  const query = async (IndexName: string | undefined, key: string, value: string) =>
    ((await ddb.send(new QueryCommand({ TableName: tableName, IndexName, KeyConditionExpression: '#k = :v', ExpressionAttributeNames: { '#k': key }, ExpressionAttributeValues: { ':v': value }, ScanIndexForward: false }))).Items ?? []) as Record<string, any>[];
  return {
    moto, standIn, s3, ddb, stagingBucket, resultsBucket, tableName, loaded, executions, output,
    deliverSealEvent, runExecution,
    async deliverNewSeals() {
      const keys = (await listKeys(stagingBucket, 'batches/')).filter((k) => !delivered.has(k));
      for (const k of keys) await deliverSealEvent(k);
      return keys;
    },
    async settle() {
      for (;;) {
        const pending = [...executions.values()].filter((e) => e.status === 'RUNNING');
        if (!pending.length) return;
        await Promise.all(pending.map((e) => e.done));
      }
    },
    listKeys,
    async getJson(bucket, key) { return JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString()); },
    async batch(id) { return (await ddb.send(new GetCommand({ TableName: tableName, Key: { pk: `BATCH#${id}`, sk: 'BATCH' } }))).Item as Record<string, any> | undefined; },
    async job(id) { return (await ddb.send(new GetCommand({ TableName: tableName, Key: { pk: `JOB#${id}`, sk: 'JOB' } }))).Item as Record<string, any> | undefined; },
    study: (uid) => query(undefined, 'pk', `STUDY#${uid}`),
    bySop: (uid) => query('gsi1', 'gsi1pk', `SOP#${uid}`),
    failuresOn: (day) => query('gsi2', 'gsi2pk', `FAILURE#${day}`),
    metricSum: (name) => output.filter((l) => l._aws && typeof l[name] === 'number').reduce((s, l) => s + (l[name] as number), 0),
    async stop() {
      process.stdout.write = realWrite;
      process.stderr.write = realErrWrite;
      await standIn.stop();
      await moto.stop();
      resetHandlerRuntime();
    },
  };
}

/** Writes an `incoming/` object + S3 metadata exactly as the SCP does (docs/data-contracts.md). */
export async function stageObject(p: Pipeline, batchId: string, o: { sopInstanceUid: string; studyInstanceUid: string; seriesInstanceUid: string; body: Uint8Array; sopClassUid?: string; callingAeTitle?: string }) {
  const key = `incoming/${batchId}/${o.sopInstanceUid}.dcm`;
  await p.s3.send(new PutObjectCommand({
    Bucket: p.stagingBucket, Key: key, Body: o.body, ChecksumAlgorithm: 'CRC32',
    Metadata: {
      'study-instance-uid': o.studyInstanceUid, 'series-instance-uid': o.seriesInstanceUid, 'sop-instance-uid': o.sopInstanceUid,
      'sop-class-uid': o.sopClassUid ?? '1.2.840.10008.5.1.4.1.1.2', 'transfer-syntax-uid': '1.2.840.10008.1.2.1',
      'calling-ae-title': o.callingAeTitle ?? 'E2E', 'batch-id': batchId,
    },
  }));
  return {
    key, sopInstanceUid: o.sopInstanceUid, sopClassUid: o.sopClassUid ?? '1.2.840.10008.5.1.4.1.1.2', studyInstanceUid: o.studyInstanceUid,
    seriesInstanceUid: o.seriesInstanceUid, transferSyntaxUid: '1.2.840.10008.1.2.1', callingAeTitle: o.callingAeTitle ?? 'E2E',
    bytes: o.body.length, storedAt: new Date().toISOString(),
  };
}

/** Seals a batch the way the SCP does: writes `batches/<batchId>.json` after its objects. */
export async function sealBatch(p: Pipeline, batchId: string, objects: Awaited<ReturnType<typeof stageObject>>[]): Promise<string> {
  const key = `batches/${batchId}.json`;
  const now = new Date().toISOString();
  await p.s3.send(new PutObjectCommand({
    Bucket: p.stagingBucket, Key: key, ContentType: 'application/json',
    Body: JSON.stringify({
      schemaVersion: 1, batchId, prefix: `incoming/${batchId}/`, sealReason: 'quiet', openedAt: now, sealedAt: now,
      count: objects.length, bytes: objects.reduce((s, o) => s + o.bytes, 0),
      callingAeTitles: [...new Set(objects.map((o) => o.callingAeTitle))], studyInstanceUids: [...new Set(objects.map((o) => o.studyInstanceUid))], objects,
    }),
  }));
  return key;
}

import { expect } from 'chai';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import type { ManifestObject } from '../../lambda/batch-manifest';
import { BatchTooLargeError } from '../../lambda/errors';
import { putInstanceRow } from '../../lambda/instance-rows';
import { validateBatch } from '../../lambda/validate-batch';
import { startMotoServer, type MotoServer } from '../helpers/moto-server';
import { testDeps } from './test-deps';

const obj = (storedAt: string, batch: string): ManifestObject => ({
  key: `incoming/${batch}/1.2.3.4.dcm`, sopInstanceUid: '1.2.3.4', sopClassUid: 'c', studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.1',
  transferSyntaxUid: 't', callingAeTitle: 'CT01', bytes: 10, storedAt,
});

/** Row ordering by conditional put, against moto's DynamoDB (real condition semantics). */
describe('lambda/instance-rows: one row per SOP Instance UID that never goes backwards', function () {
  this.timeout(60_000);
  let moto: MotoServer;
  let deps: ReturnType<typeof testDeps>;
  const A = '20261123T100000Z-0a0b0c0d-000001';
  const B = '20261123T110000Z-0a0b0c0d-000002';
  const row = async () => (await deps.ddb.send(new GetCommand({ TableName: 'workflow', Key: { pk: 'STUDY#1.2.3', sk: 'INSTANCE#1.2.3.4' } }))).Item!;

  before(async () => {
    moto = await startMotoServer();
  });
  after(async () => {
    await moto?.stop();
  });
  beforeEach(async () => {
    const raw = new DynamoDBClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    deps = { ...testDeps(), ddb: DynamoDBDocumentClient.from(raw) };
    const TableName = 'workflow';
    await raw.send(new CreateTableCommand({ TableName, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }] })).catch(() => undefined);
    await deps.ddb.send(new DeleteCommand({ TableName, Key: { pk: 'STUDY#1.2.3', sk: 'INSTANCE#1.2.3.4' } }));
  });

  it('moves STAGED → IMPORTED, and a late STAGED or BATCH_FAILED of the same arrival changes nothing', async () => {
    const o = obj('2026-11-23T10:00:01.000Z', A);
    expect(await putInstanceRow(deps, o, { status: 'STAGED', batchId: A })).to.equal(true);
    expect(await putInstanceRow(deps, o, { status: 'IMPORTED', batchId: A, imageSetId: 'i'.repeat(32), isPrimary: true })).to.equal(true);
    expect(await putInstanceRow(deps, o, { status: 'STAGED', batchId: A })).to.equal(false);
    expect(await putInstanceRow(deps, o, { status: 'BATCH_FAILED', batchId: A, failure: { code: 'X', message: 'y' } })).to.equal(false);
    expect(await row()).to.include({ status: 'IMPORTED', imageSetId: 'i'.repeat(32), storedAt: o.storedAt, callingAeTitle: 'CT01' });
  });

  it('lets a batch failure override STAGED and RETRYING, and a retry attempt override the one before', async () => {
    const o = obj('2026-11-23T10:00:02.000Z', A);
    await putInstanceRow(deps, o, { status: 'RETRYING', batchId: A, attempt: 1 });
    expect(await putInstanceRow(deps, o, { status: 'RETRYING', batchId: A, attempt: 2 })).to.equal(true);
    expect(await putInstanceRow(deps, o, { status: 'RETRYING', batchId: A, attempt: 1 })).to.equal(false);
    expect(await putInstanceRow(deps, o, { status: 'BATCH_FAILED', batchId: A, failure: { code: 'ImportJobFailed', message: 'm' } })).to.equal(true);
    expect(await row()).to.include({ status: 'BATCH_FAILED', batchId: A });
  });

  it('never lets an older arrival recorded late overwrite a resend', async () => {
    // Prepare: the resend (batch B, stored later) is recorded first.
    await putInstanceRow(deps, obj('2026-11-23T11:00:00.000Z', B), { status: 'IMPORTED', batchId: B, imageSetId: 'b'.repeat(32), isPrimary: true });
    // Act: the first sending's result lands afterwards.
    const late = await putInstanceRow(deps, obj('2026-11-23T10:00:03.000Z', A), { status: 'IMPORTED', batchId: A, imageSetId: 'a'.repeat(32), isPrimary: true });
    // Assess
    expect(late).to.equal(false);
    expect(await row()).to.include({ batchId: B, imageSetId: 'b'.repeat(32) });
    // A newer arrival does supersede, even from STAGED.
    expect(await putInstanceRow(deps, obj('2026-11-23T12:00:00.000Z', '20261123T120000Z-0a0b0c0d-000003'), { status: 'STAGED', batchId: '20261123T120000Z-0a0b0c0d-000003' })).to.equal(true);
    expect(await row()).to.include({ status: 'STAGED' });
  });
});

describe('lambda/validate-batch: one job takes at most 10 GB', () => {
  it('refuses a manifest over 10 GB with BatchTooLargeError before claiming anything', async () => {
    // Prepare
    const deps = testDeps();
    const id = '20261123T112233Z-3f9a1c0e-000009';
    const bytes = 10_000_000_001;
    const manifest = { schemaVersion: 1, batchId: id, prefix: `incoming/${id}/`, sealReason: 'bytes', sealedAt: 'x', count: 1, bytes, objects: [{ key: `incoming/${id}/1.dcm`, sopInstanceUid: '1', bytes }] };
    mockClient(deps.s3).on(GetObjectCommand).resolves({ Body: { transformToString: async () => JSON.stringify(manifest) } as never });
    const ddb = mockClient(deps.ddb);
    // Act
    const err = await validateBatch(deps, { bucket: 'staging', manifestKey: `batches/${id}.json`, batchId: id }).catch((e: unknown) => e);
    // Assess
    expect(err).to.be.instanceOf(BatchTooLargeError);
    expect((err as Error).message).to.match(/10000000001 bytes, more than the 10000000000/);
    expect(ddb.calls()).to.have.length(0);
  });
});

import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable, type Writable } from 'node:stream';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { expect } from 'chai';
import { DeidRefusedError, type DeidOptions, type DeidResult } from '../../lambda/deid/api';
import { loadResearchConfig, type ResearchConfig } from '../../lambda/research/config';
import { processedKeyOf } from '../../lambda/research/keys';
import type { ResearchMetricName } from '../../lambda/research/metrics';
import { copyResearchChunk, planResearchBatch, researchInstances, summarizeResearchBatch, ResearchRetryableError, type ResearchDeps } from '../../lambda/research/research-copy';
import { silentLogger } from '../../lambda/logger';
import { startMotoServer, type MotoServer } from '../helpers/moto-server';

/**
 * The research plumbing against moto (S3, DynamoDB) with an injected engine:
 * per-instance failures are recorded and counted, transient ones retry the
 * chunk without redoing copied instances, the batch never fails for one file.
 */
describe('research copy plumbing (moto, injected engine)', function () {
  this.timeout(60_000);
  let moto: MotoServer;
  let s3: S3Client;
  let ddb: DynamoDBDocumentClient;
  let n = 0;

  before(async () => {
    moto = await startMotoServer();
    const cfg = { endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    s3 = new S3Client({ ...cfg, forcePathStyle: true });
    ddb = DynamoDBDocumentClient.from(new DynamoDBClient(cfg), { marshallOptions: { removeUndefinedValues: true } });
  });
  after(async () => moto?.stop());

  /** A fresh staging / processed bucket pair, table, and a batch of `count` staged objects. */
  async function setup(count: number, engine: (input: Readable, output: Writable, o: DeidOptions, calls: number) => Promise<DeidResult>) {
    n++;
    const config: ResearchConfig = {
      ...loadResearchConfig({ TABLE_NAME: `t${n}`, STAGING_BUCKET: `staging${n}`, PROCESSED_BUCKET: `processed${n}`, DEID_KEY_ARN: 'arn:aws:kms:us-east-1:123456789012:key/x' }),
      chunkSize: 2, instanceConcurrency: 2,
    };
    await s3.send(new CreateBucketCommand({ Bucket: config.stagingBucket }));
    await s3.send(new CreateBucketCommand({ Bucket: config.processedBucket }));
    await ddb.send(new CreateTableCommand({
      TableName: config.tableName, BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    }));
    const batchId = `20260101T000000Z-abcd${String(n).padStart(4, '0')}-000001`;
    const objects = [];
    for (let i = 0; i < count; i++) {
      const key = `incoming/${batchId}/1.2.3.${i}.dcm`;
      const body = Buffer.from(`instance ${i}`);
      await s3.send(new PutObjectCommand({ Bucket: config.stagingBucket, Key: key, Body: body }));
      objects.push({ key, sopInstanceUid: `1.2.3.${i}`, bytes: body.length });
    }
    const manifestKey = `batches/${batchId}.json`;
    await s3.send(new PutObjectCommand({
      Bucket: config.stagingBucket, Key: manifestKey,
      Body: JSON.stringify({ schemaVersion: 1, batchId, prefix: `incoming/${batchId}/`, sealReason: 'quiet', sealedAt: new Date().toISOString(), count, bytes: objects.reduce((s, o) => s + o.bytes, 0), objects }),
    }));
    const metrics: Partial<Record<ResearchMetricName, number>>[] = [];
    let calls = 0;
    const deps: ResearchDeps = {
      config, s3, ddb, log: silentLogger, now: () => new Date(), metrics: { count: (v) => metrics.push(v) },
      keys: async () => ({ uid: Buffer.alloc(32), patient: Buffer.alloc(32), date: Buffer.alloc(32) }),
      deidentify: (input, output, o) => engine(input, output, o, ++calls),
    };
    return { deps, batchId, manifestKey, metrics, calls: () => calls };
  }

  /** Writes "DEID <input>" and names the copy after the input's last digit. */
  const fakeEngine = async (input: Readable, output: Writable): Promise<DeidResult> => {
    const chunks: Buffer[] = [];
    for await (const c of input) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString();
    await pipeline(Readable.from([Buffer.from(`DEID ${text}`)]), output);
    const i = text.split(' ')[1];
    return { studyInstanceUid: '2.25.1', seriesInstanceUid: '2.25.2', sopInstanceUid: `2.25.3${i}`, sopClassUid: '1.2', transferSyntaxUid: '1.2.840.10008.1.2.1', patientPseudonym: 'ANON-X', bytesIn: text.length, bytesOut: text.length + 5, method: 'x' };
  };

  it('one instance the engine cannot handle is recorded FAILED and counted; the others are copied and the batch completes as PARTIAL', async () => {
    const t = await setup(5, async (input, output, _o, call) => {
      if (call === 3) { input.resume(); output.destroy(); throw new TypeError('engine bug'); }
      return fakeEngine(input, output);
    });
    const plan = await planResearchBatch(t.deps, { batchId: t.batchId, manifestKey: t.manifestKey });
    expect(plan.chunks.map((c) => [c.first, c.count])).to.deep.equal([[0, 2], [2, 2], [4, 1]]);
    for (const chunk of plan.chunks) await copyResearchChunk(t.deps, chunk);
    const summary = await summarizeResearchBatch(t.deps, { batchId: t.batchId, plan });
    expect(summary).to.include({ status: 'PARTIAL', count: 5, copied: 4, refused: 0, failed: 1 });
    const failed = (await researchInstances(ddb, t.deps.config.tableName, t.batchId)).filter((r) => r['status'] === 'FAILED');
    expect(failed.map((r) => [r['reason'], r['errorName']])).to.deep.equal([['COPY_FAILED', 'TypeError']]);
    expect(t.metrics).to.deep.equal([{ ResearchInstancesCopied: 4, ResearchInstancesRefused: 0, ResearchInstancesFailed: 1, ResearchBatchesCopied: 1 }]);
  });

  it('a refusal is recorded REFUSED with the engine\'s code, and its copy never reaches the processed bucket', async () => {
    const t = await setup(2, async (input, output, _o, call) => {
      if (call === 1) { input.resume(); output.destroy(); throw new DeidRefusedError('BURNED_IN', 'may carry burned-in text'); }
      return fakeEngine(input, output);
    });
    const plan = await planResearchBatch(t.deps, { batchId: t.batchId, manifestKey: t.manifestKey });
    await copyResearchChunk(t.deps, plan.chunks[0]!);
    const summary = await summarizeResearchBatch(t.deps, { batchId: t.batchId, plan });
    expect(summary).to.include({ status: 'COMPLETE', copied: 1, refused: 1, failed: 0 });
    const rows = await researchInstances(ddb, t.deps.config.tableName, t.batchId);
    expect(rows.map((r) => [r['status'], r['reason'] ?? null])).to.have.deep.members([['REFUSED', 'BURNED_IN'], ['COPIED', null]]);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: t.deps.config.processedBucket }));
    expect((listed.Contents ?? []).map((o) => o.Key)).to.deep.equal([rows.find((r) => r['status'] === 'COPIED')!['processedKey']]);
  });

  it('a transient failure retries the chunk; the retry copies only what is missing, with a verified SHA-256', async () => {
    let failOnce = true;
    const t = await setup(2, async (input, output) => {
      const r = await fakeEngine(input, output);
      if (r.sopInstanceUid === '2.25.31' && failOnce) { failOnce = false; throw Object.assign(new Error('slow down'), { name: 'SlowDown' }); }
      return r;
    });
    const plan = await planResearchBatch(t.deps, { batchId: t.batchId, manifestKey: t.manifestKey });
    let error: unknown;
    try { await copyResearchChunk(t.deps, plan.chunks[0]!); } catch (err) { error = err; }
    expect(error).to.be.instanceOf(ResearchRetryableError);
    expect(t.calls()).to.equal(2);
    const retried = await copyResearchChunk(t.deps, plan.chunks[0]!);
    expect(t.calls()).to.equal(3); // instance 0 was not de-identified again
    expect(retried).to.deep.equal({ copied: 2, refused: 0, failed: 0 });
    const rows = await researchInstances(ddb, t.deps.config.tableName, t.batchId);
    const copy = rows.find((r) => r['sopInstanceUid'] === '2.25.31')!;
    expect(copy['processedKey']).to.equal('studies/2.25.1/series/2.25.2/2.25.31.dcm');
    expect(copy['sha256']).to.equal(createHash('sha256').update('DEID instance 1').digest('hex'));
  });

  it('a staged object that disappeared is FAILED (SOURCE_MISSING); a chunk that never ran is FAILED (NOT_PROCESSED) by the summary', async () => {
    const t = await setup(3, (input, output) => fakeEngine(input, output));
    const plan = await planResearchBatch(t.deps, { batchId: t.batchId, manifestKey: t.manifestKey });
    await s3.send(new (await import('@aws-sdk/client-s3')).DeleteObjectCommand({ Bucket: t.deps.config.stagingBucket, Key: `incoming/${t.batchId}/1.2.3.1.dcm` }));
    await copyResearchChunk(t.deps, plan.chunks[0]!); // the second chunk (instance 2) "failed after its retries"
    const summary = await summarizeResearchBatch(t.deps, { batchId: t.batchId, plan });
    expect(summary).to.include({ status: 'PARTIAL', copied: 1, failed: 2 });
    const rows = await researchInstances(ddb, t.deps.config.tableName, t.batchId);
    expect(rows.map((r) => [r['ordinal'], r['status'], r['reason'] ?? null])).to.deep.equal([[0, 'COPIED', null], [1, 'FAILED', 'SOURCE_MISSING'], [2, 'FAILED', 'NOT_PROCESSED']]);
  });

  it('object keys are built from UIDs only; configuration errors name variables, never values', () => {
    expect(processedKeyOf({ studyInstanceUid: '2.25.1', seriesInstanceUid: '2.25.2', sopInstanceUid: '2.25.3' })).to.equal('studies/2.25.1/series/2.25.2/2.25.3.dcm');
    expect(() => processedKeyOf({ studyInstanceUid: 'DOE^JOHN', seriesInstanceUid: '2.25.2', sopInstanceUid: '2.25.3' })).to.throw(/not a valid UID/);
    expect(() => processedKeyOf({ studyInstanceUid: '2.25.1', seriesInstanceUid: '../x', sopInstanceUid: '2.25.3' })).to.throw();
    expect(() => loadResearchConfig({ TABLE_NAME: 't', DEID_DATES: 'sometimes', DEID_RETAIN: 'everything-secret' })).to.throw(/(?=.*STAGING_BUCKET is not set)(?=.*DEID_DATES must be one of)(?=.*DEID_RETAIN has an unknown option)/)
      .and.satisfy((e: Error) => !e.message.includes('everything-secret') && !e.message.includes('sometimes'));
    expect(loadResearchConfig({ TABLE_NAME: 't', STAGING_BUCKET: 'sss', PROCESSED_BUCKET: 'ppp', DEID_KEY_ARN: 'k', DEID_PRIVATE_TAGS: 'keep-safe', DEID_RETAIN: 'uids' }).retain).to.deep.equal(['uids', 'safe-private']);
  });
});

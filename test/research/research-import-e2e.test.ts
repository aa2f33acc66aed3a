import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'chai';
import { deriveKeys } from '../../lambda/deid/index';
import { pseudonymUid } from '../../lambda/deid/keys';
import { kmsMac } from '../../lambda/research/keys';
import { basicElements, part10, type El } from '../deid/dataset-builder';
import { DATASTORE_ID } from '../e2e/pipeline-harness';
import { runDcmtk } from '../helpers/dcmtk';
import { MOTO_ENV } from '../helpers/moto-server';
import { spawnScp, type ScpProcess } from '../helpers/scp';
import { startResearchPipeline, type ResearchPipeline } from './research-harness';

/** The second data store of the account (ResearchDatastoreId, or the one the stack creates). */
const RESEARCH_DATASTORE_ID = 'fedcba9876543210fedcba9876543210';
const PATIENT_NAME = 'ROE^RICHARD^IMPORT';
const STUDY = '1.2.826.0.1.3680043.99.7';
const SERIES = `${STUDY}.1`;
const sop = (n: number) => `${SERIES}.${n}`;

function instance(n: number, extra: El[] = []): Buffer {
  const els = basicElements({ sop: sop(n), study: STUDY, series: SERIES, patientId: 'PID-IMPORT-7' })
    .map((e) => (e.tag === 0x00100010 ? { ...e, value: PATIENT_NAME } : e));
  els.push(...extra);
  els.sort((a, b) => a.tag - b.tag);
  return part10(els);
}

/**
 * Issue 16, ResearchImport (DeidentificationMode=ResearchCopy, ResearchImport=Yes):
 * storescu → SCP → batch → the clinical state machine from dist/template.json
 * (CopyForResearch → the research state machine, which stages the copies and
 * seals them as a derived batch) → the clinical import of the originals into
 * the clinical data store, unchanged; then the derived batch's own execution
 * imports the copies into the research data store of the HealthImaging stand-in.
 */
describe('e2e: ResearchImport (research copies imported into a second data store)', function () {
  this.timeout(240_000);
  let p: ResearchPipeline;
  let scp: ScpProcess | undefined;
  let dir: string;

  before(async () => {
    p = await startResearchPipeline({ RESEARCH_IMPORT: 'true', RESEARCH_DATASTORE_ID }, 'ResearchCopy', { standIn: { otherDatastoreIds: [RESEARCH_DATASTORE_ID] } });
    dir = await mkdtemp(join(tmpdir(), 'research-import-'));
  });
  after(async () => {
    scp?.kill('SIGKILL');
    if (scp) await scp.exited;
    await p?.stop();
    // process.env is shared with the suites that run after this one.
    delete process.env['RESEARCH_IMPORT'];
    delete process.env['RESEARCH_DATASTORE_ID'];
  });

  it('originals go to the clinical data store as before; their de-identified copies to the research data store, with per-instance records and slots of its own', async () => {
    // Prepare
    scp = await spawnScp({ ...MOTO_ENV, STORAGE_URI: `s3://${p.stagingBucket}`, S3_ENDPOINT: p.moto.endpoint, AE_TITLE: 'STORESCP', BATCH_QUIET_SECONDS: '1' });
    await scp.waitForLog('scp_started', 30_000);
    const files: Array<[string, Buffer]> = [1, 2].map((n) => [`i${n}.dcm`, instance(n)]);
    files.push(['i3.dcm', instance(3, [{ tag: 0x00280301, vr: 'CS', value: 'YES' }])]);
    const paths: string[] = [];
    for (const [name, bytes] of files) { await writeFile(join(dir, name), bytes); paths.push(join(dir, name)); }
    // Act
    const r = await runDcmtk('storescu', ['-aet', 'CT01', '-aec', 'STORESCP', '127.0.0.1', String(scp.port), ...paths]);
    expect(r.code, r.stderr).to.equal(0);
    await scp.waitForLog('batch_sealed', 20_000);
    const [original] = await p.deliverNewSeals();
    await p.settle();
    const derivedManifests = await p.deliverNewSeals();
    await p.settle();

    // Assess: two executions, both imported; only the original one copied for research.
    const originalId = original!.slice('batches/'.length, -'.json'.length);
    expect(derivedManifests).to.have.length(1);
    const derivedId = derivedManifests[0]!.slice('batches/'.length, -'.json'.length);
    expect(derivedId).to.match(/^[0-9]{8}T[0-9]{6}Z-di[0-9a-f]{6}-[0-9]{6}$/);
    const executions = [...p.executions.values()];
    expect(executions.map((e) => [e.status, e.states.at(-1)])).to.deep.equal([['SUCCEEDED', 'Imported'], ['SUCCEEDED', 'Imported']]);
    expect(executions[0]!.states).to.include('CopyForResearch');
    expect(executions[1]!.states).not.to.include('CopyForResearch');

    // One job per data store: the originals into the clinical one, the copies into the research one.
    const jobs = [...p.standIn.jobs.values()].map((j) => [j.datastoreId, j.clientToken, j.inputS3Uri]);
    expect(jobs).to.have.deep.members([
      [DATASTORE_ID, originalId, `s3://${p.stagingBucket}/incoming/${originalId}/`],
      [RESEARCH_DATASTORE_ID, derivedId, `s3://${p.stagingBucket}/incoming/${derivedId}/`],
    ]);

    // Clinical records unchanged: all three originals (the burned-in one too) imported into the clinical data store.
    for (const n of [1, 2, 3]) {
      const rows = await p.bySop(sop(n));
      expect(rows.map((x) => [x['status'], x['batchId'], x['datastoreId']]), `original ${n}`).to.deep.equal([['IMPORTED', originalId, DATASTORE_ID]]);
    }
    // Research records: the two copies imported into the research data store; the burned-in one was refused, so never staged.
    const keys = await deriveKeys(kmsMac(p.kms, p.keyArn));
    for (const n of [1, 2]) {
      const rows = await p.bySop(pseudonymUid(keys, sop(n)));
      expect(rows.map((x) => [x['status'], x['batchId'], x['datastoreId'], x['studyInstanceUid']]), `copy ${n}`)
        .to.deep.equal([['IMPORTED', derivedId, RESEARCH_DATASTORE_ID, pseudonymUid(keys, STUDY)]]);
    }
    expect(await p.bySop(pseudonymUid(keys, sop(3)))).to.deep.equal([]);
    expect(p.metricSum('ResearchInstancesRefused')).to.equal(1);
    expect(p.metricSum('InstancesImported')).to.equal(5);

    // The job item names its data store; each data store's slot semaphore is released.
    const derivedBatch = await p.batch(derivedId);
    expect(derivedBatch).to.include({ status: 'IMPORTED' });
    const job = (await p.ddb.send(new GetCommand({ TableName: p.tableName, Key: { pk: `JOB#${derivedBatch!['jobId']}`, sk: 'JOB' } }))).Item;
    expect(job).to.include({ datastoreId: RESEARCH_DATASTORE_ID, batchId: derivedId });
    const slots = async (pk: string) => (await p.ddb.send(new GetCommand({ TableName: p.tableName, Key: { pk, sk: 'LIMIT' } }))).Item;
    expect(await slots('LIMIT#import-job-slots')).to.deep.include({ holders: {} });
    expect(await slots(`LIMIT#import-job-slots#${RESEARCH_DATASTORE_ID}`)).to.deep.include({ holders: {} });

    // The original batch notes the hand-off; staging holds nothing of either batch.
    expect(await p.batch(originalId)).to.include({ status: 'IMPORTED', researchImport: true, derivedBatchId: derivedId });
    expect(await p.listKeys(p.stagingBucket, 'incoming/')).to.deep.equal([]);
    // No identifying value in the research data store's input (the staged copies were read by the stand-in from these keys).
    for (const key of await p.listKeys('processed', 'studies/')) expect((await p.getBytes('processed', key)).includes(Buffer.from(PATIENT_NAME))).to.equal(false);
  });
});

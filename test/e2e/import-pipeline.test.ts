import { expect } from 'chai';
import { dicomFixtureBytes } from '../helpers/dicom-fixtures';
import { sealBatch, stageObject, startPipeline, type Pipeline } from './pipeline-harness';

/**
 * The import side end to end, batches staged exactly as the SCP stages them
 * (layout, S3 metadata, manifest): the real state machine definition from
 * the template, the real handlers, moto S3 + DynamoDB, the HealthImaging stand-in.
 */
describe('e2e: import pipeline on staged batches', function () {
  this.timeout(120_000);
  let p: Pipeline;
  const today = () => new Date().toISOString().slice(0, 10);

  beforeEach(async () => {
    p = await startPipeline();
  });
  afterEach(async () => {
    await p?.stop();
  });

  async function stageDicom(batchId: string, study: string, series: string, sop: string) {
    return stageObject(p, batchId, { studyInstanceUid: study, seriesInstanceUid: series, sopInstanceUid: sop, body: await dicomFixtureBytes({ studyInstanceUid: study, seriesInstanceUid: series, sopInstanceUid: sop }) });
  }

  it('takes its definition from the template', () => {
    expect(p.loaded.definition.States).to.include.keys('ValidateBatch', 'StartImportJob', 'CheckImportStatus', 'RecordResults', 'RecordFailure');
  });

  it('records a corrupt file as failed and quarantines it while the good ones import (job COMPLETED)', async () => {
    // Prepare
    const id = '20261123T112233Z-0a0b0c0d-000001';
    const good = [await stageDicom(id, '1.2.1', '1.2.1.1', '1.2.1.1.1'), await stageDicom(id, '1.2.1', '1.2.1.1', '1.2.1.1.2')];
    const bad = await stageObject(p, id, { studyInstanceUid: '1.2.1', seriesInstanceUid: '1.2.1.1', sopInstanceUid: '1.2.1.1.3', body: Buffer.from('this is not a DICOM file at all') });
    await sealBatch(p, id, [...good, bad]);
    // Act
    await p.deliverNewSeals();
    await p.settle();
    // Assess
    const [exec] = [...p.executions.values()];
    expect(exec!.status).to.equal('SUCCEEDED');
    const [job] = [...p.standIn.jobs.values()];
    expect(job!.jobStatus).to.equal('COMPLETED');
    const batch = await p.batch(id);
    expect(batch).to.include({ status: 'IMPORTED_WITH_FAILURES', importedCount: 2, failedCount: 1, jobId: job!.jobId });
    const rows = await p.study('1.2.1');
    expect(rows).to.have.length(3);
    const badRow = rows.find((r) => r['sopInstanceUid'] === '1.2.1.1.3')!;
    expect(badRow['status']).to.equal('FAILED');
    expect(badRow['failure'].exceptionType).to.equal('InvalidDICOMFile');
    expect(rows.filter((r) => r['status'] === 'IMPORTED').map((r) => r['imageSetId'])).to.satisfy((ids: string[]) => ids.length === 2 && ids[0] === ids[1] && /^[0-9a-f]{32}$/.test(ids[0]!));
    expect(await p.listKeys(p.stagingBucket, `incoming/${id}/`)).to.deep.equal([]);
    expect(await p.listKeys(p.stagingBucket, `failed/${id}/`)).to.deep.equal([`failed/${id}/1.2.1.1.3.dcm`, `failed/${id}/1.2.1.1.3.reason.json`]);
    const reason = await p.getJson(p.stagingBucket, `failed/${id}/1.2.1.1.3.reason.json`);
    expect(reason.failure.exceptionType).to.equal('InvalidDICOMFile');
    expect((await p.failuresOn(today())).map((r) => r['gsi2sk'])).to.satisfy((ks: string[]) => ks.some((k) => k.endsWith('#SOP#1.2.1.1.3')) && ks.some((k) => k.endsWith(`#BATCH#${id}`)));
    expect(p.metricSum('InstancesFailed')).to.equal(1);
    expect(p.metricSum('InstancesImported')).to.equal(2);
  });

  it('retries a throttled StartDICOMImportJob and starts exactly one job', async () => {
    // Prepare
    const id = '20261123T112233Z-0a0b0c0d-000002';
    await sealBatch(p, id, [await stageDicom(id, '1.2.2', '1.2.2.1', '1.2.2.1.1')]);
    p.standIn.throttleStarts(4);
    // Act
    await p.deliverNewSeals();
    await p.settle();
    // Assess
    const starts = p.standIn.calls.filter((c) => c.operation === 'StartDICOMImportJob');
    expect(starts.map((c) => c.status)).to.deep.equal([429, 429, 429, 429, 200]);
    expect(new Set(starts.map((c) => c.clientToken))).to.deep.equal(new Set([id]));
    expect(p.standIn.jobs.size).to.equal(1);
    expect((await p.batch(id))!['status']).to.equal('IMPORTED');
    expect([...p.executions.values()][0]!.states.filter((s) => s === 'StartImportJob').length).to.equal(1);
  });

  it('records a FAILED job, takes the alarm path and keeps the staged objects', async () => {
    // Prepare
    const id = '20261123T112233Z-0a0b0c0d-000003';
    const objs = [await stageDicom(id, '1.2.3', '1.2.3.1', '1.2.3.1.1'), await stageDicom(id, '1.2.3', '1.2.3.1', '1.2.3.1.2')];
    await sealBatch(p, id, objs);
    p.standIn.failNextJobs(1, 'Access denied reading the input prefix');
    // Act
    await p.deliverNewSeals();
    await p.settle();
    // Assess
    const exec = [...p.executions.values()][0]!;
    expect(exec.status).to.equal('FAILED');
    expect(exec.error).to.equal('ImportFailed');
    expect(exec.states).to.include.members(['RecordFailure', 'ImportFailed']);
    const batch = await p.batch(id);
    expect(batch).to.include({ status: 'FAILED' });
    expect(batch!['error']).to.deep.equal({ code: 'ImportJobFailed', message: 'Access denied reading the input prefix' });
    const job = await p.job(batch!['jobId']);
    expect(job).to.include({ jobStatus: 'FAILED', batchId: id });
    expect(job!['summary']).to.include({ numberOfScannedFiles: 2, numberOfFilesWithCustomerError: 2 });
    expect(await p.listKeys(p.stagingBucket, `incoming/${id}/`)).to.have.length(2);
    // Every instance is found by its SOP Instance UID, BATCH_FAILED with the batch's reason.
    for (const sop of ['1.2.3.1.1', '1.2.3.1.2']) {
      const [row] = await p.bySop(sop);
      // The FAILED job's own failure lines add each file's exception to its row.
      expect(row).to.deep.include({ status: 'BATCH_FAILED', batchId: id, stagingKey: `incoming/${id}/${sop}.dcm`, failure: { code: 'ImportJobFailed', message: 'Access denied reading the input prefix', exceptionType: 'AccessDeniedException' } });
    }
    expect((await p.failuresOn(today())).some((r) => r['gsi2sk'].endsWith(`#BATCH#${id}`))).to.equal(true);
    expect(p.metricSum('ImportJobsFailed')).to.equal(1);
    expect(p.metricSum('BatchesQuarantined')).to.equal(1);
    // The operator's log line: Powertools ERROR with our event name, the batch and the job's own message.
    expect(p.output.find((l) => l['event'] === 'batch-failed' && l['batchId'] === id)).to.include({ level: 'ERROR', component: 'record-failure', detail: 'Access denied reading the input prefix' });
  });

  it('a redrive of a FAILED batch starts a new job with a new clientToken and imports it', async () => {
    // Prepare
    const id = '20261123T112233Z-0a0b0c0d-000004';
    const manifestKey = await sealBatch(p, id, [await stageDicom(id, '1.2.4', '1.2.4.1', '1.2.4.1.1')]);
    p.standIn.failNextJobs(1);
    await p.deliverNewSeals();
    await p.settle();
    // Act
    await p.runExecution(`${id}.r1`, { bucket: p.stagingBucket, manifestKey, batchId: id, redrive: 1 }).done;
    // Assess
    expect([...p.standIn.jobs.values()].map((j) => j.clientToken)).to.deep.equal([id, `${id}.r1`]);
    expect(await p.batch(id)).to.include({ status: 'IMPORTED', redrive: 1 });
    expect((await p.study('1.2.4')).map((r) => r['status'])).to.deep.equal(['IMPORTED']);
  });

  it('the same seal event delivered twice, and a second execution, start one job and write no duplicate rows', async () => {
    // Prepare
    const id = '20261123T112233Z-0a0b0c0d-000005';
    const manifestKey = await sealBatch(p, id, [await stageDicom(id, '1.2.5', '1.2.5.1', '1.2.5.1.1'), await stageDicom(id, '1.2.5', '1.2.5.2', '1.2.5.2.1')]);
    // Act: SQS redelivers the event (same name: no second execution), then an execution runs again anyway.
    await p.deliverSealEvent(manifestKey, 'msg-1');
    await p.deliverSealEvent(manifestKey, 'msg-1');
    await p.settle();
    const rowsAfterFirst = await p.study('1.2.5');
    const again = p.runExecution(`${id}-again`, { bucket: p.stagingBucket, manifestKey, batchId: id });
    await again.done;
    // Assess
    expect(p.executions.size).to.equal(2);
    expect(p.output.some((l) => l['event'] === 'execution-duplicate' && l['batchId'] === id)).to.equal(true);
    expect(again.status).to.equal('SUCCEEDED');
    expect(again.states).to.include('NothingToDo');
    expect(p.standIn.jobs.size).to.equal(1);
    const rows = await p.study('1.2.5');
    expect(rows).to.have.length(2);
    expect(rows).to.deep.equal(rowsAfterFirst);
    expect(new Set(rows.map((r) => r['imageSetId'])).size).to.equal(2);
    expect(p.metricSum('ImportJobsCompleted')).to.equal(1);
  });
});

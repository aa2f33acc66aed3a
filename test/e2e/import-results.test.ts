import { expect } from 'chai';
import { dicomFixtureBytes } from '../helpers/dicom-fixtures';
import { sealBatch, stageObject, startPipeline, type Pipeline } from './pipeline-harness';

/**
 * What HealthImaging's job output can say beyond "imported" / "refused", end
 * to end: staged batches → the real state machine definition from the built
 * template → the real handlers → the stand-in → moto S3 + DynamoDB.
 */
describe('e2e: import results reconciled and acted on', function () {
  this.timeout(180_000);
  let p: Pipeline;
  const today = () => new Date().toISOString().slice(0, 10);

  afterEach(async () => {
    await p?.stop();
  });

  async function stage(batchId: string, study: string, series: string, sop: string, patientId = 'PID-1') {
    return stageObject(p, batchId, { studyInstanceUid: study, seriesInstanceUid: series, sopInstanceUid: sop, body: await dicomFixtureBytes({ studyInstanceUid: study, seriesInstanceUid: series, sopInstanceUid: sop, patientId }) });
  }

  it('a study resent with a changed PatientID ends IMPORTED_NON_PRIMARY, kept under conflicts/, alarm metric emitted', async () => {
    // Prepare: the first sending imports as the primary image set of its series.
    p = await startPipeline();
    const first = '20261123T120000Z-0a0b0c0d-000101';
    await sealBatch(p, first, [await stage(first, '2.1', '2.1.1', '2.1.1.1', 'PID-1'), await stage(first, '2.1', '2.1.1', '2.1.1.2', 'PID-1')]);
    await p.deliverNewSeals();
    await p.settle();
    const primaryId = (await p.bySop('2.1.1.1'))[0]!['imageSetId'];
    // Act: the same study resent after a demographics correction.
    const resent = '20261123T120500Z-0a0b0c0d-000102';
    await sealBatch(p, resent, [await stage(resent, '2.1', '2.1.1', '2.1.1.1', 'PID-2'), await stage(resent, '2.1', '2.1.1', '2.1.1.2', 'PID-2')]);
    await p.deliverNewSeals();
    await p.settle();
    // Assess
    expect([...p.executions.values()].map((e) => e.status)).to.deep.equal(['SUCCEEDED', 'SUCCEEDED']);
    expect(await p.batch(resent)).to.include({ status: 'IMPORTED_WITH_CONFLICTS', nonPrimaryCount: 2, importedCount: 0 });
    for (const sop of ['2.1.1.1', '2.1.1.2']) {
      const rows = await p.bySop(sop);
      expect(rows).to.have.length(1);
      expect(rows[0]).to.deep.include({ status: 'IMPORTED_NON_PRIMARY', isPrimary: false, batchId: resent, movedTo: `conflicts/${resent}/` });
      expect(rows[0]!['imageSetId']).to.match(/^[0-9a-f]{32}$/).and.not.equal(primaryId);
    }
    expect(await p.listKeys(p.stagingBucket, `incoming/${resent}/`)).to.deep.equal([]);
    expect(await p.listKeys(p.stagingBucket, `conflicts/${resent}/`)).to.deep.equal([`conflicts/${resent}/2.1.1.1.dcm`, `conflicts/${resent}/2.1.1.1.reason.json`, `conflicts/${resent}/2.1.1.2.dcm`, `conflicts/${resent}/2.1.1.2.reason.json`]);
    expect(await p.getJson(p.stagingBucket, `conflicts/${resent}/2.1.1.1.reason.json`)).to.include({ status: 'IMPORTED_NON_PRIMARY', isPrimary: false, sopInstanceUid: '2.1.1.1' });
    expect(p.metricSum('InstancesNonPrimary')).to.equal(2);
    expect(p.metricSum('InstancesImported')).to.equal(2);
    expect((await p.failuresOn(today())).map((r) => r['gsi2sk'])).to.satisfy((ks: string[]) => ks.some((k) => k.endsWith('#SOP#2.1.1.1')) && ks.some((k) => k.endsWith(`#BATCH#${resent}`)));
  });

  it('a job output that does not reconcile leaves staging untouched and fails loudly', async () => {
    // Prepare
    p = await startPipeline();
    const id = '20261123T121000Z-0a0b0c0d-000103';
    await sealBatch(p, id, [await stage(id, '2.2', '2.2.1', '2.2.1.1'), await stage(id, '2.2', '2.2.1', '2.2.1.2')]);
    p.standIn.faultNextJobs({ scannedSkew: 1 });
    // Act
    await p.deliverNewSeals();
    await p.settle();
    // Assess
    const [exec] = [...p.executions.values()];
    expect(exec).to.include({ status: 'FAILED', error: 'ImportFailed' });
    expect(exec!.states).to.include.members(['RecordResults', 'RecordFailure']);
    const batch = await p.batch(id);
    expect(batch).to.include({ status: 'FAILED' });
    expect(batch!['error'].code).to.equal('ImportOutputInvalidError');
    expect(batch!['error'].message).to.match(/numberOfScannedFiles 3 != 2 files reported/);
    expect(await p.listKeys(p.stagingBucket, `incoming/${id}/`)).to.have.length(2);
    expect(await p.listKeys(p.stagingBucket, `failed/${id}/`)).to.deep.equal([]);
    expect((await p.bySop('2.2.1.1'))[0]).to.include({ status: 'BATCH_FAILED' });
    expect(p.metricSum('ImportOutputsInvalid')).to.equal(1);
    expect(p.metricSum('InstancesImported')).to.equal(0);
  });

  for (const warningStyle of ['success-and-warning', 'warning-only'] as const) {
    it(`a warning line never blanks an image set id (${warningStyle})`, async () => {
      // Prepare: HealthImaging warns 0xB120 on one instance (its pixel data kept as a blob).
      p = await startPipeline({ standIn: { warningStyle, warningsFor: (a) => (a.sopInstanceUid === '2.3.1.2' ? [{ reasonCode: '0xB120', type: 'UNSUPPORTED_TRANSFER_SYNTAX', message: 'stored as a blob' }] : []) } });
      const id = '20261123T122000Z-0a0b0c0d-000104';
      await sealBatch(p, id, [await stage(id, '2.3', '2.3.1', '2.3.1.1'), await stage(id, '2.3', '2.3.1', '2.3.1.2')]);
      // Act
      await p.deliverNewSeals();
      await p.settle();
      // Assess
      const [plain] = await p.bySop('2.3.1.1');
      const [warned] = await p.bySop('2.3.1.2');
      expect(plain).to.include({ status: 'IMPORTED' });
      expect(warned).to.include({ status: 'IMPORTED_WITH_WARNINGS', isPrimary: true, imageSetId: plain!['imageSetId'] });
      expect(warned!['imageSetId']).to.match(/^[0-9a-f]{32}$/);
      expect(warned!['warnings'].map((w: { reasonCode: string }) => w.reasonCode)).to.deep.equal(['0xB120']);
      expect(await p.batch(id)).to.include({ status: 'IMPORTED', warningCount: 1, importedCount: 2 });
      expect(await p.listKeys(p.stagingBucket, `incoming/${id}/`)).to.deep.equal([]);
      expect(p.metricSum('InstancesWithWarnings')).to.equal(1);
    });
  }

  it('a server-error file stays in incoming/, is re-imported by a follow-up job with its own clientToken and ends IMPORTED', async () => {
    // Prepare
    p = await startPipeline();
    const id = '20261123T123000Z-0a0b0c0d-000105';
    await sealBatch(p, id, [await stage(id, '2.4', '2.4.1', '2.4.1.1'), await stage(id, '2.4', '2.4.1', '2.4.1.2'), await stage(id, '2.4', '2.4.1', '2.4.1.3')]);
    p.standIn.serverErrorOnce(['2.4.1.2']);
    // Act
    await p.deliverNewSeals();
    await p.settle();
    // Assess
    const [exec] = [...p.executions.values()];
    expect(exec!.status).to.equal('SUCCEEDED');
    expect([...p.standIn.jobs.values()].map((j) => j.clientToken)).to.deep.equal([id, `${id}.a1`]);
    expect(exec!.states.filter((s) => s === 'StartImportJob')).to.have.length(2);
    const row = (await p.bySop('2.4.1.2'))[0]!;
    expect(row).to.include({ status: 'IMPORTED', attempt: 1 });
    expect((await p.study('2.4')).map((r) => r['status'])).to.deep.equal(['IMPORTED', 'IMPORTED', 'IMPORTED']);
    expect(await p.batch(id)).to.include({ status: 'IMPORTED', importedCount: 3, failedCount: 0 });
    expect(await p.listKeys(p.stagingBucket, `incoming/${id}/`)).to.deep.equal([]);
    expect(await p.listKeys(p.stagingBucket, `failed/${id}/`)).to.deep.equal([]);
    expect(p.metricSum('InstancesRetrying')).to.equal(1);
    expect(p.metricSum('InstancesImported')).to.equal(3);
    expect(p.metricSum('ImportJobsCompleted')).to.equal(2);
  });

  it('a file that keeps failing on the service side is re-imported three times, then FAILED and quarantined', async () => {
    // Prepare
    p = await startPipeline();
    const id = '20261123T123500Z-0a0b0c0d-000107';
    await sealBatch(p, id, [await stage(id, '2.7', '2.7.1', '2.7.1.1'), await stage(id, '2.7', '2.7.1', '2.7.1.2')]);
    p.standIn.serverErrorOnce(['2.7.1.2'], 10);
    // Act
    await p.deliverNewSeals();
    await p.settle();
    // Assess
    expect([...p.standIn.jobs.values()].map((j) => j.clientToken)).to.deep.equal([id, `${id}.a1`, `${id}.a2`, `${id}.a3`]);
    expect((await p.bySop('2.7.1.2'))[0]).to.deep.include({ status: 'FAILED', attempt: 3, movedTo: `failed/${id}/` });
    expect((await p.bySop('2.7.1.2'))[0]!['failure']).to.include({ exceptionType: 'InternalServerException', server: true });
    expect(await p.batch(id)).to.include({ status: 'IMPORTED_WITH_FAILURES', importedCount: 1, failedCount: 1 });
    expect(await p.listKeys(p.stagingBucket, `failed/${id}/`)).to.deep.equal([`failed/${id}/2.7.1.2.dcm`, `failed/${id}/2.7.1.2.reason.json`]);
    expect(await p.listKeys(p.stagingBucket, `incoming/${id}/`)).to.deep.equal([]);
  });

  it('finds an instance by SOP Instance UID while its batch imports (STAGED) and after (IMPORTED)', async () => {
    // Prepare: the job stays IN_PROGRESS for a while.
    p = await startPipeline();
    const id = '20261123T124000Z-0a0b0c0d-000106';
    await sealBatch(p, id, [await stage(id, '2.5', '2.5.1', '2.5.1.1')]);
    p.standIn.faultNextJobs({ runAfterMs: 3000 });
    // Act
    await p.deliverNewSeals();
    const deadline = Date.now() + 60_000;
    while (![...p.standIn.jobs.values()].some((j) => j.jobStatus === 'IN_PROGRESS') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const during = await p.bySop('2.5.1.1');
    const batchDuring = await p.batch(id);
    await p.settle();
    // Assess
    expect(batchDuring).to.include({ status: 'IMPORTING' });
    expect(during).to.have.length(1);
    expect(during[0]).to.include({ status: 'STAGED', batchId: id, stagingKey: `incoming/${id}/2.5.1.1.dcm`, callingAeTitle: 'E2E' });
    expect(during[0]!['storedAt']).to.match(/^\d{4}-\d\d-\d\dT/);
    expect((await p.bySop('2.5.1.1'))[0]).to.include({ status: 'IMPORTED', storedAt: during[0]!['storedAt'] });
  });

  it('in ap-southeast-2 never runs more jobs than the region quota, even when configured above it (ServiceQuotaExceeded is waited out)', async () => {
    // Prepare: the limiter allows 25 but the data store allows 20 (page "AWS HealthImaging endpoints and quotas").
    p = await startPipeline({ standIn: { region: 'ap-southeast-2', stepDelayMs: 300 }, env: { MAX_CONCURRENT_JOBS: '25', START_INTERVAL_MS: '0' } });
    const ids = Array.from({ length: 23 }, (_, i) => `20261123T125000Z-0a0b0c0d-${String(200 + i).padStart(6, '0')}`);
    const body = await dicomFixtureBytes({ studyInstanceUid: '2.6', seriesInstanceUid: '2.6.1', sopInstanceUid: '2.6.1.1' });
    for (const [i, id] of ids.entries()) {
      const sop = `2.6.1.${i + 1}`;
      await sealBatch(p, id, [await stageObject(p, id, { studyInstanceUid: '2.6', seriesInstanceUid: `2.6.${i + 1}`, sopInstanceUid: sop, body })]);
    }
    // Act
    await p.deliverNewSeals();
    await p.settle();
    // Assess
    expect([...p.executions.values()].every((e) => e.status === 'SUCCEEDED')).to.equal(true);
    expect(p.standIn.peakActiveJobs).to.be.at.most(20);
    expect(p.standIn.calls.some((c) => c.operation === 'StartDICOMImportJob' && c.status === 402)).to.equal(true);
    expect(p.standIn.jobs.size).to.equal(23);
  });
});

import { expect } from 'chai';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sweepOrphanBatches } from '../../lambda/index';
import { runDcmtk } from '../helpers/dcmtk';
import { writeDicomFixture, type FixtureInstance } from '../helpers/dicom-fixtures';
import { MOTO_ENV } from '../helpers/moto-server';
import { spawnScp, type ScpProcess } from '../helpers/scp';
import { startPipeline, type Pipeline } from './pipeline-harness';

/**
 * The whole chain on this machine: dcmtk's storescu → the real SCP process
 * (S3 sink on moto) → seal events → the template's state machine run locally
 * with the real handlers → the HealthImaging stand-in → DynamoDB (moto).
 */
describe('e2e: storescu → SCP → S3 → import workflow → HealthImaging stand-in', function () {
  this.timeout(180_000);
  let p: Pipeline;
  let scp: ScpProcess | undefined;
  let dir: string;

  beforeEach(async () => {
    // GetDICOMImportJob reports outputS3Uri with the job folder appended here (the other suite: as given).
    p = await startPipeline({ standIn: { outputUriStyle: 'with-job-folder' } });
    dir = await mkdtemp(join(tmpdir(), 'e2e-scp-'));
  });
  afterEach(async () => {
    scp?.kill('SIGKILL');
    if (scp) await scp.exited;
    scp = undefined;
    await p?.stop();
  });

  const startScp = async (env: Record<string, string>) => {
    scp = await spawnScp({ ...MOTO_ENV, STORAGE_URI: `s3://${p.stagingBucket}`, S3_ENDPOINT: p.moto.endpoint, AE_TITLE: 'STORESCP', LOG_LEVEL: 'info', ...env });
    await scp.waitForLog('scp_started', 30_000);
    return scp;
  };
  const send = async (port: number, callingAe: string, instances: FixtureInstance[]) => {
    const files = [];
    for (const i of instances) files.push(await writeDicomFixture(dir, i));
    const r = await runDcmtk('storescu', ['-aet', callingAe, '-aec', 'STORESCP', '127.0.0.1', String(port), ...files]);
    expect(r.code, r.stderr).to.equal(0);
  };
  const series = (study: string, s: number, n: number): FixtureInstance[] =>
    Array.from({ length: n }, (_, i) => ({ studyInstanceUid: study, seriesInstanceUid: `${study}.${s}`, sopInstanceUid: `${study}.${s}.${i + 1}` }));

  it('three studies over two associations: one job per sealed batch, every SOP instance mapped to its image set', async () => {
    // Prepare
    const started = Date.now();
    const s = await startScp({ BATCH_QUIET_SECONDS: '1' });
    const studyA = [...series('1.2.826.0.1.1', 1, 3), ...series('1.2.826.0.1.1', 2, 2)];
    const studyB = series('1.2.826.0.1.2', 1, 2);
    const studyC = series('1.2.826.0.1.3', 1, 1);
    // Act: association 1 (study A), its batch seals on quiet; association 2 (studies B + C).
    await send(s.port, 'CT01', studyA);
    await s.waitForLog('batch_sealed', 20_000);
    await send(s.port, 'MR01', [...studyB, ...studyC]);
    await s.waitForLog('batch_sealed', 20_000, (l) => l !== s.logs.find((x) => x['event'] === 'batch_sealed'));
    const manifests = await p.deliverNewSeals();
    await p.settle();
    // Assess
    expect(manifests).to.have.length(2);
    expect([...p.executions.values()].map((e) => e.status)).to.deep.equal(['SUCCEEDED', 'SUCCEEDED']);
    const batchIds = manifests.map((k) => k.slice('batches/'.length, -'.json'.length));
    expect([...p.standIn.jobs.values()].map((j) => j.clientToken).sort()).to.deep.equal([...batchIds].sort());
    for (const id of batchIds) expect((await p.batch(id))!['status']).to.equal('IMPORTED');
    const all = [...studyA, ...studyB, ...studyC];
    for (const inst of all) {
      const rows = await p.bySop(inst.sopInstanceUid);
      expect(rows, inst.sopInstanceUid).to.have.length(1);
      expect(rows[0]).to.include({ status: 'IMPORTED', studyInstanceUid: inst.studyInstanceUid, seriesInstanceUid: inst.seriesInstanceUid, isPrimary: true });
      expect(rows[0]!['imageSetId']).to.match(/^[0-9a-f]{32}$/);
    }
    const studyARows = await p.study('1.2.826.0.1.1');
    expect(studyARows).to.have.length(5);
    expect(new Set(studyARows.map((r) => r['imageSetId'])).size).to.equal(2);
    expect(studyARows.every((r) => r['callingAeTitle'] === 'CT01')).to.equal(true);
    expect(await p.listKeys(p.stagingBucket, 'incoming/')).to.deep.equal([]);
    expect(p.metricSum('InstancesImported')).to.equal(all.length);
    process.stderr.write(`      e2e figures: ${p.standIn.jobs.size} jobs, ${all.length} instances, ${all.length + 4} rows, ${Date.now() - started} ms\n`);
  });

  it('an SCP killed with SIGKILL mid-batch: the sweeper seals the orphan and every acknowledged instance is imported', async () => {
    // Prepare: a batch that would stay open for 10 minutes.
    const s = await startScp({ BATCH_QUIET_SECONDS: '600' });
    const instances = series('1.2.826.0.1.9', 1, 4);
    await send(s.port, 'CT09', instances);
    const acknowledged = s.logs.filter((l) => l['event'] === 'instance_stored').length;
    // Act
    s.kill('SIGKILL');
    await s.exited;
    expect(await p.listKeys(p.stagingBucket, 'batches/')).to.deep.equal([]);
    await new Promise((r) => setTimeout(r, 1200)); // ORPHAN_AGE_SECONDS=1 in the harness
    const swept = await sweepOrphanBatches();
    await p.deliverNewSeals();
    await p.settle();
    // Assess
    expect(acknowledged).to.equal(instances.length);
    expect(swept.sealed).to.have.length(1);
    const manifest = await p.getJson(p.stagingBucket, `batches/${swept.sealed[0]}.json`);
    expect(manifest).to.include({ sealReason: 'sweeper', count: instances.length });
    expect((await p.batch(swept.sealed[0]!))!['status']).to.equal('IMPORTED');
    for (const inst of instances) {
      expect((await p.bySop(inst.sopInstanceUid)).map((r) => r['status'])).to.deep.equal(['IMPORTED']);
    }
  });
});

import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { deriveKeys } from '../../lambda/deid/index';
import { pseudonymUid } from '../../lambda/deid/keys';
import { kmsMac } from '../../lambda/research/keys';
import { researchInstances } from '../../lambda/research/research-copy';
import { basicElements, part10, type El } from '../deid/dataset-builder';
import { runDcmtk } from '../helpers/dcmtk';
import { MOTO_ENV } from '../helpers/moto-server';
import { spawnScp, type ScpProcess } from '../helpers/scp';
import { main } from '../../scripts/research/cli';
import { startExpiryProxy } from './expiry-proxy';
import { PROCESSED_BUCKET, startResearchPipeline, type ResearchPipeline } from './research-harness';

/** Values that identify the patient / visit in the source instances; none may reach a research copy. */
const PHI = {
  patientName: 'DOE^JANE^RESEARCH',
  patientId: 'PID-RESEARCH-A1',
  birthDate: '19610203',
  institution: 'SAINT SENTINEL HOSPITAL',
  accession: 'ACC-SENT-77',
  referrer: 'HOUSE^GREGORY',
  studyId: 'STUDYSENT9',
  studyDate: '20240315',
};
const STUDY = '1.2.826.0.1.3680043.99.1';
const SERIES1 = `${STUDY}.1`;
const SERIES2 = `${STUDY}.2`;
const sop = (series: string, n: number) => `${series}.${n}`;

function instance(series: string, n: number, extra: El[] = []): Buffer {
  const els = basicElements({ sop: sop(series, n), study: STUDY, series, patientId: PHI.patientId, studyDate: PHI.studyDate })
    .map((e) => (e.tag === 0x00100010 ? { ...e, value: PHI.patientName } : e));
  els.push(
    { tag: 0x00080050, vr: 'SH', value: PHI.accession },
    { tag: 0x00080080, vr: 'LO', value: PHI.institution },
    { tag: 0x00080090, vr: 'PN', value: PHI.referrer },
    { tag: 0x00100030, vr: 'DA', value: PHI.birthDate },
    { tag: 0x00200010, vr: 'SH', value: PHI.studyId },
    ...extra,
  );
  els.sort((a, b) => a.tag - b.tag);
  return part10(els);
}

/**
 * Done-when of issue 16 (ResearchCopy): storescu → SCP → S3 (moto) → the
 * clinical state machine from dist/template.json with de-identification on →
 * CopyForResearch → the research state machine from the same template → the
 * real handlers and the real engine → processed bucket; sub-keys from KMS
 * GenerateMac (moto).
 */
describe('e2e: research copies of every batch (storescu → SCP → batch → research state machine → processed bucket)', function () {
  this.timeout(240_000);
  let p: ResearchPipeline;
  let scp: ScpProcess | undefined;
  let dir: string;

  before(async () => {
    p = await startResearchPipeline();
    dir = await mkdtemp(join(tmpdir(), 'research-e2e-'));
  });
  after(async () => {
    scp?.kill('SIGKILL');
    if (scp) await scp.exited;
    await p?.stop();
  });

  const send = async (port: number, files: Array<[string, Buffer]>) => {
    const paths: string[] = [];
    for (const [name, bytes] of files) {
      const file = join(dir, name);
      await writeFile(file, bytes);
      paths.push(file);
    }
    const r = await runDcmtk('storescu', ['-aet', 'CT01', '-aec', 'STORESCP', '127.0.0.1', String(port), ...paths]);
    expect(r.code, r.stderr).to.equal(0);
  };

  it('two batches of one study: copies carry no identifying value, reference each other consistently, a burned-in instance is refused and counted', async () => {
    // Prepare
    scp = await spawnScp({ ...MOTO_ENV, STORAGE_URI: `s3://${p.stagingBucket}`, S3_ENDPOINT: p.moto.endpoint, AE_TITLE: 'STORESCP', BATCH_QUIET_SECONDS: '1' });
    await scp.waitForLog('scp_started', 30_000);
    const batch1: Array<[string, Buffer]> = [1, 2, 3].map((n) => [`a${n}.dcm`, instance(SERIES1, n)]);
    batch1.push(['a4.dcm', instance(SERIES1, 4, [{ tag: 0x00280301, vr: 'CS', value: 'YES' }])]);
    // Batch 2 refers to an instance of batch 1 (Referenced Image Sequence).
    const reference: El = { tag: 0x00081140, vr: 'SQ', items: [[
      { tag: 0x00081150, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' },
      { tag: 0x00081155, vr: 'UI', value: sop(SERIES1, 1) },
    ]] };
    const batch2: Array<[string, Buffer]> = [[`b1.dcm`, instance(SERIES2, 1, [reference])], [`b2.dcm`, instance(SERIES2, 2)]];

    // Act: two associations, each sealed on quiet, each delivered to the clinical workflow.
    await send(scp.port, batch1);
    await scp.waitForLog('batch_sealed', 20_000);
    const firstSeal = scp.logs.find((l) => l['event'] === 'batch_sealed');
    await send(scp.port, batch2);
    await scp.waitForLog('batch_sealed', 20_000, (l) => l !== firstSeal);
    const manifests = await p.deliverNewSeals();
    await p.settle();

    // Assess: the clinical import is unchanged and ran after the research copy.
    expect(manifests).to.have.length(2);
    const executions = [...p.executions.values()];
    expect(executions.map((e) => e.status), JSON.stringify(executions.map((e) => [e.error, e.cause, e.states]))).to.deep.equal(['SUCCEEDED', 'SUCCEEDED']);
    for (const e of executions) {
      expect(e.states.indexOf('CopyForResearch'), e.states.join(' > ')).to.be.within(0, e.states.indexOf('StartImportJob') - 1);
    }
    expect(await p.listKeys(p.stagingBucket, 'incoming/')).to.deep.equal([]);
    expect(p.metricSum('InstancesImported')).to.equal(6);
    expect(p.researchRuns.map((r) => r.status), JSON.stringify(p.researchRuns.map((r) => [r.error, r.states]))).to.deep.equal(['SUCCEEDED', 'SUCCEEDED']);

    // The pseudonyms the engine must have written, from the KMS key (GenerateMac) the Lambdas used.
    const keys = await deriveKeys(kmsMac(p.kms, p.keyArn));
    const newStudy = pseudonymUid(keys, STUDY);
    const processed = await p.listKeys(PROCESSED_BUCKET, '');
    expect(processed).to.have.length(5);
    const expected = [[SERIES1, 1], [SERIES1, 2], [SERIES1, 3], [SERIES2, 1], [SERIES2, 2]] as const;
    expect(processed).to.have.members(expected.map(([series, n]) => `studies/${newStudy}/series/${pseudonymUid(keys, series)}/${pseudonymUid(keys, sop(series, n))}.dcm`));

    const identifying = [...Object.values(PHI), STUDY, SERIES1, SERIES2, ...[1, 2, 3, 4].map((n) => sop(SERIES1, n)), ...[1, 2].map((n) => sop(SERIES2, n))];
    for (const key of processed) {
      const bytes = await p.getBytes(PROCESSED_BUCKET, key);
      for (const value of identifying) expect(bytes.includes(Buffer.from(value, 'latin1')), `${key} carries ${value}`).to.equal(false);
      expect(bytes.includes(Buffer.from(newStudy)), `${key} carries the new Study UID`).to.equal(true);
      const head = await p.s3.send(new HeadObjectCommand({ Bucket: PROCESSED_BUCKET, Key: key }));
      expect(head.Metadata?.['sha256']).to.equal(createHash('sha256').update(bytes).digest('hex'));
    }
    // The reference across batches points at batch 1's research copy.
    const referring = await p.getBytes(PROCESSED_BUCKET, `studies/${newStudy}/series/${pseudonymUid(keys, SERIES2)}/${pseudonymUid(keys, sop(SERIES2, 1))}.dcm`);
    expect(referring.includes(Buffer.from(pseudonymUid(keys, sop(SERIES1, 1))))).to.equal(true);

    // Records and counts: per batch, per instance; the burned-in one refused with its reason.
    const batchIds = manifests.map((k) => k.slice('batches/'.length, -'.json'.length));
    const summaries = await Promise.all(batchIds.map(async (id) => (await p.ddb.send(new (await import('@aws-sdk/lib-dynamodb')).GetCommand({ TableName: p.tableName, Key: { pk: `RESEARCH#${id}`, sk: 'BATCH' } }))).Item));
    expect(summaries.map((s) => [s!['count'], s!['copied'], s!['refused'], s!['failed'], s!['status']])).to.deep.equal([[4, 3, 1, 0, 'COMPLETE'], [2, 2, 0, 0, 'COMPLETE']]);
    const records = await researchInstances(p.ddb, p.tableName, batchIds[0]!);
    const refused = records.filter((r) => r['status'] === 'REFUSED');
    expect(refused.map((r) => r['reason'])).to.deep.equal(['BURNED_IN']);
    for (const r of records.filter((x) => x['status'] === 'COPIED')) {
      expect(r['sourceVersionId'], 'S3 version read').to.be.a('string').and.not.equal('');
      expect(r['sourceETag']).to.be.a('string');
      expect(processed).to.include(r['processedKey']);
    }
    expect(p.metricSum('ResearchInstancesCopied')).to.equal(5);
    expect(p.metricSum('ResearchInstancesRefused')).to.equal(1);
    expect(p.metricSum('ResearchInstancesFailed')).to.equal(0);

    // No identifying value in any line the research Lambdas wrote.
    const researchLines = p.output.filter((l) => String(l['component'] ?? '').startsWith('research')).map((l) => JSON.stringify(l));
    expect(researchLines.length).to.be.greaterThan(0);
    for (const line of researchLines) for (const value of [...Object.values(PHI), STUDY, SERIES1, SERIES2]) expect(line).not.to.include(value);
  });

  it('research CLI on those copies: status equals the records, presign URLs fetch (capped expiry, audit lines) and stop after expiry, download verifies and resumes', async () => {
    const keys = await deriveKeys(kmsMac(p.kms, p.keyArn));
    const newStudy = pseudonymUid(keys, STUDY);
    const proxy = await startExpiryProxy(p.moto.endpoint);
    const run = async (...args: string[]) => {
      let stdout = '';
      let stderr = '';
      const code = await main([...args, '--processed-bucket', PROCESSED_BUCKET, '--table', p.tableName, '--max-expiry', '120'], (s) => { stdout += s; }, (s) => { stderr += s; });
      return { code, stdout, stderr };
    };
    const savedEndpoint = process.env['S3_ENDPOINT'];
    process.env['S3_ENDPOINT'] = proxy.endpoint;
    try {
      // status: per batch, the numbers equal the DynamoDB records.
      const batchIds = p.researchRuns.map((r) => r.input.batchId);
      for (const id of batchIds) {
        const st = await run('status', '--batch', id);
        expect(st.code, st.stderr).to.equal(0);
        const status = JSON.parse(st.stdout);
        const records = await researchInstances(p.ddb, p.tableName, id);
        for (const s of ['COPIED', 'REFUSED', 'FAILED']) expect(status.records[s], s).to.equal(records.filter((r) => r['status'] === s).length);
        expect(status.research).to.include({ copied: status.records.COPIED, refused: status.records.REFUSED });
        expect(status.refused.map((r: any) => r.reason)).to.deep.equal(records.filter((r) => r['status'] === 'REFUSED').map((r) => r['reason']));
      }
      const study = JSON.parse((await run('status', '--study', newStudy)).stdout);
      expect(study).to.include({ copies: 5 });
      expect(study.batches).to.have.members(batchIds);

      // presign a study: capped at the stack maximum with a warning, one audit line per URL without the signature.
      const pre = await run('presign', '--study', newStudy, '--expires', '100000');
      expect(pre.code, pre.stderr).to.equal(0);
      const manifest = JSON.parse(pre.stdout);
      expect(manifest.expiresInSeconds).to.equal(120);
      expect(pre.stderr).to.match(/warning: expiry shortened from 100000 s to the stack maximum 120 s/);
      const audit = pre.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      expect(audit.map((a) => a.key).sort()).to.deep.equal(manifest.objects.map((o: any) => o.key).sort());
      expect(pre.stderr).not.to.include('X-Amz-Signature');
      expect(manifest.objects).to.have.length(5);
      for (const o of manifest.objects) {
        const res = await fetch(o.url);
        expect(res.status).to.equal(200);
        const body = Buffer.from(await res.arrayBuffer());
        expect(createHash('sha256').update(body).digest('hex')).to.equal(o.sha256);
        expect(body.length).to.equal(o.bytes);
      }
      // Keys outside the processed prefix are refused.
      const refused = await run('presign', '--key', 'incoming/x/1.2.3.dcm');
      expect(refused.code).to.equal(2);
      expect(refused.stderr).to.match(/refused: only research copies/);

      // download: verified, then resumed (nothing fetched again), a damaged local file is fetched again.
      const out = await mkdtemp(join(tmpdir(), 'research-dl-'));
      const manifestFile = join(out, 'manifest.json');
      await writeFile(manifestFile, pre.stdout);
      const first = JSON.parse((await run('download', '--manifest', manifestFile, '--dir', join(out, 'copies'))).stdout);
      expect(first).to.deep.equal({ downloaded: 5, skipped: 0, failed: [] });
      const local = join(out, 'copies', ...manifest.objects[0].key.split('/'));
      expect(createHash('sha256').update(await readFile(local)).digest('hex')).to.equal(manifest.objects[0].sha256);
      await writeFile(local, 'damaged');
      const second = JSON.parse((await run('download', '--manifest', manifestFile, '--dir', join(out, 'copies'))).stdout);
      expect(second).to.deep.equal({ downloaded: 1, skipped: 4, failed: [] });

      // A URL stops working after its expiry.
      const short = JSON.parse((await run('presign', '--key', manifest.objects[0].key, '--expires', '1')).stdout);
      expect((await fetch(short.objects[0].url)).status).to.equal(200);
      await new Promise((r) => setTimeout(r, 2200));
      expect((await fetch(short.objects[0].url)).status).to.equal(403);
      const late = await run('download', '--manifest', await (async () => { const f = join(out, 'short.json'); await writeFile(f, JSON.stringify(short)); return f; })(), '--dir', join(out, 'late'));
      expect(late.code).to.equal(1);
      expect(JSON.parse(late.stdout).failed[0].reason).to.match(/HTTP 403/);
    } finally {
      process.env['S3_ENDPOINT'] = savedEndpoint;
      await proxy.stop();
    }
  });
});

/**
 * Done-when of issue 16 (DeidentifiedOnly): the original batch is archived in
 * the versioned raw bucket and never imported; its de-identified copies come
 * back as a derived batch (the SCP's manifest contract) that the clinical
 * workflow imports. Only de-identified data reaches HealthImaging.
 */
describe('e2e: DeidentifiedOnly (only de-identified data reaches HealthImaging)', function () {
  this.timeout(240_000);
  let p: ResearchPipeline;
  let scp: ScpProcess | undefined;
  let dir: string;

  before(async () => {
    p = await startResearchPipeline({}, 'DeidentifiedOnly');
    dir = await mkdtemp(join(tmpdir(), 'research-only-'));
  });
  after(async () => {
    scp?.kill('SIGKILL');
    if (scp) await scp.exited;
    await p?.stop();
  });

  it('originals go to the raw bucket, the derived batch is imported, no original UID is imported', async () => {
    // Prepare
    scp = await spawnScp({ ...MOTO_ENV, STORAGE_URI: `s3://${p.stagingBucket}`, S3_ENDPOINT: p.moto.endpoint, AE_TITLE: 'STORESCP', BATCH_QUIET_SECONDS: '1' });
    await scp.waitForLog('scp_started', 30_000);
    const files: Array<[string, Buffer]> = [1, 2].map((n) => [`o${n}.dcm`, instance(SERIES1, n)]);
    files.push(['o3.dcm', instance(SERIES1, 3, [{ tag: 0x00280301, vr: 'CS', value: 'YES' }])]);
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
    // Assess: the original execution stopped before any import; the derived one imported.
    const originalId = original!.slice('batches/'.length, -'.json'.length);
    const executions = [...p.executions.values()];
    expect(executions.map((e) => [e.status, e.states.at(-1)])).to.deep.equal([['SUCCEEDED', 'OriginalsNotImported'], ['SUCCEEDED', 'Imported']]);
    expect(executions[1]!.states).not.to.include('CopyForResearch');
    expect(derivedManifests).to.have.length(1);
    const derivedId = derivedManifests[0]!.slice('batches/'.length, -'.json'.length);
    expect(derivedId).to.match(/^[0-9]{8}T[0-9]{6}Z-di[0-9a-f]{6}-[0-9]{6}$/);
    expect([...p.standIn.jobs.values()].map((j) => [j.clientToken, j.inputS3Uri])).to.deep.equal([[derivedId, `s3://${p.stagingBucket}/incoming/${derivedId}/`]]);

    const keys = await deriveKeys(kmsMac(p.kms, p.keyArn));
    // Each original's row (STAGED at validation) ends ARCHIVED_ORIGINAL, pointing at the raw bucket: never imported.
    for (const n of [1, 2, 3]) {
      const rows = await p.bySop(sop(SERIES1, n));
      expect(rows.map((x) => [x['status'], String(x['movedTo']).startsWith('s3://') && String(x['movedTo']).includes(`/originals/${originalId}/`)]), `original ${n}`).to.deep.equal([['ARCHIVED_ORIGINAL', true]]);
    }
    for (const n of [1, 2]) {
      const rows = await p.bySop(pseudonymUid(keys, sop(SERIES1, n)));
      expect(rows.map((x) => [x['status'], x['studyInstanceUid']])).to.deep.equal([['IMPORTED', pseudonymUid(keys, STUDY)]]);
    }
    // The burned-in one is refused: archived, not imported, counted.
    expect(p.metricSum('ResearchInstancesRefused')).to.equal(1);
    expect(p.metricSum('InstancesImported')).to.equal(2);
    // Originals: in the versioned raw bucket, gone from staging; the original batch notes the hand-off.
    const raw = await p.listKeys('raw', `originals/${originalId}/`);
    expect(raw).to.have.length(3);
    for (const key of raw) expect((await p.getBytes('raw', key)).includes(Buffer.from(PHI.patientName))).to.equal(true);
    expect(await p.listKeys(p.stagingBucket, 'incoming/')).to.deep.equal([]);
    expect(await p.batch(originalId)).to.include({ deidentifiedOnly: true, derivedBatchId: derivedId });
  });
});

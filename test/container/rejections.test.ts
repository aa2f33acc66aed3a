import { expect } from 'chai';
import * as path from 'node:path';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { writeTestInstance } from '../helpers/dicom-writer';
import { runDcmtk } from '../helpers/dcmtk';
import { SOP, testUid } from '../helpers/corpus';
import { ECHO_CONTEXTS, RawPeer, associateRqPdu, cStoreRq, requestRq } from '../helpers/raw-peer';
import { filesUnder, startScp, tempDir, type InProcessScp } from '../helpers/scp';
import { ScuAssociation, ctDataset } from '../helpers/scu-client';

const ENCAPSULATED_PDF = '1.2.840.10008.5.1.4.1.1.104.1';
const STUDY_ROOT_FIND = '1.2.840.10008.5.1.4.1.2.2.1';
const STUDY_ROOT_MOVE = '1.2.840.10008.5.1.4.1.2.2.2';
const MODALITY_PERFORMED_PROCEDURE_STEP = '1.2.840.10008.3.1.2.3.3';

describe('association rejections, seen from dcmtk', function () {
  this.timeout(60_000);
  let scp: InProcessScp | undefined;
  afterEach(async () => {
    await scp?.stop();
    scp = undefined;
  });

  it('rejects a wrong called AE title when REQUIRE_CALLED_AE_TITLE is true', async () => {
    scp = await startScp({ AE_TITLE: 'HOSPSCP', REQUIRE_CALLED_AE_TITLE: 'true' });
    const bad = await runDcmtk('echoscu', ['-aec', 'WRONG', '127.0.0.1', String(scp.port)]);
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.match(/Called AE Title Not Recognized/i);
    const good = await runDcmtk('echoscu', ['-aec', 'HOSPSCP', '127.0.0.1', String(scp.port)]);
    expect(good.code, good.stderr).to.equal(0);
    expect(scp.app.metrics.associationsRejected.get({ reason: 'called-ae-not-recognized' })).to.equal(1);
  });

  it('rejects a calling AE title outside REQUIRE_CALLING_AE_TITLE', async () => {
    scp = await startScp({ REQUIRE_CALLING_AE_TITLE: 'CT01,MR02' });
    const bad = await runDcmtk('echoscu', ['-aet', 'EVIL', '-aec', 'STORESCP', '127.0.0.1', String(scp.port)]);
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.match(/Calling AE Title Not Recognized/i);
    const good = await runDcmtk('echoscu', ['-aet', 'MR02', '-aec', 'STORESCP', '127.0.0.1', String(scp.port)]);
    expect(good.code, good.stderr).to.equal(0);
  });

  it('rejects the presentation context of an unsupported SOP class and stores the others', async () => {
    scp = await startScp({ SUPPORTED_SOP_CLASS_UIDS: SOP.MR, BATCH_QUIET_SECONDS: '3600' });
    const dir = tempDir('rej-');
    const ct = path.join(dir, 'ct.dcm');
    const mr = path.join(dir, 'mr.dcm');
    const base = { studyInstanceUid: testUid(7, 1), seriesInstanceUid: testUid(7, 2), rows: 8, columns: 8 };
    await writeTestInstance(ct, { ...base, sopClassUid: SOP.CT, sopInstanceUid: testUid(7, 3), modality: 'CT' });
    await writeTestInstance(mr, { ...base, sopClassUid: SOP.MR, sopInstanceUid: testUid(7, 4), modality: 'MR' });
    // --no-halt: storescu goes on to the next file after the refused one.
    const r = await runDcmtk('storescu', ['--no-halt', '-aec', 'STORESCP', '127.0.0.1', String(scp.port), ct, mr]);
    expect(r.stderr).to.match(/no presentation context/i);
    const batch = readdirSync(path.join(scp.dir, 'incoming'))[0];
    expect(existsSync(path.join(scp.dir, 'incoming', batch, `${testUid(7, 4)}.dcm`))).to.equal(true);
    expect(existsSync(path.join(scp.dir, 'incoming', batch, `${testUid(7, 3)}.dcm`))).to.equal(false);
  });

  it('rejects transiently (local limit exceeded) at MAXIMUM_ASSOCIATIONS, and accepts again once a slot frees', async () => {
    scp = await startScp({ MAXIMUM_ASSOCIATIONS: '1' });
    const holder = new RawPeer(scp.port);
    await holder.connected();
    holder.send(associateRqPdu('STORESCP', 'HOLDER', ECHO_CONTEXTS));
    expect(await holder.firstPduType()).to.equal(2);
    const bad = await runDcmtk('echoscu', ['-aec', 'STORESCP', '127.0.0.1', String(scp.port)]);
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.match(/Rejected Transient/i).and.to.match(/Local Limit Exceeded/i);
    holder.destroy();
    await holder.waitClosed();
    await new Promise((r) => setTimeout(r, 100));
    const good = await runDcmtk('echoscu', ['-aec', 'STORESCP', '127.0.0.1', String(scp.port)]);
    expect(good.code, good.stderr).to.equal(0);
  });
});

describe('per-message checks on an established association', function () {
  this.timeout(60_000);
  let scp: InProcessScp | undefined;
  let scu: ScuAssociation | undefined;
  afterEach(async () => {
    scu?.destroy();
    scu = undefined;
    await scp?.stop();
    scp = undefined;
  });
  const storedUids = (): string[] => filesUnder(path.join((scp as InProcessScp).dir, 'incoming')).map((f) => path.basename(f, '.dcm'));

  it('answers 0x0122 to a C-STORE whose SOP class is not its context\'s, stores nothing of it, and keeps the association', async () => {
    // Limited to CT and MR: an Encapsulated PDF sent on the accepted CT context must not get in.
    scp = await startScp({ SUPPORTED_SOP_CLASS_UIDS: `${SOP.CT},${SOP.MR}`, BATCH_QUIET_SECONDS: '3600' });
    scu = await ScuAssociation.open({ port: scp.port, timeoutMs: 20_000 });
    const pdf = testUid(17, process.pid, 10);
    expect(await scu.store({ sopClassUid: ENCAPSULATED_PDF, sopInstanceUid: pdf, dataset: ctDataset(pdf, testUid(17, 1), testUid(17, 2), 300_000) })).to.equal(0x0122);
    // A storage SOP class on the Verification context (id 1) is refused the same way, with the C-STORE-RSP field.
    const onEcho = testUid(17, process.pid, 11);
    expect(await scu.request(1, cStoreRq(7, SOP.CT, onEcho), ctDataset(onEcho, testUid(17, 1), testUid(17, 2), 2000))).to.deep.equal({ commandField: 0x8001, status: 0x0122 });
    const ct = testUid(17, process.pid, 12);
    expect(await scu.store({ sopInstanceUid: ct, dataset: ctDataset(ct, testUid(17, 1), testUid(17, 2), 2000) })).to.equal(0x0000);
    await scu.release();
    expect(storedUids()).to.deep.equal([ct]);
    expect(scp.app.metrics.instancesFailed.get({ status: '0x0122' })).to.equal(2);
    expect(scp.app.metrics.instancesStored.get()).to.equal(1);
    await scp.app.batcher.sealAll('shutdown');
    const manifest = JSON.parse(readFileSync(filesUnder(path.join(scp.dir, 'batches'))[0], 'utf8')) as { objects: { sopInstanceUid: string }[] };
    expect(manifest.objects.map((o) => o.sopInstanceUid)).to.deep.equal([ct]);
  });

  it('answers C-FIND, C-MOVE and N-GET on an accepted context with 0x0211 and the matching response field, and keeps the association', async () => {
    scp = await startScp({ BATCH_QUIET_SECONDS: '3600' });
    scu = await ScuAssociation.open({ port: scp.port, timeoutMs: 20_000 });
    const identifier = ctDataset(testUid(17, 3), testUid(17, 1), testUid(17, 2), 200);
    expect(await scu.request(3, requestRq(0x0020, 21, STUDY_ROOT_FIND, true), identifier)).to.deep.equal({ commandField: 0x8020, status: 0x0211 });
    expect(await scu.request(3, requestRq(0x0021, 22, STUDY_ROOT_MOVE, true), identifier)).to.deep.equal({ commandField: 0x8021, status: 0x0211 });
    expect(await scu.request(1, requestRq(0x0110, 23, MODALITY_PERFORMED_PROCEDURE_STEP, false, 0x0003))).to.deep.equal({ commandField: 0x8110, status: 0x0211 });
    expect(await scu.echo()).to.equal(0x0000);
    const ct = testUid(17, process.pid, 13);
    expect(await scu.store({ sopInstanceUid: ct, dataset: ctDataset(ct, testUid(17, 1), testUid(17, 2), 5000) })).to.equal(0x0000);
    await scu.release();
    expect(scp.app.metrics.instancesFailed.get({ status: '0x0211' })).to.equal(3);
    expect(storedUids()).to.deep.equal([ct]);
    expect(scp.app.metrics.associationsAborted.get({ reason: 'protocol-error:ERR_COMMAND' })).to.equal(0);
  });

  it('gives the positive User Identity response dcmtk storescu --pos-response waits for', async () => {
    scp = await startScp({ BATCH_QUIET_SECONDS: '3600' });
    const dir = tempDir('uid-');
    const file = path.join(dir, 'ct.dcm');
    const uid = testUid(17, process.pid, 14);
    await writeTestInstance(file, { sopClassUid: SOP.CT, sopInstanceUid: uid, studyInstanceUid: testUid(17, 1), seriesInstanceUid: testUid(17, 2), modality: 'CT', rows: 8, columns: 8 });
    const r = await runDcmtk('storescu', ['--user', 'radiographer', '--password', 'not-checked', '--pos-response', '-aec', 'STORESCP', '127.0.0.1', String(scp.port), file]);
    expect(r.code, r.stderr).to.equal(0);
    expect(storedUids()).to.deep.equal([uid]);
  });
});

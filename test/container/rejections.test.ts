import { expect } from 'chai';
import * as path from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { writeTestInstance } from '../helpers/dicom-writer';
import { runDcmtk } from '../helpers/dcmtk';
import { SOP, testUid } from '../helpers/corpus';
import { ECHO_CONTEXTS, RawPeer, associateRqPdu } from '../helpers/raw-peer';
import { startScp, tempDir, type InProcessScp } from '../helpers/scp';

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

import { expect } from 'chai';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { BatchManifest } from '../../lambda/batch-manifest';
import { SOP, testUid } from '../helpers/corpus';
import { datasetBytes, runDcmtk } from '../helpers/dcmtk';
import { writeTestInstance, type TestInstance } from '../helpers/dicom-writer';
import { largePrivateElement, unUndefinedLengthSequence } from '../helpers/private-elements';
import { filesUnder, sealedManifests, startScp, tempDir, type InProcessScp } from '../helpers/scp';

/**
 * Senders other than dcmtk: GDCM's gdcmscu (libgdcm-tools) forwards a private
 * sequence encoded as UN with undefined length unchanged (dcmtk converts it
 * to SQ, which is why the dcmtk suites never saw it), and large private
 * values before group 0020 are legal and occur.
 */
describe('interop with GDCM (gdcmscu) as the sender', function () {
  this.timeout(120_000);
  let scp: InProcessScp;
  let dir: string;
  const study = testUid(17, process.pid, 1);
  const series = testUid(17, process.pid, 2);
  const base: Omit<TestInstance, 'sopInstanceUid'> = { sopClassUid: SOP.CT, studyInstanceUid: study, seriesInstanceUid: series, modality: 'CT', rows: 16, columns: 16 };
  const unUid = testUid(17, process.pid, 3);
  const bigUid = testUid(17, process.pid, 4);

  before(async () => {
    dir = tempDir('gdcm-');
    await writeTestInstance(path.join(dir, 'un.dcm'), { ...base, sopInstanceUid: unUid, privateGroup0009: unUndefinedLengthSequence() });
    // The UIDs sit past the SCP's 1 MiB hold-back: the instance streams before they are read.
    await writeTestInstance(path.join(dir, 'big.dcm'), { ...base, sopInstanceUid: bigUid, privateGroup0009: largePrivateElement(2 << 20) });
    scp = await startScp({ BATCH_QUIET_SECONDS: '3600' });
  });
  after(async () => {
    await scp?.stop();
  });

  /**
   * Runs gdcmscu. Its exit status says nothing: Debian's gdcmscu 3.0.21 aborts
   * after A-RELEASE ("ProtocolStream as nullptr is invalid", SIGABRT) on every
   * run, against dcmtk's storescp too. What happened is read on our side:
   * the association must have been released (no abort counted), and the
   * stored bytes are compared with the file.
   */
  const gdcmscu = async (...args: string[]): Promise<void> => {
    const aborted = abortedTotal();
    const released = scp.app.metrics.associationsTotal.get();
    await runDcmtk('gdcmscu', ['--call', 'STORESCP', '--aetitle', 'GDCMSCU', ...args, '127.0.0.1', String(scp.port)]);
    expect(scp.app.metrics.associationsTotal.get(), 'gdcmscu associated').to.equal(released + 1);
    expect(abortedTotal(), 'association aborted').to.equal(aborted);
  };
  const abortedTotal = (): number => ['peer-abort', 'connection-closed'].reduce((n, reason) => n + scp.app.metrics.associationsAborted.get({ reason }), 0);
  const stored = (uid: string): string => {
    const f = filesUnder(path.join(scp.dir, 'incoming')).find((p) => p.endsWith(`${uid}.dcm`));
    if (!f) throw new Error(`${uid} was not stored`);
    return f;
  };

  it('answers gdcmscu --echo', async () => {
    await gdcmscu('--echo');
    expect(scp.app.metrics.echoes.get()).to.equal(1);
  });

  it('stores a file with a private UN sequence of undefined length byte for byte, with its Study / Series UIDs', async () => {
    await gdcmscu('--store', '-i', path.join(dir, 'un.dcm'));
    const sent = datasetBytes(path.join(dir, 'un.dcm'));
    const got = datasetBytes(stored(unUid));
    // GDCM forwarded the UN element as UN (had it converted it to SQ, this test would not exercise the peek).
    expect(got.indexOf(Buffer.from('UN\0\0\xff\xff\xff\xff', 'latin1'))).to.be.above(0);
    expect(got.equals(sent)).to.equal(true);
  });

  it('stores a file whose UIDs follow a 2 MiB private element, with its Study / Series UIDs', async () => {
    await gdcmscu('--store', '-i', path.join(dir, 'big.dcm'));
    expect(datasetBytes(stored(bigUid)).equals(datasetBytes(path.join(dir, 'big.dcm')))).to.equal(true);
  });

  it('files both instances under their study in the sealed manifest', async () => {
    await scp.app.batcher.sealAll('shutdown');
    const manifests = sealedManifests<BatchManifest>(scp.dir);
    const objects = manifests.flatMap((m) => m.objects);
    for (const uid of [unUid, bigUid]) {
      const o = objects.find((x) => x.sopInstanceUid === uid);
      expect(o, uid).to.not.equal(undefined);
      expect(o?.studyInstanceUid).to.equal(study);
      expect(o?.seriesInstanceUid).to.equal(series);
    }
    expect(manifests.flatMap((m) => m.studyInstanceUids)).to.include(study);
    expect(scp.app.metrics.instancesMissingUids.get()).to.equal(0);
    expect(existsSync(path.join(scp.dir, 'incoming'))).to.equal(true);
  });
});

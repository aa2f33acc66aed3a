import { expect } from 'chai';
import { runDcmtk } from '../helpers/dcmtk';
import { datasetOffset } from '../helpers/dcmtk';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { writeTestInstance } from '../helpers/dicom-writer';
import { ECHO_CONTEXTS, RawPeer, associateRqPdu, cStoreRq, lastStatus, pdata } from '../helpers/raw-peer';
import { startScp, tempDir, type InProcessScp } from '../helpers/scp';

describe('timeouts free the slots of silent and slow peers', function () {
  this.timeout(60_000);
  let scp: InProcessScp | undefined;
  afterEach(async () => {
    await scp?.stop();
    scp = undefined;
  });

  it('closes a connection that never sends A-ASSOCIATE-RQ after ACSE_TIMEOUT', async () => {
    scp = await startScp({ ACSE_TIMEOUT: '1' });
    const peer = new RawPeer(scp.port);
    await peer.connected();
    const t = Date.now();
    expect(await peer.waitClosed(5000)).to.equal(true);
    expect(Date.now() - t).to.be.within(900, 3500);
    expect(scp.app.metrics.associationsAborted.get({ reason: 'acse-timeout' })).to.equal(1);
  });

  it('aborts an association stalled mid-instance after DIMSE_TIMEOUT and stores nothing', async () => {
    scp = await startScp({ DIMSE_TIMEOUT: '1', NETWORK_TIMEOUT: '30' });
    const peer = new RawPeer(scp.port);
    await peer.connected();
    peer.send(associateRqPdu('STORESCP', 'SLOW', [[1, '1.2.840.10008.5.1.4.1.1.2', ['1.2.840.10008.1.2.1']]]));
    expect(await peer.firstPduType()).to.equal(2);
    peer.received = Buffer.alloc(0);
    const partial = pdata(1, false, Buffer.alloc(5000, 1), 4000);
    peer.send(Buffer.concat([pdata(1, true, cStoreRq(1, '1.2.840.10008.5.1.4.1.1.2', '1.2.3.4')), partial.subarray(0, 4012)]));
    expect(await peer.waitClosed(5000)).to.equal(true);
    expect(peer.received[0]).to.equal(7);
    expect(scp.app.metrics.associationsAborted.get({ reason: 'dimse-timeout' })).to.equal(1);
    expect(scp.app.metrics.instancesStored.get()).to.equal(0);
  });

  /** Associates on the CT context and sends a C-STORE-RQ command; returns the peer. */
  async function storeCommand(port: number, calling: string, uid: string): Promise<RawPeer> {
    const peer = new RawPeer(port);
    await peer.connected();
    peer.send(associateRqPdu('STORESCP', calling, [[1, '1.2.840.10008.5.1.4.1.1.2', ['1.2.840.10008.1.2.1']]]));
    expect(await peer.firstPduType()).to.equal(2);
    peer.received = Buffer.alloc(0);
    peer.send(pdata(1, true, cStoreRq(1, '1.2.840.10008.5.1.4.1.1.2', uid)));
    return peer;
  }

  it('aborts a sender that trickles a byte just inside DIMSE_TIMEOUT once it falls below MINIMUM_RECEIVE_RATE, and stores nothing', async () => {
    scp = await startScp({ DIMSE_TIMEOUT: '2', NETWORK_TIMEOUT: '30', MINIMUM_RECEIVE_RATE: '1024' });
    const peer = await storeCommand(scp.port, 'TRICKLE', '1.2.3.4.5');
    const dataset = pdata(1, false, Buffer.alloc(5000, 1), 4000);
    peer.send(dataset.subarray(0, 100));
    let sent = 100;
    // One byte every 400 ms: never DIMSE_TIMEOUT of silence, but 2-3 bytes per 2 s window.
    const drip = setInterval(() => peer.send(dataset.subarray(sent, ++sent)), 400);
    try {
      const t = Date.now();
      expect(await peer.waitClosed(8000)).to.equal(true);
      expect(Date.now() - t).to.be.within(1500, 5000);
    } finally {
      clearInterval(drip);
    }
    expect(peer.received[0], 'A-ABORT').to.equal(7);
    expect(scp.app.metrics.associationsAborted.get({ reason: 'slow-sender' })).to.equal(1);
    expect(scp.app.metrics.associationsAborted.get({ reason: 'dimse-timeout' })).to.equal(0);
    expect(scp.app.metrics.instancesStored.get()).to.equal(0);
  });

  it('stores from a slow but steady sender (4 KiB/s for 4 s, above MINIMUM_RECEIVE_RATE)', async () => {
    scp = await startScp({ DIMSE_TIMEOUT: '1', NETWORK_TIMEOUT: '30', MINIMUM_RECEIVE_RATE: '1024' });
    const uid = '1.2.3.4.6';
    const f = path.join(tempDir('steady-'), 'ct.dcm');
    await writeTestInstance(f, { sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: uid, studyInstanceUid: '1.2.3.1', seriesInstanceUid: '1.2.3.2', modality: 'CT', rows: 64, columns: 128 });
    const file = readFileSync(f);
    const pdus = pdata(1, false, file.subarray(datasetOffset(file)), 1000);
    const peer = await storeCommand(scp.port, 'STEADY', uid);
    // 512 bytes every 125 ms.
    for (let at = 0; at < pdus.length; at += 512) {
      peer.send(pdus.subarray(at, at + 512));
      await new Promise((r) => setTimeout(r, 125));
    }
    const deadline = Date.now() + 5000;
    while (lastStatus(peer.received) === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(pdus.length, 'the transfer spans several DIMSE_TIMEOUT windows').to.be.above(12_000);
    expect(lastStatus(peer.received)).to.equal(0);
    expect(peer.closed).to.equal(false);
    expect(scp.app.metrics.instancesStored.get()).to.equal(1);
    peer.destroy();
  });

  it('aborts an idle association after NETWORK_TIMEOUT, which frees the only slot', async () => {
    scp = await startScp({ MAXIMUM_ASSOCIATIONS: '1', NETWORK_TIMEOUT: '1' });
    const idle = new RawPeer(scp.port);
    await idle.connected();
    idle.send(associateRqPdu('STORESCP', 'IDLE', ECHO_CONTEXTS));
    expect(await idle.firstPduType()).to.equal(2);
    expect(await idle.waitClosed(5000)).to.equal(true);
    const echo = await runDcmtk('echoscu', ['-aec', 'STORESCP', '127.0.0.1', String(scp.port)]);
    expect(echo.code, echo.stderr).to.equal(0);
    expect(scp.app.metrics.associationsAborted.get({ reason: 'network-timeout' })).to.equal(1);
  });

  it('serves a legitimate association while 300 idle connections sit unassociated', async () => {
    scp = await startScp({ MAXIMUM_ASSOCIATIONS: '10' });
    const idle = Array.from({ length: 300 }, () => new RawPeer(scp!.port));
    await Promise.all(idle.map((p) => p.connected()));
    const echo = await runDcmtk('echoscu', ['-aec', 'STORESCP', '127.0.0.1', String(scp.port)]);
    expect(echo.code, echo.stderr).to.equal(0);
    idle.forEach((p) => p.destroy());
  });
});

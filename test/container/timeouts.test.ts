import { expect } from 'chai';
import { runDcmtk } from '../helpers/dcmtk';
import { ECHO_CONTEXTS, RawPeer, associateRqPdu, cStoreRq, pdata } from '../helpers/raw-peer';
import { startScp, type InProcessScp } from '../helpers/scp';

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

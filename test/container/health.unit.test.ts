import { expect } from 'chai';
import { mockClient } from 'aws-sdk-client-mock';
import { CustomerNotEntitledException, MarketplaceMeteringClient, RegisterUsageCommand } from '@aws-sdk/client-marketplace-metering';
import { healthReport, type HealthSource } from '../../container/src/health-server';
import { NotEntitledError, registerUsage } from '../../container/src/marketplace';
import { runDcmtk } from '../helpers/dcmtk';
import { startScp } from '../helpers/scp';
import { createNullSink } from '../../container/src/storage/null-sink';
import { RawPeer, associateRqPdu, cStoreRq, lastStatus, pdata } from '../helpers/raw-peer';

function src(over: Partial<{ listening: boolean; draining: boolean; failing: boolean; active: number }> = {}): HealthSource {
  const o = { listening: true, draining: false, failing: false, active: 0, ...over };
  return { listening: () => o.listening, draining: () => o.draining, storageFailing: () => o.failing, associations: () => ({ active: o.active, max: 10 }) };
}

describe('health', () => {
  it('is healthy while accepting, degraded near the limit, unhealthy at it or when storage fails, draining after SIGTERM', () => {
    expect(healthReport(src()).status).to.equal('healthy');
    expect(healthReport(src({ active: 8 })).status).to.equal('degraded');
    expect(healthReport(src({ active: 10 })).status).to.equal('unhealthy');
    expect(healthReport(src({ failing: true })).components.storage).to.equal('failing');
    expect(healthReport(src({ failing: true })).status).to.equal('unhealthy');
    expect(healthReport(src({ listening: false })).components.dicom_listener).to.equal('down');
    expect(healthReport(src({ draining: true })).status).to.equal('draining');
  });

  it('serves /health and /metrics over HTTP, with counters that move', async () => {
    const scp = await startScp();
    try {
      const h = await fetch(`http://127.0.0.1:${scp.healthPort}/health`);
      expect(h.status).to.equal(200);
      expect(await h.json()).to.deep.equal({ status: 'healthy', components: { dicom_listener: 'listening', storage: 'ok', associations: { active: 0, max: 300 } } });
      expect((await runDcmtk('echoscu', ['-aec', 'STORESCP', '127.0.0.1', String(scp.port)])).code).to.equal(0);
      const m = await (await fetch(`http://127.0.0.1:${scp.healthPort}/metrics`)).text();
      expect(m).to.match(/^dicom_associations_total 1$/m).and.to.match(/^dicom_echo_total 1$/m).and.to.contain('# TYPE dicom_store_duration_seconds histogram');
      expect((await fetch(`http://127.0.0.1:${scp.healthPort}/nope`)).status).to.equal(404);
    } finally {
      await scp.stop();
    }
  });
});

describe('Marketplace RegisterUsage', () => {
  const metering = mockClient(MarketplaceMeteringClient);
  afterEach(() => metering.reset());

  it('registers with the product code and public key version 1', async () => {
    metering.on(RegisterUsageCommand).resolves({ Signature: 'sig' });
    await registerUsage('abc123', new MarketplaceMeteringClient({ region: 'us-east-1' }));
    expect(metering.commandCalls(RegisterUsageCommand)[0].args[0].input).to.deep.equal({ ProductCode: 'abc123', PublicKeyVersion: 1 });
  });

  it('turns CustomerNotEntitledException into NotEntitledError', async () => {
    metering.on(RegisterUsageCommand).rejects(new CustomerNotEntitledException({ message: 'no subscription', $metadata: {} }));
    const err = await registerUsage('abc123', new MarketplaceMeteringClient({ region: 'us-east-1' })).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(NotEntitledError);
    expect(err).to.have.property('code', 'ERR_NOT_ENTITLED');
    expect((err as Error).message).to.contain('CustomerNotEntitledException');
  });
});

describe('storage health from commit outcomes', function () {
  this.timeout(30_000);

  it('turns unhealthy after three failed commits in a row, and healthy again after a success', async () => {
    let failing = true;
    const sink = { ...createNullSink(), begin: () => ({ write: () => true, onDrain: (cb: () => void) => cb(), abort: async () => {}, commit: async () => { if (failing) throw new Error('bucket gone'); } }) };
    const scp = await startScp({}, { sink });
    const status = async () => (await fetch(`http://127.0.0.1:${scp.healthPort}/health`)).status;
    const store = async (i: number) => {
      const peer = new RawPeer(scp.port);
      await peer.connected();
      peer.send(associateRqPdu('STORESCP', 'CT01', [[1, '1.2.840.10008.5.1.4.1.1.2', ['1.2.840.10008.1.2.1']]]));
      await peer.firstPduType();
      peer.received = Buffer.alloc(0);
      peer.send(Buffer.concat([pdata(1, true, cStoreRq(1, '1.2.840.10008.5.1.4.1.1.2', `1.2.3.${i}`)), pdata(1, false, Buffer.alloc(64))]));
      const end = Date.now() + 5000;
      while (lastStatus(peer.received) === undefined && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      peer.destroy();
      return lastStatus(peer.received);
    };
    try {
      expect(await store(1)).to.equal(0xa700);
      expect(await store(2)).to.equal(0xa700);
      expect(await status()).to.equal(200);
      expect(await store(3)).to.equal(0xa700);
      expect(await status()).to.equal(503);
      failing = false;
      expect(await store(4)).to.equal(0x0000);
      expect(await status()).to.equal(200);
    } finally {
      await scp.stop();
    }
  });
});

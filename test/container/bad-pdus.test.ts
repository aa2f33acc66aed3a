import { expect } from 'chai';
import { runDcmtk } from '../helpers/dcmtk';
import { fuzz } from '../helpers/pdu-fuzzer';
import { partialFiles, startScp } from '../helpers/scp';


describe('bad PDUs against a running SCP', function () {
  this.timeout(180_000);

  it('survives 3,000 random and mutated PDU streams, stores nothing partial, and still answers C-ECHO', async () => {
    const scp = await startScp({ ACSE_TIMEOUT: '1', DIMSE_TIMEOUT: '1', NETWORK_TIMEOUT: '2', BATCH_QUIET_SECONDS: '3600' });
    const uncaught: Error[] = [];
    const onUncaught = (e: Error): void => void uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      const heapBefore = process.memoryUsage().heapUsed;
      const sent = await fuzz(scp.port, 3000, 20261123);
      expect(sent).to.be.at.least(3000);
      const echo = await runDcmtk('echoscu', ['-aec', 'STORESCP', '127.0.0.1', String(scp.port)]);
      expect(echo.code, echo.stderr).to.equal(0);
      expect(uncaught).to.deep.equal([]);
      const reasons = scp.app.metrics.associationsAborted.values().map((v) => v.labels.reason);
      expect(reasons.some((r) => r?.startsWith('protocol-error:'))).to.equal(true);
      // Every case's session is gone again: nothing accumulates per bad connection.
      const deadline = Date.now() + 10_000;
      while (scp.app.server.connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(scp.app.server.connections).to.equal(0);
      expect(scp.app.server.activeAssociations()).to.equal(0);
      global.gc?.();
      expect(process.memoryUsage().heapUsed - heapBefore).to.be.below(64 * 1024 * 1024);
      // No half-written instance is left behind.
      expect(partialFiles(scp.dir)).to.deep.equal([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      await scp.stop();
    }
  });
});

import { expect } from 'chai';
import * as net from 'node:net';
import * as path from 'node:path';
import { SOP, testUid } from '../helpers/corpus';
import { runDcmtk } from '../helpers/dcmtk';
import { writeTestInstance } from '../helpers/dicom-writer';
import { associateRqPdu, cStoreRq, ECHO_CONTEXTS, pdata, RawPeer } from '../helpers/raw-peer';
import { reportFigures } from '../helpers/robustness-report';
import { spawnScp, tempDir } from '../helpers/scp';

async function metric(healthPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  return Number(m?.[1] ?? NaN);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const CT = '1.2.840.10008.5.1.4.1.1.2';

describe('slow and idle peers', function () {
  this.timeout(120_000);

  it('300 idle connections and slowloris senders do not stop a legitimate association; timeouts free every slot', async () => {
    const scp = await spawnScp({ ACSE_TIMEOUT: '4', DIMSE_TIMEOUT: '4', NETWORK_TIMEOUT: '6', MAXIMUM_ASSOCIATIONS: '10', BATCH_QUIET_SECONDS: '3600', LOG_LEVEL: 'info' });
    const sockets: net.Socket[] = [];
    const peers: RawPeer[] = [];
    let idleClosedByScp = 0;
    try {
      await scp.ready();
      // 300 connections that never send a byte.
      for (let i = 0; i < 300; i++) {
        const s = net.connect({ port: scp.port, host: '127.0.0.1' });
        s.on('error', () => undefined);
        s.on('close', () => (idleClosedByScp += 1));
        // Read, so the SCP's A-ABORT and FIN are seen (and the socket closes).
        s.resume();
        sockets.push(s);
      }
      await Promise.all(sockets.map((s) => new Promise((r) => (s.readyState === 'open' ? r(null) : s.once('connect', r)))));
      // Slowloris 1: the A-ASSOCIATE-RQ one byte every 100 ms (never completes within ACSE_TIMEOUT).
      const rq = associateRqPdu('STORESCP', 'SLOWRQ', [...ECHO_CONTEXTS, [3, CT, ['1.2.840.10008.1.2.1']]]);
      const slowRq = new RawPeer(scp.port);
      peers.push(slowRq);
      await slowRq.connected();
      let rqBytes = 0;
      const dripRq = setInterval(() => {
        if (slowRq.closed || rqBytes >= rq.length) return;
        slowRq.send(rq.subarray(rqBytes, rqBytes + 1));
        rqBytes += 1;
      }, 100);
      // Slowloris 2..9: associated, then a C-STORE whose dataset stops half-way (a stalled sender
      // holding a slot), or trickles one byte every 3 s (below DIMSE_TIMEOUT, but below MINIMUM_RECEIVE_RATE too).
      const stalled: RawPeer[] = [];
      for (let i = 0; i < 8; i++) {
        const p = new RawPeer(scp.port);
        peers.push(p);
        stalled.push(p);
        await p.connected();
        p.send(associateRqPdu('STORESCP', `SLOW${i}`, [[3, CT, ['1.2.840.10008.1.2.1']]]));
      }
      await sleep(300);
      const dataset = pdata(3, false, Buffer.alloc(40_000, 0x41), 16000);
      for (const [i, p] of stalled.entries()) {
        p.send(pdata(3, true, cStoreRq(1, CT, `1.2.3.4.${i}`)));
        p.send(dataset.subarray(0, 20_000));
      }
      const trickler = stalled[0];
      let trickled = 20_000;
      const dripData = setInterval(() => {
        if (!trickler.closed) trickler.send(dataset.subarray(trickled, ++trickled));
      }, 3000);
      const established = await metric(scp.healthPort, 'dicom_associations_active');

      // The legitimate sender, meanwhile.
      const dir = tempDir('slow-');
      const files: string[] = [];
      for (let i = 0; i < 20; i++) {
        const f = path.join(dir, `ct-${i}.dcm`);
        await writeTestInstance(f, { sopClassUid: SOP.CT, sopInstanceUid: testUid(31, process.pid, i), studyInstanceUid: testUid(31, 1), seriesInstanceUid: testUid(31, 2), modality: 'CT', rows: 256, columns: 256 });
        files.push(f);
      }
      const t0 = Date.now();
      const store = await runDcmtk('storescu', ['-aec', 'STORESCP', '127.0.0.1', String(scp.port), ...files], 30_000);
      const storeMs = Date.now() - t0;
      const echo = await runDcmtk('echoscu', ['-aec', 'STORESCP', '127.0.0.1', String(scp.port)]);
      const connectionsDuring = await metric(scp.healthPort, 'dicom_connections_open');
      const stored = scp.logs.filter((l) => l.event === 'instance_stored').length;

      // Timeouts free the slots: the idle ones and the slow RQ after ACSE_TIMEOUT, the stalled
      // stores after DIMSE_TIMEOUT, the trickler (a byte every 3 s < DIMSE_TIMEOUT) after a DIMSE_TIMEOUT
      // window below MINIMUM_RECEIVE_RATE.
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && (idleClosedByScp < 300 || !slowRq.closed || stalled.some((p) => !p.closed))) await sleep(200);
      clearInterval(dripRq);
      // A session leaves the count once its discarded instance is cleaned up (temp file closed and
      // removed), which can finish a little after the peer saw the connection close.
      let openAfter = await metric(scp.healthPort, 'dicom_connections_open');
      while (openAfter > 0 && Date.now() < deadline + 5000) {
        await sleep(100);
        openAfter = await metric(scp.healthPort, 'dicom_connections_open');
      }
      const activeAfter = await metric(scp.healthPort, 'dicom_associations_active');
      clearInterval(dripData);
      reportFigures('slow and idle peers', {
        'idle connections': 300,
        'slowloris senders': `1 dripping its A-ASSOCIATE-RQ, 7 stalled mid-C-STORE, 1 trickling a byte every 3 s`,
        'associations established by slow senders (MAXIMUM_ASSOCIATIONS 10)': established,
        'legitimate storescu: instances acknowledged': `${stored} of 20 in ${storeMs} ms`,
        'connections open while it was served': connectionsDuring,
        'idle connections closed by the SCP (ACSE_TIMEOUT 4 s)': idleClosedByScp,
        'stalled senders aborted (DIMSE_TIMEOUT 4 s)': stalled.slice(1).filter((p) => p.closed).length,
        'trickler aborted (MINIMUM_RECEIVE_RATE 1024 B/s over DIMSE_TIMEOUT)': trickler.closed ? 1 : 0,
        'connections open afterwards': openAfter,
      });
      expect(established).to.equal(8);
      expect(store.code, store.stderr).to.equal(0);
      expect(stored).to.equal(20);
      expect(echo.code, echo.stderr).to.equal(0);
      expect(connectionsDuring).to.be.at.least(300);
      expect(idleClosedByScp).to.equal(300);
      expect(slowRq.closed, 'the dripping A-ASSOCIATE-RQ is cut at ACSE_TIMEOUT').to.equal(true);
      expect(stalled.slice(1).every((p) => p.closed)).to.equal(true);
      expect(trickler.closed, 'the trickler is cut below MINIMUM_RECEIVE_RATE').to.equal(true);
      expect(openAfter).to.equal(0);
      expect(activeAfter).to.equal(0);
    } finally {
      for (const s of sockets) s.destroy();
      for (const p of peers) p.destroy();
      scp.kill('SIGKILL');
      await scp.exited;
    }
  });
});

import { expect } from 'chai';
import { runDcmtk } from '../helpers/dcmtk';
import { fuzz, prng, sendCase } from '../helpers/pdu-fuzzer';
import { peakRss } from '../helpers/proc';
import { RELEASE_RQ, cEchoRq, pdata } from '../helpers/raw-peer';
import { reportFigures } from '../helpers/robustness-report';
import { partialFiles, spawnScp } from '../helpers/scp';
import { ScuAssociation } from '../helpers/scu-client';

const MiB = 1048576;

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8') as string);
  return Number(m?.[1] ?? 0) * 1024;
}

async function metric(healthPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(text);
  return Number(m?.[1] ?? NaN);
}

/**
 * A-ASSOCIATE-RQs built item by item with structural damage the byte-level
 * mutator rarely reaches: item lengths that lie, unknown / repeated / missing
 * items, hundreds of contexts, oversized UIDs and AE fields, odd user-info
 * sub-items; half of them followed by a C-ECHO and a release.
 */
function structuralCase(rand: () => number): Buffer {
  const int = (n: number): number => Math.floor(rand() * n);
  const item = (type: number, value: Buffer, lie = rand() < 0.1): Buffer => {
    const h = Buffer.alloc(4);
    h[0] = type;
    h.writeUInt16BE(lie ? int(65536) : Math.min(value.length, 65535), 2);
    return Buffer.concat([h, value]);
  };
  const uid = (): Buffer => (rand() < 0.1 ? Buffer.alloc(int(300), 0x31) : Buffer.from(`1.2.840.10008.${int(9)}.${int(99)}`));
  const fixed = Buffer.alloc(68, 0x20);
  fixed.writeUInt16BE(rand() < 0.9 ? 1 : int(65536), 0);
  fixed.writeUInt16BE(0, 2);
  fixed.write('STORESCP', 4, 'latin1');
  fixed.write(rand() < 0.1 ? '\\\\\\\\' : 'FUZZ', 20, 'latin1');
  const parts: Buffer[] = [fixed];
  if (rand() < 0.9) parts.push(item(0x10, rand() < 0.9 ? Buffer.from('1.2.840.10008.3.1.1.1') : uid()));
  const contexts = rand() < 0.1 ? 128 + int(200) : 1 + int(4);
  for (let i = 0; i < contexts; i++) {
    const id = rand() < 0.9 ? (i * 2 + 1) & 0xff : int(256);
    const subs: Buffer[] = [item(rand() < 0.95 ? 0x30 : int(256), rand() < 0.9 ? Buffer.from('1.2.840.10008.1.1') : uid())];
    for (let t = 0, n = int(4); t < n; t++) subs.push(item(rand() < 0.95 ? 0x40 : int(256), rand() < 0.8 ? Buffer.from('1.2.840.10008.1.2') : uid()));
    parts.push(item(rand() < 0.95 ? 0x20 : int(256), Buffer.concat([Buffer.from([id, 0, 0, 0]), ...subs])));
  }
  if (rand() < 0.9) {
    const max = Buffer.alloc(4);
    max.writeUInt32BE(rand() < 0.8 ? 16384 : int(2 ** 32));
    const user: Buffer[] = [item(0x51, rand() < 0.9 ? max : Buffer.alloc(int(9)))];
    if (rand() < 0.8) user.push(item(0x52, uid()));
    if (rand() < 0.3) user.push(item(0x53, Buffer.alloc(int(6))));
    if (rand() < 0.3) user.push(item(0x54, Buffer.concat([Buffer.from([0, 4]), uid(), Buffer.alloc(int(4))])));
    if (rand() < 0.3) user.push(item(0x58, Buffer.alloc(int(200), 0x41)));
    if (rand() < 0.2) user.push(item(int(256), Buffer.alloc(int(100))));
    parts.push(item(0x50, Buffer.concat(user)));
  }
  const body = Buffer.concat(parts);
  const h = Buffer.alloc(6);
  h[0] = 1;
  h.writeUInt32BE(rand() < 0.95 ? body.length : int(2 ** 32), 2);
  const conv: Buffer[] = [h, body];
  if (rand() < 0.5) conv.push(pdata(1, true, cEchoRq(1)), RELEASE_RQ);
  return Buffer.concat(conv);
}


describe('PDU fuzzing at scale', function () {
  this.timeout(300_000);

  it('survives 10,000 mutated and 2,000 structurally damaged PDU streams with bounded memory, answering C-ECHO throughout', async () => {
    const scp = await spawnScp({ ACSE_TIMEOUT: '1', DIMSE_TIMEOUT: '1', NETWORK_TIMEOUT: '2', BATCH_QUIET_SECONDS: '3600', LOG_LEVEL: 'error' });
    const pid = scp.child.pid as number;
    await scp.ready();
    try {
      // Warm up until the heap has grown to its working size for this load (V8 sizes its
      // young generation to the allocation rate), then take the baseline.
      await fuzz(scp.port, 2000, 1, 48);
      const baseline = rss(pid);
      require('node:fs').writeFileSync(`/proc/${pid}/clear_refs`, '5');
      let echoes = 0;
      let echoFailures = 0;
      let refusedConnects = 0;
      const probeErrors: string[] = [];
      let fuzzing = true;
      const prober = (async () => {
        while (fuzzing) {
          try {
            let a: ScuAssociation | undefined;
            for (let attempt = 1; !a; attempt++) {
              try {
                a = await ScuAssociation.open({ port: scp.port, callingAe: 'PROBE', timeoutMs: 10_000 });
              } catch (err) {
                // With thousands of short connections the loopback 4-tuples get reused while the
                // SCP side is still in TIME_WAIT and the kernel refuses the SYN: retry the connect.
                if (!/ECONNREFUSED/.test((err as Error).message) || attempt >= 5) throw err;
                refusedConnects += 1;
                await new Promise((r) => setTimeout(r, 50));
              }
            }
            if ((await a.echo()) === 0) echoes += 1;
            else echoFailures += 1;
            await a.release();
          } catch (err) {
            echoFailures += 1;
            probeErrors.push((err as Error).message);
          }
          await new Promise((r) => setTimeout(r, 250));
        }
      })();
      const t0 = Date.now();
      const mutated = await fuzz(scp.port, 10_000, 20261124, 48);
      const rand = prng(424242);
      let structural = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (structural < 2000) {
            structural += 1;
            await sendCase(scp.port, structuralCase(rand));
          }
        }),
      );
      fuzzing = false;
      await prober;
      const seconds = (Date.now() - t0) / 1000;
      const peakGrowth = peakRss(pid) - baseline;
      const echo = await runDcmtk('echoscu', ['-aec', 'STORESCP', '127.0.0.1', String(scp.port)]);
      const deadline = Date.now() + 15_000;
      while ((await metric(scp.healthPort, 'dicom_connections_open')) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const open = await metric(scp.healthPort, 'dicom_connections_open');
      const protocolAborts = (await (await fetch(`http://127.0.0.1:${scp.healthPort}/metrics`)).text())
        .split('\n')
        .filter((l) => l.startsWith('dicom_associations_aborted_total{reason="protocol-error'))
        .reduce((s, l) => s + Number(l.split(' ').pop()), 0);
      const parts = partialFiles(scp.dir);
      reportFigures('PDU fuzzing', {
        'mutated cases (pdu-fuzzer, seed 20261124)': mutated,
        'structural A-ASSOCIATE-RQ cases (seed 424242)': structural,
        'protocol-error aborts': protocolAborts,
        'C-ECHO probes answered during fuzzing': `${echoes} of ${echoes + echoFailures}`,
        'probe connects refused by the kernel and retried (loopback TIME_WAIT reuse)': refusedConnects,
        'peak RSS growth MiB': (peakGrowth / MiB).toFixed(1),
        'crashes (SCP exit)': scp.child.exitCode === null ? 0 : 1,
        'connections left open': open,
        'partly written files left': parts.length,
        seconds: seconds.toFixed(0),
        'RSS after MiB (baseline)': `${(rss(pid) / MiB).toFixed(0)} (${(baseline / MiB).toFixed(0)})`,
      });
      expect(scp.child.exitCode, 'the SCP process must not exit').to.equal(null);
      expect(mutated + structural).to.be.at.least(12_000);
      expect(echo.code, echo.stderr).to.equal(0);
      expect(echoes).to.be.above(10);
      expect(echoFailures, probeErrors.join('; ')).to.equal(0);
      expect(protocolAborts).to.be.above(1000);
      expect(open).to.equal(0);
      expect(parts).to.deep.equal([]);
      // Bounded: a few hundred connections at most are in flight; nothing accumulates per case.
      expect(peakGrowth).to.be.below(64 * MiB);
    } finally {
      scp.kill('SIGKILL');
      await scp.exited;
    }
  });
});

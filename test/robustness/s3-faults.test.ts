import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { datasetOffset } from '../helpers/dcmtk';
import { FaultProxy, type Fault } from '../helpers/fault-proxy';
import { MOTO_ENV, startMotoServer, type MotoServer } from '../helpers/moto-server';
import { prng } from '../helpers/pdu-fuzzer';
import { reportFigures } from '../helpers/robustness-report';
import { startScp, type InProcessScp } from '../helpers/scp';
import { ctDataset, ScuAssociation, ScuError } from '../helpers/scu-client';
import { TcpSwitch } from '../helpers/tcp-switch';

const ROOT = `1.2.826.0.1.3680043.9.7433.71.${process.pid}`;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Sent {
  readonly uid: string;
  readonly sha: string;
  status?: number;
  /** When the response arrived (ms, Date.now()). */
  answeredAt?: number;
}

/** `associations` associations at once, each storing its instances in turn; records every status. */
async function send(port: number, batches: { uid: string; bytes: number }[][], gapMs = 0): Promise<Sent[]> {
  const all: Sent[] = [];
  await Promise.all(
    batches.map(async (list) => {
      let a: ScuAssociation | undefined;
      for (const item of list) {
        const ds = ctDataset(item.uid, `${ROOT}.2`, `${ROOT}.3`, item.bytes);
        const s: Sent = { uid: item.uid, sha: sha(ds) };
        all.push(s);
        try {
          a ??= await ScuAssociation.open({ port, callingAe: 'FAULTS', timeoutMs: 60_000 });
          s.status = await a.store({ sopInstanceUid: item.uid, dataset: ds });
          s.answeredAt = Date.now();
          if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
        } catch (err) {
          // The association died (not expected: storage faults must become a status, not an abort).
          s.status = -1;
          a?.destroy();
          a = undefined;
          if (!(err instanceof ScuError)) throw err;
        }
      }
      await a?.release().catch(() => a?.destroy());
    }),
  );
  return all;
}

describe('S3 fault injection: acknowledged equals stored', function () {
  this.timeout(240_000);
  const bucket = 'faults';
  let moto: MotoServer;
  let proxy: FaultProxy;
  let sw: TcpSwitch;
  let s3: S3Client;
  let scp: InProcessScp;

  before(async () => {
    Object.assign(process.env, MOTO_ENV);
    moto = await startMotoServer();
    proxy = new FaultProxy(moto.endpoint);
    const proxyUrl = new URL(await proxy.listen());
    sw = new TcpSwitch(Number(proxyUrl.port));
    const port = await sw.up();
    s3 = new S3Client({ endpoint: moto.endpoint, forcePathStyle: true, region: 'us-east-1' });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    scp = await startScp({ STORAGE_URI: `s3://${bucket}/r`, S3_ENDPOINT: `http://127.0.0.1:${port}`, BATCH_QUIET_SECONDS: '3600', DIMSE_TIMEOUT: '20' });
  });
  after(async () => {
    await scp?.stop();
    await sw?.down();
    await proxy?.close();
    await moto?.stop();
  });

  async function storedObjects(): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'r/incoming/', ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        const body = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }))).Body!.transformToByteArray());
        out.set(/([^/]+)\.dcm$/.exec(o.Key as string)?.[1] as string, body);
      }
      token = page.NextContinuationToken;
    } while (token);
    return out;
  }

  function check(sent: Sent[], stored: Map<string, Buffer>): { acked: number; failed: number; missing: number; corrupt: number; storedNotAcked: number } {
    let missing = 0;
    let corrupt = 0;
    let storedNotAcked = 0;
    for (const s of sent) {
      const body = stored.get(s.uid);
      if (s.status === 0) {
        if (!body) missing += 1;
        else if (sha(body.subarray(datasetOffset(body))) !== s.sha) corrupt += 1;
      } else if (body) {
        // S3 completed the upload but the answer was lost: not acknowledged, so the sender retries; never the reverse.
        storedNotAcked += 1;
        if (sha(body.subarray(datasetOffset(body))) !== s.sha) corrupt += 1;
      }
    }
    return { acked: sent.filter((s) => s.status === 0).length, failed: sent.filter((s) => s.status !== 0).length, missing, corrupt, storedNotAcked };
  }

  it('under random 500s, connection resets and latency, every acknowledged instance is in S3, byte for byte', async () => {
    const rand = prng(7001);
    const tally = { error500: 0, reset: 0, latency: 0 };
    proxy.decide = (): Fault => {
      const r = rand();
      if (r < 0.12) return (tally.error500++, 'error500');
      if (r < 0.2) return (tally.reset++, 'reset');
      if (r < 0.45) return (tally.latency++, { delayMs: 20 + Math.floor(rand() * 400) });
      return 'pass';
    };
    const sizes = [64 << 10, 512 << 10, 7 << 20];
    const batches = Array.from({ length: 4 }, (_, a) => Array.from({ length: 15 }, (_, i) => ({ uid: `${ROOT}.1.${a}.${i}`, bytes: sizes[(a + i) % 3] })));
    const sent = await send(scp.port, batches);
    proxy.decide = () => 'pass';
    const r = check(sent, await storedObjects());
    reportFigures('S3 faults: 500 / reset / latency', { instances: sent.length, 'requests seen by the proxy': proxy.requests, 'injected 500s': tally.error500, 'injected connection resets': tally.reset, 'injected delays (20-420 ms)': tally.latency, acknowledged: r.acked, 'failed (0xA700)': r.failed, 'acknowledged but missing or corrupt in S3': r.missing + r.corrupt, 'stored but not acknowledged': r.storedNotAcked });
    expect(tally.error500 + tally.reset).to.be.above(20);
    expect(sent.filter((s) => s.status === -1), 'no association may die of a storage fault').to.have.length(0);
    expect(r.missing + r.corrupt).to.equal(0);
    expect(r.acked).to.be.above(0);
  });

  it('when the S3 endpoint goes away mid-upload and comes back, nothing acknowledged is lost and the SCP recovers', async () => {
    // Spread over the outages and the recoveries between them (a pause after each instance).
    const batches = Array.from({ length: 4 }, (_, a) => Array.from({ length: 12 }, (_, i) => ({ uid: `${ROOT}.4.${a}.${i}`, bytes: i % 2 ? 12 << 20 : 256 << 10 })));
    // Each outage starts while a multipart upload is sending its second part (truly mid-upload).
    let outages = 0;
    let armed = true;
    let finished: () => void = () => undefined;
    const outage = new Promise<void>((resolve) => (finished = resolve));
    proxy.decide = (method, p) => {
      if (armed && method === 'PUT' && /partNumber=2/.test(p)) {
        armed = false;
        setTimeout(async () => {
          await sw.down();
          outages += 1;
          await new Promise((r) => setTimeout(r, outages === 1 ? 2500 : 6000));
          await sw.up();
          if (outages < 2) setTimeout(() => (armed = true), 1000);
          else finished();
        }, 50);
      }
      return { delayMs: 30 };
    };
    const t0 = Date.now();
    const sent = await send(scp.port, batches, 700);
    if (process.env.DEBUG_FAULTS) console.log(sent.map((x) => `${x.uid.slice(-5)} ${x.status} ${(x.answeredAt ?? 0) - t0}`).join('\n'));
    await outage;
    proxy.decide = () => 'pass';
    // The service is usable again once the endpoint is back.
    const after = await send(scp.port, [[{ uid: `${ROOT}.5.1`, bytes: 100 << 10 }]]);
    expect(after[0].status).to.equal(0);
    const stored = await storedObjects();
    const r = check(sent, stored);
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    reportFigures('S3 endpoint going away mid-upload', { instances: sent.length, outages, 'connections cut mid-request': sw.cut, acknowledged: r.acked, 'failed (0xA700)': r.failed, 'acknowledged but missing or corrupt in S3': r.missing + r.corrupt, 'stored but not acknowledged': r.storedNotAcked, 'multipart uploads left open': (uploads.Uploads ?? []).length });
    expect(outages).to.equal(2);
    expect(sw.cut).to.be.above(0);
    expect(r.failed, 'an outage longer than the retries must fail some instances').to.be.above(0);
    expect(sent.filter((s) => s.status === -1)).to.have.length(0);
    expect(r.missing + r.corrupt).to.equal(0);
  });

  it('when moto itself is killed mid-upload, nothing whose upload died is acknowledged', async () => {
    proxy.decide = () => ({ delayMs: 30 });
    const batches = Array.from({ length: 4 }, (_, a) => Array.from({ length: 5 }, (_, i) => ({ uid: `${ROOT}.6.${a}.${i}`, bytes: i % 2 ? 256 << 10 : 12 << 20 })));
    let killedAt = 0;
    const kill = (async () => {
      await new Promise((r) => setTimeout(r, 1200));
      killedAt = Date.now();
      moto.process.kill('SIGKILL');
      await new Promise((r) => moto.process.once('exit', r));
      await new Promise((r) => setTimeout(r, 1500));
      // A new, empty moto on the same port: whatever the old one held is gone with it.
      moto = await startMotoServer(moto.port);
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    })();
    const sent = await send(scp.port, batches);
    await kill;
    // And once the new server is up, the same SCP stores into it.
    sent.push(...(await send(scp.port, [0, 1, 2, 3].map((a) => [{ uid: `${ROOT}.7.${a}`, bytes: a % 2 ? 256 << 10 : 12 << 20 }]))));
    const stored = await storedObjects();
    // Everything acknowledged after the kill must be in the new server: its upload cannot have
    // started on the dead one and been acknowledged anyway.
    // An upload that completed on the old server just before the kill can have its C-STORE-RSP
    // arrive a few ms after it; 250 ms after the kill, every Success must come from the new server.
    const settle = killedAt + 250;
    const ackedAfter = sent.filter((s) => s.status === 0 && (s.answeredAt ?? 0) > settle);
    const lost = ackedAfter.filter((s) => !stored.has(s.uid) || sha(stored.get(s.uid)!.subarray(datasetOffset(stored.get(s.uid)!))) !== s.sha);
    reportFigures('moto killed (SIGKILL) mid-upload and restarted empty', { instances: sent.length, 'acknowledged before the kill + 250 ms (lost with moto, not checked)': sent.filter((s) => s.status === 0 && (s.answeredAt ?? 0) <= settle).length, 'acknowledged later': ackedAfter.length, 'failed (0xA700)': sent.filter((s) => s.status !== 0).length, 'acknowledged after the kill but missing or corrupt': lost.length });
    expect(sent.filter((s) => s.status === -1)).to.have.length(0);
    // Uploads in flight at the kill either fail (a multipart upload whose id died with the old
    // server) or are retried into the new server (a single PUT): both are checked by \`lost\`.
    expect(ackedAfter.length, 'the SCP stores again once S3 is back').to.be.above(0);
    expect(lost).to.have.length(0);
  });
});

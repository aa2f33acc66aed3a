import { expect } from 'chai';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { writeTestInstance } from '../helpers/dicom-writer';
import { datasetBytes, runDcmtk } from '../helpers/dcmtk';
import { datasetOffset } from '../helpers/dcmtk';
import { SOP, testUid } from '../helpers/corpus';
import { FaultProxy } from '../helpers/fault-proxy';
import { MOTO_ENV, startMotoServer, type MotoServer } from '../helpers/moto-server';
import { startScp, tempDir, type InProcessScp } from '../helpers/scp';

/** Files storescu reports as acknowledged with Success, from its -v output. */
export function acknowledgedFiles(stderr: string): { ok: string[]; failed: string[] } {
  const ok: string[] = [];
  const failed: string[] = [];
  let current = '';
  for (const line of stderr.split('\n')) {
    const sending = /Sending file: (.+)$/.exec(line);
    if (sending) current = sending[1].trim();
    const rsp = /Received Store Response \((.+)\)/.exec(line);
    if (rsp) (rsp[1] === 'Success' ? ok : failed).push(current);
  }
  return { ok, failed };
}

describe('S3 sink against a real S3-compatible server (moto_server)', function () {
  this.timeout(120_000);
  let moto: MotoServer;
  let proxy: FaultProxy;
  let s3: S3Client;
  let scp: InProcessScp | undefined;
  const files: string[] = [];
  const bucket = 'staging-test';

  before(async () => {
    Object.assign(process.env, MOTO_ENV);
    moto = await startMotoServer();
    proxy = new FaultProxy(moto.endpoint);
    const endpoint = await proxy.listen();
    s3 = new S3Client({ endpoint: moto.endpoint, forcePathStyle: true, region: 'us-east-1' });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const dir = tempDir('s3-');
    for (let i = 0; i < 24; i++) {
      const f = path.join(dir, `ct-${i}.dcm`);
      await writeTestInstance(f, { sopClassUid: SOP.CT, sopInstanceUid: testUid(8, process.pid, i), studyInstanceUid: testUid(8, 1), seriesInstanceUid: testUid(8, 2), modality: 'CT', rows: 64, columns: i === 5 ? 3000 : 64 });
      files.push(f);
    }
    scp = await startScp({ STORAGE_URI: `s3://${bucket}/site-a`, S3_ENDPOINT: endpoint, BATCH_QUIET_SECONDS: '3600', DIMSE_TIMEOUT: '20' });
  });
  after(async () => {
    await scp?.stop();
    await proxy?.close();
    await moto?.stop();
  });

  it('stores every acknowledged instance byte-for-byte with its metadata, and fails (never acks) the ones S3 refused', async () => {
    // Every request for instances 7, 8 and 15 fails (all SDK retries included); instance 5 (18 MB) goes multipart.
    const doomed = [7, 8, 15].map((i) => testUid(8, process.pid, i));
    proxy.decide = (method, p) => (method === 'PUT' && doomed.some((u) => p.includes(`${u}.dcm`)) ? (p.includes(doomed[1]) ? 'reset' : 'error500') : 'pass');
    const r = await runDcmtk('storescu', ['-v', '--no-halt', '-aec', 'STORESCP', '-aet', 'CT01', '127.0.0.1', String(scp!.port), ...files]);
    const { ok, failed } = acknowledgedFiles(r.stderr);
    expect(failed, r.stderr).to.have.length(3);
    expect(ok).to.have.length(21);
    expect(r.stderr).to.match(/Received Store Response \(Refused: OutOfResources\)/);
    expect(proxy.faults).to.be.at.least(3);

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'site-a/incoming/' }));
    const keys = (listed.Contents ?? []).map((o) => o.Key as string);
    expect(keys).to.have.length(ok.length);
    for (const f of ok) {
      const i = Number(/ct-(\d+)\.dcm$/.exec(f)?.[1]);
      const uid = testUid(8, process.pid, i);
      const key = keys.find((k) => k.endsWith(`/${uid}.dcm`));
      expect(key, `acknowledged ${uid} missing from S3`).to.be.a('string');
      const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const body = Buffer.from(await obj.Body!.transformToByteArray());
      expect(body.subarray(datasetOffset(body)).equals(datasetBytes(f)), `${uid} bytes differ`).to.equal(true);
      expect(obj.Metadata).to.include({ 'sop-instance-uid': uid, 'study-instance-uid': testUid(8, 1), 'series-instance-uid': testUid(8, 2), 'sop-class-uid': SOP.CT, 'calling-ae-title': 'CT01', 'transfer-syntax-uid': '1.2.840.10008.1.2.1' });
    }
    for (const u of doomed) expect(keys.some((k) => k.includes(u))).to.equal(false);
    expect(scp!.app.metrics.instancesFailed.get({ status: '0xa700' })).to.equal(3);
  });

  it('uploads with a CRC32 checksum of the whole object, and seals the batch manifest on shutdown', async () => {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'site-a/incoming/' }));
    for (const o of listed.Contents!.slice(0, 3)) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: o.Key, ChecksumMode: 'ENABLED' }));
      const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }));
      const body = Buffer.from(await obj.Body!.transformToByteArray());
      expect(head.ChecksumCRC32, o.Key).to.be.a('string');
      expect(Buffer.from(head.ChecksumCRC32!, 'base64').readUInt32BE(0), o.Key).to.equal(crc32(body));
    }
    await scp!.stop();
    const manifests = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'site-a/batches/' }));
    expect(manifests.Contents).to.have.length(1);
    const m = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: manifests.Contents![0].Key }));
    const manifest = JSON.parse(await m.Body!.transformToString()) as { count: number; objects: { key: string }[] };
    expect(manifest.count).to.equal(21);
    expect(manifest.objects.every((o) => listed.Contents!.some((c) => c.Key === `site-a/${o.key}`))).to.equal(true);
  });
});

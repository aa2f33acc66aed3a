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
import { ScuAssociation, ctDataset } from '../helpers/scu-client';
import { largePrivateElement } from '../helpers/private-elements';
import type { BatchManifest } from '../../lambda/batch-manifest';

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

describe('S3 sink: UIDs read after the upload began, and datasets without them (moto_server)', function () {
  this.timeout(120_000);
  let moto: MotoServer;
  let s3: S3Client;
  let scp: InProcessScp | undefined;
  const bucket = 'staging-late';
  const study = testUid(17, process.pid, 21);
  const series = testUid(17, process.pid, 22);
  const late = testUid(17, process.pid, 23);
  const none = testUid(17, process.pid, 24);
  const lateBig = testUid(17, process.pid, 25);
  let lateFile: string;
  let lateBigFile: string;

  before(async () => {
    Object.assign(process.env, MOTO_ENV);
    moto = await startMotoServer();
    s3 = new S3Client({ endpoint: moto.endpoint, forcePathStyle: true, region: 'us-east-1' });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    lateFile = path.join(tempDir('late-'), 'late.dcm');
    // 2 MiB of private data before group 0020: past the 1 MiB hold-back, so the upload starts before the UIDs are read.
    await writeTestInstance(lateFile, { sopClassUid: SOP.CT, sopInstanceUid: late, studyInstanceUid: study, seriesInstanceUid: series, modality: 'CT', rows: 16, columns: 16, privateGroup0009: largePrivateElement(2 << 20) });
    // 6 MiB before group 0020: more than one part, so the multipart upload starts (metadata fixed) before the UIDs are read.
    lateBigFile = path.join(tempDir('late-'), 'late-big.dcm');
    await writeTestInstance(lateBigFile, { sopClassUid: SOP.CT, sopInstanceUid: lateBig, studyInstanceUid: study, seriesInstanceUid: series, modality: 'CT', rows: 16, columns: 16, privateGroup0009: largePrivateElement(6 << 20) });
    scp = await startScp({ STORAGE_URI: `s3://${bucket}/site-b`, S3_ENDPOINT: moto.endpoint, BATCH_QUIET_SECONDS: '3600' });
  });
  after(async () => {
    await scp?.stop();
    await moto?.stop();
  });

  const head = (uid: string) => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `site-b/${keyOf(uid)}`, ChecksumMode: 'ENABLED' }));
  let keys: string[] = [];
  const keyOf = (uid: string): string => (keys.find((k) => k.endsWith(`/${uid}.dcm`)) as string).replace(/^site-b\//, '');

  it('puts the Study / Series UIDs found past the hold-back into the object metadata (one PutObject, and a multipart upload copied onto itself), checksum and bytes intact', async () => {
    const r = await runDcmtk('storescu', ['-aec', 'STORESCP', '127.0.0.1', String(scp!.port), lateFile, lateBigFile]);
    expect(r.code, r.stderr).to.equal(0);
    keys = ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'site-b/incoming/' }))).Contents ?? []).map((o) => o.Key as string);
    for (const [uid, file] of [[late, lateFile], [lateBig, lateBigFile]]) {
      const h = await head(uid);
      expect(h.Metadata, uid).to.include({ 'study-instance-uid': study, 'series-instance-uid': series, 'sop-instance-uid': uid, 'sop-class-uid': SOP.CT });
      const body = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `site-b/${keyOf(uid)}` }))).Body!.transformToByteArray());
      expect(body.subarray(datasetOffset(body)).equals(datasetBytes(file)), uid).to.equal(true);
      expect(h.ChecksumCRC32, uid).to.be.a('string');
      if (uid === late) expect(Buffer.from(h.ChecksumCRC32!, 'base64').readUInt32BE(0)).to.equal(crc32(body));
    }
  });

  it('records a dataset without Study / Series UIDs as UNKNOWN, counted, never as an empty string', async () => {
    const scu = await ScuAssociation.open({ port: scp!.port, timeoutMs: 20_000 });
    try {
      expect(await scu.store({ sopInstanceUid: none, dataset: datasetWithoutGroup0020(none) })).to.equal(0);
      await scu.release();
    } finally {
      scu.destroy();
    }
    keys = ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'site-b/incoming/' }))).Contents ?? []).map((o) => o.Key as string);
    expect((await head(none)).Metadata).to.include({ 'study-instance-uid': 'UNKNOWN', 'series-instance-uid': 'UNKNOWN', 'sop-instance-uid': none });
    expect(scp!.app.metrics.instancesMissingUids.get()).to.equal(1);
  });

  it('seals a manifest with the late UIDs and the placeholder, listing only real studies', async () => {
    await scp!.stop();
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'site-b/batches/' }));
    const m = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: listed.Contents![0].Key }))).Body!.transformToString()) as BatchManifest;
    const byUid = new Map(m.objects.map((o) => [o.sopInstanceUid, o]));
    expect(byUid.get(late)).to.include({ studyInstanceUid: study, seriesInstanceUid: series });
    expect(byUid.get(lateBig)).to.include({ studyInstanceUid: study, seriesInstanceUid: series });
    expect(byUid.get(none)).to.include({ studyInstanceUid: 'UNKNOWN', seriesInstanceUid: 'UNKNOWN' });
    expect(m.studyInstanceUids).to.deep.equal([study]);
  });
});

/** An Explicit VR LE CT dataset with SOP Class / Instance UIDs and pixel data, but no group 0020. */
function datasetWithoutGroup0020(sopInstanceUid: string): Buffer {
  const full = ctDataset(sopInstanceUid, '1.2.3', '1.2.3.4', 4000);
  const at = (g: number, e: number): number => {
    for (let off = 0; off + 8 <= full.length; off += 8 + full.readUInt16LE(off + 6)) if (full.readUInt16LE(off) === g && full.readUInt16LE(off + 2) === e) return off;
    throw new Error('element not found');
  };
  return Buffer.concat([full.subarray(0, at(0x20, 0x0d)), full.subarray(at(0x7fe0, 0x10))]);
}

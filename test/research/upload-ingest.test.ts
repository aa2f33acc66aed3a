import { PutObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { uploadIngest } from '../../lambda/index';
import { resetResearchRuntime } from '../../lambda/research/handlers';
import { readUploadHeader } from '../../lambda/research/upload-ingest';
import { basicElements, part10 } from '../deid/dataset-builder';
import { startPipeline, type Pipeline } from '../e2e/pipeline-harness';

const STUDY = '1.2.826.0.1.3680043.99.7';
const valid = (n: number) => part10(basicElements({ sop: `${STUDY}.1.${n}`, study: STUDY, series: `${STUDY}.1` }));
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]), Buffer.from('JFIF\0'), Buffer.alloc(300, 7)]);

/**
 * Done-when of issue 16 (upload ingest): a folder of mixed files uploaded
 * under uploads/ ends with the valid ones imported in a small number of
 * batches (the real handler, then the template's import workflow on moto and
 * the HealthImaging stand-in) and the others quarantined with reasons.
 */
describe('S3 upload ingest (uploads/ -> batches -> import workflow)', function () {
  this.timeout(120_000);
  let p: Pipeline;
  before(async () => { p = await startPipeline(); });
  after(async () => p?.stop());

  it('valid instances in nested folders become one sealed batch and are imported; a JPEG and a truncated file go to failed/uploads/ with a reason', async () => {
    // Prepare: what `aws s3 cp --recursive` of a migration folder would put.
    const files: Record<string, Buffer> = {
      'uploads/site-a/DOE_JOHN/ct/1.dcm': valid(1),
      'uploads/site-a/DOE_JOHN/ct/2': valid(2),
      'uploads/site-a/DOE_JOHN/ct/sub dir/3.DCM': valid(3),
      'uploads/site-a/DOE_JOHN/photo.jpg': JPEG,
      'uploads/site-a/DOE_JOHN/cut.dcm': valid(4).subarray(0, 150),
    };
    for (const [Key, Body] of Object.entries(files)) await p.s3.send(new PutObjectCommand({ Bucket: p.stagingBucket, Key, Body }));
    // Act: one SQS batch of the EventBridge events (the event source's batching window).
    const Records = Object.keys(files).map((key, i) => ({ messageId: `m${i}`, body: JSON.stringify({ source: 'aws.s3', 'detail-type': 'Object Created', detail: { bucket: { name: p.stagingBucket }, object: { key, size: files[key]!.length } } }) }));
    const result = await uploadIngest({ Records });
    await p.deliverNewSeals();
    await p.settle();
    // Assess
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(result.sealed).to.have.length(1);
    expect(result.sealed[0]).to.match(/^[0-9]{8}T[0-9]{6}Z-up[0-9a-f]{6}-000001$/);
    expect([...p.executions.values()].map((e) => e.status)).to.deep.equal(['SUCCEEDED']);
    for (const n of [1, 2, 3]) expect((await p.bySop(`${STUDY}.1.${n}`)).map((r) => r['status'])).to.deep.equal(['IMPORTED']);
    expect(await p.listKeys(p.stagingBucket, 'uploads/')).to.deep.equal([]);
    expect(await p.listKeys(p.stagingBucket, 'failed/uploads/')).to.deep.equal([
      'failed/uploads/site-a/DOE_JOHN/cut.dcm', 'failed/uploads/site-a/DOE_JOHN/cut.dcm.reason.json',
      'failed/uploads/site-a/DOE_JOHN/photo.jpg', 'failed/uploads/site-a/DOE_JOHN/photo.jpg.reason.json',
    ]);
    expect((await p.getJson(p.stagingBucket, 'failed/uploads/site-a/DOE_JOHN/photo.jpg.reason.json'))['reason']).to.equal('NOT_DICOM');
    expect((await p.getJson(p.stagingBucket, 'failed/uploads/site-a/DOE_JOHN/cut.dcm.reason.json'))['reason']).to.equal('NO_FILE_META');
    expect(p.metricSum('UploadObjectsAccepted')).to.equal(3);
    expect(p.metricSum('UploadObjectsRejected')).to.equal(2);
    // Folder names may be patient names: no log line carries the uploaded key.
    const lines = p.output.filter((l) => l['component'] === 'upload-ingest').map((l) => JSON.stringify(l));
    expect(lines.length).to.be.greaterThan(0);
    for (const line of lines) expect(line).not.to.include('DOE_JOHN');
  });

  it('the count limit splits one event batch into batches of at most UPLOAD_BATCH_MAX_FILES (5 uploads, limit 2: 3 batches, not 5 executions)', async () => {
    process.env['UPLOAD_BATCH_MAX_FILES'] = '2';
    resetResearchRuntime();
    try {
      const keys = [11, 12, 13, 14, 15].map((n) => `uploads/migration/${n}.dcm`);
      for (const [i, Key] of keys.entries()) await p.s3.send(new PutObjectCommand({ Bucket: p.stagingBucket, Key, Body: valid(11 + i) }));
      const result = await uploadIngest({ Records: keys.map((key, i) => ({ messageId: `c${i}`, body: JSON.stringify({ detail: { bucket: { name: p.stagingBucket }, object: { key } } }) })) });
      expect(result.sealed).to.have.length(3);
      const counts = await Promise.all(result.sealed.map(async (id) => (await p.getJson(p.stagingBucket, `batches/${id}.json`))['count']));
      expect(counts.sort()).to.deep.equal([1, 2, 2]);
    } finally {
      delete process.env['UPLOAD_BATCH_MAX_FILES'];
      resetResearchRuntime();
    }
  });

  it('a redelivered event of an object already moved changes nothing; the header reader finds the UIDs and refuses a bare preamble', async () => {
    const again = await uploadIngest({ Records: [{ messageId: 'x', body: JSON.stringify({ detail: { bucket: { name: p.stagingBucket }, object: { key: 'uploads/site-a/DOE_JOHN/ct/1.dcm' } } }) }] });
    expect(again).to.deep.equal({ batchItemFailures: [], sealed: [] });
    const header = readUploadHeader(valid(9));
    expect(header).to.include({ sopInstanceUid: `${STUDY}.1.9`, studyInstanceUid: STUDY, seriesInstanceUid: `${STUDY}.1`, transferSyntaxUid: '1.2.840.10008.1.2.1' });
    expect(readUploadHeader(Buffer.concat([Buffer.alloc(128), Buffer.from('DICM')]))).to.equal('NO_FILE_META');
  });
});

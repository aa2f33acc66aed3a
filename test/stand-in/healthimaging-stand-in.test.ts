import { expect } from 'chai';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { dicomFixtureBytes } from '../helpers/dicom-fixtures';
import { GetDICOMImportJobCommand, ListDICOMImportJobsCommand, MedicalImagingClient, StartDICOMImportJobCommand } from '@aws-sdk/client-medical-imaging';
import { startMotoServer, type MotoServer } from '../helpers/moto-server';
import { startHealthImagingStandIn, type HealthImagingStandIn } from './healthimaging-stand-in';

const DS = '0123456789abcdef0123456789abcdef';

/** The stand-in answers the real SDK client the way the service does (REFERENCE §2). */
describe('test/stand-in: HealthImaging import-job API', function () {
  this.timeout(60_000);
  let moto: MotoServer;
  let standIn: HealthImagingStandIn;
  let mi: MedicalImagingClient;
  let s3: S3Client;
  const creds = { region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  const start = (clientToken: string, inputS3Uri = 's3://in-bucket/p/') => mi.send(new StartDICOMImportJobCommand({ datastoreId: DS, clientToken, dataAccessRoleArn: 'arn:aws:iam::123456789012:role/r', inputS3Uri, outputS3Uri: 's3://out-bucket/o/' }));

  before(async () => {
    moto = await startMotoServer();
    s3 = new S3Client({ ...creds, endpoint: moto.endpoint, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'in-bucket' }));
    await s3.send(new CreateBucketCommand({ Bucket: 'out-bucket' }));
    standIn = await startHealthImagingStandIn({ s3, datastoreId: DS, stepDelayMs: 5, outputUriStyle: 'with-job-folder' });
    mi = new MedicalImagingClient({ ...creds, endpoint: standIn.endpoint, maxAttempts: 1 });
  });
  after(async () => {
    await standIn?.stop();
    await moto?.stop();
  });

  it('returns the same job for the same clientToken', async () => {
    const a = await start('tok-1');
    const b = await start('tok-1');
    expect(b.jobId).to.equal(a.jobId);
    expect(a.submittedAt).to.be.instanceOf(Date);
  });

  it('answers ConflictException when a clientToken is reused with another input', async () => {
    const err = await start('tok-1', 's3://in-bucket/other/').catch((e: unknown) => e);
    expect(err).to.have.property('name', 'ConflictException');
  });

  it('answers ThrottlingException when told to throttle', async () => {
    standIn.throttleStarts(1);
    expect(await start('tok-2').catch((e: unknown) => e)).to.have.property('name', 'ThrottlingException');
    expect((await start('tok-2')).jobId).to.be.a('string');
  });

  it('answers ValidationException for a bad clientToken and ResourceNotFoundException for another data store', async () => {
    expect(await start('bad token!').catch((e: unknown) => e)).to.have.property('name', 'ValidationException');
    const other = await mi.send(new GetDICOMImportJobCommand({ datastoreId: 'f'.repeat(32), jobId: 'x' })).catch((e: unknown) => e);
    expect(other).to.have.property('name', 'ResourceNotFoundException');
  });

  it('completes an empty-prefix job and reports the output folder appended, and lists jobs by status', async () => {
    const { jobId } = await start('tok-3');
    await standIn.idle();
    const got = await mi.send(new GetDICOMImportJobCommand({ datastoreId: DS, jobId: jobId! }));
    expect(got.jobProperties).to.include({ jobStatus: 'COMPLETED', outputS3Uri: `s3://out-bucket/o/${DS}-DicomImport-${jobId}/` });
    const listed = await mi.send(new ListDICOMImportJobsCommand({ datastoreId: DS, jobStatus: 'COMPLETED' }));
    expect(listed.jobSummaries!.map((j) => j.jobId)).to.include(jobId);
  });

  describe('unhappy shapes', () => {
    let other: HealthImagingStandIn;
    let client: MedicalImagingClient;
    afterEach(async () => {
      await other?.stop();
    });
    const use = async (opts: Partial<Parameters<typeof startHealthImagingStandIn>[0]>) => {
      other = await startHealthImagingStandIn({ s3, datastoreId: DS, stepDelayMs: 5, ...opts });
      client = new MedicalImagingClient({ ...creds, endpoint: other.endpoint, maxAttempts: 1 });
    };
    const stage = async (prefix: string, sop: string, patientId = 'PID-1', series = '9.1.1') =>
      s3.send(new PutObjectCommand({ Bucket: 'in-bucket', Key: `${prefix}${sop}.dcm`, Body: await dicomFixtureBytes({ studyInstanceUid: '9.1', seriesInstanceUid: series, sopInstanceUid: sop, patientId }) }));
    const run = async (token: string, prefix: string) => {
      const { jobId } = await client.send(new StartDICOMImportJobCommand({ datastoreId: DS, clientToken: token, dataAccessRoleArn: 'arn:aws:iam::123456789012:role/r', inputS3Uri: `s3://in-bucket/${prefix}`, outputS3Uri: `s3://out-bucket/${token}/` }));
      await other.idle();
      return { jobId: jobId!, folder: `${token}/${DS}-DicomImport-${jobId}/` };
    };
    const text = async (key: string) => (await s3.send(new GetObjectCommand({ Bucket: 'out-bucket', Key: key }))).Body!.transformToString();
    const lines = async (key: string) => (await text(key)).split('\n').filter(Boolean).map((l) => JSON.parse(l) as any);
    const summary = async (folder: string) => (JSON.parse(await text(`${folder}job-output-manifest.json`)) as any).jobSummary;

    it('puts a resent series with another PatientID into a non-primary image set, and bumps the primary version on re-import', async () => {
      await use({});
      await stage('np1/', '9.1.1.1', 'PID-1');
      const first = await run('np-1', 'np1/');
      await stage('np2/', '9.1.1.1', 'PID-1');
      const again = await run('np-2', 'np2/');
      await stage('np3/', '9.1.1.1', 'PID-CHANGED');
      const conflict = await run('np-3', 'np3/');
      const [a] = await lines(`${first.folder}SUCCESS/success.ndjson`);
      const [b] = await lines(`${again.folder}SUCCESS/success.ndjson`);
      const [c] = await lines(`${conflict.folder}SUCCESS/success.ndjson`);
      expect(a.importResponse).to.deep.equal(b.importResponse);
      expect(a.importResponse.isPrimary).to.equal(true);
      expect(c.importResponse.isPrimary).to.equal(false);
      expect(c.importResponse.imageSetId).to.match(/^[0-9a-f]{32}$/).and.not.equal(a.importResponse.imageSetId);
      expect((await summary(first.folder)).imageSetsSummary[0].imageSetVersion).to.equal(1);
      expect((await summary(again.folder)).imageSetsSummary[0].imageSetVersion).to.equal(2);
      expect((await summary(conflict.folder)).imageSetsSummary[0]).to.include({ isPrimary: false });
    });

    it('reports a warning-only file in warning.ndjson alone, with its image set, and counts it as imported', async () => {
      const warningsFor = () => [{ reasonCode: '0xB120', type: 'UNSUPPORTED_TRANSFER_SYNTAX', message: 'blob' }];
      await use({ warningsFor, warningStyle: 'warning-only' });
      await stage('w1/', '9.1.2.1');
      const only = await run('w-1', 'w1/');
      expect(await lines(`${only.folder}SUCCESS/success.ndjson`)).to.deep.equal([]);
      const [w] = await lines(`${only.folder}WARNING/warning.ndjson`);
      expect(w.warnings[0].reasonCode).to.equal('0xB120');
      expect(w.importResponse.imageSetId).to.match(/^[0-9a-f]{32}$/);
      expect(await summary(only.folder)).to.include({ numberOfScannedFiles: 1, numberOfImportedFiles: 1 });
    });

    it('fails a file once on the service side (numberOfFilesWithServerError), then imports it', async () => {
      await use({});
      await stage('se/', '9.1.3.1');
      other.serverErrorOnce(['9.1.3.1']);
      const first = await run('se-1', 'se/');
      const second = await run('se-2', 'se/');
      expect((await lines(`${first.folder}FAILURE/failure.ndjson`))[0].exception.exceptionType).to.equal('InternalServerException');
      expect(await summary(first.folder)).to.include({ numberOfFilesWithServerError: 1, numberOfFilesWithCustomerError: 0, numberOfImportedFiles: 0 });
      expect(await summary(second.folder)).to.include({ numberOfFilesWithServerError: 0, numberOfImportedFiles: 1 });
    });

    it('splits ndjson over several objects when told to', async () => {
      await use({ ndjsonLinesPerFile: 1 });
      await stage('sp/', '9.1.4.1');
      await stage('sp/', '9.1.4.2');
      const { folder } = await run('sp-1', 'sp/');
      const keys = ((await s3.send(new ListObjectsV2Command({ Bucket: 'out-bucket', Prefix: `${folder}SUCCESS/` }))).Contents ?? []).map((o) => o.Key!.slice(folder.length));
      expect(keys.sort()).to.deep.equal(['SUCCESS/success.ndjson', 'SUCCESS/success_2.ndjson']);
    });

    it('still writes job-output-manifest.json and failure lines for a FAILED job', async () => {
      await use({});
      await stage('fj/', '9.1.6.1');
      other.failNextJobs(1, 'denied');
      const { jobId, folder } = await run('f-1', 'fj/');
      expect(other.jobs.get(jobId)).to.include({ jobStatus: 'FAILED', message: 'denied' });
      expect(await summary(folder)).to.include({ numberOfScannedFiles: 1, numberOfFilesWithCustomerError: 1 });
      expect((await lines(`${folder}FAILURE/failure.ndjson`))[0]).to.deep.include({ inputFile: 's3://in-bucket/fj/9.1.6.1.dcm' });
    });

    it('leaves out output files or skews the summary when told to (shapes the reader must refuse)', async () => {
      await use({});
      await stage('om/', '9.1.5.1');
      other.faultNextJobs({ omit: ['SUCCESS'], scannedSkew: 2 });
      const { folder } = await run('om-1', 'om/');
      const keys = ((await s3.send(new ListObjectsV2Command({ Bucket: 'out-bucket', Prefix: folder }))).Contents ?? []).map((o) => o.Key!.slice(folder.length));
      expect(keys).not.to.include('SUCCESS/success.ndjson');
      expect(await summary(folder)).to.include({ numberOfScannedFiles: 3, numberOfImportedFiles: 1 });
    });

    it('answers ServiceQuotaExceededException past 20 running jobs in ap-southeast-2', async () => {
      await use({ region: 'ap-southeast-2', stepDelayMs: 2000 });
      const answers = [];
      for (let i = 0; i < 21; i++) {
        answers.push(await client.send(new StartDICOMImportJobCommand({ datastoreId: DS, clientToken: `q-${i}`, dataAccessRoleArn: 'arn:aws:iam::123456789012:role/r', inputS3Uri: 's3://in-bucket/empty/', outputS3Uri: 's3://out-bucket/q/' })).then(() => 'ok', (e: Error) => e.name));
      }
      expect(answers.filter((a) => a === 'ok')).to.have.length(20);
      expect(answers[20]).to.equal('ServiceQuotaExceededException');
      expect(other.peakActiveJobs).to.equal(20);
    });
  });
});

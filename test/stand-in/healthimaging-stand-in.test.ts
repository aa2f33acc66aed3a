import { expect } from 'chai';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
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
  const creds = { region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  const start = (clientToken: string, inputS3Uri = 's3://in-bucket/p/') => mi.send(new StartDICOMImportJobCommand({ datastoreId: DS, clientToken, dataAccessRoleArn: 'arn:aws:iam::123456789012:role/r', inputS3Uri, outputS3Uri: 's3://out-bucket/o/' }));

  before(async () => {
    moto = await startMotoServer();
    const s3 = new S3Client({ ...creds, endpoint: moto.endpoint, forcePathStyle: true });
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
});

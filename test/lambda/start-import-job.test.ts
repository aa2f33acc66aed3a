import { expect } from 'chai';
import { StartDICOMImportJobCommand, ThrottlingException } from '@aws-sdk/client-medical-imaging';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { ImportSlotUnavailableError, StartRateLimitedError } from '../../lambda/errors';
import { startImportJob } from '../../lambda/start-import-job';
import type { BatchRef } from '../../lambda/workflow-types';
import { NOW, conditionalFailure, testDeps } from './test-deps';

const batch: BatchRef = {
  batchId: '20261123T112233Z-3f9a1c0e-000001', bucket: 'staging', manifestKey: 'batches/20261123T112233Z-3f9a1c0e-000001.json',
  prefix: 'incoming/20261123T112233Z-3f9a1c0e-000001/', count: 2, bytes: 10, clientToken: '20261123T112233Z-3f9a1c0e-000001', redrive: 0, alreadyDone: false,
};

describe('lambda/start-import-job', () => {
  it('starts one job for the batch prefix with clientToken = batchId and records it', async () => {
    // Prepare
    const deps = testDeps();
    const ddb = mockClient(deps.ddb);
    const mi = mockClient(deps.medicalImaging);
    ddb.onAnyCommand().resolves({});
    mi.on(StartDICOMImportJobCommand).resolves({ jobId: 'job-1', jobStatus: 'SUBMITTED', datastoreId: deps.config.datastoreId, submittedAt: NOW });
    // Act
    const job = await startImportJob(deps, batch);
    // Assess
    const call = mi.commandCalls(StartDICOMImportJobCommand)[0]!.args[0].input;
    expect(call).to.include({ clientToken: batch.batchId, inputS3Uri: `s3://staging/${batch.prefix}`, outputS3Uri: `s3://results/import-results/${batch.batchId}/`, datastoreId: deps.config.datastoreId });
    expect(job).to.include({ jobId: 'job-1', jobStatus: 'SUBMITTED', checks: 0, waitSeconds: 10, submittedAt: NOW.toISOString() });
    const put = ddb.commandCalls(PutCommand)[0]!.args[0].input;
    expect(put.Item).to.include({ pk: 'JOB#job-1', sk: 'JOB', batchId: batch.batchId });
    expect(put.ConditionExpression).to.equal('attribute_not_exists(pk)');
  });

  it('refuses with ImportSlotUnavailableError when every import slot is held', async () => {
    // Prepare
    const deps = testDeps();
    const ddb = mockClient(deps.ddb);
    ddb.on(UpdateCommand).resolvesOnce({}).rejectsOnce(conditionalFailure());
    const mi = mockClient(deps.medicalImaging);
    // Act
    const err = await startImportJob(deps, batch).catch((e: unknown) => e);
    // Assess
    expect(err).to.be.instanceOf(ImportSlotUnavailableError);
    expect(err).to.include({ name: 'ImportSlotUnavailableError', code: 'IMPORT_SLOTS_FULL' });
    expect(mi.commandCalls(StartDICOMImportJobCommand)).to.have.length(0);
  });

  it('refuses with StartRateLimitedError after 3 in-process attempts when other jobs keep starting within the interval', async () => {
    // Prepare
    const deps = testDeps();
    const ddb = mockClient(deps.ddb);
    ddb.on(UpdateCommand).resolvesOnce({}).resolvesOnce({}).rejects(conditionalFailure());
    const mi = mockClient(deps.medicalImaging);
    // Act
    const err = await startImportJob(deps, batch).catch((e: unknown) => e);
    // Assess
    expect(err).to.be.instanceOf(StartRateLimitedError);
    const rate = ddb.commandCalls(UpdateCommand)[2]!.args[0].input;
    expect(rate.ExpressionAttributeValues).to.include({ ':now': NOW.getTime(), ':next': NOW.getTime() + 1000 });
    expect(ddb.commandCalls(UpdateCommand)).to.have.length(2 + 3);
    expect(mi.commandCalls(StartDICOMImportJobCommand)).to.have.length(0);
  });

  it('lets ThrottlingException through under its own name (the state machine retries it)', async () => {
    // Prepare
    const deps = testDeps();
    mockClient(deps.ddb).onAnyCommand().resolves({});
    mockClient(deps.medicalImaging).on(StartDICOMImportJobCommand).rejects(new ThrottlingException({ message: 'Rate exceeded', $metadata: {} }));
    // Act
    const err = await startImportJob(deps, batch).catch((e: unknown) => e);
    // Assess
    expect(err).to.have.property('name', 'ThrottlingException');
  });
});

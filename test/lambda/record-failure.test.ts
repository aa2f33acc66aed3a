import { expect } from 'chai';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { recordFailure } from '../../lambda/record-failure';
import { NOW, conditionalFailure, testDeps } from './test-deps';

const ID = '20261123T112233Z-3f9a1c0e-000001';
const state = { bucket: 'staging', manifestKey: `batches/${ID}.json`, batchId: ID, job: { jobId: 'j1', jobStatus: 'FAILED' as const, submittedAt: '', outputS3Uri: '', checks: 1, waitSeconds: 10, message: 'denied' } };

describe('lambda/record-failure', () => {
  it('records the batch FAILED on the day\'s failure list and emits BatchesQuarantined + ImportJobsFailed once', async () => {
    // Prepare
    const deps = testDeps();
    const ddb = mockClient(deps.ddb);
    ddb.onAnyCommand().resolves({});
    // Act
    const out = await recordFailure(deps, state);
    // Assess
    expect(out).to.include({ code: 'ImportJobFailed', message: 'denied', firstRecording: true });
    const batchUpdate = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input).find((i) => (i.Key as { pk: string }).pk === `BATCH#${ID}`)!;
    expect(batchUpdate.ExpressionAttributeValues).to.include({ ':g2pk': 'FAILURE#2026-11-23', ':g2sk': `${NOW.toISOString()}#BATCH#${ID}` });
    expect(deps.emitted).to.deep.equal([{ BatchesQuarantined: 1, ImportJobsFailed: 1, ImportOutputsInvalid: 0 }]);
  });

  it('emits nothing when the batch was already closed (redelivered failure)', async () => {
    // Prepare
    const deps = testDeps();
    const ddb = mockClient(deps.ddb);
    ddb.onAnyCommand().resolves({});
    ddb.on(UpdateCommand, { Key: { pk: `BATCH#${ID}`, sk: 'BATCH' } }).rejects(conditionalFailure());
    // Act
    const out = await recordFailure(deps, state);
    // Assess
    expect(out.firstRecording).to.equal(false);
    expect(deps.emitted).to.deep.equal([]);
  });
});

import { expect } from 'chai';
import { silentLogger } from '../../lambda/logger';
import { triggerStateMachine, type StartExecution } from '../../lambda/trigger-state-machine';

const ID = '20261123T112233Z-3f9a1c0e-000001';
const event = (key: string, bucket = 'staging') => JSON.stringify({ source: 'aws.s3', 'detail-type': 'Object Created', detail: { bucket: { name: bucket }, object: { key } } });

describe('lambda/trigger-state-machine', () => {
  it('starts one execution named by the batchId; a redelivery is a duplicate, not a failure', async () => {
    // Prepare
    const names: string[] = [];
    const start: StartExecution = async (name) => (names.includes(name) ? 'duplicate' : (names.push(name), 'started'));
    const body = event(`batches/${ID}.json`);
    // Act
    const res = await triggerStateMachine({ stagingBucket: 'staging', startExecution: start, log: silentLogger }, { Records: [{ messageId: 'a', body }, { messageId: 'b', body }] });
    // Assess
    expect(names).to.deep.equal([ID]);
    expect(res.batchItemFailures).to.deep.equal([]);
  });

  it('ignores objects that are not batch manifests or not in the staging bucket', async () => {
    const names: string[] = [];
    const start: StartExecution = async (name) => (names.push(name), 'started');
    await triggerStateMachine({ stagingBucket: 'staging', startExecution: start, log: silentLogger }, {
      Records: [{ messageId: 'a', body: event(`incoming/${ID}/1.dcm`) }, { messageId: 'b', body: event(`batches/${ID}.json`, 'other') }, { messageId: 'c', body: 'not json' }, { messageId: 'd', body: event('batches/not-a-batch.json') }],
    });
    expect(names).to.deep.equal([]);
  });

  it('returns a failed start as a batch item failure so SQS retries it (then the DLQ)', async () => {
    const start: StartExecution = async () => { throw new Error('boom'); };
    const res = await triggerStateMachine({ stagingBucket: 'staging', startExecution: start, log: silentLogger }, { Records: [{ messageId: 'x', body: event(`batches/${ID}.json`) }] });
    expect(res.batchItemFailures).to.deep.equal([{ itemIdentifier: 'x' }]);
  });
});

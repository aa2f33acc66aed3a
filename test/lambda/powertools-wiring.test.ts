import { expect } from 'chai';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { resetHandlerRuntime } from '../../lambda/handlers';
import * as handlers from '../../lambda/index';
import { TEST_ENV } from './test-deps';

const ID = '20261123T112233Z-3f9a1c0e-000001';

function lambdaContext(awsRequestId: string, functionName: string): Context {
  return {
    awsRequestId, functionName, functionVersion: '$LATEST', memoryLimitInMB: '256', callbackWaitsForEmptyEventLoop: true,
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`, logGroupName: `/aws/lambda/${functionName}`, logStreamName: 's',
    getRemainingTimeInMillis: () => 30_000, done() {}, fail() {}, succeed() {},
  };
}

/** Runs fn with stdout and stderr captured (Powertools writes WARN / ERROR to stderr); returns the JSON lines written. */
async function captureStdout(fn: () => Promise<unknown>): Promise<Record<string, any>[]> {
  const lines: string[] = [];
  const real = { out: process.stdout.write, err: process.stderr.write };
  const capture = ((chunk: unknown) => { lines.push(...String(chunk).split('\n').filter((l) => l.startsWith('{'))); return true; }) as typeof process.stdout.write;
  process.stdout.write = capture;
  process.stderr.write = capture;
  try {
    await fn();
  } finally {
    process.stdout.write = real.out;
    process.stderr.write = real.err;
  }
  return lines.map((l) => JSON.parse(l) as Record<string, any>);
}

describe('lambda handlers: Powertools Logger and Metrics wiring', () => {
  const saved = { ...process.env };
  beforeEach(() => {
    Object.assign(process.env, TEST_ENV, { METRICS_NAMESPACE: 'DICOMStoreSCP', STACK_NAME: 'stack-a', STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:w', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x' });
    resetHandlerRuntime();
  });
  afterEach(() => {
    process.env = { ...saved };
    resetHandlerRuntime();
  });

  it('log lines carry the request id, cold start, our event name and component; no EMF line when nothing was counted', async () => {
    // Act: a message that is not a seal event is logged and dropped
    const out = await captureStdout(() => handlers.triggerStateMachine({ Records: [{ messageId: 'm-1', body: '{"detail-type":"Something Else"}' }] }, lambdaContext('req-0001', 'trigger')));
    // Assess
    expect(out).to.have.length(1);
    expect(out[0]).to.include({ level: 'WARN', message: 'trigger-ignored', event: 'trigger-ignored', component: 'trigger-state-machine', messageId: 'm-1', function_request_id: 'req-0001', function_name: 'trigger', service: 'import-workflow' });
    expect(out[0]).to.have.property('cold_start').that.is.a('boolean');
    expect(out[0]).to.have.property('timestamp').that.matches(/^\d{4}-\d\d-\d\dT/);
  });

  it('metrics counted in an invocation reach stdout as one EMF line in namespace DICOMStoreSCP with the single dimension StackName', async () => {
    // Prepare
    const ddb = mockClient(DynamoDBDocumentClient);
    ddb.onAnyCommand().resolves({});
    const state = { bucket: 'staging', manifestKey: `batches/${ID}.json`, batchId: ID, job: { jobId: 'j1', jobStatus: 'FAILED' as const, submittedAt: '', outputS3Uri: '', checks: 1, waitSeconds: 10, message: 'denied' } };
    try {
      // Act
      const out = await captureStdout(() => handlers.recordFailure(state, lambdaContext('req-0002', 'record-failure')));
      // Assess
      const emf = out.filter((l) => l._aws);
      expect(emf).to.have.length(1);
      expect(emf[0]!._aws.CloudWatchMetrics).to.deep.equal([{
        Namespace: 'DICOMStoreSCP', Dimensions: [['StackName']],
        Metrics: [{ Name: 'BatchesQuarantined', Unit: 'Count' }, { Name: 'ImportJobsFailed', Unit: 'Count' }, { Name: 'ImportOutputsInvalid', Unit: 'Count' }],
      }]);
      expect(emf[0]).to.include({ StackName: 'stack-a', BatchesQuarantined: 1, ImportJobsFailed: 1, ImportOutputsInvalid: 0 });
      expect(emf[0]).not.to.have.property('service');
      const logged = out.find((l) => l.event === 'batch-failed')!;
      expect(logged).to.include({ level: 'ERROR', message: 'batch-failed', batchId: ID, jobId: 'j1', component: 'record-failure', function_request_id: 'req-0002' });
      // record-failure's `message` field (a Powertools key) survives as `detail`; Powertools warns of no dropped key.
      expect(logged).to.include({ detail: 'denied' });
      expect(out.filter((l) => /reserved key/.test(String(l.message)))).to.deep.equal([]);
      // A second invocation of the same container writes only its own counts.
      const again = await captureStdout(() => handlers.recordFailure(state, lambdaContext('req-0003', 'record-failure')));
      expect(again.filter((l) => l._aws).map((l) => l.BatchesQuarantined)).to.deep.equal([1]);
      expect(again.find((l) => l.event === 'batch-failed')).to.include({ function_request_id: 'req-0003', cold_start: false });
    } finally {
      ddb.restore();
    }
  });

  it('errors are logged as name, message and code, without a stack trace', async () => {
    // Prepare: Step Functions refuses the start
    const sfn = mockClient(SFNClient);
    sfn.onAnyCommand().rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', code: 'Throttling' }));
    const body = JSON.stringify({ version: '0', source: 'aws.s3', 'detail-type': 'Object Created', detail: { bucket: { name: 'staging' }, object: { key: `batches/${ID}.json` }, reason: 'PutObject' } });
    try {
      // Act
      const out = await captureStdout(() => handlers.triggerStateMachine({ Records: [{ messageId: 'm-2', body }] }, lambdaContext('req-0004', 'trigger')));
      // Assess
      const failed = out.find((l) => l.event === 'trigger-failed')!;
      expect(failed).to.include({ level: 'ERROR', messageId: 'm-2', function_request_id: 'req-0004' });
      expect(failed.err).to.deep.equal({ name: 'ThrottlingException', message: 'Rate exceeded', code: 'Throttling' });
      expect(JSON.stringify(out)).not.to.contain('    at ');
    } finally {
      sfn.restore();
    }
  });
});

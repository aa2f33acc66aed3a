import { expect } from 'chai';
import { ServiceQuotaExceededException, ThrottlingException } from '@aws-sdk/client-medical-imaging';
import { BatchValidationError, TransientAwsError, classifyAwsErrors, isTransientAwsError } from '../../lambda/errors';

describe('lambda/errors: transient AWS failures get a name the state machine retries', () => {
  const sdkError = (name: string, status: number, extra: object = {}) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status }, ...extra });

  it('classes timeouts, resets, 5xx, 429 and SDK-retryable errors as transient', () => {
    expect(isTransientAwsError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).to.equal(true);
    expect(isTransientAwsError(sdkError('TimeoutError', 0))).to.equal(true);
    expect(isTransientAwsError(sdkError('InternalError', 500))).to.equal(true);
    expect(isTransientAwsError(sdkError('SomethingNew', 503))).to.equal(true);
    expect(isTransientAwsError(sdkError('Whatever', 400, { $retryable: {} }))).to.equal(true);
    expect(isTransientAwsError(new ThrottlingException({ message: 'slow down', $metadata: {} }))).to.equal(true);
  });

  it('leaves client errors and our own named errors alone', () => {
    expect(isTransientAwsError(sdkError('AccessDeniedException', 403))).to.equal(false);
    expect(isTransientAwsError(new ServiceQuotaExceededException({ message: 'quota', $metadata: { httpStatusCode: 402 } }))).to.equal(false);
    expect(isTransientAwsError(new BatchValidationError('bad manifest'))).to.equal(false);
  });

  it('wraps a transient failure as TransientAwsError with the cause, and rethrows others unchanged', async () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const wrapped = await classifyAwsErrors(async () => { throw reset; }).catch((e: unknown) => e as TransientAwsError);
    expect(wrapped).to.be.instanceOf(TransientAwsError);
    expect(wrapped).to.include({ name: 'TransientAwsError', code: 'AWS_TRANSIENT', cause: reset });
    const denied = sdkError('AccessDeniedException', 403);
    expect(await classifyAwsErrors(async () => { throw denied; }).catch((e: unknown) => e)).to.equal(denied);
    expect(await classifyAwsErrors(async () => 42)).to.equal(42);
  });
});

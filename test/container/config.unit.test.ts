import { expect } from 'chai';
import { availableParallelism } from 'node:os';
import { loadConfig, VARIABLES } from '../../container/src/config';
import { ConfigError } from '../../container/src/errors';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as ConfigError).problems as string[];
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('applies the documented defaults when nothing is set', () => {
    const c = loadConfig({});
    expect(c.aeTitle).to.equal('STORESCP');
    expect(c.host).to.equal('0.0.0.0');
    expect(c.port).to.equal(11112);
    expect(c.healthPort).to.equal(8081);
    expect(c.storageUri).to.equal('file://./data');
    expect(c.requireCalledAeTitle).to.equal(false);
    expect(c.allowedCallingAeTitles).to.deep.equal([]);
    expect(c.maximumAssociations).to.equal(300);
    expect(c.acseTimeoutMs).to.equal(30_000);
    expect(c.dimseTimeoutMs).to.equal(60_000);
    expect(c.networkTimeoutMs).to.equal(90_000);
    expect(c.drainTimeoutMs).to.be.below(120_000);
    expect(c.batchMaxFiles).to.be.at.most(5000);
    expect(c.batchMaxBytes).to.be.below(10_000_000_000);
    expect(c.marketplaceProductCode).to.equal(undefined);
    expect(Object.isFrozen(c)).to.equal(true);
  });

  it('lets every variable set in the environment win', () => {
    const c = loadConfig({ SCP_PORT: '4242', STORAGE_URI: 'file:///tmp/x', AE_TITLE: 'MYSCP', REQUIRE_CALLING_AE_TITLE: 'CT01, MR02', REQUIRE_CALLED_AE_TITLE: 'true' });
    expect(c.port).to.equal(4242);
    expect(c.storageUri).to.equal('file:///tmp/x');
    expect(c.aeTitle).to.equal('MYSCP');
    expect(c.allowedCallingAeTitles).to.deep.equal(['CT01', 'MR02']);
    expect(c.requireCalledAeTitle).to.equal(true);
  });

  it('names every wrong variable in one error', () => {
    const problems = problemsOf({ SCP_PORT: 'abc', AE_TITLE: 'THIS_TITLE_IS_TOO_LONG', LOG_LEVEL: 'loud', STORAGE_URI: 'ftp://x', MAXIMUM_ASSOCIATIONS: '-1' });
    const text = problems.join('\n');
    for (const name of ['SCP_PORT', 'AE_TITLE', 'LOG_LEVEL', 'STORAGE_URI', 'MAXIMUM_ASSOCIATIONS']) expect(text).to.contain(name);
    expect(problems).to.have.length(5);
  });

  it('rejects out-of-range numbers and quota-breaking batch sizes', () => {
    const text = problemsOf({ SCP_PORT: '70000', BATCH_MAX_FILES: '6000', DRAIN_TIMEOUT: '130', MAXIMUM_PDU_SIZE: '100' }).join('\n');
    expect(text).to.match(/SCP_PORT must be between 1 and 65535/);
    expect(text).to.match(/BATCH_MAX_FILES must be between 1 and 5000/);
    expect(text).to.match(/DRAIN_TIMEOUT must be between 0 and 115/);
    expect(text).to.match(/MAXIMUM_PDU_SIZE/);
  });

  it('sizes WORKERS=auto from the CPUs available, accepts 1..64 and refuses the rest', () => {
    expect(loadConfig({}).workers).to.equal(Math.min(availableParallelism(), 64));
    expect(loadConfig({ WORKERS: '1' }).workers).to.equal(1);
    expect(loadConfig({ WORKERS: '64' }).workers).to.equal(64);
    expect(problemsOf({ WORKERS: '0' }).join('\n')).to.match(/WORKERS must be between 1 and 64/);
    expect(problemsOf({ WORKERS: '65' }).join('\n')).to.match(/WORKERS must be between 1 and 64/);
    expect(problemsOf({ WORKERS: 'all' }).join('\n')).to.contain('WORKERS');
  });

  it('takes STACK_NAME as a CloudFormation stack name, unset by default', () => {
    expect(loadConfig({}).stackName).to.equal(undefined);
    expect(loadConfig({ STACK_NAME: 'dicom-prod-1' }).stackName).to.equal('dicom-prod-1');
    expect(problemsOf({ STACK_NAME: 'has space' }).join('\n')).to.contain('STACK_NAME');
  });

  it('refuses BATCH_MAX_BYTES + MAXIMUM_INSTANCE_BYTES above the 10 GB a HealthImaging import job takes', () => {
    expect(problemsOf({ BATCH_MAX_BYTES: '8000000000', MAXIMUM_INSTANCE_BYTES: '2000000001' }).join('\n')).to.match(/BATCH_MAX_BYTES \+ MAXIMUM_INSTANCE_BYTES must be at most 10000000000/);
    expect(loadConfig({ BATCH_MAX_BYTES: '8000000000', MAXIMUM_INSTANCE_BYTES: '2000000000' }).batchMaxBytes).to.equal(8_000_000_000);
  });

  it('rejects AE titles with a backslash, all spaces, or a bad allow-list', () => {
    expect(problemsOf({ AE_TITLE: 'A\\B' }).join()).to.contain('AE_TITLE');
    expect(problemsOf({ AE_TITLE: '    ' }).join()).to.contain('AE_TITLE');
    expect(problemsOf({ REQUIRE_CALLING_AE_TITLE: 'OK,,' }).join()).to.contain('REQUIRE_CALLING_AE_TITLE');
  });

  it('rejects malformed SOP class lists and S3_ENDPOINT without an s3:// STORAGE_URI', () => {
    expect(problemsOf({ SUPPORTED_SOP_CLASS_UIDS: '1.2.x' }).join()).to.contain('SUPPORTED_SOP_CLASS_UIDS');
    expect(problemsOf({ S3_ENDPOINT: 'http://127.0.0.1:5000' }).join()).to.contain('S3_ENDPOINT');
  });

  it('documents every variable it reads', () => {
    for (const v of VARIABLES) expect(v.description, v.name).to.have.length.above(10);
    expect(VARIABLES.map((v) => v.name)).to.include.members(['AE_TITLE', 'SCP_HOST', 'SCP_PORT', 'HEALTH_PORT', 'STORAGE_URI', 'S3_ENDPOINT', 'REQUIRE_CALLED_AE_TITLE', 'REQUIRE_CALLING_AE_TITLE', 'SUPPORTED_SOP_CLASS_UIDS', 'MAXIMUM_ASSOCIATIONS', 'MAXIMUM_PDU_SIZE', 'ACSE_TIMEOUT', 'DIMSE_TIMEOUT', 'NETWORK_TIMEOUT', 'DRAIN_TIMEOUT', 'BATCH_MAX_FILES', 'BATCH_MAX_BYTES', 'BATCH_QUIET_SECONDS', 'LOG_LEVEL', 'MARKETPLACE_PRODUCT_CODE']);
  });
});

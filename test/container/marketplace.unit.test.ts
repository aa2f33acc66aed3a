import { expect } from 'chai';
import { RegisterUsageCommand } from '@aws-sdk/client-marketplace-metering';
import { MeteringUnavailableError, NotEntitledError, PRODUCT_CODE_PATTERN, registerUsage, TERMINAL_ERRORS, type MeteringSender } from '../../container/src/marketplace';
import { buildOptionProblems, defaultBuildOptions } from '../../template-src/build-options';
import { loadConfig } from '../../container/src/config';

/** A metering client that fails with the given error names, then succeeds; records each call. */
function scripted(failures: string[]): MeteringSender & { calls: RegisterUsageCommand[] } {
  const calls: RegisterUsageCommand[] = [];
  return {
    calls,
    send: async (cmd) => {
      calls.push(cmd);
      const name = failures.shift();
      if (name) throw Object.assign(new Error(`${name} from the test`), { name });
      return { Signature: 'sig' };
    },
  };
}

/** A pinned clock advanced only by the injected sleep. */
function fakeTime() {
  let t = 1_000_000;
  const slept: number[] = [];
  return { now: () => t, sleep: async (ms: number) => { slept.push(ms); t += ms; }, slept };
}

describe('Marketplace RegisterUsage at task start', () => {
  it('retries throttling and internal errors, then succeeds, with growing pauses', async () => {
    const client = scripted(['ThrottlingException', 'InternalServiceErrorException', 'TimeoutError']);
    const time = fakeTime();
    await registerUsage('abc123', client, time);
    expect(client.calls).to.have.length(4);
    expect(client.calls[3]!.input).to.deep.equal({ ProductCode: 'abc123', PublicKeyVersion: 1 });
    expect(time.slept).to.deep.equal([1000, 2000, 4000]);
  });

  for (const name of TERMINAL_ERRORS) {
    it(`stops at once on ${name} with NotEntitledError`, async () => {
      const client = scripted([name, 'unused']);
      const time = fakeTime();
      const err = await registerUsage('abc123', client, time).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(NotEntitledError);
      expect(err).to.have.property('code', 'ERR_NOT_ENTITLED');
      expect((err as Error).message).to.contain(name);
      expect(client.calls).to.have.length(1);
      expect(time.slept).to.deep.equal([]);
    });
  }

  it('gives up with MeteringUnavailableError when transient errors last past the 45 s deadline', async () => {
    const client = scripted(Array.from({ length: 100 }, () => 'ThrottlingException'));
    const time = fakeTime();
    const err = await registerUsage('abc123', client, time).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(MeteringUnavailableError);
    expect(err).to.not.be.instanceOf(NotEntitledError);
    expect(err).to.have.property('code', 'ERR_METERING_UNAVAILABLE');
    expect(time.slept.reduce((a, b) => a + b, 0)).to.equal(45_000);
    expect(Math.max(...time.slept)).to.equal(8_000);
  });

  it('accepts the same product codes in the build and in the container configuration', () => {
    const build = (productCode: string) => buildOptionProblems({ ...defaultBuildOptions(), productCode }).some((p) => p.includes('productCode'));
    const container = (code: string) => {
      try {
        loadConfig({ MARKETPLACE_PRODUCT_CODE: code });
        return false;
      } catch {
        return true;
      }
    };
    for (const code of ['a1b2c3d4e5f6g7h8i9j0k1l2m', 'REPLACE_WITH_PRODUCT_CODE', 'x-y', 'bad code', 'bad/code', 'a'.repeat(256)]) {
      expect(build(code), `build refuses ${JSON.stringify(code)}`).to.equal(container(code));
      expect(new RegExp(PRODUCT_CODE_PATTERN).test(code)).to.equal(!build(code));
    }
  });
});

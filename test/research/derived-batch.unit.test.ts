import { expect } from 'chai';
import { BATCH_ID_PATTERN } from '../../lambda/batch-id';
import { derivedBatchId, isDerivedBatch } from '../../lambda/research/derived-batch';

describe('derived batch ids (DeidentifiedOnly)', () => {
  it('are valid batch ids, deterministic, never an SCP id, and recognised by the clinical Choice pattern', () => {
    const original = '20261207T201500Z-0a1b2c3d-000042';
    const d = derivedBatchId(original);
    expect(d).to.match(BATCH_ID_PATTERN);
    expect(d).to.equal(derivedBatchId(original));
    expect(d).to.match(/^20261207T201500Z-di[0-9a-f]{6}-000042$/);
    expect(derivedBatchId('20261207T201500Z-0a1b2c3e-000042')).not.to.equal(d);
    expect(isDerivedBatch(d)).to.equal(true);
    expect(isDerivedBatch(original)).to.equal(false);
    // Step Functions StringMatches '*Z-di*' (template-src/research-hook.ts), emulated.
    const choice = (id: string) => /^.*Z-di.*$/.test(id);
    expect(choice(d)).to.equal(true);
    // Every SCP batch id (8 hex digits in the middle) is refused by the pattern.
    for (const mid of ['00000000', 'dddddddd', 'deadbeef', 'd1000000']) expect(choice(`20261207T201500Z-${mid}-000001`), mid).to.equal(false);
    expect(() => derivedBatchId('not-a-batch')).to.throw();
  });
});

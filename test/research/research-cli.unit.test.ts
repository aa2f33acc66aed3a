import { expect } from 'chai';
import { decideExpiry, ResearchCliError, selectorPrefix } from '../../scripts/research/research';

const target = { processedBucket: 'p', tableName: 't', defaultExpirySeconds: 3600, maximumExpirySeconds: 43200 };
const now = new Date('2026-12-07T20:00:00Z');

describe('research CLI: expiry and key rules', () => {
  it('uses the stack default, caps at the stack maximum and at the credentials\' remaining lifetime, warning each time', () => {
    expect(decideExpiry(undefined, target, undefined, now)).to.deep.equal({ seconds: 3600, warnings: [] });
    const capped = decideExpiry(100_000, target, undefined, now);
    expect(capped.seconds).to.equal(43200);
    expect(capped.warnings[0]).to.match(/stack maximum 43200/);
    // Role / SSO session credentials ending in 15 minutes: URLs signed with them die then.
    const session = decideExpiry(3600, target, new Date(now.getTime() + 900_000), now);
    expect(session.seconds).to.equal(900);
    expect(session.warnings[0]).to.match(/signing credentials expire/);
    expect(() => decideExpiry(60, target, new Date(now.getTime() - 1000), now)).to.throw(ResearchCliError, /expired/);
    expect(() => decideExpiry(0, target, undefined, now)).to.throw(ResearchCliError);
  });

  it('presigns research copies only: studies/<uid>/series/<uid>/<uid>.dcm', () => {
    expect(selectorPrefix({ key: 'studies/2.25.1/series/2.25.2/2.25.3.dcm' })).to.deep.equal({ prefix: 'studies/2.25.1/series/2.25.2/2.25.3.dcm', single: true });
    expect(selectorPrefix({ study: '2.25.1', series: '2.25.2' })).to.deep.equal({ prefix: 'studies/2.25.1/series/2.25.2/', single: false });
    for (const key of ['incoming/b/1.2.dcm', 'failed/x.dcm', 'studies/../incoming/x.dcm', 'studies/2.25.1/series/2.25.2/', 'raw/originals/x.dcm']) {
      expect(() => selectorPrefix({ key }), key).to.throw(ResearchCliError, /refused/);
    }
    expect(() => selectorPrefix({ study: 'DOE^JOHN' })).to.throw(ResearchCliError);
    expect(() => selectorPrefix({ study: '*' })).to.throw(ResearchCliError);
  });
});

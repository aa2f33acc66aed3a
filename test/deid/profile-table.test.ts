import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { DICTIONARY_FILE, PROFILE_FILE, renderDictionary, renderProfileTable } from '../../scripts/deid/generate-profile-table';
import { PROFILE_EDITION, PROFILE_ROWS } from '../../lambda/deid/profile-table.generated';
import { resolveRow } from '../../lambda/deid/rules';
import { vrOf } from '../../lambda/deid/dictionary';

describe('deid: the generated profile table and dictionary', function () {
  it('lambda/deid/profile-table.generated.ts is what the generator makes from the standard (2024e)', function () {
    expect(readFileSync(PROFILE_FILE, 'utf8')).to.equal(renderProfileTable());
    expect(PROFILE_EDITION).to.equal('2024e');
    expect(PROFILE_ROWS).to.have.length(621);
  });

  it('lambda/deid/dictionary.generated.ts is what the generator makes from PS3.6', function () {
    expect(readFileSync(DICTIONARY_FILE, 'utf8')).to.equal(renderDictionary());
  });

  it('resolves every row to one action, combined actions to the one valid for any attribute type', function () {
    for (const row of PROFILE_ROWS) expect(() => resolveRow(row, [])).to.not.throw();
    const row = (basic: string) => ({ tag: '00000000', name: 't', inStdIod: true, basic });
    expect(resolveRow(row('X/Z'), [])).to.equal('empty');
    expect(resolveRow(row('X/Z/D'), [])).to.equal('dummy');
    expect(resolveRow(row('Z/D'), [])).to.equal('dummy');
    expect(resolveRow(row('X/Z/U*'), [])).to.equal('uid');
    expect(resolveRow({ ...row('X'), rtnDevIdOpt: 'C' }, ['rtnDevIdOpt'])).to.equal('remove');
    expect(resolveRow({ ...row('X/Z'), rtnLongModifDatesOpt: 'C' }, ['rtnLongModifDatesOpt'])).to.equal('date');
  });

  it('reads VRs of implicit data from the dictionary, repeating groups and private creators included', function () {
    expect(vrOf(0x00100010)).to.equal('PN');
    expect(vrOf(0x00081140)).to.equal('SQ');
    expect(vrOf(0x60003000)).to.equal('OW');
    expect(vrOf(0x00090010)).to.equal('LO');
    expect(vrOf(0x00091001)).to.equal('UN');
  });
});

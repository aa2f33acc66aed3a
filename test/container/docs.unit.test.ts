import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { VARIABLES } from '../../container/src/config';
import { ACCEPTED_TRANSFER_SYNTAXES } from '../../container/src/dicom/uids';

const ROOT = path.resolve(__dirname, '..', '..');
const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

function section(name: string): string {
  const m = new RegExp(`<!-- ${name}:start -->([\\s\\S]*?)<!-- ${name}:end -->`).exec(readme);
  if (!m) throw new Error(`README has no ${name} section`);
  return m[1];
}

describe('README and docs agree with the code', () => {
  it('lists every SCP environment variable with its default, and nothing else', () => {
    const rows = section('env').split('\n').filter((l) => /^\| `[A-Z0-9_]+` \|/.test(l));
    const documented = rows.map((r) => r.split('|').map((c) => c.trim()));
    expect(documented.map((c) => c[1].replace(/`/g, ''))).to.deep.equal(VARIABLES.map((v) => v.name));
    for (const v of VARIABLES) {
      const row = documented.find((c) => c[1] === `\`${v.name}\``) as string[];
      const want = v.default === undefined ? '(unset)' : v.default === '' ? '""' : `\`${v.default}\``;
      expect(row[2], v.name).to.equal(want);
    }
  });

  it('gives the two newcomer commands', () => {
    expect(readme).to.contain('npm install && npm start');
    expect(readme).to.contain('npm test');
  });

  it('the conformance statement lists every accepted transfer syntax and the status codes we send', () => {
    const conformance = readFileSync(path.join(ROOT, 'docs', 'conformance.md'), 'utf8');
    for (const uid of ACCEPTED_TRANSFER_SYNTAXES.keys()) expect(conformance, uid).to.contain(`\`${uid}\``);
    for (const status of ['0000', 'A700', 'C000', '0110']) expect(conformance).to.contain(status);
  });
});

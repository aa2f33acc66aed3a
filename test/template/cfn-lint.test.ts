import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { HEALTHIMAGING_REGIONS } from '../../template-src/rules';
import { productTemplate } from './template-fixture';

describe('cfn-lint', function () {
  this.timeout(120_000);
  let dir: string;
  let file: string;

  before(() => {
    // A missing cfn-lint fails the suite: CI must never skip this check.
    execFileSync('cfn-lint', ['--version'], { stdio: 'pipe' });
    dir = mkdtempSync(join(tmpdir(), 'cfn-lint-'));
    file = join(dir, 'template.json');
    writeFileSync(file, JSON.stringify(productTemplate(), null, 2));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // Informational rules are on (-c I). One is ignored, on purpose:
  // I1022 "Prefer using Fn::Sub over Fn::Join with an empty delimiter" is a
  // style hint for hand-written templates; aws-cdk-lib renders every token
  // concatenation as Fn::Join with "", which CloudFormation evaluates the same
  // way, and the template is generated, never edited by hand.
  const IGNORED = ['I1022'];

  for (const region of HEALTHIMAGING_REGIONS) {
    it(`reports no error, warning or informational finding in ${region}`, () => {
      const run = spawnSync('cfn-lint', ['--format', 'parseable', '-c', 'I', '--ignore-checks', ...IGNORED, '--regions', region, '--', file], { encoding: 'utf8' });
      expect(run.error, 'cfn-lint could not run').to.equal(undefined);
      expect(run.stdout + run.stderr, `cfn-lint findings in ${region}`).to.equal('');
      expect(run.status).to.equal(0);
    });
  }
});

import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { productTemplate, resourcesOfType, type Json } from './template-fixture';

const runbook = readFileSync(path.resolve(__dirname, '..', '..', 'docs', 'operations.md'), 'utf8');

/** The alarm's id: AlarmName is `${AWS::StackName}-<id>`. */
function alarmId(props: Json): string {
  const parts = props.AlarmName['Fn::Join'][1] as Json[];
  return String(parts[parts.length - 1]).replace(/^-/, '');
}

describe('docs/operations.md', () => {
  it('explains every alarm the stack creates', () => {
    const ids = resourcesOfType(productTemplate(), 'AWS::CloudWatch::Alarm').map(([, a]) => alarmId(a.Properties));
    expect(ids.length).to.be.above(10);
    for (const id of ids) {
      // Per-function and per-queue alarms are documented once as `LambdaErrors<function>` / `DeadLetters<queue>`, naming each queue.
      const lambda = /^LambdaErrors/.test(id);
      const dlq = /^DeadLetters(.+)$/.exec(id);
      if (lambda) expect(runbook).to.contain('`LambdaErrors<function>`');
      else if (dlq) expect(runbook, id).to.contain('`DeadLetters<queue>`').and.to.contain(`\`${dlq[1]}\``);
      else expect(runbook, id).to.contain(`| \`${id}\` |`);
    }
  });
});

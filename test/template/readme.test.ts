import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { productTemplate, type Json } from './template-fixture';

const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

/** Rows of the first Markdown table between `<!-- name:start -->` and `<!-- name:end -->`, as cell arrays. */
function tableRows(name: string): string[][] {
  const start = readme.indexOf(`<!-- ${name}:start -->`);
  const end = readme.indexOf(`<!-- ${name}:end -->`);
  expect(start, `${name} markers`).to.be.greaterThan(-1);
  return readme
    .slice(start, end)
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|\s*-/.test(line))
    .slice(1)
    .map((line) => line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim()));
}

const unquote = (cell: string) => cell.replace(/^`|`$/g, '');

describe('README tables match the template', () => {
  const template = productTemplate();

  it('lists every parameter, in console order, with its group, type and default', () => {
    const rows = tableRows('parameters');
    const ui = template.Metadata['AWS::CloudFormation::Interface'];
    const expected = (ui.ParameterGroups as Json[]).flatMap((g) =>
      (g.Parameters as string[]).map((name) => {
        const p = template.Parameters[name];
        const def = p.Default === undefined ? '—' : p.Default === '' ? '""' : String(p.Default);
        return [g.Label.default, name, p.Type, def];
      }),
    );
    const actual = rows.map(([group, name, type, def]) => [group, unquote(name!), unquote(type!), unquote(def!)]);
    expect(actual).to.deep.equal(expected);
  });

  it('lists every Output', () => {
    const names = tableRows('outputs').map(([name]) => unquote(name!));
    expect([...names].sort()).to.deep.equal(Object.keys(template.Outputs).sort());
  });

  it('states the SecurityGroupID decision and its reason', () => {
    const section = readme.slice(readme.indexOf('<!-- parameters:start -->'), readme.indexOf('<!-- parameters:end -->'));
    expect(section).to.match(/\*\*`SecurityGroupID` is optional[^*]+\*\* Why:/);
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { createEmfMetrics, METRIC_NAMES } from '../../lambda/metrics';
import { createResearchMetrics, RESEARCH_METRIC_NAMES } from '../../lambda/research/metrics';
import { productTemplate, resourcesOfType, type Json } from './template-fixture';

const NAMESPACE = 'DICOMStoreSCP';
const STACK = { Ref: 'AWS::StackName' };

/** What the Lambdas' metrics module writes for every metric it knows (the real Powertools EMF line). */
function emittedEmf(stackName: string): Json {
  const lines: string[] = [];
  const real = process.stdout.write;
  process.stdout.write = ((chunk: unknown) => { lines.push(String(chunk)); return true; }) as typeof process.stdout.write;
  try {
    const m = createEmfMetrics(NAMESPACE, stackName);
    m.count(Object.fromEntries(METRIC_NAMES.map((n) => [n, 0])));
    m.flush();
  } finally {
    process.stdout.write = real;
  }
  const emf = lines.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l._aws);
  expect(emf).to.have.length(1);
  return emf[0];
}

/** The dashboard body with every intrinsic replaced by a token (`${Ref:AWS::StackName}`), parsed. */
function dashboardBody(dashboard: Json): Json {
  const parts = dashboard.Properties.DashboardBody['Fn::Join'][1] as Json[];
  const text = parts.map((p) => (typeof p === 'string' ? p : p.Ref ? `\${Ref:${p.Ref}}` : '${intrinsic}')).join('');
  return JSON.parse(text);
}

/** Every [namespace, metricName, dimName, dimValue, ...] of the dashboard's widgets in our namespace. */
function dashboardMetrics(body: Json): { name: string; dimensions: Record<string, string> }[] {
  const out: { name: string; dimensions: Record<string, string> }[] = [];
  for (const w of body.widgets as Json[]) {
    for (const row of (w.properties?.metrics ?? []) as Json[][]) {
      if (row[0] !== NAMESPACE) continue;
      const pairs = row.slice(2).filter((x) => typeof x === 'string') as string[];
      const dimensions: Record<string, string> = {};
      for (let i = 0; i + 1 < pairs.length; i += 2) dimensions[pairs[i]!] = pairs[i + 1]!;
      out.push({ name: row[1] as string, dimensions });
    }
  }
  return out;
}

describe('template: the workflow metrics the alarms and dashboard read are the ones the Lambdas emit', () => {
  const template = productTemplate();
  const emf = emittedEmf('stack-x');
  const emitted = emf._aws.CloudWatchMetrics[0];

  it('the Lambdas write namespace DICOMStoreSCP with exactly one dimension set, {StackName}', () => {
    expect(emitted.Namespace).to.equal(NAMESPACE);
    expect(emitted.Dimensions).to.deep.equal([['StackName']]);
    expect(emf.StackName).to.equal('stack-x');
    expect(emitted.Metrics.map((m: Json) => m.Name)).to.deep.equal([...METRIC_NAMES]);
  });

  it('every Lambda gets the deploying stack\'s name (AWS::StackName) as STACK_NAME, and DICOMStoreSCP as namespace', () => {
    const fns = resourcesOfType(template, 'AWS::Lambda::Function');
    expect(fns).to.have.length.greaterThan(0);
    for (const [id, fn] of fns) {
      expect(fn.Properties.Environment.Variables.STACK_NAME, id).to.deep.equal(STACK);
      expect(fn.Properties.Environment.Variables.METRICS_NAMESPACE, id).to.equal(NAMESPACE);
    }
  });

  it('every alarm on a DICOMStoreSCP metric reads an emitted name with the emitted dimension set and the stack\'s own name', () => {
    const ours = resourcesOfType(template, 'AWS::CloudWatch::Alarm').filter(([, a]) => a.Properties.Namespace === NAMESPACE);
    expect(ours.length, 'alarms on the workflow metrics').to.be.greaterThan(0);
    // The research Lambdas (issue 16) emit their own EMF lines: same namespace and dimension set, checked here.
    const research: string[] = [];
    createResearchMetrics(NAMESPACE, 'stack-x', (l) => research.push(l)).count(Object.fromEntries(RESEARCH_METRIC_NAMES.map((n) => [n, 0])));
    const researchEmf = JSON.parse(research[0]!);
    expect(researchEmf._aws.CloudWatchMetrics[0].Namespace).to.equal(NAMESPACE);
    expect(researchEmf._aws.CloudWatchMetrics[0].Dimensions).to.deep.equal(emitted.Dimensions);
    expect(researchEmf.StackName).to.equal('stack-x');
    const names = [...METRIC_NAMES, ...researchEmf._aws.CloudWatchMetrics[0].Metrics.map((m: Json) => m.Name)];
    for (const [id, alarm] of ours) {
      expect(names, id).to.include(alarm.Properties.MetricName);
      const dims = alarm.Properties.Dimensions as Json[];
      expect(dims.map((d) => d.Name).sort(), id).to.deep.equal([...emitted.Dimensions[0]].sort());
      expect(dims.find((d) => d.Name === 'StackName').Value, id).to.deep.equal(STACK);
    }
  });

  it('every dashboard graph of a DICOMStoreSCP metric reads an emitted name with the emitted dimension set', () => {
    const [[, dashboard]] = resourcesOfType(template, 'AWS::CloudWatch::Dashboard') as [[string, Json]];
    const ours = dashboardMetrics(dashboardBody(dashboard));
    expect(ours.length, 'dashboard graphs of the workflow metrics').to.be.greaterThan(0);
    for (const m of ours) {
      expect(METRIC_NAMES).to.include(m.name);
      expect(m.dimensions).to.deep.equal({ StackName: '${Ref:AWS::StackName}' });
    }
  });

  it('every metric name the module knows is counted by some handler (lambda/*.ts)', () => {
    const dir = join(__dirname, '..', '..', 'lambda');
    const source = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'metrics.ts').map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
    const counted = new Set([...source.matchAll(/metrics\.count\(\{([^}]*)\}/g)].flatMap((m) => [...m[1]!.matchAll(/\b([A-Z][A-Za-z]+):/g)].map((x) => x[1]!)));
    expect([...counted].sort()).to.deep.equal([...METRIC_NAMES].sort());
  });
});

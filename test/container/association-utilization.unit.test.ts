import { expect } from 'chai';
import { publishUtilization, utilizationLine, UTILIZATION_METRIC, UTILIZATION_NAMESPACE } from '../../container/src/association-utilization';

/**
 * The AssociationUtilization line must be valid CloudWatch embedded metric
 * format (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
 * `_aws.Timestamp` in epoch milliseconds, one CloudWatchMetrics directive whose
 * dimension and metric names are root members, values numeric (or a list of up to 100).
 */
describe('AssociationUtilization (EMF)', () => {
  it('writes one EMF document per line, with the StackName dimension the scaling policy reads', () => {
    const doc = JSON.parse(utilizationLine('my-stack', [10, 20.5], 1_700_000_000_000)) as Record<string, unknown> & { _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] } };
    expect(doc._aws.Timestamp).to.equal(1_700_000_000_000);
    const [directive] = doc._aws.CloudWatchMetrics;
    expect(directive).to.deep.equal({ Namespace: UTILIZATION_NAMESPACE, Dimensions: [['StackName']], Metrics: [{ Name: UTILIZATION_METRIC, Unit: 'Percent' }] });
    for (const name of [...directive.Dimensions.flat(), ...directive.Metrics.map((m) => m.Name)]) expect(doc, name).to.have.property(name);
    expect(doc.StackName).to.equal('my-stack');
    expect(doc[UTILIZATION_METRIC]).to.deep.equal([10, 20.5]);
  });

  it('samples active / max as a percentage (capped at 100) and publishes every samplesPerLine samples', async () => {
    const lines: string[] = [];
    const readings = [{ active: 0, max: 4 }, { active: 3, max: 4 }, { active: 5, max: 4 }];
    let i = 0;
    const stop = publishUtilization({
      stackName: 's',
      associations: () => readings[Math.min(i++, readings.length - 1)],
      out: { write: (l: string) => lines.push(l) },
      sampleMs: 5,
      samplesPerLine: 3,
      now: () => 42,
    });
    const end = Date.now() + 10_000;
    while (lines.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    stop();
    expect((JSON.parse(lines[0]) as Record<string, unknown>)[UTILIZATION_METRIC]).to.deep.equal([0, 75, 100]);
  });

  it('writes nothing when stopped before its first sample', () => {
    const lines: string[] = [];
    const stop = publishUtilization({ stackName: 's', associations: () => ({ active: 1, max: 2 }), out: { write: (l: string) => lines.push(l) }, sampleMs: 60_000 });
    stop();
    expect(lines).to.deep.equal([]);
  });
});

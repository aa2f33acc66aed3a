import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { expect } from 'chai';
import { alignAcknowledgementsWithLogicalIds } from '../../template-src/acknowledgement-ids';
import { defaultBuildOptions } from '../../template-src/build-options';
import { createProductApp, NagFindingsError, synthesizeApp } from '../../template-src/synthesize';

const outdir = () => mkdtempSync(join(tmpdir(), 'nag-test-'));

describe('cdk-nag (AwsSolutions and HIPAA Security)', () => {
  it('fails synthesis on an unacknowledged finding and names it', () => {
    const product = createProductApp(defaultBuildOptions(), outdir());
    new s3.CfnBucket(product.stack, 'CarelessBucket');
    let error: unknown;
    try {
      synthesizeApp(product);
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(NagFindingsError);
    const findings = (error as NagFindingsError).findings;
    expect(findings.some((f) => f.startsWith('AwsSolutions-S10') && f.includes('CarelessBucket'))).to.equal(true);
    expect(findings.every((f) => f.includes('CarelessBucket'))).to.equal(true);
  });

  it('gives every acknowledgement a specific reason', () => {
    const { stack } = createProductApp(defaultBuildOptions(), outdir());
    const acknowledgements = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((m) => Object.entries(m.data as Record<string, string>));
    expect(acknowledgements.length).to.be.greaterThan(0);
    for (const [id, reason] of acknowledgements) {
      expect(reason, id).to.have.length.above(40);
      expect(reason, id).not.to.match(/^(ok|n\/a|todo|suppressed?|not needed)\.?$/i);
    }
  });

  it('re-issues acknowledgements written with allocated logical ids under the overridden ids', () => {
    const stack = new Stack();
    const bucket = new s3.CfnBucket(stack, 'Bucket');
    const allocated = stack.getLogicalId(bucket);
    bucket.overrideLogicalId('FixedBucket');
    Validations.of(bucket).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${allocated}.Arn>/*]`, reason: 'objects of this bucket' });
    expect(alignAcknowledgementsWithLogicalIds(stack)).to.equal(1);
    const ids = bucket.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.keys(m.data as object));
    expect(ids.some((id) => id.includes('<FixedBucket.Arn>/*'))).to.equal(true);
  });
});

import { CfnElement, Validations, type Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag names resources inside finding ids by their final logical id, e.g.
 * `AwsSolutions-IAM5[Resource::<StagingBucket.Arn>/incoming/*]`. A construct
 * that builds such an id with `Stack.getLogicalId()` gets the allocated id,
 * which ignores `overrideLogicalId()` (used here for stateful resources), and
 * its acknowledgement silently stops matching. This re-issues every such
 * acknowledgement, same reason, with the overridden ids. Call it once, after
 * the last construct is added; it changes nothing when the ids already match.
 */
export function alignAcknowledgementsWithLogicalIds(stack: Stack): number {
  const renamed = new Map<string, string>();
  for (const construct of stack.node.findAll()) {
    if (!(construct instanceof CfnElement)) continue;
    const allocated = stack.getLogicalId(construct);
    const final = stack.resolve(construct.logicalId) as string;
    if (allocated !== final) renamed.set(`<${allocated}.`, `<${final}.`);
  }
  const reissued: Array<{ construct: IConstruct; id: string; reason: string }> = [];
  for (const construct of stack.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        let fixed = id;
        for (const [from, to] of renamed) fixed = fixed.split(from).join(to);
        if (fixed !== id) reissued.push({ construct, id: fixed, reason });
      }
    }
  }
  for (const { construct, id, reason } of reissued) Validations.of(construct).acknowledge({ id, reason });
  return reissued.length;
}

import { CfnDeletionPolicy, CfnResource, type IAspect } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Resource types that hold the buyer's data or audit trail. */
export const STATEFUL_TYPES: readonly string[] = Object.freeze([
  'AWS::HealthImaging::Datastore',
  'AWS::S3::Bucket',
  'AWS::DynamoDB::Table',
  'AWS::Logs::LogGroup',
]);

/**
 * Gives every stateful resource DeletionPolicy `RetainExceptOnCreate` and
 * UpdateReplacePolicy `Retain`: kept when the stack is deleted or the
 * resource replaced, but deleted when the stack's own creation fails and
 * rolls back, so a failed first attempt leaves no data store (a quota of its
 * own), buckets or tables behind. Nothing can hold data before the create
 * completes. (AWS CloudFormation User Guide, "DeletionPolicy attribute".)
 */
export class StatefulRetention implements IAspect {
  /** Sets both policies on each resource of {@link STATEFUL_TYPES}. */
  public visit(node: IConstruct): void {
    if (node instanceof CfnResource && STATEFUL_TYPES.includes(node.cfnResourceType)) {
      node.cfnOptions.deletionPolicy = CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE;
      node.cfnOptions.updateReplacePolicy = CfnDeletionPolicy.RETAIN;
    }
  }
}

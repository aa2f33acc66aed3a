import { Aws, Fn, type IAspect, Token } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';

/**
 * Gives every CloudWatch Logs log group of the scope the same retention (the
 * LogRetentionDays parameter), including log groups created by constructs
 * that only accept a literal number of days.
 */
export class LogRetentionPolicy implements IAspect {
  /** @param retentionDays retention in days (usually a parameter token) */
  constructor(private readonly retentionDays: number) {}

  /** Sets RetentionInDays on each AWS::Logs::LogGroup. */
  public visit(node: IConstruct): void {
    if (node instanceof logs.CfnLogGroup) {
      node.retentionInDays = Token.asNumber(this.retentionDays);
    }
  }
}

/**
 * A log group name under `/aws/vendedlogs/<service>/`: log groups that AWS
 * services deliver to (Step Functions, ...) should use this prefix, so that
 * CloudWatch Logs grants delivery through the prefix and the account's log
 * resource policy does not grow by one entry per log group (5,120 character
 * limit). The stack id's UUID keeps the name unique per stack creation: the
 * log group is retained when the stack is deleted, and a new stack with the
 * same name must not collide with it.
 */
export function vendedLogGroupName(service: string, purpose: string): string {
  const stackUuid = Fn.select(2, Fn.split('/', Aws.STACK_ID));
  return `/aws/vendedlogs/${service}/${Aws.STACK_NAME}-${purpose}-${Fn.select(0, Fn.split('-', stackUuid))}`;
}

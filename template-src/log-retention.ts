import { type IAspect, Token } from 'aws-cdk-lib';
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

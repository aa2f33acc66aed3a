import { Aws } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';

/** Placeholders the clinical state machine's DefinitionSubstitutions fill (ResearchCopy.startedBy). */
export const RESEARCH_SUBSTITUTIONS = { enabled: 'ResearchCopyEnabled', stateMachineArn: 'ResearchStateMachineArn' } as const;

/**
 * States inserted into the clinical import workflow before the import (hence
 * before its staging cleanup): when de-identification is on, start the research
 * state machine for this batch and wait for it (startExecution.sync:2). The
 * research execution is named after the clinical one, so a retried state finds
 * the same execution. A research failure is recorded by the research workflow
 * and never blocks the clinical import.
 */
export function researchCopySteps(scope: Construct, next: sfn.IChainable): sfn.IChainable {
  const settings = new sfn.Pass(scope, 'ResearchSettings', {
    result: sfn.Result.fromObject({ enabled: `\${${RESEARCH_SUBSTITUTIONS.enabled}}` }),
    resultPath: '$.research',
  });
  const copy = new sfn.CustomState(scope, 'CopyForResearch', {
    stateJson: {
      Type: 'Task',
      Resource: `arn:${Aws.PARTITION}:states:::states:startExecution.sync:2`,
      Parameters: {
        StateMachineArn: `\${${RESEARCH_SUBSTITUTIONS.stateMachineArn}}`,
        'Name.$': '$$.Execution.Name',
        Input: { 'batchId.$': '$.batchId', 'manifestKey.$': '$.manifestKey', 'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$': '$$.Execution.Id' },
      },
      ResultSelector: { 'status.$': '$.Status' },
      ResultPath: '$.research.execution',
    },
  })
    .addRetry({ errors: ['StepFunctions.ExecutionLimitExceeded', 'StepFunctions.SdkClientException', 'States.Timeout'], interval: undefined, maxAttempts: 5, backoffRate: 2 })
    .addCatch(next, { resultPath: '$.research.error' });
  copy.next(next);
  return settings.next(
    new sfn.Choice(scope, 'ResearchCopyOn?')
      .when(sfn.Condition.stringEquals('$.research.enabled', 'true'), copy)
      .otherwise(next),
  );
}

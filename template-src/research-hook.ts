import { Aws } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';

/** Placeholders the clinical state machine's DefinitionSubstitutions fill (ResearchCopy.startedBy). */
export const RESEARCH_SUBSTITUTIONS = { enabled: 'ResearchCopyEnabled', mode: 'DeidentificationModeValue', stateMachineArn: 'ResearchStateMachineArn' } as const;

/**
 * Batches the research workflow seals from de-identified copies (DeidentifiedOnly)
 * have ids whose middle part starts with "di": the SCP's middle part is 8 hex
 * digits, so it never contains an "i" (lambda/research/derived-batch.ts).
 */
export const DERIVED_BATCH_MATCH = '*Z-di*';

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
    result: sfn.Result.fromObject({ enabled: `\${${RESEARCH_SUBSTITUTIONS.enabled}}`, mode: `\${${RESEARCH_SUBSTITUTIONS.mode}}` }),
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
  // DeidentifiedOnly: an original batch is never imported; its de-identified copies come back as a derived batch.
  const original = sfn.Condition.not(sfn.Condition.stringMatches('$.batchId', DERIVED_BATCH_MATCH));
  const importOrStop = new sfn.Choice(scope, 'ImportOriginals?')
    .when(sfn.Condition.and(sfn.Condition.stringEquals('$.research.mode', 'DeidentifiedOnly'), original),
      new sfn.Succeed(scope, 'OriginalsNotImported', { comment: 'DeidentifiedOnly: originals archived in the raw bucket; the de-identified batch is imported by its own execution' }))
    .otherwise(next);
  copy.addCatch(importOrStop, { resultPath: '$.research.error' });
  copy.next(importOrStop);
  return settings.next(
    new sfn.Choice(scope, 'ResearchCopyOn?')
      .when(sfn.Condition.and(sfn.Condition.stringEquals('$.research.enabled', 'true'), original), copy)
      .otherwise(next),
  );
}

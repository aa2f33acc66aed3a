import { Aws, CfnOutput, Fn, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import { CfnDatastore } from 'aws-cdk-lib/aws-healthimaging';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { HealthImaging } from './healthimaging';
import type { ImportWorkflow } from './import-workflow';
import type { ResearchCopy } from './research-copy';
import type { ResearchParameters } from './research-parameters';

/** Workflow functions that resolve a batch's data store (lambda/import-limiter.ts datastoreOf). */
const DATASTORE_AWARE = ['validateBatch', 'startImportJob', 'checkImportStatus', 'recordResults', 'recordFailure'] as const;

/** Properties of {@link ResearchImport}. */
export interface ResearchImportProps {
  readonly params: ResearchParameters;
  readonly imaging: HealthImaging;
  readonly workflow: ImportWorkflow;
  readonly research: ResearchCopy;
}

/**
 * ResearchImport (DeidentificationMode=ResearchCopy, ResearchImport=Yes): the
 * research copies of every batch are staged and sealed as a derived batch
 * (lambda/research, RESEARCH_IMPORT=true) and imported by the clinical import
 * workflow into a second data store (RESEARCH_DATASTORE_ID): created here
 * unless ResearchDatastoreId is given, retained like the clinical one
 * (StatefulRetention: RetainExceptOnCreate), encrypted with an AWS owned key
 * like a created clinical data store. The grants below exist only when on.
 */
export class ResearchImport extends Construct {
  /** Id of the research data store (created or given); meaningful only under ResearchImportOn. */
  public readonly datastoreId: string;
  public readonly datastoreArn: string;

  constructor(scope: Construct, id: string, props: ResearchImportProps) {
    super(scope, id);
    const { params, imaging, workflow, research } = props;
    const on = params.researchImportOn;
    const create = params.createResearchDatastore;

    const datastore = new CfnDatastore(this, 'Datastore', { datastoreName: `${Aws.STACK_NAME}-research` });
    datastore.overrideLogicalId('ResearchDatastore');
    datastore.cfnOptions.condition = create;
    // Any property change replaces a data store, and it holds the research images.
    datastore.applyRemovalPolicy(RemovalPolicy.RETAIN);
    this.datastoreId = Token.asString(Fn.conditionIf(create.logicalId, datastore.attrDatastoreId, params.researchDatastoreId.valueAsString));
    this.datastoreArn = Token.asString(Fn.conditionIf(
      create.logicalId, datastore.attrDatastoreArn,
      `arn:${Aws.PARTITION}:medical-imaging:${Aws.REGION}:${Aws.ACCOUNT_ID}:datastore/${params.researchDatastoreId.valueAsString}`,
    ));

    // Workflow functions learn the research data store only when on (empty = absent in lambda/config.ts).
    const researchId = Token.asString(Fn.conditionIf(on.logicalId, this.datastoreId, ''));
    for (const name of DATASTORE_AWARE) (workflow.functionsByName[name] as lambda.Function).addEnvironment('RESEARCH_DATASTORE_ID', researchId);
    for (const fn of research.functions) fn.addEnvironment('RESEARCH_IMPORT', Token.asString(Fn.conditionIf(on.logicalId, 'true', 'false')));

    // Import into / poll the research data store: a policy that exists only when on.
    const roleOf = (name: (typeof DATASTORE_AWARE)[number]) => workflow.functionsByName[name].role!;
    const policy = new iam.Policy(this, 'ImportIntoResearchDatastore', {
      roles: [roleOf('startImportJob'), roleOf('checkImportStatus')],
      statements: [new iam.PolicyStatement({ actions: ['medical-imaging:StartDICOMImportJob', 'medical-imaging:GetDICOMImportJob'], resources: [this.datastoreArn] })],
    });
    (policy.node.defaultChild as iam.CfnPolicy).cfnOptions.condition = on;
    Validations.of(policy).acknowledge({
      id: 'HIPAA.Security-IAMNoInlinePolicy',
      reason: 'A standalone AWS::IAM::Policy, present only when ResearchImport is on, scoped to the research data store; attached to the two import-job functions.',
    });
    // The data access role may be passed for the research data store too: its trust names both data stores only when on.
    (imaging.dataAccessRole.node.defaultChild as iam.CfnRole).addPropertyOverride(
      'AssumeRolePolicyDocument.Statement.0.Condition.ArnEquals.aws:SourceArn',
      [imaging.datastoreArn, Fn.conditionIf(on.logicalId, this.datastoreArn, Aws.NO_VALUE)],
    );

    new CfnOutput(Stack.of(this), 'ResearchImportDatastoreId', {
      value: this.datastoreId, condition: on,
      description: 'HealthImaging data store the de-identified research copies are imported into (ResearchImport).',
    });
  }
}

import { readFileSync } from 'node:fs';
import { CreateBucketCommand, GetObjectCommand, PutBucketVersioningCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { StateMachine } from 'aws-local-stepfunctions';
import * as handlers from '../../lambda/index';
import { resetResearchRuntime } from '../../lambda/research/handlers';
import { startPipeline, type Pipeline } from '../e2e/pipeline-harness';
import { TEMPLATE_PATH } from '../e2e/workflow-definition';

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, any> }> };
type Definition = { StartAt: string; States: Record<string, any> };

export const PROCESSED_BUCKET = 'processed';

/**
 * A state machine definition out of dist/template.json (the one whose
 * definition names `marker`), with Lambda ARNs resolved to `function:<export name>`.
 */
export function definitionFromTemplate(marker: string): Definition {
  const template = JSON.parse(readFileSync(TEMPLATE_PATH, 'utf8')) as Template;
  const machines = Object.values(template.Resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine' && JSON.stringify(r.Properties?.['DefinitionString']).includes(marker));
  if (machines.length !== 1) throw new Error(`expected one state machine naming ${marker}, found ${machines.length}`);
  const handlerOf = (id: string) => String(template.Resources[id]?.Properties?.['Handler'] ?? '').replace(/^index\./, '');
  const resolve = (part: any): string => {
    if (typeof part === 'string') return part;
    if (part['Fn::GetAtt']) return `arn:aws:lambda:us-east-1:123456789012:function:${handlerOf(part['Fn::GetAtt'][0])}`;
    if (part['Ref'] === 'AWS::Partition') return 'aws';
    if (part['Ref'] === 'AWS::Region') return 'us-east-1';
    if (part['Ref'] === 'AWS::AccountId') return '123456789012';
    throw new Error(`cannot resolve ${JSON.stringify(part)}`);
  };
  const def = machines[0]!.Properties!['DefinitionString'];
  return JSON.parse(typeof def === 'string' ? def : (def['Fn::Join'][1] as unknown[]).map(resolve).join(def['Fn::Join'][0])) as Definition;
}

/** Task state name → export name of lambda/index.ts, inside Map item processors too. */
function lambdaTasks(definition: Definition): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (states: Record<string, any>) => {
    for (const [name, s] of Object.entries(states)) {
      if (s.Type === 'Task' && String(s.Resource).includes(':function:')) out[name] = String(s.Resource).split(':function:')[1]!;
      if (s.ItemProcessor) visit(s.ItemProcessor.States);
      if (s.Iterator) visit(s.Iterator.States);
    }
  };
  visit(definition.States);
  return out;
}

export interface ResearchRun {
  readonly input: { batchId: string; manifestKey: string };
  status: 'SUCCEEDED' | 'FAILED';
  output?: any;
  error?: string;
  states: string[];
}

export interface ResearchPipeline extends Pipeline {
  readonly keyArn: string;
  readonly kms: KMSClient;
  readonly researchRuns: ResearchRun[];
  /** Runs the research state machine from the template locally with the real handlers. */
  runResearch(input: { batchId: string; manifestKey: string }): Promise<ResearchRun>;
  getBytes(bucket: string, key: string): Promise<Buffer>;
}

/**
 * The clinical pipeline of test/e2e with de-identification on: the template's
 * DefinitionSubstitutions filled as CloudFormation would with
 * DeidentificationMode=ResearchCopy, CopyForResearch (startExecution.sync:2)
 * bound to a local run of the research state machine from the same template,
 * a processed bucket and a KMS HMAC_256 key in moto (GenerateMac is real HMAC there).
 */
export const RAW_BUCKET = 'raw';

export async function startResearchPipeline(env: Record<string, string> = {}, mode: 'ResearchCopy' | 'DeidentifiedOnly' = 'ResearchCopy'): Promise<ResearchPipeline> {
  const researchDefinition = definitionFromTemplate('PlanResearchBatch');
  const machine = new StateMachine(researchDefinition as never, { validationOptions: { checkArn: true, checkPaths: true } });
  const local: Record<string, (input: any) => Promise<any>> = {};
  for (const [state, fn] of Object.entries(lambdaTasks(researchDefinition))) {
    const h = (handlers as unknown as Record<string, (e: any) => Promise<any>>)[fn];
    if (!h) throw new Error(`research state ${state} invokes ${fn}, which lambda/index.ts does not export`);
    local[state] = h;
  }
  const researchRuns: ResearchRun[] = [];
  const runResearch = async (input: { batchId: string; manifestKey: string }): Promise<ResearchRun> => {
    const run: ResearchRun = { input, status: 'SUCCEEDED', states: [] };
    researchRuns.push(run);
    const exec = machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: local, retryIntervalOverrides: Object.fromEntries(Object.keys(local).map((s) => [s, 10])) },
    });
    const logs = (async () => { for await (const ev of exec.eventLogs) if (ev.type === 'StateEntered') run.states.push((ev as any).state.name); })();
    try {
      run.output = await exec.result;
    } catch (err) {
      run.status = 'FAILED';
      run.error = (err as Error).message;
      if (process.env.E2E_DEBUG) process.stderr.write(`research run failed: ${String((err as Error).stack)} cause ${String(((err as Error).cause as Error)?.stack)}\n`);
    }
    await logs.catch(() => undefined);
    return run;
  };

  let kmsEndpoint = '';
  const p = await startPipeline({
    definition: (d) => JSON.parse(JSON.stringify(d)
      .split('${ResearchCopyEnabled}').join('true')
      .split('${DeidentificationModeValue}').join(mode)
      .split('${ResearchStateMachineArn}').join('arn:aws:states:us-east-1:123456789012:stateMachine:research')) as Definition,
    taskHandlers: {
      // What startExecution.sync:2 returns: the DescribeExecution response (Status, Output as JSON).
      CopyForResearch: async (req: { StateMachineArn: string; Name: string; Input: { batchId: string; manifestKey: string } }) => {
        if (!kmsEndpoint) throw new Error('research pipeline not ready');
        const run = await runResearch({ batchId: req.Input.batchId, manifestKey: req.Input.manifestKey });
        if (run.status !== 'SUCCEEDED') throw Object.assign(new Error(run.error ?? 'research failed'), { name: 'States.TaskFailed' });
        return { Status: 'SUCCEEDED', Output: run.output, Name: req.Name };
      },
    },
    env,
  });
  await p.s3.send(new CreateBucketCommand({ Bucket: PROCESSED_BUCKET }));
  await p.s3.send(new CreateBucketCommand({ Bucket: RAW_BUCKET }));
  await p.s3.send(new PutBucketVersioningCommand({ Bucket: RAW_BUCKET, VersioningConfiguration: { Status: 'Enabled' } }));
  const kms = new KMSClient({ endpoint: p.moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const key = await kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', Description: 'research e2e' }));
  const keyArn = key.KeyMetadata!.Arn!;
  kmsEndpoint = p.moto.endpoint;
  Object.assign(process.env, {
    PROCESSED_BUCKET, DEID_KEY_ARN: keyArn, DEID_MODE: mode, RAW_BUCKET, KMS_ENDPOINT: kmsEndpoint, DEID_DATES: 'remove', DEID_RETAIN: '', DEID_PRIVATE_TAGS: 'remove',
    DEID_BURNED_IN: 'quarantine', DEID_PATIENT_ID_PREFIX: 'ANON-', RESEARCH_CHUNK_SIZE: '2', RESEARCH_INSTANCE_CONCURRENCY: '2', ...env,
  });
  resetResearchRuntime();
  const stop = p.stop.bind(p);
  return Object.assign(p, {
    keyArn, kms, researchRuns, runResearch,
    async getBytes(bucket: string, key: string) { return Buffer.from(await (await (p.s3 as S3Client).send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray()); },
    async stop() { resetResearchRuntime(); await stop(); },
  });
}

import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildWorkflowTestStack } from './workflow-test-stack';

const ROOT = path.resolve(__dirname, '..', '..');
export const TEMPLATE_PATH = path.join(ROOT, 'dist', 'template.json');

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, any> }> };

export interface LoadedDefinition {
  readonly definition: { StartAt: string; States: Record<string, any> };
  /** Where it came from: dist/template.json, or a stack with only the workflow (before the real stack exists). */
  readonly source: 'dist/template.json' | 'workflow-test-stack';
}

/**
 * The import state machine definition out of a synthesized template, with
 * every Fn::GetAtt / Ref of a Lambda function resolved to a fake ARN whose
 * function name is the handler's export name (`index.<name>` → `<name>`).
 * Uses dist/template.json whenever the real stack exists (template-src/main.ts).
 */
export function loadWorkflowDefinition(): LoadedDefinition {
  if (existsSync(path.join(ROOT, 'template-src', 'main.ts'))) {
    if (!existsSync(TEMPLATE_PATH)) throw new Error(`${TEMPLATE_PATH} missing: run \`npm run build:template\` first`);
    return { definition: definitionFrom(JSON.parse(readFileSync(TEMPLATE_PATH, 'utf8')) as Template), source: 'dist/template.json' };
  }
  const { app, stack } = buildWorkflowTestStack();
  return { definition: definitionFrom(app.synth().getStackByName(stack.stackName).template as Template), source: 'workflow-test-stack' };
}

export function definitionFrom(template: Template): LoadedDefinition['definition'] {
  const machines = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine');
  const ours = machines.filter(([, r]) => JSON.stringify(r.Properties?.['DefinitionString'] ?? '').includes('ValidateBatch'));
  if (ours.length !== 1) throw new Error(`expected one import state machine in the template, found ${ours.length} (of ${machines.length} state machines)`);
  const handlerOf = (logicalId: string): string => {
    const r = template.Resources[logicalId];
    if (r?.Type !== 'AWS::Lambda::Function') throw new Error(`${logicalId} is not a Lambda function`);
    const handler = String(r.Properties?.['Handler'] ?? '');
    if (!handler.startsWith('index.')) throw new Error(`${logicalId} handler ${handler} is not index.<name>`);
    return handler.slice('index.'.length);
  };
  const resolve = (part: unknown): string => {
    if (typeof part === 'string') return part;
    const p = part as Record<string, any>;
    if (p['Fn::GetAtt']) return `arn:aws:lambda:us-east-1:123456789012:function:${handlerOf(p['Fn::GetAtt'][0])}`;
    if (p['Ref']) {
      if (template.Resources[p['Ref']]?.Type === 'AWS::Lambda::Function') return `arn:aws:lambda:us-east-1:123456789012:function:${handlerOf(p['Ref'])}`;
      if (p['Ref'] === 'AWS::Partition') return 'aws';
      if (p['Ref'] === 'AWS::Region') return 'us-east-1';
      if (p['Ref'] === 'AWS::AccountId') return '123456789012';
    }
    throw new Error(`cannot resolve ${JSON.stringify(part)} in the definition`);
  };
  const def = ours[0]![1].Properties!['DefinitionString'];
  const text = typeof def === 'string' ? def : (def['Fn::Join'][1] as unknown[]).map(resolve).join(def['Fn::Join'][0]);
  return JSON.parse(text) as LoadedDefinition['definition'];
}

/** Task state name → handler export name, read from each Task's resolved Resource ARN. */
export function taskHandlers(definition: LoadedDefinition['definition']): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (states: Record<string, any>) => {
    for (const [name, s] of Object.entries(states)) {
      // Lambda tasks only (a startExecution.sync task, e.g. CopyForResearch, is bound by the suite that runs it).
      if (s.Type === 'Task' && String(s.Resource).includes(':function:')) out[name] = String(s.Resource).split(':function:')[1]!;
      for (const b of s.Branches ?? []) visit(b.States);
      if (s.ItemProcessor) visit(s.ItemProcessor.States);
      if (s.Iterator) visit(s.Iterator.States);
    }
  };
  visit(definition.States);
  return out;
}

import { CfnCondition, CfnParameter, type CfnParameterProps, Fn, Stack } from 'aws-cdk-lib';
import type { ParameterPattern } from './patterns';

/** Console parameter groups, in the order the console shows them. */
export const PARAMETER_GROUPS = [
  'Network',
  'DICOM',
  'Security',
  'Performance',
  'Data and retention',
  'Monitoring',
  'De-identification',
  'Advanced DICOM',
  'Advanced deployment',
] as const;

/** One of {@link PARAMETER_GROUPS}. */
export type ParameterGroupName = (typeof PARAMETER_GROUPS)[number];

/** A stack parameter with its console label and group. */
export interface LabelledParameterProps extends Omit<CfnParameterProps, 'allowedPattern'> {
  /** Console label (AWS::CloudFormation::Interface ParameterLabels). */
  readonly label: string;
  /** Console group. */
  readonly group: ParameterGroupName;
  /** Description is mandatory here: the console shows it under the label. */
  readonly description: string;
  /** Pattern and the ConstraintDescription that goes with it (overrides constraintDescription). Default: none. */
  readonly pattern?: ParameterPattern;
}

/**
 * Creates labelled, grouped parameters and the conditions derived from them,
 * and renders `AWS::CloudFormation::Interface` so the console shows the
 * parameters in groups instead of alphabetically.
 */
export class ParameterCatalogue {
  private readonly labels = new Map<string, string>();
  private readonly groups = new Map<ParameterGroupName, string[]>();
  private readonly conditions = new Map<string, CfnCondition>();

  /** @param stack the stack that receives the parameters and the interface metadata */
  constructor(private readonly stack: Stack) {}

  /** Adds one parameter; its logical id is `id`. */
  public add(id: string, props: LabelledParameterProps): CfnParameter {
    const { label, group, pattern, ...cfn } = props;
    const parameter = new CfnParameter(this.stack, id, {
      ...cfn,
      ...(pattern ? { allowedPattern: pattern.pattern, constraintDescription: pattern.description } : {}),
    });
    this.labels.set(id, label);
    const members = this.groups.get(group) ?? [];
    members.push(id);
    this.groups.set(group, members);
    return parameter;
  }

  /** Condition `<Param>Given`: true when the parameter is not empty. Created on first use. */
  public given(parameter: CfnParameter): CfnCondition {
    return this.condition(`${parameter.node.id}Given`, () =>
      Fn.conditionNot(Fn.conditionEquals(parameter.valueAsString, '')),
    );
  }

  /** Condition named `id`: true when the parameter equals `value`. Created on first use. */
  public equals(id: string, parameter: CfnParameter, value: string): CfnCondition {
    return this.condition(id, () => Fn.conditionEquals(parameter.valueAsString, value));
  }

  /** Writes the ParameterGroups / ParameterLabels metadata; call once, after every add(). */
  public renderInterface(): void {
    const parameterGroups = PARAMETER_GROUPS.filter((g) => this.groups.has(g)).map((g) => ({
      Label: { default: g },
      Parameters: this.groups.get(g),
    }));
    const parameterLabels = Object.fromEntries([...this.labels].map(([id, label]) => [id, { default: label }]));
    this.stack.templateOptions.metadata = {
      ...this.stack.templateOptions.metadata,
      'AWS::CloudFormation::Interface': { ParameterGroups: parameterGroups, ParameterLabels: parameterLabels },
    };
  }

  private condition(id: string, expression: () => ReturnType<typeof Fn.conditionEquals>): CfnCondition {
    let condition = this.conditions.get(id);
    if (!condition) {
      condition = new CfnCondition(this.stack, id, { expression: expression() });
      this.conditions.set(id, condition);
    }
    return condition;
  }
}

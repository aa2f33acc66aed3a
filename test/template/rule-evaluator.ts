import type { Json } from './template-fixture';

/** What the evaluator knows of the account: attributes of the AWS-specific parameter values (subnet → VpcId, AvailabilityZone). */
export interface RuleEnvironment {
  readonly region: string;
  /** Attributes per resource id, as Fn::ValueOf reads them. */
  readonly attributes: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/**
 * Evaluates the template's Rules the way CloudFormation does before creating
 * anything (AWS CloudFormation User Guide, "Rules syntax" and "Rule
 * functions"): a rule whose RuleCondition is true (or absent) checks each
 * assertion. Returns the AssertDescription of every failed assertion, by
 * rule name. Parameters not given take their Default; List<...> parameters
 * are comma-separated. Throws on a function it does not implement, so a new
 * rule cannot pass here by being ignored.
 */
export function failedAssertions(template: Json, given: Record<string, string>, env: RuleEnvironment): Record<string, string[]> {
  const params: Record<string, string | string[]> = {};
  for (const [name, p] of Object.entries(template.Parameters as Record<string, Json>)) {
    const raw = name in given ? given[name]! : p.Default === undefined ? '' : String(p.Default);
    params[name] = String(p.Type).startsWith('List<') || p.Type === 'CommaDelimitedList' ? (raw === '' ? [] : raw.split(',')) : raw;
  }
  const value = (x: Json): Json => {
    if (typeof x === 'string' || typeof x === 'boolean') return x;
    if (Array.isArray(x)) return x.map(value);
    const [fn, args] = Object.entries(x as Record<string, Json>)[0]!;
    switch (fn) {
      case 'Ref':
        if (args === 'AWS::Region') return env.region;
        if (!(args in params)) throw new Error(`Ref to unknown parameter ${String(args)}`);
        return params[args];
      case 'Fn::ValueOf': {
        const [param, attribute] = args as [string, string];
        const ids = params[param];
        const read = (id: string) => {
          const v = env.attributes[id]?.[attribute];
          if (v === undefined) throw new Error(`no ${attribute} known for ${id}`);
          return v;
        };
        return Array.isArray(ids) ? ids.map(read) : read(ids as string);
      }
      case 'Fn::Equals':
        return value(args[0]) === value(args[1]);
      case 'Fn::Not':
        return !value(args[0]);
      case 'Fn::And':
        return (args as Json[]).every((a) => value(a) === true);
      case 'Fn::Or':
        return (args as Json[]).some((a) => value(a) === true);
      case 'Fn::Contains':
        return (value(args[0]) as string[]).includes(value(args[1]) as string);
      case 'Fn::EachMemberEquals':
        return (value(args[0]) as string[]).every((m) => m === value(args[1]));
      case 'Fn::EachMemberIn': {
        const allowed = value(args[1]) as string[];
        return (value(args[0]) as string[]).every((m) => allowed.includes(m));
      }
      default:
        throw new Error(`rule function ${fn} is not implemented by the evaluator`);
    }
  };
  const failed: Record<string, string[]> = {};
  for (const [name, rule] of Object.entries((template.Rules ?? {}) as Record<string, Json>)) {
    if (rule.RuleCondition !== undefined && value(rule.RuleCondition) !== true) continue;
    for (const a of rule.Assertions as Json[]) {
      if (value(a.Assert) !== true) (failed[name] ??= []).push(String(a.AssertDescription));
    }
  }
  return failed;
}

import { defaultBuildOptions } from '../../template-src/build-options';
import { synthesizeTemplate } from '../../template-src/synthesize';

/** A CloudFormation template as plain JSON. */
export type Json = any;

let cached: Json | undefined;

/** The template for the marketplace.json defaults, synthesized once per test run. */
export function productTemplate(): Json {
  cached ??= synthesizeTemplate(defaultBuildOptions());
  return cached;
}

/** Resources of one type, as [logicalId, resource] pairs. */
export function resourcesOfType(template: Json, type: string): Array<[string, Json]> {
  return Object.entries(template.Resources as Record<string, Json>).filter(([, r]) => r.Type === type);
}

/** The one resource with this logical id (fails loudly when absent). */
export function resource(template: Json, logicalId: string): Json {
  const found = template.Resources[logicalId];
  if (!found) throw new Error(`no resource ${logicalId} in the template`);
  return found;
}

/**
 * Evaluates the template's Conditions for the given parameter values (the
 * others take their Default). Supports the functions Conditions may use.
 */
export function evaluateConditions(template: Json, values: Record<string, string>): Record<string, boolean> {
  const params: Record<string, string> = {};
  for (const [name, p] of Object.entries(template.Parameters as Record<string, Json>)) {
    params[name] = name in values ? values[name]! : p.Default === undefined ? '' : String(p.Default);
  }
  const results: Record<string, boolean> = {};
  const value = (x: Json): Json => {
    if (typeof x === 'string') return x;
    if (x && typeof x === 'object' && 'Ref' in x) return params[x.Ref];
    if (x && typeof x === 'object' && 'Condition' in x) return cond(x.Condition);
    return evalExpr(x);
  };
  const evalExpr = (e: Json): boolean => {
    const [fn, args] = Object.entries(e)[0] as [string, Json[]];
    switch (fn) {
      case 'Fn::Equals':
        return value(args[0]) === value(args[1]);
      case 'Fn::Not':
        return !value(args[0]);
      case 'Fn::And':
        return args.every((a) => value(a) === true);
      case 'Fn::Or':
        return args.some((a) => value(a) === true);
      default:
        throw new Error(`unsupported condition function ${fn}`);
    }
  };
  const cond = (name: string): boolean => {
    if (!(name in results)) results[name] = evalExpr(template.Conditions[name]);
    return results[name]!;
  };
  for (const name of Object.keys(template.Conditions ?? {})) cond(name);
  return results;
}

/** Logical ids of the resources that exist for these parameter values. */
export function createdResources(template: Json, values: Record<string, string>): Set<string> {
  const conditions = evaluateConditions(template, values);
  return new Set(
    Object.entries(template.Resources as Record<string, Json>)
      .filter(([, r]) => r.Condition === undefined || conditions[r.Condition])
      .map(([id]) => id),
  );
}

/** Resolves `Fn::If` throughout a value for the given condition results. */
export function resolveIfs(value: Json, conditions: Record<string, boolean>): Json {
  if (Array.isArray(value)) return value.map((v) => resolveIfs(v, conditions));
  if (value && typeof value === 'object') {
    if ('Fn::If' in value) {
      const [name, whenTrue, whenFalse] = value['Fn::If'];
      return resolveIfs(conditions[name] ? whenTrue : whenFalse, conditions);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveIfs(v, conditions)]));
  }
  return value;
}

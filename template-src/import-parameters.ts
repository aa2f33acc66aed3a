import { Aws, CfnMapping, CfnRule, Fn, Token, type Stack } from 'aws-cdk-lib';
import type { ParameterCatalogue } from './parameter-catalogue';

/**
 * Concurrent import jobs per data store, per Region (page "AWS HealthImaging
 * endpoints and quotas", AWS General Reference): the quota is 100, but 20 in
 * Asia Pacific (Sydney). The stack's default stays below it so an operator's
 * own jobs (and the SCP's bursts) still find room.
 */
export const IMPORT_JOBS_BY_REGION: Readonly<Record<string, { readonly Quota: number; readonly Default: number }>> = {
  'us-east-1': { Quota: 100, Default: 20 },
  'us-west-2': { Quota: 100, Default: 20 },
  'eu-west-1': { Quota: 100, Default: 20 },
  'eu-west-2': { Quota: 100, Default: 20 },
  'ap-southeast-2': { Quota: 20, Default: 15 },
};

export interface ImportJobParameters {
  /** The number the import limiter uses: the parameter, or the Region's default when it is 0 (a token). */
  readonly maxConcurrentJobs: number;
}

/**
 * MaxConcurrentImportJobs (Performance group): 0 = the Region's default from
 * the ImportJobsByRegion mapping; a Template Rule refuses a value above the
 * Region's quota before anything is created.
 */
export function addImportJobParameters(stack: Stack, catalogue: ParameterCatalogue): ImportJobParameters {
  const param = catalogue.add('MaxConcurrentImportJobs', {
    group: 'Performance',
    label: 'Concurrent HealthImaging import jobs',
    type: 'Number',
    default: 0,
    minValue: 0,
    maxValue: 100,
    constraintDescription: 'A whole number from 0 to 100 (0 = the Region default).',
    description:
      'Most import jobs the stack runs at once. 0 = the Region default: 20, or 15 in ap-southeast-2. At most the data store quota of concurrent import jobs (100; 20 in ap-southeast-2); raise the quota in Service Quotas before raising this.',
  });
  const mapping = new CfnMapping(stack, 'ImportJobsByRegion', { mapping: IMPORT_JOBS_BY_REGION as Record<string, Record<string, number>> });
  const useDefault = catalogue.equals('UseRegionDefaultImportJobs', param, '0');
  for (const [region, { Quota }] of Object.entries(IMPORT_JOBS_BY_REGION)) {
    if (Quota >= 100) continue; // the parameter's own MaxValue already says it
    new CfnRule(stack, `ImportJobsWithinQuota${region.replace(/-/g, '')}`, {
      ruleCondition: Fn.conditionEquals(Aws.REGION, region),
      assertions: [{
        assert: Fn.conditionContains(Array.from({ length: Quota + 1 }, (_, i) => String(i)), param.valueAsString),
        assertDescription: `In ${region} the data store runs at most ${Quota} import jobs at once: set MaxConcurrentImportJobs to ${Quota} or less (0 = ${IMPORT_JOBS_BY_REGION[region]!.Default}).`,
      }],
    });
  }
  const value = Fn.conditionIf(useDefault.logicalId, mapping.findInMap(Aws.REGION, 'Default'), param.valueAsString);
  return { maxConcurrentJobs: Token.asNumber(value) };
}

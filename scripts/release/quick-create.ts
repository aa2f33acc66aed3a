/**
 * CloudFormation console quick-create links (AWS CloudFormation User Guide,
 * "Create quick-create links for stacks"): the console opens one "Quick
 * create stack" page with the template and the stack name filled in. An ECS
 * delivery option on AWS Marketplace has no launch button; the buyer follows
 * this link from the usage instructions.
 */

/** Console endpoint; the `region` query picks the Region the stack is created in. */
export const CONSOLE_BASE = 'https://console.aws.amazon.com/cloudformation/home';

/** Stack name the link proposes (the buyer may change it on the page). */
export const DEFAULT_STACK_NAME = 'dicom-store-scp';

/** CloudFormation stack names: a letter, then letters, digits and hyphens, at most 128 characters. */
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

export interface QuickCreateInput {
  readonly region: string;
  /** HTTPS URL of the template in a bucket of that Region. */
  readonly templateUrl: string;
  readonly stackName?: string;
  /** `param_<Name>=<value>` pre-fills; leave empty for the template's Defaults. */
  readonly parameters?: Readonly<Record<string, string>>;
}

export class QuickCreateError extends Error {
  override readonly name = 'QuickCreateError';
  readonly code = 'ERR_QUICK_CREATE';
}

/** The quick-create URL; every query value is percent-encoded. */
export function quickCreateUrl(input: QuickCreateInput): string {
  const stackName = input.stackName ?? DEFAULT_STACK_NAME;
  if (!STACK_NAME.test(stackName)) throw new QuickCreateError(`stack name "${stackName}" is not a valid CloudFormation stack name`);
  if (!/^[a-z]{2}(-[a-z]+)+-[0-9]$/.test(input.region)) throw new QuickCreateError(`"${input.region}" is not a Region code`);
  if (!input.templateUrl.startsWith('https://')) throw new QuickCreateError(`template URL ${input.templateUrl} is not HTTPS`);
  const query = new URLSearchParams({ templateURL: input.templateUrl, stackName });
  for (const [name, value] of Object.entries(input.parameters ?? {})) query.append(`param_${name}`, value);
  return `${CONSOLE_BASE}?region=${input.region}#/stacks/quickcreate?${query.toString()}`;
}

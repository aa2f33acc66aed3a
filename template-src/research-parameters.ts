import { CfnCondition, type CfnParameter, Fn, type Stack } from 'aws-cdk-lib';
import type { ParameterCatalogue } from './parameter-catalogue';
import type { ParameterPattern } from './patterns';

/** Values of the DeidentificationMode parameter. */
export const DEIDENTIFICATION_MODES = ['Off', 'ResearchCopy', 'DeidentifiedOnly'] as const;

/** PS3.15 options a stack may keep (the engine's RetainOption names, without safe-private: DeidPrivateTags says that). */
export const RETAIN_OPTION_LIST: ParameterPattern = {
  pattern: '^((patient-characteristics|device-identity|institution-identity|uids)(,(patient-characteristics|device-identity|institution-identity|uids))*)?$',
  description: 'Leave empty, or a comma-separated list of: patient-characteristics, device-identity, institution-identity, uids (no spaces).',
};

/** Optional ARN of an existing KMS HMAC key. */
export const OPTIONAL_KMS_KEY_ARN: ParameterPattern = {
  pattern: '^(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]{36}|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/mrk-[0-9a-f]{32})?$',
  description: 'Leave empty to create a key, or the full ARN of an existing KMS key with key spec HMAC_256 and key usage GENERATE_VERIFY_MAC in this Region.',
};

/** Stack parameters and conditions of the de-identification feature (console group "De-identification"). */
export interface ResearchParameters {
  readonly mode: CfnParameter;
  readonly dateHandling: CfnParameter;
  readonly retainOptions: CfnParameter;
  readonly privateTags: CfnParameter;
  readonly burnedIn: CfnParameter;
  readonly patientIdPrefix: CfnParameter;
  readonly keyArn: CfnParameter;
  readonly rawRetentionDays: CfnParameter;
  readonly downloadDefaultExpiry: CfnParameter;
  readonly downloadMaximumExpiry: CfnParameter;
  /** Mode is not Off: every research resource carries it. */
  readonly enabled: CfnCondition;
  /** Mode is DeidentifiedOnly. */
  readonly deidentifiedOnly: CfnCondition;
  /** DeidKeyArn is empty. */
  readonly keyArnEmpty: CfnCondition;
  /** Mode is not Off and no key ARN was given: the stack creates the HMAC key. */
  readonly createKey: CfnCondition;
}

/** Declares the De-identification parameters and their conditions. */
export function addResearchParameters(stack: Stack, catalogue: ParameterCatalogue): ResearchParameters {
  const group = 'De-identification' as const;
  const mode = catalogue.add('DeidentificationMode', {
    group,
    label: 'De-identification mode',
    type: 'String',
    default: 'Off',
    allowedValues: [...DEIDENTIFICATION_MODES],
    description:
      'Off = clinical import only, nothing of this group is created. ResearchCopy = clinical import unchanged, plus a de-identified copy of every batch in the processed bucket. DeidentifiedOnly = only de-identified data reaches HealthImaging; originals stay in a versioned raw bucket.',
  });
  const params = {
    mode,
    dateHandling: catalogue.add('DeidDateHandling', {
      group,
      label: 'Dates in research copies',
      type: 'String',
      default: 'remove',
      allowedValues: ['remove', 'shift', 'keep-year', 'keep'],
      description:
        'PS3.15: remove (Basic Profile), shift (per-patient keyed shift, intervals kept), keep-year, keep (Retain Full Dates option).',
    }),
    retainOptions: catalogue.add('DeidRetainOptions', {
      group,
      label: 'PS3.15 retain options (optional)',
      type: 'String',
      default: '',
      pattern: RETAIN_OPTION_LIST,
      description: 'Comma-separated PS3.15 options whose attributes the copies keep. Empty = Basic Profile.',
    }),
    privateTags: catalogue.add('DeidPrivateTags', {
      group,
      label: 'Private attributes',
      type: 'String',
      default: 'remove',
      allowedValues: ['remove', 'keep-safe'],
      description: 'remove = every private attribute goes; keep-safe = private attributes PS3.15 lists as safe stay (Retain Safe Private option).',
    }),
    burnedIn: catalogue.add('DeidBurnedInPolicy', {
      group,
      label: 'Instances that may have burned-in text',
      type: 'String',
      default: 'quarantine',
      allowedValues: ['quarantine', 'allow'],
      description: 'quarantine = no research copy, recorded as refused (BURNED_IN) and counted; allow = copied with the header cleaned only (pixels untouched).',
    }),
    patientIdPrefix: catalogue.add('DeidPatientIdPrefix', {
      group,
      label: 'Pseudonymous Patient ID prefix',
      type: 'String',
      default: 'ANON-',
      pattern: { pattern: '^[A-Za-z0-9_-]{0,16}$', description: 'Up to 16 letters, digits, "-" or "_".' },
      description: 'Prefix of the keyed Patient ID written into research copies.',
    }),
    keyArn: catalogue.add('DeidKeyArn', {
      group,
      label: 'Existing KMS HMAC key ARN (optional)',
      type: 'String',
      default: '',
      pattern: OPTIONAL_KMS_KEY_ARN,
      description:
        'Empty = the stack creates an HMAC_256 key, kept when the stack is deleted. A different key (or a new stack key) gives unlinkable pseudonyms: research copies from two keys do not match.',
    }),
    rawRetentionDays: catalogue.add('RawRetentionDays', {
      group,
      label: 'Raw originals retention (days, DeidentifiedOnly)',
      type: 'Number',
      default: 365,
      minValue: 1,
      maxValue: 3650,
      constraintDescription: 'A number of days from 1 to 3650.',
      description: 'DeidentifiedOnly: originals are kept in the versioned raw bucket this long, then expire.',
    }),
    downloadDefaultExpiry: catalogue.add('DownloadUrlDefaultExpiry', {
      group,
      label: 'Download URL default expiry (s)',
      type: 'Number',
      default: 3600,
      minValue: 60,
      maxValue: 604800,
      constraintDescription: 'A number of seconds from 60 to 604800 (7 days, the SigV4 limit).',
      description: 'Expiry of presigned download URLs when the research CLI is not given --expires.',
    }),
    downloadMaximumExpiry: catalogue.add('DownloadUrlMaximumExpiry', {
      group,
      label: 'Download URL maximum expiry (s)',
      type: 'Number',
      default: 43200,
      minValue: 60,
      maxValue: 604800,
      constraintDescription: 'A number of seconds from 60 to 604800 (7 days, the SigV4 limit).',
      description: 'Upper bound the research CLI applies to any requested expiry (a URL also dies with the credentials that signed it).',
    }),
  };
  const enabled = new CfnCondition(stack, 'DeidentificationOn', { expression: Fn.conditionNot(Fn.conditionEquals(mode.valueAsString, 'Off')) });
  const deidentifiedOnly = new CfnCondition(stack, 'DeidentifiedOnlyMode', { expression: Fn.conditionEquals(mode.valueAsString, 'DeidentifiedOnly') });
  const keyArnEmpty = new CfnCondition(stack, 'DeidKeyArnEmpty', { expression: Fn.conditionEquals(params.keyArn.valueAsString, '') });
  const createKey = new CfnCondition(stack, 'CreateDeidKey', { expression: Fn.conditionAnd(enabled, keyArnEmpty) });
  return { ...params, enabled, deidentifiedOnly, keyArnEmpty, createKey };
}

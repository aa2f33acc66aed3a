/**
 * Allowed patterns of the stack parameters, each with the ConstraintDescription
 * the CloudFormation console shows when the value does not match. Patterns are
 * Java regular expressions (CloudFormation's dialect); they use no construct
 * that Java and JavaScript read differently, so tests can exercise them.
 */
export interface ParameterPattern {
  /** AllowedPattern, anchored. */
  readonly pattern: string;
  /** What the user should type instead. */
  readonly description: string;
}

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
/** Prefix /8../32: refuses 0.0.0.0/0 and other "whole internet" ranges. */
const IPV4_CIDR = `(${OCTET}\\.){3}${OCTET}/([89]|[12][0-9]|3[0-2])`;

/** Optional IPv4 CIDR (empty = no rule). */
export const OPTIONAL_CIDR: ParameterPattern = {
  pattern: `^(${IPV4_CIDR})?$`,
  description:
    'Leave empty, or enter an IPv4 CIDR block with a prefix length from /8 to /32, for example 203.0.113.0/24 (0.0.0.0/0 is refused on purpose).',
};

/** One AE title character: printable ASCII without backslash (DICOM PS3.5 AE VR). */
const AE_CHAR = '[ -\\[\\]-~]';
/** Same, also without comma (for comma-separated lists). */
const AE_LIST_CHAR = '[ -+\\--\\[\\]-~]';

/** Application Entity title of the SCP. */
export const AE_TITLE: ParameterPattern = {
  pattern: `^(?=.*[!-~])${AE_CHAR}{1,16}$`,
  description:
    '1 to 16 printable ASCII characters, not all spaces, no backslash (for example STORESCP).',
};

/** Comma-separated calling AE titles (empty = any). */
export const AE_TITLE_LIST: ParameterPattern = {
  pattern: `^((?=[^,]*[!-+\\--~])${AE_LIST_CHAR}{1,16}(,(?=[^,]*[!-+\\--~])${AE_LIST_CHAR}{1,16})*)?$`,
  description:
    'Leave empty to accept any calling AE title, or list AE titles separated by commas without spaces around them (for example CT01,MR01); each 1 to 16 printable characters, no backslash.',
};

/** Comma-separated DICOM UIDs (empty = all storage SOP classes). */
export const UID_LIST: ParameterPattern = {
  pattern: '^([0-2](\\.(0|[1-9][0-9]*))+(,[0-2](\\.(0|[1-9][0-9]*))+)*)?$',
  description:
    'Leave empty to accept every storage SOP class, or list SOP Class UIDs separated by commas (for example 1.2.840.10008.5.1.4.1.1.2,1.2.840.10008.5.1.4.1.1.4).',
};

/** Optional ACM certificate ARN in any partition. */
export const OPTIONAL_CERTIFICATE_ARN: ParameterPattern = {
  pattern: '^(arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36})?$',
  description:
    'Leave empty for a plain TCP listener, or enter the ARN of an AWS Certificate Manager certificate in this Region (arn:aws:acm:<region>:<account>:certificate/<id>).',
};

/** Optional existing security group id. */
export const OPTIONAL_SECURITY_GROUP_ID: ParameterPattern = {
  pattern: '^(sg-([0-9a-f]{8}|[0-9a-f]{17}))?$',
  description: 'Leave empty, or enter a security group id of the chosen VPC (sg- followed by 8 or 17 hex digits).',
};

/** Optional existing HealthImaging data store id. */
export const OPTIONAL_DATASTORE_ID: ParameterPattern = {
  pattern: '^([0-9a-z]{32})?$',
  description:
    'Leave empty to create a new data store, or enter the 32-character id of an existing AWS HealthImaging data store in this Region.',
};

/** Optional AWS KMS key ARN (not an alias). */
export const OPTIONAL_KMS_KEY_ARN: ParameterPattern = {
  pattern: '^(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]{36})?$',
  description: 'Leave empty, or enter a KMS key ARN such as arn:aws:kms:<region>:<account>:key/<key id> (not an alias).',
};

/** Optional e-mail address. */
export const OPTIONAL_EMAIL: ParameterPattern = {
  pattern: '^([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,})?$',
  description: 'Leave empty for no e-mail subscription, or enter one e-mail address (for example pacs-admin@example.org).',
};

/**
 * Optional Amazon ECR image reference (account.dkr.ecr.region.amazonaws.com/repository:tag
 * or @sha256:digest). ECR only: the execution role is granted pull on exactly
 * this repository, derived from the reference (container-image.ts).
 */
export const OPTIONAL_IMAGE_URI: ParameterPattern = {
  pattern: '^([0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/[a-z0-9._/-]+(:[A-Za-z0-9._-]{1,128}|@sha256:[0-9a-f]{64}))?$',
  description:
    'Leave empty to run the image this version was built with, or enter a full Amazon ECR image reference such as 123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:tag.',
};

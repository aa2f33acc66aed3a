import Ajv, { type ErrorObject } from 'ajv';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** marketplace.json, validated (schema/marketplace.schema.json). */
export interface MarketplaceConfig {
  readonly productTitle: string;
  readonly version: string;
  readonly releaseNotes: string;
  readonly productId: string;
  readonly productCode: string;
  readonly sellerEcrRepository: string;
  readonly artifactBucketPrefix: string;
  readonly regions: readonly string[];
  readonly deliveryOptionTitle: string;
  readonly deliveryOptionDescription: string;
  readonly usageInstructions: string;
  readonly sourceUrl: string;
}

export class MarketplaceConfigError extends Error {
  override readonly name = 'MarketplaceConfigError';
  readonly code = 'ERR_MARKETPLACE_CONFIG';
  constructor(
    message: string,
    /** Every problem found, one line each. */
    readonly problems: readonly string[],
  ) {
    super(`${message}:\n  - ${problems.join('\n  - ')}`);
  }
}

export const SCHEMA_PATH = join(__dirname, '..', '..', 'schema', 'marketplace.schema.json');

let compiled: ReturnType<Ajv['compile']> | undefined;

function validator(): ReturnType<Ajv['compile']> {
  compiled ??= new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')));
  return compiled;
}

function describe(err: ErrorObject): string {
  const where = err.instancePath || '(root)';
  if (err.keyword === 'additionalProperties') return `${where}: unknown property "${String(err.params['additionalProperty'])}"`;
  return `${where}: ${err.message ?? err.keyword}`;
}

/** Validates a parsed marketplace.json; throws with every problem listed. */
export function parseMarketplaceConfig(value: unknown, source = 'marketplace.json'): MarketplaceConfig {
  const validate = validator();
  if (!validate(value)) throw new MarketplaceConfigError(`${source} is invalid`, (validate.errors ?? []).map(describe));
  const { $schema: _ignored, ...config } = value as MarketplaceConfig & { $schema?: string };
  void _ignored;
  return Object.freeze({ ...config, regions: Object.freeze([...config.regions]) });
}

export function loadMarketplaceConfig(path: string): MarketplaceConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new MarketplaceConfigError(`cannot read ${path}`, [(err as Error).message]);
  }
  return parseMarketplaceConfig(raw, path);
}

/**
 * Values of the repository's sample listing that must never reach a real
 * release: `REPLACE_WITH_...` placeholders, and the `example-seller` names of
 * the sample repository, buckets and source URL.
 */
const PLACEHOLDER = /^REPLACE_WITH_|example-seller/;

/** Fields still holding a placeholder or sample value (publish --apply refuses them). */
export function placeholders(config: MarketplaceConfig): string[] {
  return Object.entries(config)
    .filter(([, v]) => typeof v === 'string' && PLACEHOLDER.test(v))
    .map(([k]) => k);
}

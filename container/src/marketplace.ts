import { MarketplaceMeteringClient, RegisterUsageCommand } from '@aws-sdk/client-marketplace-metering';
import { ScpError } from './errors';

/**
 * An AWS Marketplace product code as this product accepts it: letters,
 * digits, `-` and `_` (Marketplace issues 25 lower-case alphanumerics; the
 * RegisterUsage ProductCode is at most 255 characters). Shared by the build
 * (template-src/build-options.ts) and the container's configuration
 * (MARKETPLACE_PRODUCT_CODE), so a code the build accepts is never refused
 * by the task it ships.
 */
export const PRODUCT_CODE_PATTERN = '^[A-Za-z0-9_-]{1,255}$';

/** The buyer is not entitled to the product (or the call can never succeed here): the task must not serve. */
export class NotEntitledError extends ScpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NOT_ENTITLED', message, options);
  }
}

/** RegisterUsage kept failing with transient errors until the deadline: the task stops and ECS starts another. */
export class MeteringUnavailableError extends ScpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_METERING_UNAVAILABLE', message, options);
  }
}

/** Anything with the metering client's `send` (injected in tests). */
export interface MeteringSender {
  send(cmd: RegisterUsageCommand): Promise<unknown>;
}

/** Timing of {@link registerUsage}; the defaults suit a task start. */
export interface RegisterUsageOptions {
  /** Total time to keep retrying transient errors, in ms. Default 45,000. */
  readonly deadlineMs?: number;
  /** First pause between attempts, doubled each time up to 8 s. Default 1,000. */
  readonly firstDelayMs?: number;
  /** Clock (ms). Default Date.now. */
  readonly now?: () => number;
  /** Pause. Default a timer. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called before each pause with the error that caused it. */
  readonly onRetry?: (attempt: number, error: Error, delayMs: number) => void;
}

/**
 * RegisterUsage errors that retrying cannot fix (Marketplace Metering API
 * Reference, RegisterUsage "Errors"): not subscribed, API disabled in the
 * Region, wrong product code or key version, wrong Region, not on ECS.
 */
export const TERMINAL_ERRORS: ReadonlySet<string> = new Set([
  'CustomerNotEntitledException',
  'DisabledApiException',
  'InvalidProductCodeException',
  'InvalidPublicKeyVersionException',
  'InvalidRegionException',
  'PlatformNotSupportedException',
]);

const MAX_DELAY_MS = 8_000;

/**
 * How long a starting task keeps retrying RegisterUsage. It must stay below
 * the ECS service's health-check grace period (template-src/scp-service.ts):
 * the health endpoint starts only after registration.
 */
export const REGISTER_USAGE_DEADLINE_MS = 45_000;

/**
 * Calls Marketplace Metering RegisterUsage (PublicKeyVersion 1) at start.
 * A terminal error (see {@link TERMINAL_ERRORS}) becomes NotEntitledError at
 * once. Anything else (ThrottlingException, InternalServiceErrorException, a
 * network or credentials blip) is retried with exponential backoff until
 * `deadlineMs`; then MeteringUnavailableError. Without the retry, one
 * throttle while a new stack starts its tasks stops every task, and the ECS
 * deployment circuit breaker rolls the whole stack back.
 */
export async function registerUsage(
  productCode: string,
  client: MeteringSender = new MarketplaceMeteringClient({}),
  options: RegisterUsageOptions = {},
): Promise<void> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const deadline = now() + (options.deadlineMs ?? REGISTER_USAGE_DEADLINE_MS);
  let delay = options.firstDelayMs ?? 1_000;
  for (let attempt = 1; ; attempt++) {
    try {
      await client.send(new RegisterUsageCommand({ ProductCode: productCode, PublicKeyVersion: 1 }));
      return;
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      const what = `RegisterUsage failed for product ${productCode}: ${error.name}: ${error.message}`;
      if (TERMINAL_ERRORS.has(error.name)) throw new NotEntitledError(what, { cause: err });
      const wait = Math.min(delay, deadline - now());
      if (wait <= 0) throw new MeteringUnavailableError(`${what} (gave up after ${attempt} attempts)`, { cause: err });
      options.onRetry?.(attempt, error, wait);
      await sleep(wait);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }
}

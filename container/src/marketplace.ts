import { MarketplaceMeteringClient, RegisterUsageCommand } from '@aws-sdk/client-marketplace-metering';
import { ScpError } from './errors';

/** The buyer is not entitled to the product: the task must not serve. */
export class NotEntitledError extends ScpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NOT_ENTITLED', message, options);
  }
}

/** Anything with the metering client's `send` (injected in tests). */
export interface MeteringSender {
  send(cmd: RegisterUsageCommand): Promise<unknown>;
}

/**
 * Calls Marketplace Metering RegisterUsage (PublicKeyVersion 1) once at
 * start. CustomerNotEntitledException (and any other failure: a paid
 * container must not run unverified) becomes NotEntitledError.
 */
export async function registerUsage(productCode: string, client: MeteringSender = new MarketplaceMeteringClient({})): Promise<void> {
  try {
    await client.send(new RegisterUsageCommand({ ProductCode: productCode, PublicKeyVersion: 1 }));
  } catch (err) {
    const name = (err as Error).name;
    throw new NotEntitledError(`RegisterUsage failed for product ${productCode}: ${name}: ${(err as Error).message}`, { cause: err });
  }
}

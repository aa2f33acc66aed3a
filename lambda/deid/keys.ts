import { createHmac } from 'node:crypto';
import { KEY_CONTEXTS, type DeidKeys, type MacFunction } from './api';

/** Derives the three sub-keys from one master key through `mac` (HMAC-SHA256 of
 * each context string): locally a node:crypto HMAC, in AWS KMS GenerateMac. */
export async function deriveSubKeys(mac: MacFunction): Promise<DeidKeys> {
  const [uid, patient, date] = await Promise.all([mac(KEY_CONTEXTS.uid), mac(KEY_CONTEXTS.patient), mac(KEY_CONTEXTS.date)]);
  for (const k of [uid, patient, date]) if (k.length !== 32) throw new Error('the MAC must return 32 bytes (HMAC-SHA256)');
  return Object.freeze({ uid, patient, date });
}

/** A MacFunction over a local 32-byte master key (the CLI's). */
export function localMac(masterKey: Buffer): MacFunction {
  if (masterKey.length !== 32) throw new Error('the de-identification key must be 32 bytes');
  return async (context) => createHmac('sha256', masterKey).update(context, 'utf8').digest();
}

const hmac = (key: Buffer, value: string): Buffer => createHmac('sha256', key).update(value, 'latin1').digest();

/** `2.25.` + the decimal of the first 128 bits of HMAC(uid key, original UID):
 * at most 5 + 39 = 44 characters, the same for the same UID and key anywhere. */
export function pseudonymUid(keys: DeidKeys, original: string): string {
  return `2.25.${BigInt(`0x${hmac(keys.uid, original).subarray(0, 16).toString('hex')}`).toString(10)}`;
}

/** Prefix + 32 upper-case hex characters (128 bits) of HMAC(patient key, identity). */
export function pseudonymPatientId(keys: DeidKeys, identity: string, prefix: string): string {
  return `${prefix}${hmac(keys.patient, identity).subarray(0, 16).toString('hex').toUpperCase()}`;
}

/** Days to move this patient's dates back: 1..maxShiftDays, from HMAC(date key, identity). */
export function dateShiftDays(keys: DeidKeys, identity: string, maxShiftDays: number): number {
  if (maxShiftDays < 1) return 0;
  return 1 + (hmac(keys.date, identity).readUInt32BE(0) % maxShiftDays);
}

/** The de-identification engine: see docs/deidentification.md. */
import type { DeriveKeys, DeidentifyStream } from './api';
import { deidentify } from './deidentify-stream';
import { deriveSubKeys } from './keys';

export * from './api';
export { localMac } from './keys';
export { PROFILE_EDITION } from './profile-table.generated';

/** Reads a Part-10 instance and writes its de-identified copy (PS3.15 Basic Profile and options). */
export const deidentifyStream: DeidentifyStream = deidentify;

/** The UID, patient and date sub-keys, each HMAC-SHA256(master key, KEY_CONTEXTS[x]). */
export const deriveKeys: DeriveKeys = deriveSubKeys;

// The contract between the de-identification engine (lambda/deid/, issue 15)
// and its users: the CLI, and the research-copy Lambdas (issue 16). Types and
// the error class only; the engine implements `deidentifyStream` and
// `deriveKeys` in lambda/deid/index.ts with exactly these signatures.
import type { Readable, Writable } from 'node:stream';

/** PS3.15 date handling: remove (Basic Profile), shift per patient (Retain
 * Longitudinal Temporal Information with Modified Dates), keep the year only,
 * keep (Retain Longitudinal Temporal Information with Full Dates). */
export type DateMode = 'remove' | 'shift' | 'keep-year' | 'keep';

/** PS3.15 Table E.1-1 options the engine implements, by CLI name. */
export type RetainOption =
  | 'patient-characteristics'
  | 'device-identity'
  | 'institution-identity'
  | 'uids'
  | 'safe-private';

/** Sub-keys (32 bytes each) derived from one master key; see deriveKeys. */
export interface DeidKeys {
  readonly uid: Buffer;
  readonly patient: Buffer;
  readonly date: Buffer;
}

/** Computes HMAC-SHA256(masterKey, context). Locally a node:crypto HMAC over a
 * 32-byte key; in AWS, KMS GenerateMac (HMAC_SHA_256) so the key never leaves KMS. */
export type MacFunction = (context: string) => Promise<Buffer>;

/** The context strings the sub-keys are derived from. Changing one starts an
 * unlinkable mapping (documented in docs/deidentification.md). */
export const KEY_CONTEXTS = {
  uid: 'dicom-deid/v1/uid',
  patient: 'dicom-deid/v1/patient',
  date: 'dicom-deid/v1/date',
} as const;

export interface DeidOptions {
  readonly keys: DeidKeys;
  /** Default 'remove'. */
  readonly dates?: DateMode;
  /** Upper bound of the per-patient shift in 'shift' mode; default 365. */
  readonly maxShiftDays?: number;
  readonly retain?: readonly RetainOption[];
  /** Default 'ANON-'. */
  readonly patientIdPrefix?: string;
  /** Instances likely to carry burned-in text are refused (BURNED_IN) unless true. */
  readonly allowBurnedIn?: boolean;
  /** Bound on everything before the top-level Pixel Data; default 64 MiB. */
  readonly maxHeaderBytes?: number;
  /** Bound on sequence nesting; default 16. */
  readonly maxDepth?: number;
  /** The allow-list of Retain Safe Private ('safe-private' in retain): private
   * elements kept, by group, private creator and element low byte. Default
   * empty: every private element is removed. */
  readonly safePrivateTags?: readonly SafePrivateTag[];
}

/** A private element allowed through by Retain Safe Private. */
export interface SafePrivateTag {
  /** The odd group, e.g. 0x0019. */
  readonly group: number;
  /** The Private Creator value of the element's block, e.g. 'GEMS_ACQU_01'. */
  readonly creator: string;
  /** The element's low byte (0x00-0xFF), e.g. 0x1b for (0019,xx1B). */
  readonly element: number;
}

export interface DeidResult {
  /** The new UIDs written into the output (what research object keys use). */
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly sopInstanceUid: string;
  readonly sopClassUid: string;
  readonly transferSyntaxUid: string;
  /** The Patient ID written into the output (prefix + keyed token). */
  readonly patientPseudonym: string;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** The De-identification Method (0012,0063) value written. */
  readonly method: string;
}

export type DeidRefusalCode =
  | 'NOT_DICOM'
  | 'TRUNCATED'
  | 'MALFORMED'
  | 'HEADER_TOO_LARGE'
  | 'TOO_DEEP'
  | 'UNKNOWN_VR'
  | 'UNSUPPORTED_TRANSFER_SYNTAX'
  | 'TRAILING_DATA'
  | 'BURNED_IN';

/** Every refusal. The message names the cause and never carries a value read
 * from the input (no PHI). When deidentifyStream rejects, the caller discards
 * whatever reached `output` (the CLI writes to a temporary file and renames;
 * S3 uploads are aborted). */
export class DeidRefusedError extends Error {
  constructor(
    readonly code: DeidRefusalCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'DeidRefusedError';
  }
}

export type DeidentifyStream = (input: Readable, output: Writable, options: DeidOptions) => Promise<DeidResult>;
export type DeriveKeys = (mac: MacFunction) => Promise<DeidKeys>;

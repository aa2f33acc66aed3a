/** UIDs and constants of the DICOM standard used by the SCP. */

export const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1';
export const APPLICATION_CONTEXT = '1.2.840.10008.3.1.1.1';
export const IMPLICIT_LE = '1.2.840.10008.1.2';
export const EXPLICIT_LE = '1.2.840.10008.1.2.1';
export const DEFLATED_LE = '1.2.840.10008.1.2.1.99';
export const EXPLICIT_BE = '1.2.840.10008.1.2.2';

/** Our implementation identity (PS3.7 D.3.3.2): a UUID-derived UID (PS3.5 B.2) and a version name (≤16 chars). */
export const IMPLEMENTATION_CLASS_UID = '2.25.252386531262479961553451843226781546011';
export const IMPLEMENTATION_VERSION_NAME = 'DSSCP_0.1';

/**
 * Transfer syntaxes HealthImaging imports (devguide "Supported transfer
 * syntaxes"); we accept exactly these, as proposed, and never transcode.
 * Anything else (video, JPIP, encapsulated uncompressed...) would fail at
 * import, so it is refused at association time instead.
 */
export const ACCEPTED_TRANSFER_SYNTAXES: ReadonlyMap<string, string> = new Map([
  [IMPLICIT_LE, 'Implicit VR Little Endian'],
  [EXPLICIT_LE, 'Explicit VR Little Endian'],
  [DEFLATED_LE, 'Deflated Explicit VR Little Endian'],
  [EXPLICIT_BE, 'Explicit VR Big Endian'],
  ['1.2.840.10008.1.2.4.50', 'JPEG Baseline (Process 1)'],
  ['1.2.840.10008.1.2.4.51', 'JPEG Extended (Process 2 & 4)'],
  ['1.2.840.10008.1.2.4.57', 'JPEG Lossless, Non-Hierarchical (Process 14)'],
  ['1.2.840.10008.1.2.4.70', 'JPEG Lossless, First-Order Prediction (Process 14 SV1)'],
  ['1.2.840.10008.1.2.4.80', 'JPEG-LS Lossless'],
  ['1.2.840.10008.1.2.4.81', 'JPEG-LS Lossy (Near-Lossless)'],
  ['1.2.840.10008.1.2.4.90', 'JPEG 2000 (Lossless Only)'],
  ['1.2.840.10008.1.2.4.91', 'JPEG 2000'],
  ['1.2.840.10008.1.2.4.92', 'JPEG 2000 Part 2 Multi-component (Lossless Only)'],
  ['1.2.840.10008.1.2.4.93', 'JPEG 2000 Part 2 Multi-component'],
  ['1.2.840.10008.1.2.4.201', 'HTJ2K (Lossless Only)'],
  ['1.2.840.10008.1.2.4.202', 'HTJ2K with RPCL Options (Lossless Only)'],
  ['1.2.840.10008.1.2.4.203', 'HTJ2K'],
  ['1.2.840.10008.1.2.5', 'RLE Lossless'],
]);

/** Storage SOP classes that live outside the 1.2.840.10008.5.1.4.1.1 arc (PS3.4 Annex B). */
const STORAGE_OUTSIDE_ARC = new Set([
  '1.2.840.10008.5.1.4.34.7', // RT Beams Delivery Instruction Storage
  '1.2.840.10008.5.1.4.34.10', // RT Patient Position Acquisition Instruction Storage
  '1.2.840.10008.5.1.4.38.1', // Hanging Protocol Storage
  '1.2.840.10008.5.1.4.39.1', // Color Palette Storage
  '1.2.840.10008.5.1.4.43.1', // Generic Implant Template Storage
  '1.2.840.10008.5.1.4.44.1', // Implant Assembly Template Storage
  '1.2.840.10008.5.1.4.45.1', // Implant Template Group Storage
]);

/** True for a storage SOP class (PS3.4 Annex B / PS3.6 Table A-1). */
export function isStorageSopClass(uid: string): boolean {
  return uid.startsWith('1.2.840.10008.5.1.4.1.1.') || STORAGE_OUTSIDE_ARC.has(uid);
}

/**
 * Recorded for a Study or Series Instance UID the dataset does not contain
 * (object metadata, manifest entry). Not a UID (no digits), so it cannot be
 * taken for one; the workflow files such instances under the same name
 * (lambda/table-keys.ts UNKNOWN_STUDY).
 */
export const UID_NOT_FOUND = 'UNKNOWN';

/** DIMSE status codes we send (PS3.7 Annex C, PS3.4 B.2.3). */
export const Status = Object.freeze({
  Success: 0x0000,
  OutOfResources: 0xa700,
  DataSetDoesNotMatchSopClass: 0xa900,
  CannotUnderstand: 0xc000,
  ProcessingFailure: 0x0110,
  SopClassNotSupported: 0x0122,
  UnrecognizedOperation: 0x0211,
});

/** Command Field values (PS3.7 E.1). */
export const CommandField = Object.freeze({
  CStoreRq: 0x0001,
  CStoreRsp: 0x8001,
  CEchoRq: 0x0030,
  CEchoRsp: 0x8030,
});

/** Names of the DIMSE requests the SCP does not perform (PS3.7 E.1-1), for logs; all are answered with 0x0211. */
export const UNSUPPORTED_REQUESTS: ReadonlyMap<number, string> = new Map([
  [0x0010, 'C-GET'],
  [0x0020, 'C-FIND'],
  [0x0021, 'C-MOVE'],
  [0x0100, 'N-EVENT-REPORT'],
  [0x0110, 'N-GET'],
  [0x0120, 'N-SET'],
  [0x0130, 'N-ACTION'],
  [0x0140, 'N-CREATE'],
  [0x0150, 'N-DELETE'],
]);

/** PDU types (PS3.8 9.3). */
export const PduType = Object.freeze({
  AssociateRq: 0x01,
  AssociateAc: 0x02,
  AssociateRj: 0x03,
  PData: 0x04,
  ReleaseRq: 0x05,
  ReleaseRp: 0x06,
  Abort: 0x07,
});

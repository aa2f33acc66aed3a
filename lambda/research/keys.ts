import { GenerateMacCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { DeidResult, MacFunction } from '../deid/api';

/** Research records live in the workflow table under their own key prefixes (docs/data-contracts.md). */
export const researchBatchKey = (batchId: string) => ({ pk: `RESEARCH#${batchId}`, sk: 'BATCH' });
export const RESEARCH_INSTANCE_PREFIX = 'INSTANCE#';
/** Instances are keyed by their position in the manifest: no source UID in the research record keys. */
export const researchInstanceKey = (batchId: string, ordinal: number) => ({ pk: `RESEARCH#${batchId}`, sk: `${RESEARCH_INSTANCE_PREFIX}${String(ordinal).padStart(5, '0')}` });

const UID = /^[0-9]+(\.[0-9]+)*$/;

/** `studies/<new StudyUID>/series/<new SeriesUID>/<new SOPUID>.dcm`; refuses anything but UIDs (no PHI can reach a key). */
export function processedKeyOf(r: Pick<DeidResult, 'studyInstanceUid' | 'seriesInstanceUid' | 'sopInstanceUid'>): string {
  for (const uid of [r.studyInstanceUid, r.seriesInstanceUid, r.sopInstanceUid]) {
    if (!UID.test(uid) || uid.length > 64) throw new Error('the engine returned a UID that is not a valid UID; no research key is written');
  }
  return `studies/${r.studyInstanceUid}/series/${r.seriesInstanceUid}/${r.sopInstanceUid}.dcm`;
}

/** HMAC-SHA256 in KMS (GenerateMac): the master key never leaves KMS. */
export function kmsMac(kms: KMSClient, keyArn: string): MacFunction {
  return async (context) => {
    const res = await kms.send(new GenerateMacCommand({ KeyId: keyArn, MacAlgorithm: 'HMAC_SHA_256', Message: Buffer.from(context, 'utf8') }));
    if (!res.Mac) throw new Error('KMS GenerateMac returned no MAC');
    return Buffer.from(res.Mac);
  };
}

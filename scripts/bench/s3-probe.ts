import { randomBytes } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CHECKSUM_ALGORITHM, objectMetadata } from '../../container/src/storage/s3-sink';

/**
 * The S3 endpoint's own ceiling: objects per second N concurrent writers
 * reach with nothing but `PutObject` of a 512 KiB body held in memory, with
 * the S3 sink's client settings, checksum and metadata. No DICOM, no SCP, no
 * streaming. No receiver that stores each instance as one object through this
 * endpoint and this SDK can exceed it, so it tells how much of the S3 sink's
 * figure is the endpoint's (moto, a Python stand-in) and how much is ours.
 */
export async function probeS3Ceiling(endpoint: string, bucket: string, writers: number, objects = 200): Promise<number> {
  const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', maxAttempts: 10, retryMode: 'standard' });
  const body = randomBytes(512 * 1024);
  const metadata = objectMetadata({ batchId: 'probe', key: 'probe', sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: '1.2.3.4.5', studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.4', transferSyntaxUid: '1.2.840.10008.1.2.1', callingAeTitle: 'PROBE' });
  const put = (i: number): Promise<unknown> =>
    client.send(new PutObjectCommand({ Bucket: bucket, Key: `s3-probe/${writers}/${i}.dcm`, Body: body, ContentType: 'application/dicom', Metadata: metadata, ChecksumAlgorithm: CHECKSUM_ALGORITHM }));
  // Warm-up: connections, credentials, the SDK's first-call set-up.
  await Promise.all(Array.from({ length: writers }, (_, w) => put(-1 - w)));
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (next < objects) await put(next++);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  client.destroy();
  return objects / seconds;
}

import { randomBytes } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

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
  const metadata = { 'study-instance-uid': '1.2.3', 'series-instance-uid': '1.2.3.4', 'sop-instance-uid': '1.2.3.4.5', 'sop-class-uid': '1.2.840.10008.5.1.4.1.1.2', 'transfer-syntax-uid': '1.2.840.10008.1.2.1', 'calling-ae-title': 'PROBE', 'batch-id': 'probe' };
  const put = (i: number): Promise<unknown> =>
    client.send(new PutObjectCommand({ Bucket: bucket, Key: `s3-probe/${writers}/${i}.dcm`, Body: body, ContentType: 'application/dicom', Metadata: metadata, ChecksumAlgorithm: 'CRC32' }));
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

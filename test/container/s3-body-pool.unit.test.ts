import { expect } from 'chai';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BodyPool, createS3Sink } from '../../container/src/storage/s3-sink';
import { StorageError } from '../../container/src/errors';
import { instanceKey, type InstanceInfo } from '../../container/src/storage/sink';

const MiB = 1 << 20;

function info(uid: string, study = '1.2.3'): InstanceInfo {
  return {
    batchId: 'b-1',
    key: instanceKey('b-1', uid),
    sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
    sopInstanceUid: uid,
    studyInstanceUid: study,
    seriesInstanceUid: '1.2.3.4',
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    callingAeTitle: 'SCU',
  };
}

/** A stand-in S3 client for edge cases: records each PutObject (a copy of its body) and answers with `answer`. */
function recordingClient(answer: () => Promise<unknown>): { client: S3Client; puts: { key: string; body: Buffer; memory: ArrayBufferLike; metadata: Record<string, string> }[] } {
  const puts: { key: string; body: Buffer; memory: ArrayBufferLike; metadata: Record<string, string> }[] = [];
  const client = {
    send: async (cmd: unknown) => {
      if (!(cmd instanceof PutObjectCommand)) throw new Error(`unexpected command ${(cmd as object).constructor.name}`);
      const body = cmd.input.Body as Buffer;
      puts.push({ key: cmd.input.Key as string, body: Buffer.from(body), memory: body.buffer, metadata: cmd.input.Metadata ?? {} });
      return answer();
    },
  } as unknown as S3Client;
  return { client, puts };
}

describe('S3 sink: instances up to one part are one PutObject from a pooled buffer', () => {
  it('sizes buffers in classes of 1 MiB doubling up to the part size', () => {
    const pool = new BodyPool(5 * MiB);
    expect([1, MiB, MiB + 1, 3 * MiB, 4 * MiB + 1, 5 * MiB].map((n) => pool.classOf(n) / MiB)).to.deep.equal([1, 1, 2, 4, 5, 5]);
    expect(new BodyPool(256 << 10).classOf(100)).to.equal(256 << 10);
  });

  it('reuses a returned buffer and keeps at most maxFreeBytes', () => {
    const pool = new BodyPool(5 * MiB, 2 * MiB);
    const a = pool.take(100);
    const b = pool.take(100);
    const c = pool.take(100);
    pool.give(a);
    pool.give(b);
    pool.give(c); // over the cap: dropped
    expect(pool.kept).to.equal(2 * MiB);
    expect([a, b]).to.include(pool.take(10));
    expect(pool.kept).to.equal(MiB);
    pool.give(Buffer.alloc(12345)); // not a pool size: dropped
    expect(pool.kept).to.equal(MiB);
  });

  it('sends the gathered bytes with the final metadata in one PutObject and reuses the buffer for the next instance', async () => {
    const { client, puts } = recordingClient(async () => ({ ETag: '"x"' }));
    const sink = createS3Sink({ bucket: 'b', prefix: 'site', deadlineMs: 5000, client });
    const first = Buffer.alloc(700_000, 1);
    const w = sink.begin(info('1.2.9.1', 'UNKNOWN'));
    for (let at = 0; at < first.length; at += 64 << 10) w.write(first.subarray(at, at + (64 << 10)));
    await w.commit(info('1.2.9.1', '1.2.3.99'));
    const second = Buffer.alloc(300_000, 2);
    const w2 = sink.begin(info('1.2.9.2'));
    w2.write(second);
    await w2.commit();
    expect(puts.map((p) => p.key)).to.deep.equal(['site/incoming/b-1/1.2.9.1.dcm', 'site/incoming/b-1/1.2.9.2.dcm']);
    expect(puts[0].body.equals(first)).to.equal(true);
    expect(puts[0].metadata['study-instance-uid'], 'the UIDs known at commit').to.equal('1.2.3.99');
    expect(puts[1].body.equals(second)).to.equal(true);
    expect(puts[1].memory, 'the same pooled buffer').to.equal(puts[0].memory);
  });

  it('fails the instance with a StorageError when S3 refuses it, and does not reuse a buffer the HTTP stack may still hold', async () => {
    const bodies: Buffer[] = [];
    let fail = true;
    const client = {
      send: async (cmd: PutObjectCommand) => {
        bodies.push(cmd.input.Body as Buffer);
        if (fail) throw Object.assign(new Error('We encountered an internal error. Please try again.'), { name: 'InternalError' });
        return {};
      },
    } as unknown as S3Client;
    const sink = createS3Sink({ bucket: 'b', prefix: '', deadlineMs: 5000, client });
    const w = sink.begin(info('1.2.9.1'));
    w.write(Buffer.alloc(1000, 1));
    const err = await w.commit().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).to.be.instanceOf(StorageError);
    expect(err?.message).to.match(/S3 upload failed: We encountered an internal error/);
    fail = false;
    const w2 = sink.begin(info('1.2.9.2'));
    w2.write(Buffer.alloc(1000, 2));
    await w2.commit();
    expect(bodies[1].buffer, 'a fresh buffer after the failed upload').to.not.equal(bodies[0].buffer);
    expect(bodies[0].subarray(0, 1000).every((b) => b === 1), 'the failed upload\'s bytes untouched').to.equal(true);
  });
});

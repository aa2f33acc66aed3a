import { expect } from 'chai';
import { silentLogger } from '../../container/src/logger';
import { Batcher, type BatchManifest } from '../../container/src/storage/batcher';
import { createNullSink } from '../../container/src/storage/null-sink';
import { instanceKey, type InstanceInfo, type StorageSink } from '../../container/src/storage/sink';

function recordingSink(fail = 0): { sink: StorageSink; manifests: BatchManifest[] } {
  const manifests: BatchManifest[] = [];
  let failures = fail;
  const sink: StorageSink = {
    ...createNullSink(),
    putObject: async (key, body) => {
      if (failures-- > 0) throw new Error('injected');
      expect(key).to.match(/^batches\/.+\.json$/);
      manifests.push(JSON.parse(body.toString()) as BatchManifest);
    },
  };
  return { sink, manifests };
}

function info(batchId: string, n: number, study = '1.2.3'): InstanceInfo {
  const uid = `1.2.3.4.${n}`;
  return { batchId, key: instanceKey(batchId, uid), sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: uid, studyInstanceUid: study, seriesInstanceUid: `${study}.1`, transferSyntaxUid: '1.2.840.10008.1.2.1', callingAeTitle: 'CT01' };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Waits for a condition, bounded (20 s) so a broken batcher fails instead of hanging. */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('condition not reached within 20 s');
    await sleep(10);
  }
}
const clock = () => new Date('2026-11-23T11:22:33.000Z');

describe('batcher', () => {
  it('seals at BATCH_MAX_FILES, with ids usable as clientToken and execution name', async () => {
    const { sink, manifests } = recordingSink();
    const b = new Batcher({ sink, maxFiles: 3, maxBytes: 1e9, quietMs: 60_000, logger: silentLogger, processId: 'abcd1234', now: clock });
    for (let i = 0; i < 7; i++) {
      const s = b.reserve();
      s.committed(info(s.batchId, i), 100);
    }
    await sleep(10);
    expect(manifests.map((m) => [m.batchId, m.count, m.sealReason])).to.deep.equal([
      ['20261123T112233Z-abcd1234-000001', 3, 'files'],
      ['20261123T112233Z-abcd1234-000002', 3, 'files'],
    ]);
    expect(manifests[0].batchId).to.match(/^[A-Za-z0-9._-]{1,64}$/);
    await b.sealAll();
    expect(manifests[2]).to.include({ count: 1, sealReason: 'shutdown', bytes: 100 });
  });

  it('waits for instances in flight before sealing, and leaves failed ones out', async () => {
    const { sink, manifests } = recordingSink();
    const b = new Batcher({ sink, maxFiles: 2, maxBytes: 1e9, quietMs: 60_000, logger: silentLogger });
    const a = b.reserve();
    const c = b.reserve();
    a.committed(info(a.batchId, 1), 10);
    await sleep(10);
    expect(manifests).to.have.length(0);
    c.released();
    await sleep(10);
    expect(manifests).to.have.length(1);
    expect(manifests[0].objects.map((o) => o.sopInstanceUid)).to.deep.equal(['1.2.3.4.1']);
  });

  it('seals by bytes and after the quiet period', async () => {
    const { sink, manifests } = recordingSink();
    const b = new Batcher({ sink, maxFiles: 100, maxBytes: 1000, quietMs: 50, logger: silentLogger });
    const s1 = b.reserve();
    s1.addBytes(1200);
    const s2 = b.reserve();
    expect(s2.batchId).to.not.equal(s1.batchId);
    s1.committed(info(s1.batchId, 1), 1200);
    s2.committed(info(s2.batchId, 2), 10);
    await sleep(120);
    expect(manifests.map((m) => m.sealReason)).to.deep.equal(['bytes', 'quiet']);
  });

  it('restarts the quiet period with each instance, and again after a quiet seal', async () => {
    // No assertion depends on how late the machine runs a timer: each seal is
    // checked against the instants the test observed. A timer that was not
    // restarted by each instance would seal quietMs after the batch's FIRST
    // instance, i.e. before quietMs had passed since its last one.
    const quietMs = 400;
    const sealedAt: number[] = [];
    const { sink, manifests } = recordingSink();
    const put = sink.putObject;
    sink.putObject = async (key, body, contentType) => {
      sealedAt.push(performance.now());
      await put(key, body, contentType);
    };
    const b = new Batcher({ sink, maxFiles: 100, maxBytes: 1e9, quietMs, logger: silentLogger });
    const committedAt: Array<{ batchId: string; at: number }> = [];
    for (let i = 0; i < 4; i++) {
      const s = b.reserve();
      s.committed(info(s.batchId, i), 10);
      committedAt.push({ batchId: s.batchId, at: performance.now() });
      await sleep(quietMs / 4);
    }
    await until(() => manifests.length >= 1);
    const first = manifests[0]!;
    expect(first.sealReason).to.equal('quiet');
    const inFirst = committedAt.filter((c) => c.batchId === first.batchId);
    expect(first.count).to.equal(inFirst.length);
    expect(sealedAt[0]! - inFirst[inFirst.length - 1]!.at).to.be.at.least(quietMs - 2);
    // The timer fired; the next instance arms it again, in a new batch.
    await until(() => manifests.length === new Set(committedAt.map((c) => c.batchId)).size);
    const before = manifests.length;
    const s = b.reserve();
    expect(committedAt.map((c) => c.batchId)).not.to.include(s.batchId);
    s.committed(info(s.batchId, 9), 10);
    const at = performance.now();
    await until(() => manifests.length > before);
    expect([manifests[before]!.sealReason, manifests[before]!.count]).to.deep.equal(['quiet', 1]);
    expect(sealedAt[before]! - at).to.be.at.least(quietMs - 2);
  });

  it('lists a re-sent instance once, and writes no manifest for an empty batch', async () => {
    const { sink, manifests } = recordingSink();
    const b = new Batcher({ sink, maxFiles: 100, maxBytes: 1e9, quietMs: 60_000, logger: silentLogger });
    const s1 = b.reserve();
    s1.committed(info(s1.batchId, 1), 10);
    const s2 = b.reserve();
    s2.committed(info(s2.batchId, 1), 12);
    await b.sealAll();
    expect(manifests).to.have.length(1);
    expect(manifests[0]).to.include({ count: 1, bytes: 12 });
    const empty = new Batcher({ sink, maxFiles: 100, maxBytes: 1e9, quietMs: 60_000, logger: silentLogger });
    empty.reserve().released();
    await empty.sealAll();
    expect(manifests).to.have.length(1);
  });

  it('retries a failed manifest write', async () => {
    const { sink, manifests } = recordingSink(2);
    const b = new Batcher({ sink, maxFiles: 100, maxBytes: 1e9, quietMs: 60_000, logger: silentLogger });
    const s = b.reserve();
    s.committed(info(s.batchId, 1, '7.7'), 10);
    await b.sealAll();
    expect(manifests).to.have.length(1);
    expect(manifests[0].studyInstanceUids).to.deep.equal(['7.7']);
  });
});

import { expect } from 'chai';
import { promises as fsp } from 'node:fs';
import { DirSyncer } from '../../container/src/storage/dir-syncer';
import { tempDir } from '../helpers/scp';

/** Counts FileHandle.sync calls while `fn` runs. */
async function countingSyncs<T>(dir: string, fn: () => Promise<T>): Promise<{ result: T; syncs: number }> {
  const probe = await fsp.open(dir, 'r');
  const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
  await probe.close();
  const original = proto.sync;
  let syncs = 0;
  proto.sync = function (this: unknown) {
    syncs += 1;
    return original.call(this);
  };
  try {
    return { result: await fn(), syncs };
  } finally {
    proto.sync = original;
  }
}

describe('folder fsync group commit', () => {
  it('serves 20 concurrent commits with at most two folder fsyncs', async () => {
    const dir = tempDir('dirsync-');
    const syncer = new DirSyncer(dir, 50);
    const { syncs } = await countingSyncs(dir, () => Promise.all(Array.from({ length: 20 }, () => syncer.sync())));
    expect(syncs).to.be.within(1, 2);
    await syncer.close();
  });

  it('makes a caller that arrives during an fsync wait for the next one', async () => {
    const dir = tempDir('dirsync-');
    const syncer = new DirSyncer(dir, 50);
    const { syncs } = await countingSyncs(dir, async () => {
      const first = syncer.sync();
      await Promise.resolve();
      const second = syncer.sync();
      await Promise.all([first, second]);
    });
    expect(syncs).to.equal(2);
    await syncer.close();
    await syncer.close();
  });

  it('reports an fsync failure to every waiter and recovers', async () => {
    const dir = tempDir('dirsync-');
    const syncer = new DirSyncer(`${dir}/missing`, 50);
    const results = await Promise.allSettled([syncer.sync(), syncer.sync()]);
    expect(results.every((r) => r.status === 'rejected')).to.equal(true);
    await fsp.mkdir(`${dir}/missing`);
    await syncer.sync();
    await syncer.close();
  });

  it('fsyncs on the calling thread only when nothing is running or queued and the descriptor is open', async () => {
    const dir = tempDir('dirsync-');
    const syncer = new DirSyncer(dir, 50);
    expect(syncer.syncNow(), 'no descriptor yet').to.equal(false);
    await syncer.sync();
    expect(syncer.syncNow(), 'idle, descriptor open').to.equal(true);
    const running = syncer.sync();
    expect(syncer.syncNow(), 'an fsync is running').to.equal(false);
    await running;
    expect(syncer.syncNow()).to.equal(true);
    await syncer.close();
    expect(syncer.syncNow(), 'closed').to.equal(false);
  });
});

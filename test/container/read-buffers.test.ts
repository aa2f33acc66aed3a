import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { Lease, SlabPool } from '../../container/src/scp/socket-reader';
import type { BufferLease, InstanceInfo, InstanceWriter, StorageSink } from '../../container/src/storage/sink';
import { startScp } from '../helpers/scp';
import { ctDataset, ScuAssociation } from '../helpers/scu-client';
import { testUid } from '../helpers/corpus';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('recycled read buffers (slab pool and leases)', () => {
  it('gives a slab back to the pool only when its reader and every lease have let go', () => {
    const pool = new SlabPool(1024, 4);
    const a = pool.take();
    const l1 = new Lease(a);
    const l2 = new Lease(a);
    pool.unref(a); // the reader moves on
    expect(pool.idle).to.equal(0);
    l1.release();
    l1.release(); // twice: harmless, must not free the slab under l2
    expect(pool.idle).to.equal(0);
    expect(pool.take()).to.not.equal(a);
    l2.release();
    expect(pool.idle).to.equal(1);
    expect(pool.take()).to.equal(a);
    expect(pool.allocated).to.equal(2);
  });

  it('keeps at most maxFree idle slabs', () => {
    const pool = new SlabPool(1024, 2);
    const slabs = [pool.take(), pool.take(), pool.take()];
    slabs.forEach((s) => pool.unref(s));
    expect(pool.idle).to.equal(2);
  });

  /**
   * A sink that holds each lent chunk for a random few milliseconds before
   * copying it, so reads go on (and slabs would be reused) while chunks are
   * still unread. If a slab came back to the pool too early, later reads
   * would overwrite bytes not yet copied and the hashes below would differ.
   */
  function slowCopyingSink(stored: Map<string, Buffer>): StorageSink {
    return {
      kind: 'null',
      location: 'memory (slow)',
      begin(info: InstanceInfo): InstanceWriter {
        const parts: Buffer[] = [];
        const pending = new Set<Promise<void>>();
        return {
          write(chunk: Buffer, lease?: BufferLease): boolean {
            const i = parts.push(Buffer.alloc(0)) - 1;
            const p = new Promise<void>((resolve) =>
              setTimeout(() => {
                parts[i] = Buffer.from(chunk);
                lease?.release();
                resolve();
              }, Math.floor(Math.random() * 4)),
            );
            pending.add(p);
            return true;
          },
          onDrain: (cb) => cb(),
          async commit() {
            await Promise.all(pending);
            stored.set(info.sopInstanceUid, Buffer.concat(parts));
          },
          async abort() {
            await Promise.all(pending);
          },
        };
      },
      putObject: async () => {},
      check: async () => {},
    };
  }

  it('stores every byte of 90 distinct instances over 3 concurrent associations while slabs are recycled, and leaks none', async function () {
    this.timeout(60_000);
    const stored = new Map<string, Buffer>();
    const scp = await startScp({ BATCH_QUIET_SECONDS: '3600' }, { sink: slowCopyingSink(stored) });
    const sent = new Map<string, Buffer>();
    try {
      await Promise.all(
        [0, 1, 2].map(async (a) => {
          const scu = await ScuAssociation.open({ port: scp.port });
          for (let i = 0; i < 30; i++) {
            const uid = testUid(77, a, i);
            const dataset = ctDataset(uid, testUid(77, 1), testUid(77, 2), 200_000 + Math.floor(Math.random() * 400_000));
            // Random pixel bytes: every instance differs from every other one.
            randomBytes(dataset.length - 200).copy(dataset, 200);
            sent.set(uid, dataset);
            expect(await scu.store({ sopInstanceUid: uid, dataset })).to.equal(0);
          }
          await scu.release();
        }),
      );
      const pool = scp.app.server.slabs;
      expect(stored.size).to.equal(90);
      for (const [uid, dataset] of sent) {
        const object = stored.get(uid) as Buffer;
        // The Part-10 object ends with the dataset exactly as sent.
        expect(sha(object.subarray(object.length - dataset.length)), uid).to.equal(sha(dataset));
      }
      // Recycling happened: ~36 MB went through far fewer 256 KiB slabs than it would need fresh.
      expect(pool.allocated).to.be.below(60);
      // Every lease was released and every reader let go: all slabs are back.
      expect(pool.idle).to.equal(Math.min(pool.allocated, 64));
    } finally {
      await scp.stop();
    }
  });
});

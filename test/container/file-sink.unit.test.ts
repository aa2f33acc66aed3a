import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { existsSync, mkdirSync, promises as fsp, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StorageError } from '../../container/src/errors';
import { createFileSink } from '../../container/src/storage/file-sink';
import { instanceKey, type InstanceInfo, type StorageSink } from '../../container/src/storage/sink';
import { filesUnder, tempDir } from '../helpers/scp';

function info(uid: string): InstanceInfo {
  return {
    batchId: 'b-1',
    key: instanceKey('b-1', uid),
    sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
    sopInstanceUid: uid,
    studyInstanceUid: '1.2.3',
    seriesInstanceUid: '1.2.3.4',
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    callingAeTitle: 'SCU',
  };
}

async function store(sink: StorageSink, uid: string, body: Buffer): Promise<void> {
  const w = sink.begin(info(uid));
  w.write(body.subarray(0, 1000));
  w.write(body.subarray(1000));
  await w.commit();
}

/** The sink's working folders under `<root>/.tmp`. */
const workFolders = (root: string): string[] => (existsSync(path.join(root, '.tmp')) ? readdirSync(path.join(root, '.tmp')) : []);

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('file sink: spare files', () => {
  it('stores instances through pre-created spares, keeps unused spares empty and outside incoming/, and removes them on close', async () => {
    const root = tempDir('file-sink-');
    const sink = createFileSink(root);
    const bodies = Array.from({ length: 40 }, (_, i) => Buffer.alloc(3000 + i, i + 1));
    for (const [i, b] of bodies.entries()) await store(sink, `1.2.9.${i}`, b);
    // 40 instances in a row: all but the first came from spares created ahead, in batches.
    await until('spares', () => filesUnder(path.join(root, '.tmp')).length > 0);
    for (const [i, b] of bodies.entries()) expect(readFileSync(path.join(root, instanceKey('b-1', `1.2.9.${i}`))).equals(b)).to.equal(true);
    expect(readdirSync(path.join(root, 'incoming/b-1'))).to.have.length(40);
    const spares = filesUnder(path.join(root, '.tmp'));
    expect(spares.length).to.be.within(1, 64);
    for (const f of spares) expect(statSync(f).size, f).to.equal(0);
    expect(workFolders(root)).to.have.length(1);
    await sink.close?.();
    expect(workFolders(root)).to.deep.equal([]);
    expect(readdirSync(path.join(root, 'incoming/b-1'))).to.have.length(40);
  });

  it('closes and removes its spares once idle, and makes new ones when instances come again', async () => {
    const root = tempDir('file-sink-');
    const sink = createFileSink(root, { spareIdleMs: 200 });
    const spares = (): string[] => filesUnder(path.join(root, '.tmp'));
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const fdsBefore = fds();
    await store(sink, '1.2.9.1', Buffer.alloc(2000, 1));
    await until('spares', () => spares().length > 0);
    expect(fds() - fdsBefore).to.be.at.least(spares().length);
    await until('the idle trim', () => spares().length === 0);
    expect(fds() - fdsBefore, 'descriptors held while idle').to.be.at.most(1);
    await store(sink, '1.2.9.2', Buffer.alloc(2000, 2));
    await until('spares again', () => spares().length > 0);
    expect(readdirSync(path.join(root, 'incoming/b-1')).sort()).to.deep.equal(['1.2.9.1.dcm', '1.2.9.2.dcm']);
    await sink.close?.();
  });

  it('leaves nothing of an aborted instance, in incoming/ or among the spares', async () => {
    const root = tempDir('file-sink-');
    const sink = createFileSink(root);
    await store(sink, '1.2.9.1', Buffer.alloc(5000, 7));
    await until('spares', () => filesUnder(path.join(root, '.tmp')).length > 0);
    const w = sink.begin(info('1.2.9.2'));
    w.write(Buffer.alloc(600_000, 9)); // more than one 512 KiB flush: on disk before the abort
    await until('the partial write', () => filesUnder(path.join(root, '.tmp')).some((f) => statSync(f).size > 0));
    await w.abort();
    expect(readdirSync(path.join(root, 'incoming/b-1'))).to.deep.equal(['1.2.9.1.dcm']);
    for (const f of filesUnder(path.join(root, '.tmp'))) expect(statSync(f).size, f).to.equal(0);
    await sink.close?.();
  });

  it('removes working folders that dead processes of this host left, and keeps those of live processes and other hosts', async () => {
    const root = tempDir('file-sink-');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    const host = os.hostname();
    const folders = {
      dead: `${host}-${dead}-1700000000000-ab12`,
      earlierSelf: `${host}-${process.pid}-1700000000000-cd34`,
      live: `${host}-1-1700000000000-ef56`,
      otherHost: `elsewhere-${dead}-1700000000000-0a0b`,
    };
    for (const f of Object.values(folders)) {
      mkdirSync(path.join(root, '.tmp', f), { recursive: true });
      writeFileSync(path.join(root, '.tmp', f, '0.part'), 'half an instance');
    }
    const sink = createFileSink(root);
    await store(sink, '1.2.9.1', Buffer.alloc(2000, 1));
    const left = workFolders(root);
    expect(left).to.not.include(folders.dead);
    expect(left).to.not.include(folders.earlierSelf);
    expect(left).to.include.members([folders.live, folders.otherHost]);
    expect(left).to.have.length(3);
    await sink.close?.();
  });

  it('fails the instance with a StorageError when no file can be created, and acknowledges nothing', async () => {
    const root = tempDir('file-sink-');
    // `.tmp` is a file: no working folder, no spare, no instance file can be made.
    writeFileSync(path.join(root, '.tmp'), 'in the way');
    const sink = createFileSink(root);
    const w = sink.begin(info('1.2.9.1'));
    w.write(Buffer.alloc(2000, 1));
    const err = await w.commit().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).to.be.instanceOf(StorageError);
    expect(err?.message).to.match(/could not store .*1\.2\.9\.1\.dcm/);
    expect(filesUnder(path.join(root, 'incoming'))).to.deep.equal([]);
    await sink.close?.();
  });
});

/**
 * Counts the sink's disk calls by where they run while `fn` runs: on the
 * event loop (fs.*Sync) or through the thread pool (FileHandle methods).
 */
async function countingCalls<T>(fn: () => Promise<T>): Promise<{ result: T; onLoop: Record<string, number>; pool: Record<string, number> }> {
  const onLoop: Record<string, number> = {};
  const pool: Record<string, number> = {};
  const probe = await fsp.open(os.tmpdir(), 'r');
  const proto = Object.getPrototypeOf(probe) as Record<string, (...a: unknown[]) => unknown>;
  await probe.close();
  const fsm = fs as unknown as Record<string, (...a: unknown[]) => unknown>;
  const restore: (() => void)[] = [];
  for (const name of ['writevSync', 'fdatasyncSync', 'fsyncSync']) {
    const original = fsm[name];
    fsm[name] = (...a: unknown[]) => ((onLoop[name] = (onLoop[name] ?? 0) + 1), original(...a));
    restore.push(() => (fsm[name] = original));
  }
  for (const name of ['writev', 'datasync', 'sync']) {
    const original = proto[name];
    proto[name] = function (this: unknown, ...a: unknown[]) {
      pool[name] = (pool[name] ?? 0) + 1;
      return original.apply(this, a);
    };
    restore.push(() => (proto[name] = original));
  }
  try {
    return { result: await fn(), onLoop, pool };
  } finally {
    for (const r of restore) r();
  }
}

describe('file sink: which disk calls run on the event loop', () => {
  it('writes, fdatasyncs and fsyncs the folder on the event loop when it is the only instance in flight', async () => {
    const root = tempDir('file-sink-');
    const sink = createFileSink(root);
    await store(sink, '1.2.9.1', Buffer.alloc(3000, 1)); // opens the folder's descriptor
    const body = Buffer.alloc(700_000, 2);
    const { onLoop, pool } = await countingCalls(() => store(sink, '1.2.9.2', body));
    expect(readFileSync(path.join(root, instanceKey('b-1', '1.2.9.2'))).equals(body)).to.equal(true);
    expect(onLoop.fdatasyncSync, 'fdatasync on the event loop').to.equal(1);
    expect(onLoop.fsyncSync, 'folder fsync on the event loop').to.equal(1);
    expect(onLoop.writevSync, 'writes on the event loop').to.be.at.least(1);
    expect(pool, 'nothing through the thread pool').to.deep.equal({});
    await sink.close?.();
  });

  it('fdatasyncs and fsyncs the folder in the thread pool while another instance is in flight (writes stay on the event loop), and stores both byte for byte', async () => {
    const root = tempDir('file-sink-');
    const sink = createFileSink(root);
    await store(sink, '1.2.9.1', Buffer.alloc(3000, 1));
    const a = Buffer.alloc(600_000, 3);
    const b = Buffer.alloc(600_000, 4);
    const { onLoop, pool } = await countingCalls(async () => {
      const wa = sink.begin(info('1.2.9.2'));
      const wb = sink.begin(info('1.2.9.3'));
      wa.write(a.subarray(0, 1000));
      wb.write(b.subarray(0, 1000));
      wa.write(a.subarray(1000));
      wb.write(b.subarray(1000));
      await Promise.all([wa.commit(), wb.commit()]);
    });
    expect(readFileSync(path.join(root, instanceKey('b-1', '1.2.9.2'))).equals(a)).to.equal(true);
    expect(readFileSync(path.join(root, instanceKey('b-1', '1.2.9.3'))).equals(b)).to.equal(true);
    expect(pool.datasync, 'fdatasync in the thread pool').to.equal(2);
    expect(pool.sync, 'folder fsync in the thread pool').to.be.within(1, 2);
    expect(onLoop.fdatasyncSync ?? 0).to.equal(0);
    expect(onLoop.fsyncSync ?? 0).to.equal(0);
    expect(onLoop.writevSync, 'writes below 4 MiB on the event loop').to.be.at.least(2);
    expect(pool.writev ?? 0).to.equal(0);
    await sink.close?.();
  });

  it('fdatasyncs in the thread pool for a lone instance while another association is open (alone() false)', async () => {
    const root = tempDir('file-sink-');
    let open = 2;
    const sink = createFileSink(root, { alone: () => open <= 1 });
    await store(sink, '1.2.9.1', Buffer.alloc(3000, 1));
    const busy = await countingCalls(() => store(sink, '1.2.9.2', Buffer.alloc(5000, 2)));
    expect(busy.pool.datasync).to.equal(1);
    expect(busy.onLoop.fdatasyncSync ?? 0).to.equal(0);
    expect(busy.onLoop.fsyncSync ?? 0).to.equal(0);
    open = 1;
    const lone = await countingCalls(() => store(sink, '1.2.9.3', Buffer.alloc(5000, 3)));
    expect(lone.onLoop.fdatasyncSync).to.equal(1);
    expect(lone.pool).to.deep.equal({});
    await sink.close?.();
  });

  it('keeps the writes beyond 4 MiB and a large unsynced tail off the event loop, even alone', async () => {
    const root = tempDir('file-sink-');
    const sink = createFileSink(root);
    await store(sink, '1.2.9.1', Buffer.alloc(3000, 1));
    const body = Buffer.alloc(6 << 20, 5);
    const { onLoop, pool } = await countingCalls(async () => {
      const w = sink.begin(info('1.2.9.2'));
      for (let at = 0; at < body.length; at += 256 << 10) w.write(body.subarray(at, at + (256 << 10)));
      await w.commit();
    });
    expect(readFileSync(path.join(root, instanceKey('b-1', '1.2.9.2'))).equals(body)).to.equal(true);
    expect(onLoop.writevSync, 'the first 4 MiB on the event loop').to.equal(8);
    expect(pool.writev, 'the rest through the thread pool').to.equal(4);
    expect(pool.datasync, '6 MiB unsynced: fdatasync in the thread pool').to.equal(1);
    expect(onLoop.fdatasyncSync ?? 0).to.equal(0);
    await sink.close?.();
  });

  it('fails the instance with a StorageError when the fdatasync fails, and leaves nothing in incoming/', async () => {
    const root = tempDir('file-sink-');
    const sink = createFileSink(root);
    await store(sink, '1.2.9.1', Buffer.alloc(3000, 1));
    const fsm = fs as unknown as Record<string, unknown>;
    const original = fsm.fdatasyncSync;
    fsm.fdatasyncSync = () => {
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    };
    let err: Error | undefined;
    try {
      const w = sink.begin(info('1.2.9.2'));
      w.write(Buffer.alloc(5000, 6));
      err = await w.commit().then(
        () => undefined,
        (e: Error) => e,
      );
    } finally {
      fsm.fdatasyncSync = original;
    }
    expect(err).to.be.instanceOf(StorageError);
    expect(err?.message).to.match(/could not store .*1\.2\.9\.2\.dcm: EIO/);
    expect(readdirSync(path.join(root, 'incoming/b-1'))).to.deep.equal(['1.2.9.1.dcm']);
    for (const f of filesUnder(path.join(root, '.tmp'))) expect(statSync(f).size, f).to.equal(0);
    await sink.close?.();
  });
});

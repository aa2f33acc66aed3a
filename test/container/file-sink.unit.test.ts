import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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

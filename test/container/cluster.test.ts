import { expect } from 'chai';
import { readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { SOP, testUid } from '../helpers/corpus';
import { datasetBytes, runDcmtk } from '../helpers/dcmtk';
import { writeTestInstance } from '../helpers/dicom-writer';
import { RawPeer, RELEASE_RQ, associateRqPdu, cStoreRq, lastStatus, pdata } from '../helpers/raw-peer';
import { sealedManifests, spawnScp, tempDir, type ScpProcess } from '../helpers/scp';

/** WORKERS > 1 (src/cluster/): the task-wide limit, a dead worker, SIGTERM, /health and /metrics. */

interface WorkerPart { pid: number; listening: boolean; associations: number }
interface ClusterHealth { status: string; components: { associations: { active: number; max: number } }; workers: WorkerPart[] }
interface Manifest { batchId: string; sealReason: string; objects: { sopInstanceUid: string }[] }

const until = async (cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

async function health(scp: ScpProcess): Promise<{ code: number; body: ClusterHealth }> {
  const res = await fetch(`http://127.0.0.1:${scp.healthPort}/health`);
  return { code: res.status, body: (await res.json()) as ClusterHealth };
}

function manifests(dir: string): Manifest[] {
  return sealedManifests<Manifest>(dir);
}

const CT_CONTEXT: [number, string, string[]][] = [[1, SOP.CT, ['1.2.840.10008.1.2.1']]];

/** Opens an association from a raw peer and returns it with the answer's PDU type (2 accept, 3 reject). */
async function associate(port: number): Promise<{ peer: RawPeer; pdu: number | undefined }> {
  const peer = new RawPeer(port);
  await peer.connected();
  peer.send(associateRqPdu('STORESCP', 'CLUSTER', CT_CONTEXT));
  return { peer, pdu: await peer.firstPduType(10_000) };
}

/** Sends one C-STORE on an established association and waits for its status. */
async function store(peer: RawPeer, messageId: number, uid: string, file: string): Promise<number | undefined> {
  peer.received = Buffer.alloc(0);
  peer.send(Buffer.concat([pdata(1, true, cStoreRq(messageId, SOP.CT, uid)), pdata(1, false, datasetBytes(file))]));
  await until(() => lastStatus(peer.received) !== undefined || peer.closed, 'C-STORE response');
  return lastStatus(peer.received);
}

async function instanceFile(tag: number): Promise<{ file: string; uid: string }> {
  const file = path.join(tempDir('cluster-'), `ct-${tag}.dcm`);
  const uid = testUid(19, tag, process.pid);
  await writeTestInstance(file, { sopClassUid: SOP.CT, sopInstanceUid: uid, studyInstanceUid: testUid(19, 1), seriesInstanceUid: testUid(19, 2), modality: 'CT', rows: 64, columns: 64 });
  return { file, uid };
}

describe('cluster mode (WORKERS=2)', function () {
  this.timeout(120_000);
  const started: ScpProcess[] = [];
  const peers: RawPeer[] = [];

  async function start(env: Record<string, string> = {}): Promise<ScpProcess> {
    const scp = await spawnScp({ WORKERS: '2', ...env });
    started.push(scp);
    await scp.ready(60_000);
    await until(async () => (await health(scp)).body.workers.filter((w) => w.listening).length === 2, 'both workers listening', 60_000);
    return scp;
  }

  afterEach(() => {
    for (const p of peers.splice(0)) p.destroy();
    for (const s of started.splice(0)) s.kill('SIGKILL');
  });

  it('holds MAXIMUM_ASSOCIATIONS for the task: limit 4, 6 senders → exactly 2 rejected', async () => {
    const scp = await start({ MAXIMUM_ASSOCIATIONS: '4' });
    const answers: (number | undefined)[] = [];
    for (let i = 0; i < 6; i++) {
      const a = await associate(scp.port);
      peers.push(a.peer);
      answers.push(a.pdu);
    }
    expect(answers.filter((t) => t === 2), 'A-ASSOCIATE-AC').to.have.length(4);
    expect(answers.filter((t) => t === 3), 'A-ASSOCIATE-RJ').to.have.length(2);
    const h = await health(scp);
    expect(h.body.components.associations).to.deep.equal({ active: 4, max: 4 });
    // Both workers took associations: the limit was not met by one worker's own count.
    expect(h.body.workers.map((w) => w.associations).sort()).to.deep.equal([2, 2]);
    expect(h.code).to.equal(503); // at the limit: unhealthy, as with one process
    // A released slot is free again for the task.
    peers[0].send(RELEASE_RQ);
    expect(await peers[0].waitClosed()).to.equal(true);
    await until(async () => (await health(scp)).body.components.associations.active === 3, 'slot released');
    const again = await associate(scp.port);
    peers.push(again.peer);
    expect(again.pdu).to.equal(2);
  });

  it('seals the acknowledged instances of a worker killed mid-association and replaces the worker', async () => {
    const scp = await start({ BATCH_QUIET_SECONDS: '3600' });
    const { peer, pdu } = await associate(scp.port);
    peers.push(peer);
    expect(pdu).to.equal(2);
    const a = await instanceFile(1);
    const b = await instanceFile(2);
    expect(await store(peer, 1, a.uid, a.file)).to.equal(0x0000);
    expect(await store(peer, 2, b.uid, b.file)).to.equal(0x0000);
    const before = await health(scp);
    const victim = before.body.workers.find((w) => w.associations === 1);
    expect(victim, 'the worker holding the association').to.not.equal(undefined);

    process.kill(victim!.pid, 'SIGKILL');
    expect(await peer.waitClosed(20_000)).to.equal(true);
    await scp.waitForLog('worker_restarted', 30_000, (l) => l.pid === victim!.pid);
    await until(() => manifests(scp.dir).length === 1, 'the dead worker\'s batch sealed');
    const [m] = manifests(scp.dir);
    expect(m.objects.map((o) => o.sopInstanceUid).sort()).to.deep.equal([a.uid, b.uid].sort());
    expect(m.sealReason).to.equal('shutdown');
    for (const uid of [a.uid, b.uid]) expect(readdirSync(path.join(scp.dir, 'incoming', m.batchId))).to.include(`${uid}.dcm`);

    await until(async () => {
      const h = await health(scp);
      return h.code === 200 && h.body.workers.length === 2 && h.body.workers.every((w) => w.listening && w.pid !== victim!.pid);
    }, 'a replacement worker and a healthy task', 60_000);
    const metrics = await (await fetch(`http://127.0.0.1:${scp.healthPort}/metrics`)).text();
    expect(metrics).to.match(/^scp_workers_restarted_total 1$/m);
    // The task still stores.
    const c = await instanceFile(3);
    const next = await associate(scp.port);
    peers.push(next.peer);
    expect(next.pdu).to.equal(2);
    expect(await store(next.peer, 1, c.uid, c.file)).to.equal(0x0000);
  });

  it('SIGTERM drains both workers, seals every open batch and exits 0', async () => {
    const scp = await start({ BATCH_QUIET_SECONDS: '3600', DRAIN_TIMEOUT: '30' });
    const first = await associate(scp.port);
    const second = await associate(scp.port);
    peers.push(first.peer, second.peer);
    expect([first.pdu, second.pdu]).to.deep.equal([2, 2]);
    expect((await health(scp)).body.workers.map((w) => w.associations), 'one association per worker').to.deep.equal([1, 1]);
    const a = await instanceFile(11);
    const b = await instanceFile(12);
    expect(await store(first.peer, 1, a.uid, a.file)).to.equal(0x0000);

    scp.kill('SIGTERM');
    await scp.waitForLog('shutdown_started', 20_000, (l) => l.worker === undefined);
    // An association in progress may finish.
    expect(await store(second.peer, 1, b.uid, b.file)).to.equal(0x0000);
    for (const p of [first.peer, second.peer]) {
      p.send(RELEASE_RQ);
      expect(await p.waitClosed()).to.equal(true);
    }
    expect(await scp.exited).to.equal(0);
    const all = manifests(scp.dir);
    expect(all).to.have.length(2);
    expect(new Set(all.map((m) => m.batchId)).size).to.equal(2);
    expect(all.every((m) => m.sealReason === 'shutdown')).to.equal(true);
    expect(all.flatMap((m) => m.objects.map((o) => o.sopInstanceUid)).sort()).to.deep.equal([a.uid, b.uid].sort());
  });

  it('workers whose primary was killed finish their associations, seal their batches and exit', async () => {
    const scp = await start({ BATCH_QUIET_SECONDS: '3600', DRAIN_TIMEOUT: '30' });
    const pids = (await health(scp)).body.workers.map((w) => w.pid);
    const { peer, pdu } = await associate(scp.port);
    peers.push(peer);
    expect(pdu).to.equal(2);
    const a = await instanceFile(31);
    expect(await store(peer, 1, a.uid, a.file)).to.equal(0x0000);

    scp.kill('SIGKILL');
    await scp.exited;
    const b = await instanceFile(32);
    expect(await store(peer, 2, b.uid, b.file), 'the association in progress goes on').to.equal(0x0000);
    peer.send(RELEASE_RQ);
    expect(await peer.waitClosed()).to.equal(true);
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await until(() => pids.every((pid) => !alive(pid)), 'both workers exited', 60_000);
    const all = manifests(scp.dir);
    expect(all).to.have.length(1);
    expect(all[0].objects.map((o) => o.sopInstanceUid).sort()).to.deep.equal([a.uid, b.uid].sort());
  });

  it('stops the task with exit 1 when a worker cannot start, instead of forking it again and again', async () => {
    // A file where the storage folder should be: every worker's start-up storage check fails.
    const blocker = path.join(tempDir('cluster-'), 'a-file');
    writeFileSync(blocker, '');
    const scp = await spawnScp({ WORKERS: '2', STORAGE_URI: `file://${blocker}/data` });
    started.push(scp);
    expect(await scp.exited).to.equal(1);
    expect(scp.logs.some((l) => l.event === 'worker_start_failed')).to.equal(true);
    expect(scp.logs.filter((l) => l.event === 'worker_restarted')).to.have.length(0);
  });

  it('/metrics totals are the sum over the workers, /health answers for the task', async () => {
    const scp = await start();
    const files = await Promise.all([21, 22, 23, 24].map(instanceFile));
    // Four storescu runs at once: round-robin hands them to both workers.
    const runs = await Promise.all(files.map((f) => runDcmtk('storescu', ['-aec', 'STORESCP', '127.0.0.1', String(scp.port), f.file])));
    expect(runs.map((r) => r.code)).to.deep.equal([0, 0, 0, 0]);
    await until(() => scp.logs.filter((l) => l.event === 'instance_stored').length === 4, 'four instance_stored lines');
    const perWorker = new Map<unknown, number>();
    for (const l of scp.logs.filter((x) => x.event === 'instance_stored')) perWorker.set(l.worker, (perWorker.get(l.worker) ?? 0) + 1);
    expect(perWorker.size, 'instances stored by both workers').to.equal(2);

    const text = await (await fetch(`http://127.0.0.1:${scp.healthPort}/metrics`)).text();
    const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('dicom_instances_stored_total')).to.equal(4);
    expect(value('dicom_associations_total')).to.equal(4);
    expect(value('dicom_associations_max')).to.equal(300);
    expect(value('scp_workers')).to.equal(2);
    const h = await health(scp);
    expect(h.code).to.equal(200);
    expect(h.body.status).to.equal('healthy');
    expect(h.body.workers).to.have.length(2);
  });
});

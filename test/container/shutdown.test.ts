import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { SOP, testUid } from '../helpers/corpus';
import { datasetBytes, runDcmtk } from '../helpers/dcmtk';
import { writeTestInstance } from '../helpers/dicom-writer';
import { RawPeer, RELEASE_RQ, associateRqPdu, cStoreRq, lastStatus, pdata } from '../helpers/raw-peer';
import { spawn } from 'node:child_process';
import { REPO_ROOT, spawnScp, tempDir } from '../helpers/scp';

const until = async (cond: () => boolean, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('graceful shutdown (SIGTERM) of the SCP process', function () {
  this.timeout(60_000);

  it('lets an association in progress finish, refuses new ones, seals the batch and exits 0', async () => {
    const scp = await spawnScp({ BATCH_QUIET_SECONDS: '3600', DRAIN_TIMEOUT: '30' });
    await scp.waitForLog('scp_started');
    const file = path.join(tempDir('term-'), 'ct.dcm');
    const uid = testUid(9, process.pid);
    await writeTestInstance(file, { sopClassUid: SOP.CT, sopInstanceUid: uid, studyInstanceUid: testUid(9, 1), seriesInstanceUid: testUid(9, 2), modality: 'CT', rows: 256, columns: 256 });

    const peer = new RawPeer(scp.port);
    await peer.connected();
    peer.send(associateRqPdu('STORESCP', 'CT01', [[1, SOP.CT, ['1.2.840.10008.1.2.1']]]));
    expect(await peer.firstPduType()).to.equal(2);

    scp.kill('SIGTERM');
    await scp.waitForLog('shutdown_started');
    const health = await fetch(`http://127.0.0.1:${scp.healthPort}/health`);
    expect(health.status).to.equal(503);
    expect(((await health.json()) as { status: string }).status).to.equal('draining');
    const refused = await runDcmtk('echoscu', ['-to', '5', '-aec', 'STORESCP', '127.0.0.1', String(scp.port)]);
    expect(refused.code).to.not.equal(0);

    peer.received = Buffer.alloc(0);
    peer.send(Buffer.concat([pdata(1, true, cStoreRq(1, SOP.CT, uid)), pdata(1, false, datasetBytes(file))]));
    await until(() => lastStatus(peer.received) !== undefined);
    expect(lastStatus(peer.received)).to.equal(0x0000);
    peer.send(RELEASE_RQ);
    expect(await peer.waitClosed()).to.equal(true);

    expect(await scp.exited).to.equal(0);
    const batches = readdirSync(path.join(scp.dir, 'batches'));
    expect(batches).to.have.length(1);
    const manifest = JSON.parse(readFileSync(path.join(scp.dir, 'batches', batches[0]), 'utf8')) as { sealReason: string; objects: { sopInstanceUid: string }[] };
    expect(manifest.sealReason).to.equal('shutdown');
    expect(manifest.objects.map((o) => o.sopInstanceUid)).to.deep.equal([uid]);
    await scp.waitForLog('shutdown_complete', 1000, (l) => l.drained === true);
  });

  it('aborts associations still open at DRAIN_TIMEOUT and still exits 0', async () => {
    const scp = await spawnScp({ DRAIN_TIMEOUT: '1' });
    await scp.waitForLog('scp_started');
    const peer = new RawPeer(scp.port);
    await peer.connected();
    peer.send(associateRqPdu('STORESCP', 'IDLE', [[1, '1.2.840.10008.1.1', ['1.2.840.10008.1.2']]]));
    expect(await peer.firstPduType()).to.equal(2);
    peer.received = Buffer.alloc(0);
    scp.kill('SIGTERM');
    expect(await scp.exited).to.equal(0);
    expect(peer.received[0]).to.equal(7);
    expect(scp.logs.some((l) => l.event === 'drain_timeout')).to.equal(true);
    expect(existsSync(path.join(scp.dir, 'batches'))).to.equal(false);
  });

  it('exits with status 2 naming every bad variable; --validate checks and exits 0 without serving', async () => {
    const bad = await runMain(['--validate'], { SCP_PORT: 'eleven', LOG_LEVEL: 'chatty' });
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain('SCP_PORT').and.to.contain('LOG_LEVEL');
    const ok = await runMain(['--validate'], { SCP_PORT: '4242' });
    expect(ok.code).to.equal(0);
    expect(ok.stdout).to.contain('config_valid').and.to.contain('4242');
  });
});

async function runMain(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'container/src/main.ts'), ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { code, stdout, stderr };
}

import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/moto-server';
import { IMAGE_GID, IMAGE_UID } from '../../scripts/release/image-spec';
import { builtImage, run, TEST_REF } from './helpers/built-image';
import { Podman } from './helpers/podman';

/** Dataset bytes of a Part-10 file: everything after the File Meta Information group. */
function datasetOf(file: Buffer): Buffer {
  expect(file.subarray(128, 132).toString('latin1')).to.equal('DICM');
  expect(file.readUInt16LE(132)).to.equal(0x0002);
  expect(file.readUInt16LE(134)).to.equal(0x0000);
  const groupLength = file.readUInt32LE(140);
  return file.subarray(144 + groupLength);
}

/** A small Secondary Capture instance made with dcmtk's dump2dcm (explicit VR little endian). */
function makeInstance(dir: string, sopInstanceUid: string): string {
  const pixels = Array.from({ length: 64 * 64 }, (_, i) => ((i * 7) % 256).toString(16).padStart(2, '0')).join('\\');
  const dump = join(dir, 'instance.dump');
  writeFileSync(
    dump,
    [
      '(0002,0010) UI =LittleEndianExplicit',
      '(0008,0016) UI =SecondaryCaptureImageStorage',
      `(0008,0018) UI [${sopInstanceUid}]`,
      '(0008,0060) CS [OT]',
      '(0010,0010) PN [Release^Proof]',
      '(0010,0020) LO [REL-1]',
      '(0020,000d) UI [1.2.826.0.1.3680043.10.1234.2]',
      '(0020,000e) UI [1.2.826.0.1.3680043.10.1234.3]',
      '(0028,0002) US 1',
      '(0028,0004) CS [MONOCHROME2]',
      '(0028,0010) US 64',
      '(0028,0011) US 64',
      '(0028,0100) US 8',
      '(0028,0101) US 8',
      '(0028,0102) US 7',
      '(0028,0103) US 0',
      `(7fe0,0010) OB ${pixels}`,
      '',
    ].join('\n'),
  );
  const file = join(dir, 'instance.dcm');
  run('dump2dcm', ['+l', '20000', '+te', dump, file]);
  return file;
}

async function waitForHealth(port: number, deadlineMs: number): Promise<unknown> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      if (res.status === 200) return await res.json();
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`SCP health endpoint on ${port} did not answer 200 within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('release: the built image boots and stores DICOM (podman + dcmtk)', function () {
  this.timeout(300_000);
  const dcmtkEnv = { ...process.env, TCP_NODELAY: '1' };
  const podman = new Podman();
  const work = mkdtempSync(join(tmpdir(), 'release-boot-'));
  const volume = join(work, 'data');
  const sopInstanceUid = '1.2.826.0.1.3680043.10.1234.1.1';
  let container = '';
  let scpPort = 0;
  let healthPort = 0;
  let sent: Buffer;

  before(async () => {
    const { archive } = await builtImage();
    const loaded = await podman.exec(['load', '-i', archive]);
    expect(loaded.stdout + loaded.stderr).to.include(TEST_REF);
    mkdirSync(volume);
    // The image runs as uid 10001; the host folder behind the volume must be writable by it.
    chownSync(volume, IMAGE_UID, IMAGE_GID);
    sent = readFileSync(makeInstance(work, sopInstanceUid));
    scpPort = await freePort();
    healthPort = await freePort();
    const started = await podman.exec([
      'run', '-d', ...Podman.RUN_FLAGS,
      '--read-only',
      '-v', `${volume}:/data`,
      '-e', 'STORAGE_URI=file:///data',
      '-e', 'SCP_HOST=127.0.0.1',
      '-e', `SCP_PORT=${scpPort}`,
      '-e', `HEALTH_PORT=${healthPort}`,
      '-e', 'AE_TITLE=RELEASESCP',
      TEST_REF,
    ]);
    container = started.stdout.trim();
    await waitForHealth(healthPort, 30_000);
  });

  after(async () => {
    await podman.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('answers C-ECHO from dcmtk echoscu', () => {
    execFileSync('echoscu', ['-aec', 'RELEASESCP', '127.0.0.1', String(scpPort)], { env: dcmtkEnv, stdio: 'pipe' });
  });

  it('stores a C-STORE from dcmtk storescu under incoming/<batchId>/<SOPInstanceUID>.dcm with identical dataset bytes', () => {
    execFileSync('storescu', ['-aec', 'RELEASESCP', '127.0.0.1', String(scpPort), join(work, 'instance.dcm')], { env: dcmtkEnv, stdio: 'pipe' });
    const incoming = join(volume, 'incoming');
    const batches = readdirSync(incoming);
    expect(batches).to.have.length(1);
    const stored = join(incoming, batches[0]!, `${sopInstanceUid}.dcm`);
    expect(existsSync(stored), stored).to.equal(true);
    const received = readFileSync(stored);
    expect(datasetOf(received).equals(datasetOf(sent)), 'dataset bytes differ').to.equal(true);
  });

  it('runs as uid 10001 with a read-only root filesystem (files it wrote belong to 10001)', async () => {
    const inspect = JSON.parse((await podman.exec(['inspect', container])).stdout) as [{ Config: { User: string }; HostConfig: { ReadonlyRootfs: boolean } }];
    expect(inspect[0].Config.User).to.equal('10001:10001');
    expect(inspect[0].HostConfig.ReadonlyRootfs).to.equal(true);
    const out = execFileSync('find', [volume, '-type', 'f', '-not', '-uid', String(IMAGE_UID)], { encoding: 'utf8' });
    expect(out.trim()).to.equal('');
  });

  it('stops on SIGTERM with exit code 0 after sealing the open batch', async () => {
    await podman.exec(['stop', '--time', '60', container]);
    const code = (await podman.exec(['inspect', container, '--format', '{{.State.ExitCode}}'])).stdout.trim();
    expect(code).to.equal('0');
    const sealed = readdirSync(join(volume, 'batches'));
    expect(sealed).to.have.length(1);
    expect(sealed[0]).to.match(/\.json$/);
  });
});

import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../../scripts/release/image-build';
import { ENTRYPOINT, EXPOSED_PORTS, IMAGE_ENV, NODE_RUNTIME } from '../../scripts/release/image-spec';
import { builtImage, CACHE_DIR, REPO_ROOT, run, TEST_EPOCH, TEST_LABELS, TEST_REF } from './helpers/built-image';

interface SkopeoInspect {
  Digest: string;
  Labels: Record<string, string>;
  Architecture: string;
  Os: string;
  Layers: string[];
}
interface OciConfig {
  architecture: string;
  os: string;
  config: { User: string; Entrypoint: string[]; Env: string[]; ExposedPorts: Record<string, object>; Volumes: Record<string, object>; WorkingDir: string; StopSignal: string };
  rootfs: { diff_ids: string[] };
}

/** `tar -tv` listing of every layer (mode, owner, path) from the archive. */
function layerListings(archive: string): string[][] {
  const dir = mkdtempSync(join(tmpdir(), 'release-layers-'));
  try {
    run('tar', ['-xf', archive, '-C', dir]);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
    return manifest.layers.map((l) => run('tar', ['--numeric-owner', '-tvzf', join(dir, 'blobs', 'sha256', l.digest.slice(7))]).trim().split('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('release: dist/image.oci.tar (daemonless OCI archive)', function () {
  this.timeout(240_000);
  let archive: string;
  let inspect: SkopeoInspect;
  let config: OciConfig;

  before(async () => {
    ({ archive } = await builtImage());
    inspect = JSON.parse(run('skopeo', ['inspect', `oci-archive:${archive}`])) as SkopeoInspect;
    config = JSON.parse(run('skopeo', ['inspect', '--config', `oci-archive:${archive}`])) as OciConfig;
  });

  it('is inspectable with skopeo and reports the manifest digest the build computed', async () => {
    const { image } = await builtImage();
    expect(inspect.Digest).to.equal(image.manifestDigest);
    expect(inspect.Architecture).to.equal('amd64');
    expect(inspect.Os).to.equal('linux');
  });

  it('runs as the non-root user 10001:10001', () => {
    expect(config.config.User).to.equal('10001:10001');
  });

  it('has the bundled SCP under node as entrypoint, and declares ports, /tmp volume, stop signal', () => {
    expect(config.config.Entrypoint).to.deep.equal(['/usr/local/bin/node', '--max-semi-space-size=16', '/app/scp.js']);
    expect(config.config.Entrypoint).to.deep.equal(ENTRYPOINT);
    expect(Object.keys(config.config.ExposedPorts)).to.have.members(['11112/tcp', '8081/tcp']);
    expect(Object.keys(config.config.ExposedPorts)).to.have.members([...EXPOSED_PORTS]);
    expect(Object.keys(config.config.Volumes)).to.deep.equal(['/tmp']);
    expect(config.config.StopSignal).to.equal('SIGTERM');
    expect(config.config.Env).to.include.members(Object.entries(IMAGE_ENV).map(([k, v]) => `${k}=${v}`));
  });

  it('carries OCI labels for version, revision and source', () => {
    expect(inspect.Labels['org.opencontainers.image.version']).to.equal(TEST_LABELS.version);
    expect(inspect.Labels['org.opencontainers.image.revision']).to.equal(TEST_LABELS.revision);
    expect(inspect.Labels['org.opencontainers.image.source']).to.equal(TEST_LABELS.source);
    expect(inspect.Labels['org.opencontainers.image.licenses']).to.equal('Apache-2.0');
  });

  it('has three layers (base, Node.js runtime, app) matching the config diff_ids', () => {
    expect(inspect.Layers).to.have.length(3);
    expect(config.rootfs.diff_ids).to.have.length(3);
  });

  it('contains node, the SCP bundle, CA certificates and the user, but no shell, and nothing writable by the user but /tmp', () => {
    const [base, runtime, app] = layerListings(archive);
    const paths = (l: string[]) => l.map((line) => line.split(/\s+/).slice(5).join(' '));
    expect(paths(runtime!)).to.include('usr/local/bin/node');
    expect(paths(app!)).to.include('app/scp.js');
    const basePaths = paths(base!);
    expect(basePaths).to.include.members([
      'etc/ssl/certs/ca-certificates.crt',
      'etc/passwd',
      'usr/lib/x86_64-linux-gnu/libc.so.6',
      'usr/lib/x86_64-linux-gnu/libstdc++.so.6 -> libstdc++.so.6.0.30',
      'var/lib/dpkg/status.d/libc6',
    ]);
    expect(basePaths.some((p) => /(^|\/)(sh|bash|dash)( |$)/.test(p)), 'a shell is in the image').to.equal(false);
    for (const line of [...base!, ...runtime!, ...app!]) {
      const [mode, owner] = line.split(/\s+/);
      expect(owner, line).to.equal('0/0');
      const path = line.split(/\s+/).slice(5).join(' ');
      if (path === 'tmp/') expect(mode).to.equal('drwxrwxrwt');
      else if (!mode!.startsWith('l')) expect(mode!.slice(8, 9), `world-writable: ${line}`).to.equal('-');
    }
  });

  it('has /etc/passwd naming uid 10001 and the Node.js version pinned in image-spec', () => {
    const dir = mkdtempSync(join(tmpdir(), 'release-passwd-'));
    try {
      run('tar', ['-xf', archive, '-C', dir]);
      const grep = run('bash', ['-c', `for f in ${dir}/blobs/sha256/*; do tar -xzOf "$f" etc/passwd 2>/dev/null; done; true`]);
      expect(grep).to.match(/^scp:x:10001:10001:/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(NODE_RUNTIME.version).to.match(/^24\./);
  });

  it('is reproducible: a second build from the same sources gives the same manifest digest', async () => {
    const { image } = await builtImage();
    const again = await buildImage({ cwd: REPO_ROOT, cacheDir: CACHE_DIR, labels: TEST_LABELS, epoch: TEST_EPOCH, refName: TEST_REF });
    expect(again.manifestDigest).to.equal(image.manifestDigest);
    expect(again.archive.equals(image.archive)).to.equal(true);
  });
});

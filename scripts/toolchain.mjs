#!/usr/bin/env node
// Sets up and checks what the test suites need, in plain Node.js (any version
// >= 18, no dependencies), so `npm test` can run it first on a fresh machine.
//
//   node scripts/toolchain.mjs check              every required tool present? names each missing one
//   node scripts/toolchain.mjs list               the tools (JSON)
//   node scripts/toolchain.mjs node               Node.js of the pinned major: the system's, or the
//                                                    npm registry's node-linux-<arch> in .tools/ (fetched once)
//   node scripts/toolchain.mjs missing apt|pip    packages to install for the missing tools
//   node scripts/toolchain.mjs fetch-node <package> <dir>
//                                                    the pinned package, integrity-checked, in <dir>; prints its root
//   node scripts/toolchain.mjs run -- <cmd...>    check, then <cmd> with that Node.js first on PATH
//
// `npm test` = `run -- npm run test:suites`; `npm run setup` (scripts/setup-test-machine.sh,
// also what .ci/run uses) installs the Debian / Python tools and Node.js.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PIN = JSON.parse(readFileSync(join(ROOT, 'scripts', 'release', 'node-runtime.json'), 'utf8'));
export const NODE_MAJOR = Number(PIN.version.split('.')[0]);
const TOOLS_DIR = join(ROOT, '.tools');

/** Every external tool a suite runs, with where it comes from. Add a tool here, never skip a suite. */
export const TOOLS = [
  ...['storescu', 'echoscu', 'storescp', 'dcmdump', 'dump2dcm', 'dcmconv', 'dcmcjpeg', 'dcmcjpls', 'dcmcrle'].map((cmd) => ({ cmd, apt: 'dcmtk', why: 'DICOM interop peer' })),
  { cmd: 'gdcmscu', apt: 'libgdcm-tools', why: 'second, independent DICOM sender (interop suite)' },
  { cmd: 'dciodvfy', apt: 'dicom3tools', why: 'validates de-identified output' },
  { cmd: 'gdcmanon', apt: 'libgdcm-tools', why: 'reference de-identifier in the bench' },
  { cmd: 'openssl', apt: 'openssl', why: "certificate for gdcmanon's bench run" },
  { cmd: 'podman', apt: 'podman', why: 'boots the built image' },
  { cmd: 'runc', apt: 'runc', why: 'podman runtime' },
  { cmd: 'skopeo', apt: 'skopeo', why: 'inspects the OCI archive' },
  { cmd: 'unzip', apt: 'unzip', why: 'checks lambda.zip' },
  { cmd: 'zipinfo', apt: 'unzip', why: 'checks lambda.zip' },
  { cmd: 'dpkg-query', apt: 'dpkg', why: 'reads library versions for the image' },
  { cmd: 'ldd', apt: 'libc-bin', why: 'lists the libraries node links against' },
  { cmd: 'tar', apt: 'tar', why: 'extracts layers and Node.js' },
  { cmd: 'git', apt: 'git', why: 'release revision' },
  { cmd: 'sha256sum', apt: 'coreutils', why: 'release checksums' },
  { file: '/etc/ssl/certs/ca-certificates.crt', apt: 'ca-certificates', why: 'CA bundle baked into the image' },
  { cmd: 'moto_server', pip: 'moto[server]', why: 'local S3 / DynamoDB' },
  { cmd: 'cfn-lint', pip: 'cfn-lint', why: 'template lint' },
];

function onPath(cmd, path = process.env.PATH ?? '') {
  return path.split(delimiter).some((dir) => {
    try { accessSync(join(dir, cmd), constants.X_OK); return true; } catch { return false; }
  });
}

export function missingTools() {
  return TOOLS.filter((t) => (t.cmd ? !onPath(t.cmd) : !existsSync(t.file)));
}

function uniq(values) { return [...new Set(values)]; }

function check() {
  const problems = [];
  if (!existsSync(join(ROOT, 'node_modules', '.bin', 'mocha'))) problems.push('  node_modules (the project\'s libraries): run `npm install`');
  const missing = missingTools();
  for (const t of missing) problems.push(`  ${t.cmd ?? t.file} — ${t.why} (${t.apt ? `Debian package ${t.apt}` : `pip package ${t.pip}`})`);
  if (!problems.length) return true;
  const apt = uniq(missing.filter((t) => t.apt).map((t) => t.apt));
  const pip = uniq(missing.filter((t) => t.pip).map((t) => t.pip));
  const lines = ['npm test: missing, so no suite was started:', ...problems, '', 'Install with:'];
  if (apt.length) lines.push(`  sudo apt-get install -y ${apt.join(' ')}`);
  if (pip.length) lines.push(`  pip install ${pip.map((p) => `"${p}"`).join(' ')}`);
  lines.push('or run `npm run setup` (Debian: installs all of them and Node.js ' + NODE_MAJOR + '; .ci/run does the same).');
  process.stderr.write(lines.join('\n') + '\n');
  return false;
}

function integrityOf(file) {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/** The pinned node-linux-<arch> package under `dir`, fetched with `npm pack` from the npm registry once. */
export function fetchNode(pkg, dir, log = (l) => process.stderr.write(`${l}\n`)) {
  const integrity = PIN.integrity[pkg];
  if (!integrity) throw new Error(`no pinned integrity for ${pkg} (scripts/release/node-runtime.json)`);
  const root = join(dir, `${pkg}-${PIN.version}`);
  const tgz = `${root}.tgz`;
  if (existsSync(join(root, 'package', 'bin', 'node')) && existsSync(tgz) && integrityOf(tgz) === integrity) return join(root, 'package');
  mkdirSync(dir, { recursive: true });
  if (!existsSync(tgz) || integrityOf(tgz) !== integrity) {
    log(`fetching ${pkg}@${PIN.version} from the npm registry (~50 MB, once)`);
    rmSync(tgz, { force: true });
    execFileSync('npm', ['pack', `${pkg}@${PIN.version}`, '--pack-destination', dir, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const actual = integrityOf(tgz);
  if (actual !== integrity) throw new Error(`${tgz}: integrity ${actual} does not match the pinned ${integrity}`);
  const tmp = `${root}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  execFileSync('tar', ['-xzf', tgz, '-C', tmp, 'package/bin/node', 'package/LICENSE']);
  rmSync(root, { recursive: true, force: true });
  renameSync(tmp, root);
  return join(root, 'package');
}

/** Directory to put first on PATH so `node` is of the pinned major ('' when the system's already is). */
export function nodeBinDir() {
  if (Number(process.versions.node.split('.')[0]) >= NODE_MAJOR) return '';
  const arch = { x64: 'x64', arm64: 'arm64' }[process.arch];
  if (process.platform !== 'linux' || !arch) {
    throw new Error(`Node.js ${process.versions.node} is older than ${NODE_MAJOR} and the npm registry's node-linux-* packages do not fit ${process.platform}/${process.arch}: install Node.js ${NODE_MAJOR}`);
  }
  return join(fetchNode(`node-linux-${arch}`, TOOLS_DIR), 'bin');
}

function main(argv) {
  const [command, ...rest] = argv;
  switch (command) {
    case 'check':
      return check() ? 0 : 1;
    case 'list':
      process.stdout.write(JSON.stringify(TOOLS) + '\n');
      return 0;
    case 'missing': {
      const kind = rest[0];
      if (kind !== 'apt' && kind !== 'pip') throw new Error('missing apt|pip');
      process.stdout.write(uniq(missingTools().map((t) => t[kind]).filter(Boolean)).join(' ') + '\n');
      return 0;
    }
    case 'fetch-node':
      process.stdout.write(fetchNode(rest[0], resolve(rest[1])) + '\n');
      return 0;
    case 'node': {
      const bin = nodeBinDir();
      process.stdout.write(`${bin ? join(bin, 'node') : process.execPath} (Node.js ${NODE_MAJOR})\n`);
      return 0;
    }
    case 'run': {
      const cmd = rest[0] === '--' ? rest.slice(1) : rest;
      if (!cmd.length) throw new Error('run -- <command...>');
      if (!check()) return 1;
      const bin = nodeBinDir();
      const env = { ...process.env, TCP_NODELAY: process.env.TCP_NODELAY ?? '1' };
      if (bin) {
        env.PATH = `${bin}${delimiter}${env.PATH ?? ''}`;
        process.stderr.write(`npm test: Node.js ${process.versions.node} is older than ${NODE_MAJOR}; running on ${join(bin, 'node')}\n`);
      }
      const r = spawnSync(cmd[0], cmd.slice(1), { stdio: 'inherit', env, cwd: ROOT });
      if (r.error) throw r.error;
      return r.status ?? 1;
    }
    default:
      process.stderr.write('usage: node scripts/toolchain.mjs check | node | missing apt|pip | fetch-node <package> <dir> | run -- <command...>\n');
      return 2;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`toolchain: ${err.message}\n`);
    process.exitCode = 1;
  }
}

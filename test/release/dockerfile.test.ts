import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LABEL_KEYS, NODE_RUNTIME } from '../../scripts/release/image-spec';
import { builtImage, REPO_ROOT, run } from './helpers/built-image';

interface FinalStage {
  user?: string;
  entrypoint?: string[];
  workdir?: string;
  stopsignal?: string;
  expose: string[];
  volumes: string[];
  env: Record<string, string>;
  labels: string[];
  from: string;
}

/** Splits `KEY=value KEY2="v 2"` pairs (ENV / LABEL), honouring double quotes. */
function pairs(text: string): [string, string][] {
  const out: [string, string][] = [];
  const re = /([A-Za-z0-9_.-]+)=("((?:[^"\\]|\\.)*)"|(\S*))/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push([m[1]!, m[3] ?? m[4] ?? '']);
  return out;
}

/** Parses the last stage of a Dockerfile (line continuations joined, comments dropped). */
function parseFinalStage(dockerfile: string): FinalStage {
  const lines = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const lastFrom = lines.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true);
  const stage: FinalStage = { expose: [], volumes: [], env: {}, labels: [], from: lines[lastFrom]!.split(/\s+/)[1]! };
  for (const line of lines.slice(lastFrom + 1)) {
    const [instr, ...rest] = line.split(/\s+/);
    const arg = rest.join(' ');
    switch (instr!.toUpperCase()) {
      case 'USER': stage.user = arg; break;
      case 'WORKDIR': stage.workdir = arg; break;
      case 'STOPSIGNAL': stage.stopsignal = arg; break;
      case 'ENTRYPOINT': stage.entrypoint = JSON.parse(arg) as string[]; break;
      case 'EXPOSE': stage.expose.push(...rest); break;
      case 'VOLUME': stage.volumes.push(...(arg.startsWith('[') ? (JSON.parse(arg) as string[]) : rest)); break;
      case 'ENV': for (const [k, v] of pairs(arg)) stage.env[k] = v; break;
      case 'LABEL': stage.labels.push(...pairs(arg).map(([k]) => k)); break;
      default: break;
    }
  }
  return stage;
}

describe('release: container/Dockerfile is equivalent to the daemonless image', function () {
  this.timeout(240_000);
  const dockerfile = readFileSync(join(REPO_ROOT, 'container', 'Dockerfile'), 'utf8');
  const stage = parseFinalStage(dockerfile);
  let config: { User: string; Entrypoint: string[]; Env: string[]; ExposedPorts: Record<string, object>; Volumes: Record<string, object>; WorkingDir: string; StopSignal: string; Labels: Record<string, string> };

  before(async () => {
    const { archive } = await builtImage();
    config = (JSON.parse(run('skopeo', ['inspect', '--config', `oci-archive:${archive}`])) as { config: typeof config }).config;
  });

  it('builds the final stage from scratch with the rootfs made by the shared recipe', () => {
    expect(stage.from).to.equal('scratch');
    expect(dockerfile).to.match(/RUN npx tsx scripts\/release\/stage-rootfs\.ts \/rootfs/);
    expect(dockerfile).to.match(/COPY --from=build \/rootfs\/ \//);
  });

  it('agrees on the user', () => {
    expect(stage.user).to.equal(config.User);
  });

  it('agrees on the entrypoint', () => {
    expect(stage.entrypoint).to.deep.equal(config.Entrypoint);
  });

  it('agrees on the exposed ports', () => {
    expect([...stage.expose].sort()).to.deep.equal(Object.keys(config.ExposedPorts).sort());
  });

  it('agrees on the environment', () => {
    const imageEnv = Object.fromEntries(config.Env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    expect(stage.env).to.deep.equal(imageEnv);
  });

  it('agrees on volumes, working directory and stop signal', () => {
    expect(stage.volumes).to.deep.equal(Object.keys(config.Volumes));
    expect(stage.workdir).to.equal(config.WorkingDir);
    expect(stage.stopsignal).to.equal(config.StopSignal);
  });

  it('sets the same OCI label keys', () => {
    expect([...stage.labels].sort()).to.deep.equal([...LABEL_KEYS].sort());
    expect(Object.keys(config.Labels).sort()).to.deep.equal([...LABEL_KEYS].sort());
  });

  it('builds on Node.js 24, the major version the daemonless image ships', () => {
    expect(dockerfile).to.match(/^FROM node:24-bookworm-slim AS build$/m);
    expect(NODE_RUNTIME.version.split('.')[0]).to.equal('24');
  });
});

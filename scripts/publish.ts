/**
 * `npm run publish`: publish what `npm run build` put in dist/.
 *
 *   npm run publish                      dry run: prints the exact plan, touches nothing
 *   npm run publish -- --apply           uploads, pushes, submits the change set
 *   npm run publish -- --apply --wait    ... and polls the change set until it ends
 *
 * Other options: --dist <dir> (default dist), --marketplace <file> (default marketplace.json).
 * --apply needs AWS credentials (the usual SDK chain) allowed to s3:PutObject /
 * s3:GetObject on the regional buckets, ecr:GetAuthorizationToken /
 * ecr:DescribeImages / push on the Marketplace repository, and
 * aws-marketplace:StartChangeSet / DescribeChangeSet; and skopeo on PATH.
 */
import { ECRClient } from '@aws-sdk/client-ecr';
import { MarketplaceCatalogClient } from '@aws-sdk/client-marketplace-catalog';
import { S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BuildReport } from './release/build-report';
import { verifySha256Sums } from './release/checksums';
import { loadMarketplaceConfig, placeholders } from './release/marketplace-config';
import { applyPublish } from './release/publish-apply';
import { formatPlan, planPublish } from './release/publish-plan';

export interface PublishArgs {
  readonly apply: boolean;
  readonly wait: boolean;
  readonly dist: string;
  readonly marketplace: string;
}

export function parsePublishArgs(argv: readonly string[]): PublishArgs {
  let apply = false;
  let wait = false;
  let dist = 'dist';
  let marketplace = 'marketplace.json';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--apply') apply = true;
    else if (a === '--wait') wait = true;
    else if (a === '--dry-run') apply = false;
    else if (a === '--dist' && argv[i + 1]) dist = argv[++i]!;
    else if (a === '--marketplace' && argv[i + 1]) marketplace = argv[++i]!;
    else throw new Error(`unknown argument ${a} (usage: npm run publish [-- --apply [--wait]] [--dist dir] [--marketplace file])`);
  }
  return { apply, wait, dist, marketplace };
}

function runSkopeo(args: readonly string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    // stdio inherited: skopeo prints per-blob progress on long pushes.
    const child = spawn('skopeo', args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', (err) => reject(new Error(`skopeo could not start (apt-get install skopeo): ${err.message}`)));
    child.once('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`skopeo exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  const cwd = resolve(__dirname, '..');
  const args = parsePublishArgs(process.argv.slice(2));
  const dist = resolve(cwd, args.dist);
  const marketplace = loadMarketplaceConfig(resolve(cwd, args.marketplace));
  const report = JSON.parse(readFileSync(resolve(dist, 'build-report.json'), 'utf8')) as BuildReport;
  const plan = planPublish(marketplace, report, dist);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  log(formatPlan(plan, !args.apply));
  if (!args.apply) return;

  const problems = [
    ...placeholders(marketplace).map((k) => `marketplace.json ${k} is still a placeholder`),
    ...verifySha256Sums(dist).map((p) => `dist/${p}`),
  ];
  if (problems.length) throw new Error(`refusing to publish:\n  - ${problems.join('\n  - ')}`);
  const s3Clients = new Map<string, S3Client>();
  const result = await applyPublish(plan, {
    s3: (region) => {
      let c = s3Clients.get(region);
      if (!c) s3Clients.set(region, (c = new S3Client({ region })));
      return c;
    },
    ecr: new ECRClient({ region: 'us-east-1' }),
    catalog: new MarketplaceCatalogClient({ region: 'us-east-1' }),
    skopeo: runSkopeo,
    log,
    ...(args.wait ? { wait: { intervalMs: 30_000, timeoutMs: 2 * 60 * 60_000 } } : {}),
  });
  log(`\npublished ${plan.product} ${plan.version}: ${result.uploaded} uploaded, ${result.skipped} already there, image ${result.imagePushed ? 'pushed' : 'already there'}`);
  log(`change set id: ${result.changeSetId}${result.changeSetStatus ? ` (${result.changeSetStatus})` : ''}`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`publish failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}

import { DescribeImagesCommand, GetAuthorizationTokenCommand, type ECRClient } from '@aws-sdk/client-ecr';
import {
  DescribeChangeSetCommand,
  StartChangeSetCommand,
  type Change,
  type MarketplaceCatalogClient,
} from '@aws-sdk/client-marketplace-catalog';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PlannedImagePush, PlannedUpload, PublishPlan } from './publish-plan';

/** Clients and side effects publish uses; injected so tests replace them. */
export interface PublishDeps {
  /** S3 client for a region's bucket. */
  readonly s3: (region: string) => S3Client;
  /** ECR client in us-east-1 (the Marketplace registry). */
  readonly ecr: ECRClient;
  /** Marketplace Catalog client (us-east-1). */
  readonly catalog: MarketplaceCatalogClient;
  /** Runs skopeo with these arguments; resolves on exit 0, rejects otherwise. */
  readonly skopeo: (args: readonly string[]) => Promise<void>;
  readonly log: (line: string) => void;
  /** Poll DescribeChangeSet until it ends (and the interval); off by default. */
  readonly wait?: { readonly intervalMs: number; readonly timeoutMs: number };
}

export interface PublishResult {
  readonly uploaded: number;
  readonly skipped: number;
  readonly imagePushed: boolean;
  readonly changeSetId: string;
  readonly changeSetArn: string;
  readonly changeSetStatus?: string;
}

export class PublishError extends Error {
  override readonly name = 'PublishError';
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

function errorName(err: unknown): string {
  return (err as { name?: string } | null)?.name ?? '';
}

/**
 * Uploads one object unless an object with the same sha256 is already there.
 * An object under the same key with other content is an error: keys are
 * content-addressed, so that would mean the bucket was tampered with.
 */
async function upload(u: PlannedUpload, deps: PublishDeps): Promise<'uploaded' | 'skipped'> {
  const s3 = deps.s3(u.region);
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: u.bucket, Key: u.key }));
    if (head.Metadata?.['sha256'] === u.sha256) {
      deps.log(`  ${u.region} s3://${u.bucket}/${u.key} already there (same sha256), skipped`);
      return 'skipped';
    }
    throw new PublishError('ERR_OBJECT_CONFLICT', `s3://${u.bucket}/${u.key} exists with other content (sha256 ${head.Metadata?.['sha256'] ?? 'unknown'}); refusing to overwrite`);
  } catch (err) {
    if (err instanceof PublishError) throw err;
    if (errorName(err) !== 'NotFound' && errorName(err) !== 'NoSuchKey') {
      throw new PublishError('ERR_S3', `HeadObject s3://${u.bucket}/${u.key}: ${(err as Error).message}`, { cause: err });
    }
  }
  const job = new Upload({
    client: s3,
    params: {
      Bucket: u.bucket,
      Key: u.key,
      Body: createReadStream(u.file),
      ContentType: u.contentType,
      ContentLength: u.size,
      Metadata: { sha256: u.sha256 },
    },
  });
  let lastPct = -1;
  job.on('httpUploadProgress', (p) => {
    const pct = p.loaded !== undefined ? Math.floor((p.loaded / u.size) * 100) : -1;
    if (pct >= lastPct + 25 || pct === 100) {
      lastPct = pct;
      deps.log(`  ${u.region} s3://${u.bucket}/${u.key} ${pct}%`);
    }
  });
  await job.done();
  return 'uploaded';
}

async function remoteDigest(push: PlannedImagePush, deps: PublishDeps): Promise<string | undefined> {
  try {
    const res = await deps.ecr.send(
      new DescribeImagesCommand({ registryId: push.registryId, repositoryName: push.repositoryName, imageIds: [{ imageTag: push.tag }] }),
    );
    return res.imageDetails?.[0]?.imageDigest;
  } catch (err) {
    if (errorName(err) === 'ImageNotFoundException') return undefined;
    throw new PublishError('ERR_ECR', `DescribeImages ${push.repositoryName}:${push.tag}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Pushes the OCI archive with skopeo, digest preserved, unless the tag
 * already holds this digest. A tag holding another digest is never moved.
 */
async function pushImage(push: PlannedImagePush, deps: PublishDeps): Promise<boolean> {
  const existing = await remoteDigest(push, deps);
  if (existing === push.digest) {
    deps.log(`  ${push.destination} already holds ${push.digest}, skipped`);
    return false;
  }
  if (existing) {
    throw new PublishError('ERR_TAG_CONFLICT', `${push.destination} already holds ${existing}, not ${push.digest}: bump the version instead of moving a released tag`);
  }
  const auth = await deps.ecr.send(new GetAuthorizationTokenCommand({ registryIds: [push.registryId] }));
  const token = auth.authorizationData?.[0]?.authorizationToken;
  if (!token) throw new PublishError('ERR_ECR_AUTH', 'ECR GetAuthorizationToken returned no token');
  // Credentials go through a 0600 auth file, never the command line (visible in `ps`).
  const dir = await mkdtemp(join(tmpdir(), 'publish-auth-'));
  const authfile = join(dir, 'auth.json');
  try {
    await writeFile(authfile, JSON.stringify({ auths: { [push.registry]: { auth: token } } }), { mode: 0o600 });
    deps.log(`  skopeo copy ${push.source} ${push.destination}`);
    await deps.skopeo(['copy', '--preserve-digests', '--dest-authfile', authfile, push.source, push.destination]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const after = await remoteDigest(push, deps);
  if (after !== push.digest) {
    throw new PublishError('ERR_DIGEST_MISMATCH', `after the push ${push.destination} is ${after ?? 'missing'}, expected ${push.digest}`);
  }
  deps.log(`  verified ${push.destination} = ${push.digest}`);
  return true;
}

async function waitForChangeSet(id: string, deps: PublishDeps): Promise<string> {
  const { intervalMs, timeoutMs } = deps.wait!;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await deps.catalog.send(new DescribeChangeSetCommand({ Catalog: 'AWSMarketplace', ChangeSetId: id }));
    const status = res.Status ?? 'UNKNOWN';
    deps.log(`  change set ${id}: ${status}`);
    if (status === 'SUCCEEDED') return status;
    if (status === 'FAILED' || status === 'CANCELLED') {
      const reasons = (res.ChangeSet ?? []).flatMap((c) => (c.ErrorDetailList ?? []).map((e) => `${e.ErrorCode}: ${e.ErrorMessage}`));
      throw new PublishError('ERR_CHANGESET_FAILED', `change set ${id} ${status}: ${res.FailureDescription ?? ''} ${reasons.join('; ')}`.trim());
    }
    if (Date.now() > deadline) return status;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Carries out the plan: uploads, image push, change set. Safe to re-run after a partial failure. */
export async function applyPublish(plan: PublishPlan, deps: PublishDeps): Promise<PublishResult> {
  deps.log(`1/3 S3 uploads (${plan.uploads.length})`);
  let uploaded = 0;
  let skipped = 0;
  for (const u of plan.uploads) {
    if ((await upload(u, deps)) === 'uploaded') uploaded++;
    else skipped++;
  }
  deps.log('2/3 image push');
  const imagePushed = await pushImage(plan.image, deps);
  deps.log('3/3 StartChangeSet');
  const req = plan.changeSet.request;
  const res = await deps.catalog.send(
    new StartChangeSetCommand({
      Catalog: req.Catalog,
      ChangeSetName: req.ChangeSetName,
      ClientRequestToken: req.ClientRequestToken,
      ChangeSet: req.ChangeSet.map((c) => ({
        ChangeType: c.ChangeType,
        ChangeName: c.ChangeName,
        Entity: { ...c.Entity },
        DetailsDocument: JSON.parse(JSON.stringify(c.DetailsDocument)) as Change['DetailsDocument'],
      })),
    }),
  );
  if (!res.ChangeSetId || !res.ChangeSetArn) throw new PublishError('ERR_CHANGESET', 'StartChangeSet returned no change set id');
  deps.log(`  change set id ${res.ChangeSetId}`);
  deps.log(`  change set ARN ${res.ChangeSetArn}`);
  const changeSetStatus = deps.wait ? await waitForChangeSet(res.ChangeSetId, deps) : undefined;
  return { uploaded, skipped, imagePushed, changeSetId: res.ChangeSetId, changeSetArn: res.ChangeSetArn, ...(changeSetStatus ? { changeSetStatus } : {}) };
}

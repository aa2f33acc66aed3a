import { DescribeImagesCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { DescribeChangeSetCommand, MarketplaceCatalogClient, StartChangeSetCommand } from '@aws-sdk/client-marketplace-catalog';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client, type BucketLocationConstraint } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { expect } from 'chai';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { applyPublish, PublishError, type PublishDeps } from '../../scripts/release/publish-apply';
import { planPublish, type PublishPlan } from '../../scripts/release/publish-plan';
import { MOTO_ENV, startMotoServer, type MotoServer } from '../helpers/moto-server';
import { sampleDist, type SampleDist } from './helpers/sample-release';

function notFound(name: string): Error {
  return Object.assign(new Error(name), { name });
}

describe('release: publish --apply (S3 on moto_server, ECR and Catalog mocked)', function () {
  this.timeout(60_000);
  let moto: MotoServer;
  let dist: SampleDist;
  let plan: PublishPlan;
  const ecrMock = mockClient(ECRClient);
  const catalogMock = mockClient(MarketplaceCatalogClient);
  const s3Clients = new Map<string, S3Client>();
  let skopeoCalls: { args: readonly string[]; auth: string; mode: number }[];
  let logs: string[];

  const s3 = (region: string): S3Client => {
    let c = s3Clients.get(region);
    if (!c) {
      c = new S3Client({
        region,
        endpoint: moto.endpoint,
        forcePathStyle: true,
        credentials: { accessKeyId: MOTO_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: MOTO_ENV.AWS_SECRET_ACCESS_KEY },
      });
      s3Clients.set(region, c);
    }
    return c;
  };

  function deps(overrides: Partial<PublishDeps> = {}): PublishDeps {
    return {
      s3,
      ecr: new ECRClient({ region: 'us-east-1' }),
      catalog: new MarketplaceCatalogClient({ region: 'us-east-1' }),
      skopeo: async (args) => {
        const authfile = args[args.indexOf('--dest-authfile') + 1]!;
        skopeoCalls.push({ args, auth: readFileSync(authfile, 'utf8'), mode: statSync(authfile).mode & 0o777 });
      },
      log: (line) => logs.push(line),
      ...overrides,
    };
  }

  /** ECR: tag absent before the push, present with `digest` after it. */
  function ecrPushable(digest: string): void {
    ecrMock
      .on(DescribeImagesCommand)
      .rejectsOnce(notFound('ImageNotFoundException'))
      .resolves({ imageDetails: [{ imageDigest: digest, imageTags: ['1.4.0'] }] });
    ecrMock.on(GetAuthorizationTokenCommand).resolves({
      authorizationData: [{ authorizationToken: Buffer.from('AWS:secret-password').toString('base64'), proxyEndpoint: 'https://709825985650.dkr.ecr.us-east-1.amazonaws.com' }],
    });
  }

  before(async () => {
    moto = await startMotoServer();
  });
  after(async () => {
    for (const c of s3Clients.values()) c.destroy();
    ecrMock.restore();
    catalogMock.restore();
    await moto.stop();
  });
  beforeEach(async () => {
    await moto.reset();
    ecrMock.reset();
    catalogMock.reset();
    skopeoCalls = [];
    logs = [];
    dist = sampleDist();
    plan = planPublish(dist.marketplace, dist.report, dist.dir);
    for (const region of dist.marketplace.regions) {
      await s3(region).send(
        new CreateBucketCommand({
          Bucket: `acme-dicom-scp-${region}`,
          ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
        }),
      );
    }
    catalogMock.on(StartChangeSetCommand).resolves({ ChangeSetId: 'cs-123', ChangeSetArn: 'arn:aws:aws-marketplace:us-east-1:111122223333:AWSMarketplace/ChangeSet/cs-123' });
  });
  afterEach(() => rmSync(dist.dir, { recursive: true, force: true }));

  it('uploads the zip and the template to every regional bucket, byte for byte, with their sha256', async () => {
    ecrPushable(dist.report.image.digest);
    const result = await applyPublish(plan, deps());
    expect(result.uploaded).to.equal(4);
    for (const u of plan.uploads) {
      const obj = await s3(u.region).send(new GetObjectCommand({ Bucket: u.bucket, Key: u.key }));
      const body = Buffer.from(await obj.Body!.transformToByteArray());
      expect(body.equals(readFileSync(u.file)), `${u.bucket}/${u.key}`).to.equal(true);
      expect(obj.Metadata?.['sha256']).to.equal(u.sha256);
      expect(obj.ContentType).to.equal(u.contentType);
    }
    expect(logs.some((l) => /s3:\/\/acme-dicom-scp-eu-west-1\/lambda\/1\.4\.0\/.* 100%/.test(l)), logs.join('\n')).to.equal(true);
  });

  it('pushes the archive with skopeo, digest preserved, using an ECR token from a 0600 auth file it removes', async () => {
    ecrPushable(dist.report.image.digest);
    const result = await applyPublish(plan, deps());
    expect(result.imagePushed).to.equal(true);
    expect(skopeoCalls).to.have.length(1);
    const { args, auth, mode } = skopeoCalls[0]!;
    expect(mode).to.equal(0o600);
    expect(args.slice(0, 2)).to.deep.equal(['copy', '--preserve-digests']);
    expect(args.slice(-2)).to.deep.equal([plan.image.source, plan.image.destination]);
    expect(args.join(' ')).to.not.include('secret-password');
    expect(JSON.parse(auth)).to.deep.equal({ auths: { '709825985650.dkr.ecr.us-east-1.amazonaws.com': { auth: Buffer.from('AWS:secret-password').toString('base64') } } });
    expect(existsSync(args[args.indexOf('--dest-authfile') + 1]!)).to.equal(false);
    const describe = ecrMock.commandCalls(DescribeImagesCommand)[0]!.args[0].input;
    expect(describe).to.deep.equal({ registryId: '709825985650', repositoryName: 'acme-imaging/dicom-store-scp', imageIds: [{ imageTag: '1.4.0' }] });
    expect(ecrMock.commandCalls(GetAuthorizationTokenCommand)[0]!.args[0].input).to.deep.equal({ registryIds: ['709825985650'] });
  });

  it('submits the change set from dist/ and returns its id', async () => {
    ecrPushable(dist.report.image.digest);
    const result = await applyPublish(plan, deps());
    expect(result.changeSetId).to.equal('cs-123');
    const input = catalogMock.commandCalls(StartChangeSetCommand)[0]!.args[0].input;
    const fromFile = JSON.parse(dist.files['marketplace-changeset.json']!.toString()) as Record<string, unknown>;
    expect(JSON.parse(JSON.stringify(input))).to.deep.equal(fromFile);
    expect(logs).to.include('  change set id cs-123');
  });

  it('re-running after success skips uploads and the push, and resubmits with the same ClientRequestToken', async () => {
    ecrPushable(dist.report.image.digest);
    await applyPublish(plan, deps());
    ecrMock.reset();
    ecrMock.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: dist.report.image.digest }] });
    const again = await applyPublish(plan, deps());
    expect(again).to.deep.include({ uploaded: 0, skipped: 4, imagePushed: false });
    expect(skopeoCalls).to.have.length(1);
    const tokens = catalogMock.commandCalls(StartChangeSetCommand).map((c) => c.args[0].input.ClientRequestToken);
    expect(tokens).to.have.length(2);
    expect(tokens[1]).to.equal(tokens[0]);
  });

  it('refuses to overwrite an object that exists with other content', async () => {
    const u = plan.uploads[0]!;
    await s3(u.region).send(new PutObjectCommand({ Bucket: u.bucket, Key: u.key, Body: 'other', Metadata: { sha256: '0'.repeat(64) } }));
    const err = await applyPublish(plan, deps()).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(PublishError);
    expect((err as PublishError).code).to.equal('ERR_OBJECT_CONFLICT');
    expect(catalogMock.commandCalls(StartChangeSetCommand)).to.have.length(0);
  });

  it('never moves a released tag that holds another digest', async () => {
    ecrMock.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: `sha256:${'9'.repeat(64)}` }] });
    const err = await applyPublish(plan, deps()).catch((e: unknown) => e);
    expect((err as PublishError).code).to.equal('ERR_TAG_CONFLICT');
    expect(skopeoCalls).to.have.length(0);
    expect(catalogMock.commandCalls(StartChangeSetCommand)).to.have.length(0);
  });

  it('fails before the change set when ECR does not report the built digest after the push', async () => {
    ecrPushable(`sha256:${'1'.repeat(64)}`);
    const err = await applyPublish(plan, deps()).catch((e: unknown) => e);
    expect((err as PublishError).code).to.equal('ERR_DIGEST_MISMATCH');
    expect(catalogMock.commandCalls(StartChangeSetCommand)).to.have.length(0);
  });

  it('with --wait polls DescribeChangeSet until it succeeds, and reports failures with their reasons', async () => {
    ecrPushable(dist.report.image.digest);
    catalogMock.on(DescribeChangeSetCommand).resolvesOnce({ Status: 'PREPARING' }).resolves({ Status: 'SUCCEEDED' });
    const ok = await applyPublish(plan, deps({ wait: { intervalMs: 1, timeoutMs: 5_000 } }));
    expect(ok.changeSetStatus).to.equal('SUCCEEDED');
    expect(logs).to.include('  change set cs-123: PREPARING');

    ecrMock.reset();
    ecrMock.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: dist.report.image.digest }] });
    catalogMock.on(DescribeChangeSetCommand).resolves({
      Status: 'FAILED',
      FailureDescription: 'validation',
      ChangeSet: [{ ErrorDetailList: [{ ErrorCode: 'INVALID_INPUT', ErrorMessage: 'ContainerImages not found' }] }],
    });
    const err = await applyPublish(plan, deps({ wait: { intervalMs: 1, timeoutMs: 5_000 } })).catch((e: unknown) => e);
    expect((err as PublishError).code).to.equal('ERR_CHANGESET_FAILED');
    expect((err as Error).message).to.include('INVALID_INPUT: ContainerImages not found');
  });
});

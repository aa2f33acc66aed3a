import { expect } from 'chai';
import { createdResources, productTemplate, resource, resourcesOfType, type Json } from './template-fixture';

describe('template storage and data', () => {
  const template = productTemplate();
  const buckets = resourcesOfType(template, 'AWS::S3::Bucket');
  const policies = resourcesOfType(template, 'AWS::S3::BucketPolicy');

  it('has the staging, results and log buckets under fixed logical ids, retained', () => {
    for (const id of ['StagingBucket', 'ResultsBucket', 'LogBucket']) {
      expect(resource(template, id).DeletionPolicy, id).to.equal('RetainExceptOnCreate');
    }
  });

  it('encrypts, blocks public access and enforces owner ownership on every bucket', () => {
    expect(buckets.length).to.be.at.least(3);
    for (const [id, b] of buckets) {
      const sse = b.Properties.BucketEncryption?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault;
      expect(sse?.SSEAlgorithm, id).to.be.oneOf(['AES256', 'aws:kms']);
      expect(b.Properties.PublicAccessBlockConfiguration, id).to.deep.equal({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
    }
  });

  it('denies non-TLS requests on every bucket', () => {
    for (const [id] of buckets) {
      const policy = policies.find(([, p]) => JSON.stringify(p.Properties.Bucket) === JSON.stringify({ Ref: id }));
      expect(policy, `bucket policy of ${id}`).not.to.equal(undefined);
      const denies = (policy![1].Properties.PolicyDocument.Statement as Json[]).filter(
        (s) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
      );
      expect(denies, id).to.have.length.at.least(1);
    }
  });

  it('logs access to the staging and results buckets into the log bucket', () => {
    for (const id of ['StagingBucket', 'ResultsBucket']) {
      expect(resource(template, id).Properties.LoggingConfiguration.DestinationBucketName).to.deep.equal({ Ref: 'LogBucket' });
    }
  });

  it('versions the results bucket and expires staging prefixes after StagingRetentionDays', () => {
    expect(resource(template, 'ResultsBucket').Properties.VersioningConfiguration).to.deep.equal({ Status: 'Enabled' });
    const rules = resource(template, 'StagingBucket').Properties.LifecycleConfiguration.Rules as Json[];
    for (const prefix of ['incoming/', 'batches/', 'failed/', 'conflicts/']) {
      const rule = rules.find((r) => r.Prefix === prefix);
      expect(rule?.ExpirationInDays, prefix).to.deep.equal({ Ref: 'StagingRetentionDays' });
    }
    expect(rules.some((r) => r.AbortIncompleteMultipartUpload?.DaysAfterInitiation === 1)).to.equal(true);
  });

  it('sends staging bucket events to EventBridge (seal events start imports)', () => {
    expect(resource(template, 'StagingBucket').Properties.NotificationConfiguration.EventBridgeConfiguration).to.deep.equal({
      EventBridgeEnabled: true,
    });
  });

  it('keys the job table as docs/data-contracts.md says, on demand, with PITR and encryption', () => {
    const table = resource(template, 'JobTable');
    expect(table.DeletionPolicy).to.equal('RetainExceptOnCreate');
    const p = table.Properties;
    expect(p.KeySchema).to.deep.equal([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    const indexes = Object.fromEntries((p.GlobalSecondaryIndexes as Json[]).map((i) => [i.IndexName, i]));
    expect(Object.keys(indexes).sort()).to.deep.equal(['gsi1', 'gsi2']);
    for (const name of ['gsi1', 'gsi2']) {
      expect(indexes[name].KeySchema).to.deep.equal([
        { AttributeName: `${name}pk`, KeyType: 'HASH' },
        { AttributeName: `${name}sk`, KeyType: 'RANGE' },
      ]);
      expect(indexes[name].Projection).to.deep.equal({ ProjectionType: 'ALL' });
    }
    expect(p.BillingMode).to.equal('PAY_PER_REQUEST');
    expect(p.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled).to.equal(true);
    expect(p.SSESpecification.SSEEnabled).to.equal(true);
  });

  it('turns point-in-time recovery on for every table', () => {
    for (const [id, t] of resourcesOfType(template, 'AWS::DynamoDB::Table')) {
      expect(t.Properties.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled, id).to.equal(true);
    }
  });

  it('creates the data store only without ExistingDatastoreId, and keeps it on deletion', () => {
    const datastore = resource(template, 'Datastore');
    expect(datastore.Type).to.equal('AWS::HealthImaging::Datastore');
    expect(datastore.DeletionPolicy).to.equal('RetainExceptOnCreate');
    expect(datastore.UpdateReplacePolicy).to.equal('Retain');
    expect(createdResources(template, {}).has('Datastore')).to.equal(true);
    expect(createdResources(template, { ExistingDatastoreId: 'a'.repeat(32) }).has('Datastore')).to.equal(false);
  });

  it('lets only HealthImaging, for this account and data store, assume the data access role', () => {
    const [, role] = resourcesOfType(template, 'AWS::IAM::Role').find(([id]) => id.startsWith('HealthImagingDataAccessRole'))!;
    const statements = role.Properties.AssumeRolePolicyDocument.Statement as Json[];
    expect(statements).to.have.length(1);
    expect(statements[0].Principal).to.deep.equal({ Service: 'medical-imaging.amazonaws.com' });
    expect(statements[0].Condition.StringEquals['aws:SourceAccount']).to.deep.equal({ Ref: 'AWS::AccountId' });
    expect(JSON.stringify(statements[0].Condition.ArnEquals['aws:SourceArn'])).to.contain('DatastoreArn');
  });
});

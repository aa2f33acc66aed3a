import { expect } from 'chai';
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import type { BatchManifest } from '../../lambda/batch-manifest';
import { sweepOrphanBatches } from '../../lambda/sweep-orphan-batches';
import { UNKNOWN_STUDY } from '../../lambda/table-keys';
import { NOW, testDeps } from './test-deps';

describe('lambda/sweep-orphan-batches', () => {
  it('seals an orphan with the study list the SCP would write: the UNKNOWN placeholder is not a study', async () => {
    // Prepare: an orphan batch of two instances, one whose dataset had no Study UID (the SCP records UNKNOWN)
    const deps = testDeps();
    const s3 = mockClient(deps.s3);
    const batchId = '20261123T112233Z-3f9a1c0e-000001';
    const prefix = `incoming/${batchId}/`;
    const old = new Date(NOW.getTime() - 3_600_000);
    s3.on(ListObjectsV2Command, { Prefix: 'incoming/' }).resolves({ CommonPrefixes: [{ Prefix: prefix }] });
    s3.on(ListObjectsV2Command, { Prefix: prefix }).resolves({
      Contents: [{ Key: `${prefix}1.2.3.1.dcm`, LastModified: old, Size: 10 }, { Key: `${prefix}1.2.3.2.dcm`, LastModified: old, Size: 20 }],
    });
    s3.on(HeadObjectCommand, { Key: `batches/${batchId}.json` }).rejects(Object.assign(new Error('not found'), { name: 'NotFound' }));
    s3.on(HeadObjectCommand, { Key: `${prefix}1.2.3.1.dcm` }).resolves({ ContentLength: 10, Metadata: { 'sop-instance-uid': '1.2.3.1', 'study-instance-uid': '1.2.3', 'series-instance-uid': '1.2.3.9' } });
    s3.on(HeadObjectCommand, { Key: `${prefix}1.2.3.2.dcm` }).resolves({ ContentLength: 20, Metadata: { 'sop-instance-uid': '1.2.3.2', 'study-instance-uid': UNKNOWN_STUDY, 'series-instance-uid': UNKNOWN_STUDY } });
    s3.on(PutObjectCommand).resolves({});
    // Act
    const result = await sweepOrphanBatches(deps);
    // Assess
    expect(result.sealed).to.deep.equal([batchId]);
    const manifest = JSON.parse(String(s3.commandCalls(PutObjectCommand)[0]!.args[0].input.Body)) as BatchManifest;
    expect(manifest).to.include({ count: 2, bytes: 30, sealReason: 'sweeper' });
    expect(manifest.studyInstanceUids).to.deep.equal(['1.2.3']);
    expect(manifest.objects.map((o) => o.studyInstanceUid)).to.deep.equal(['1.2.3', UNKNOWN_STUDY]);
  });
});

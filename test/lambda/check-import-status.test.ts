import { expect } from 'chai';
import { GetDICOMImportJobCommand } from '@aws-sdk/client-medical-imaging';
import { mockClient } from 'aws-sdk-client-mock';
import { OVERDUE_GIVE_UP_SECONDS, OVERDUE_POLL_SECONDS, checkImportStatus, nextWaitSeconds } from '../../lambda/check-import-status';
import { ImportJobTimeoutError } from '../../lambda/errors';
import type { BatchRef, JobRef } from '../../lambda/workflow-types';
import { NOW, testDeps } from './test-deps';

const batch = { batchId: '20261123T112233Z-3f9a1c0e-000001' } as BatchRef;
const job = (submittedAt: string): JobRef => ({ jobId: 'job-1', jobStatus: 'SUBMITTED', submittedAt, outputS3Uri: 's3://results/import-results/x/', checks: 2, waitSeconds: 15 });

describe('lambda/check-import-status', () => {
  it('backs off 10 s × 1.5 per check, capped at 120 s', () => {
    expect([0, 1, 2, 3, 10].map(nextWaitSeconds)).to.deep.equal([10, 15, 23, 34, 120]);
  });

  it('returns the status, the output URI HealthImaging reports and the next wait', async () => {
    // Prepare
    const deps = testDeps();
    mockClient(deps.ddb).onAnyCommand().resolves({});
    mockClient(deps.medicalImaging).on(GetDICOMImportJobCommand).resolves({ jobProperties: { jobId: 'job-1', jobStatus: 'COMPLETED', datastoreId: 'd', dataAccessRoleArn: 'r', inputS3Uri: 'i', outputS3Uri: 's3://results/import-results/x/d-DicomImport-job-1/', endedAt: NOW } as never });
    // Act
    const out = await checkImportStatus(deps, { batch, job: job(NOW.toISOString()) });
    // Assess
    expect(out).to.include({ jobStatus: 'COMPLETED', checks: 3, waitSeconds: 34, outputS3Uri: 's3://results/import-results/x/d-DicomImport-job-1/' });
  });

  it('keeps an overdue job: polls it every 15 minutes, emits ImportJobsOverdue once, and no error', async () => {
    // Prepare: submitted 2 hours before the pinned clock, bound 1 hour.
    const deps = testDeps();
    mockClient(deps.ddb).onAnyCommand().resolves({});
    mockClient(deps.medicalImaging).on(GetDICOMImportJobCommand).resolves({ jobProperties: { jobId: 'job-1', jobStatus: 'IN_PROGRESS' } as never });
    // Act
    const first = await checkImportStatus(deps, { batch, job: job(new Date(NOW.getTime() - 7_200_000).toISOString()) });
    const second = await checkImportStatus(deps, { batch, job: first });
    // Assess
    expect(first).to.include({ jobStatus: 'IN_PROGRESS', overdue: true, waitSeconds: OVERDUE_POLL_SECONDS });
    expect(second).to.include({ overdue: true, waitSeconds: OVERDUE_POLL_SECONDS, checks: 4 });
    expect(deps.emitted).to.deep.equal([{ ImportJobsOverdue: 1 }]);
  });

  it('records a late completion of an overdue job like any other', async () => {
    const deps = testDeps();
    mockClient(deps.ddb).onAnyCommand().resolves({});
    mockClient(deps.medicalImaging).on(GetDICOMImportJobCommand).resolves({ jobProperties: { jobId: 'job-1', jobStatus: 'COMPLETED', outputS3Uri: 's3://results/x/' } as never });
    const out = await checkImportStatus(deps, { batch, job: { ...job(new Date(NOW.getTime() - 30 * 3_600_000).toISOString()), overdue: true } });
    expect(out).to.include({ jobStatus: 'COMPLETED', outputS3Uri: 's3://results/x/' });
  });

  it('gives up with ImportJobTimeoutError after 7 days', async () => {
    // Prepare
    const deps = testDeps();
    mockClient(deps.ddb).onAnyCommand().resolves({});
    mockClient(deps.medicalImaging).on(GetDICOMImportJobCommand).resolves({ jobProperties: { jobId: 'job-1', jobStatus: 'IN_PROGRESS' } as never });
    // Act
    const err = await checkImportStatus(deps, { batch, job: job(new Date(NOW.getTime() - (OVERDUE_GIVE_UP_SECONDS + 60) * 1000).toISOString()) }).catch((e: unknown) => e);
    // Assess
    expect(err).to.be.instanceOf(ImportJobTimeoutError);
    expect(err).to.include({ name: 'ImportJobTimeoutError', code: 'IMPORT_JOB_TIMEOUT' });
  });
});

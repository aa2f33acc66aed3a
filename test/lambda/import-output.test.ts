import { expect } from 'chai';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { Readable } from 'node:stream';
import type { ManifestObject } from '../../lambda/batch-manifest';
import { ImportOutputInvalidError, ImportOutputNotReadyError } from '../../lambda/errors';
import { outputFolderOf, reconcileImportOutput, stagingKeyOf, type ReconcileInput } from '../../lambda/import-output';
import { instanceOutcomes } from '../../lambda/instance-outcomes';
import { testDeps } from './test-deps';

const DS = '0123456789abcdef0123456789abcdef';
const PREFIX = 'incoming/b1/';
const FOLDER = `import-results/b1/${DS}-DicomImport-j1/`;
const key = (sop: string) => `${PREFIX}${sop}.dcm`;
const uri = (sop: string) => `s3://staging/${key(sop)}`;
const ok = (sop: string, isPrimary = true, imageSetId = 'a'.repeat(32)) => ({ inputFile: uri(sop), importResponse: { imageSetId, isPrimary } });
const bad = (sop: string, exceptionType = 'InvalidDICOMFile') => ({ inputFile: uri(sop), exception: { exceptionType, message: 'x' } });
const warn = (sop: string, imageSetId = 'a'.repeat(32)) => ({ inputFile: uri(sop), importResponse: { imageSetId, isPrimary: true }, warnings: [{ reasonCode: '0xB120', type: 'UNSUPPORTED_TRANSFER_SYNTAX', message: 'blob' }] });
const nd = (lines: object[]) => lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
const summary = (s: Record<string, unknown>) => JSON.stringify({ jobSummary: { jobId: 'j1', successOutputS3Uri: `s3://results/${FOLDER}SUCCESS/`, failureOutputS3Uri: `s3://results/${FOLDER}FAILURE/`, warningsOutputS3Uri: `s3://results/${FOLDER}WARNING/`, ...s } });
const counts = (scanned: number, imported: number, customer: number, server: number) => ({ numberOfScannedFiles: scanned, numberOfImportedFiles: imported, numberOfFilesWithCustomerError: customer, numberOfFilesWithServerError: server });

/** A results bucket held in memory behind the real S3 client (ListObjectsV2 + GetObject). */
function bucketOf(files: Record<string, string>) {
  const deps = testDeps();
  const s3 = mockClient(deps.s3);
  s3.on(ListObjectsV2Command).callsFake((i: { Prefix: string }) => ({ Contents: Object.keys(files).filter((k) => k.startsWith(i.Prefix)).map((Key) => ({ Key })), IsTruncated: false }));
  s3.on(GetObjectCommand).callsFake((i: { Key: string }) => {
    const text = files[`results/${i.Key}`.slice('results/'.length)];
    if (text === undefined) throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
    return { Body: Object.assign(Readable.from([Buffer.from(text)]), { transformToString: async () => text }) };
  });
  return deps;
}
const input = (sops: string[], expectedFiles = sops.length): ReconcileInput => ({ outputS3Uri: 's3://results/import-results/b1/', datastoreId: DS, jobId: 'j1', prefix: PREFIX, expectedKeys: new Set(sops.map(key)), expectedFiles });
const reconcile = (files: Record<string, string>, sops: string[], expectedFiles?: number) => reconcileImportOutput(bucketOf(files).s3, input(sops, expectedFiles));
const rejection = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e as Error);

describe('lambda/import-output: reconcileImportOutput', () => {
  it('finds the job folder whether outputS3Uri already ends with it or not', () => {
    const want = { bucket: 'results', prefix: 'import-results/b1/ds-DicomImport-j1/' };
    expect(outputFolderOf('s3://results/import-results/b1/', 'ds', 'j1')).to.deep.equal(want);
    expect(outputFolderOf('s3://results/import-results/b1', 'ds', 'j1')).to.deep.equal(want);
    expect(outputFolderOf('s3://results/import-results/b1/ds-DicomImport-j1/', 'ds', 'j1')).to.deep.equal(want);
  });

  it('maps inputFile given as s3:// URI, bucket key or prefix-relative path to the same staging key', () => {
    for (const f of ['s3://staging/incoming/b1/1.2.dcm', 'incoming/b1/1.2.dcm', '1.2.dcm']) expect(stagingKeyOf(f, PREFIX)).to.equal('incoming/b1/1.2.dcm');
  });

  it('reads success and failure lines that reconcile with the summary and the manifest', async () => {
    // Act
    const out = await reconcile({
      [`${FOLDER}job-output-manifest.json`]: summary(counts(3, 2, 1, 0)),
      [`${FOLDER}SUCCESS/success.ndjson`]: nd([ok('1'), ok('2', false, 'b'.repeat(32))]),
      [`${FOLDER}FAILURE/failure.ndjson`]: nd([bad('3')]),
    }, ['1', '2', '3']);
    // Assess
    expect(out.succeeded.map((s) => [s.key, s.isPrimary])).to.deep.equal([[key('1'), true], [key('2'), false]]);
    expect(out.failed.map((f) => [f.key, f.exceptionType, f.server])).to.deep.equal([[key('3'), 'InvalidDICOMFile', false]]);
  });

  it('reads every ndjson object of a folder, not one assumed file name', async () => {
    const out = await reconcile({
      [`${FOLDER}job-output-manifest.json`]: summary(counts(3, 3, 0, 0)),
      [`${FOLDER}SUCCESS/success.ndjson`]: nd([ok('1')]),
      [`${FOLDER}SUCCESS/success_2.ndjson`]: nd([ok('2'), ok('3')]),
    }, ['1', '2', '3']);
    expect(out.succeeded.map((s) => s.key)).to.deep.equal([key('1'), key('2'), key('3')]);
  });

  it('keeps warning lines apart: a file in success and warning keeps its success data and gains the codes', async () => {
    // Prepare
    const deps = bucketOf({
      [`${FOLDER}job-output-manifest.json`]: summary(counts(1, 1, 0, 0)),
      [`${FOLDER}SUCCESS/success.ndjson`]: nd([ok('1')]),
      // A warning line without an image set id must not blank the success line's.
      [`${FOLDER}WARNING/warning.ndjson`]: nd([{ inputFile: uri('1'), warnings: [{ reasonCode: '0xB000', type: 'COERCION', message: 'coerced' }] }]),
    });
    const manifest = [{ key: key('1'), sopInstanceUid: '1' } as ManifestObject];
    // Act
    const out = await reconcileImportOutput(deps.s3, input(['1']));
    const [o] = instanceOutcomes(manifest, out, true);
    // Assess
    expect(o).to.deep.include({ status: 'IMPORTED_WITH_WARNINGS', imageSetId: 'a'.repeat(32), isPrimary: true });
    expect(o!.warnings!.map((w) => w.reasonCode)).to.deep.equal(['0xB000']);
  });

  it('accepts a warning-only file (imported, counted by numberOfImportedFiles either way)', async () => {
    for (const imported of [1, 2]) {
      const out = await reconcile({
        [`${FOLDER}job-output-manifest.json`]: summary(counts(2, imported, 0, 0)),
        [`${FOLDER}SUCCESS/success.ndjson`]: nd([ok('1')]),
        [`${FOLDER}WARNING/warning.ndjson`]: nd([warn('2')]),
      }, ['1', '2']);
      const outcomes = instanceOutcomes([{ key: key('1') }, { key: key('2') }] as ManifestObject[], out, true);
      expect(outcomes.map((o) => [o.status, o.imageSetId])).to.deep.equal([['IMPORTED', 'a'.repeat(32)], ['IMPORTED_WITH_WARNINGS', 'a'.repeat(32)]]);
    }
  });

  it('classes server-side failures by the summary count: RETRYING while attempts remain, else FAILED', async () => {
    const files = {
      [`${FOLDER}job-output-manifest.json`]: summary(counts(2, 0, 1, 1)),
      [`${FOLDER}FAILURE/failure.ndjson`]: nd([bad('1'), bad('2', 'InternalServerException')]),
    };
    const out = await reconcile(files, ['1', '2']);
    const objs = [{ key: key('1') }, { key: key('2') }] as ManifestObject[];
    expect(instanceOutcomes(objs, out, true).map((o) => o.status)).to.deep.equal(['FAILED', 'RETRYING']);
    expect(instanceOutcomes(objs, out, false).map((o) => o.status)).to.deep.equal(['FAILED', 'FAILED']);
  });

  it('marks a success line with isPrimary false IMPORTED_NON_PRIMARY', async () => {
    const out = await reconcile({ [`${FOLDER}job-output-manifest.json`]: summary(counts(1, 1, 0, 0)), [`${FOLDER}SUCCESS/success.ndjson`]: nd([ok('1', false, 'c'.repeat(32))]) }, ['1']);
    expect(instanceOutcomes([{ key: key('1') }] as ManifestObject[], out, true)[0]).to.deep.include({ status: 'IMPORTED_NON_PRIMARY', imageSetId: 'c'.repeat(32), isPrimary: false });
  });

  describe('fails closed', () => {
    const cases: [string, Record<string, string>, RegExp][] = [
      ['a missing success file (summary says 2 imported)', { [`${FOLDER}job-output-manifest.json`]: summary(counts(2, 2, 0, 0)) }, /numberOfScannedFiles 2 != 0 files reported/],
      ['a count that disagrees with the lines', { [`${FOLDER}job-output-manifest.json`]: summary(counts(3, 2, 0, 0)), [`${FOLDER}SUCCESS/success.ndjson`]: nd([ok('1'), ok('2')]) }, /numberOfScannedFiles 3 != 2 files reported/],
      ['a summary without the counts (unknown layout)', { [`${FOLDER}job-output-manifest.json`]: JSON.stringify({ jobSummary: { jobId: 'j1' } }) }, /unknown layout/],
      ['an inputFile that is not a key of the batch', { [`${FOLDER}job-output-manifest.json`]: summary(counts(2, 2, 0, 0)), [`${FOLDER}SUCCESS/success.ndjson`]: nd([ok('1'), { ...ok('2'), inputFile: 's3://staging/elsewhere/2.dcm' }]) }, /is not an object of this batch/],
      ['a server-error count the lines do not show', { [`${FOLDER}job-output-manifest.json`]: summary(counts(2, 1, 0, 1)), [`${FOLDER}SUCCESS/success.ndjson`]: nd([ok('1')]), [`${FOLDER}FAILURE/failure.ndjson`]: nd([bad('2', 'SomethingNew')]) }, /read as server errors != numberOfFilesWithServerError 1/],
      ['a success line without isPrimary', { [`${FOLDER}job-output-manifest.json`]: summary(counts(2, 2, 0, 0)), [`${FOLDER}SUCCESS/success.ndjson`]: nd([ok('1'), { inputFile: uri('2'), importResponse: { imageSetId: 'a'.repeat(32) } }]) }, /no importResponse.imageSetId \/ isPrimary/],
      ['a file reported imported and failed', { [`${FOLDER}job-output-manifest.json`]: summary(counts(2, 2, 1, 0)), [`${FOLDER}SUCCESS/success.ndjson`]: nd([ok('1'), ok('2')]), [`${FOLDER}FAILURE/failure.ndjson`]: nd([bad('2')]) }, /both imported and failed/],
      ['a line that is not JSON', { [`${FOLDER}job-output-manifest.json`]: summary(counts(1, 1, 0, 0)), [`${FOLDER}SUCCESS/success.ndjson`]: '{"inputFile": \n' }, /line 1 is not JSON/],
    ];
    for (const [name, files, message] of cases) {
      it(`on ${name}`, async () => {
        const err = await rejection(reconcile(files, ['1', '2']));
        expect(err).to.be.instanceOf(ImportOutputInvalidError);
        expect(err.message).to.match(message);
      });
    }

    it('on fewer files scanned than the job was given', async () => {
      const err = await rejection(reconcile({ [`${FOLDER}job-output-manifest.json`]: summary(counts(1, 1, 0, 0)), [`${FOLDER}SUCCESS/success.ndjson`]: nd([ok('1')]) }, ['1', '2']));
      expect(err.message).to.match(/numberOfScannedFiles 1 != 2 files given to the job/);
    });

    it('says "not ready" (retried) while job-output-manifest.json is missing', async () => {
      expect(await rejection(reconcile({}, ['1']))).to.be.instanceOf(ImportOutputNotReadyError);
    });
  });
});

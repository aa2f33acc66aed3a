import { expect } from 'chai';
import { outputFolderOf, stagingKeyOf } from '../../lambda/import-output';
import { instanceOutcomes } from '../../lambda/instance-outcomes';
import type { ManifestObject } from '../../lambda/batch-manifest';

describe('lambda/import-output', () => {
  it('finds the job folder whether outputS3Uri already ends with it or not', () => {
    const want = { bucket: 'results', prefix: 'import-results/b1/ds-DicomImport-j1/' };
    expect(outputFolderOf('s3://results/import-results/b1/', 'ds', 'j1')).to.deep.equal(want);
    expect(outputFolderOf('s3://results/import-results/b1', 'ds', 'j1')).to.deep.equal(want);
    expect(outputFolderOf('s3://results/import-results/b1/ds-DicomImport-j1/', 'ds', 'j1')).to.deep.equal(want);
  });

  it('maps inputFile given as s3:// URI, bucket key or prefix-relative path to the same staging key', () => {
    const prefix = 'incoming/b1/';
    for (const f of ['s3://staging/incoming/b1/1.2.dcm', 'incoming/b1/1.2.dcm', '1.2.dcm']) expect(stagingKeyOf(f, prefix)).to.equal('incoming/b1/1.2.dcm');
  });

  it('records an instance the output never mentions as FAILED NotReportedByImport', () => {
    // Prepare
    const obj = (sop: string): ManifestObject => ({ key: `incoming/b1/${sop}.dcm`, sopInstanceUid: sop, sopClassUid: 'c', studyInstanceUid: 's', seriesInstanceUid: 'se', transferSyntaxUid: 't', callingAeTitle: 'A', bytes: 1, storedAt: '' });
    const output = { folder: { bucket: 'r', prefix: 'p/' }, summary: {}, warned: [], imported: [{ inputFile: 's3://staging/incoming/b1/1.dcm', imageSetId: 'is1', isPrimary: true }], failed: [{ inputFile: 's3://staging/incoming/b1/2.dcm', exceptionType: 'InvalidDICOMFile', message: 'bad' }] };
    // Act
    const out = instanceOutcomes([obj('1'), obj('2'), obj('3')], output, 'incoming/b1/');
    // Assess
    expect(out.map((o) => [o.sopInstanceUid, o.status, o.imageSetId ?? o.failure?.exceptionType])).to.deep.equal([['1', 'IMPORTED', 'is1'], ['2', 'FAILED', 'InvalidDICOMFile'], ['3', 'FAILED', 'NotReportedByImport']]);
  });
});

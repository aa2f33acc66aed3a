import { expect } from 'chai';
import { parseBatchManifest } from '../../lambda/batch-manifest';
import { clientTokenOf } from '../../lambda/batch-id';
import { loadConfig } from '../../lambda/config';
import { BatchValidationError, ConfigError } from '../../lambda/errors';
import { TEST_ENV } from './test-deps';

const ID = '20261123T112233Z-3f9a1c0e-000001';
const manifest = (over: Record<string, unknown> = {}) => JSON.stringify({
  schemaVersion: 1, batchId: ID, prefix: `incoming/${ID}/`, sealReason: 'quiet', openedAt: 'x', sealedAt: 'y', count: 1, bytes: 5,
  callingAeTitles: ['A'], studyInstanceUids: ['1'], objects: [{ key: `incoming/${ID}/1.2.dcm`, sopInstanceUid: '1.2', bytes: 5 }], ...over,
});

describe('lambda/config and batch manifest', () => {
  it('names every wrong environment variable at once', () => {
    const err = (() => { try { loadConfig({ ...TEST_ENV, DATASTORE_ID: 'nope', MAX_CONCURRENT_JOBS: '500', TABLE_NAME: undefined }); } catch (e) { return e; } })();
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as Error).message).to.include('DATASTORE_ID').and.include('MAX_CONCURRENT_JOBS').and.include('TABLE_NAME');
  });

  it('accepts a manifest of the contract', () => {
    expect(parseBatchManifest(manifest(), ID).count).to.equal(1);
  });

  it('refuses a manifest whose count and bytes disagree with its objects, listing both', () => {
    const err = (() => { try { parseBatchManifest(manifest({ count: 2, bytes: 9 }), ID); } catch (e) { return e; } })();
    expect(err).to.be.instanceOf(BatchValidationError);
    expect((err as Error).message).to.include('count 2').and.include('bytes 9');
  });

  it('derives a clientToken valid for HealthImaging, new only for a redrive', () => {
    expect(clientTokenOf(ID)).to.equal(ID);
    expect(clientTokenOf(ID, 2)).to.equal(`${ID}.r2`).and.match(/^[A-Za-z0-9._-]{1,64}$/);
  });
});

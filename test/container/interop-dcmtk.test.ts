import { expect } from 'chai';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import type { BatchManifest } from '../../container/src/storage/batcher';
import { buildCorpus, type CorpusFile } from '../helpers/corpus';
import { datasetBytes, dcmtk, runDcmtk, transferSyntaxOf } from '../helpers/dcmtk';
import { sealedManifests, startScp, tempDir, type InProcessScp } from '../helpers/scp';

const PROPOSE: Record<string, string> = {
  '1.2.840.10008.1.2': '-xi',
  '1.2.840.10008.1.2.2': '-xb',
  '1.2.840.10008.1.2.1.99': '-xd',
  '1.2.840.10008.1.2.4.50': '-xy',
  '1.2.840.10008.1.2.4.70': '-xs',
  '1.2.840.10008.1.2.4.80': '-xt',
  '1.2.840.10008.1.2.5': '-xr',
};

/**
 * The dataset bytes storescu puts on the wire for a corpus file: the file's,
 * except that a deflated stream of odd length is padded with one zero byte
 * (PS3.5 A.5), which a file written by dcmconv may lack.
 */
function sentBytes(c: CorpusFile): Buffer {
  const b = datasetBytes(c.file);
  return c.transferSyntax === '1.2.840.10008.1.2.1.99' && b.length % 2 === 1 ? Buffer.concat([b, Buffer.alloc(1)]) : b;
}

describe('interop with dcmtk (storescu / echoscu → SCP, file sink)', function () {
  this.timeout(120_000);
  let corpus: CorpusFile[];
  let scp: InProcessScp;

  before(async () => {
    corpus = await buildCorpus(tempDir('corpus-'));
    scp = await startScp({ BATCH_QUIET_SECONDS: '3600' });
  });
  after(async () => scp?.stop());

  it('builds a corpus covering every required transfer syntax', () => {
    expect(corpus.map((c) => c.transferSyntax)).to.include.members([
      '1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.1.99',
      '1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.5',
    ]);
  });

  it('answers C-ECHO from echoscu', async () => {
    const r = await runDcmtk('echoscu', ['-aec', 'STORESCP', '127.0.0.1', String(scp.port)]);
    expect(r.code, r.stderr).to.equal(0);
    expect(scp.app.metrics.echoes.get()).to.be.at.least(1);
  });

  it('stores every corpus file as a valid Part-10 file whose dataset bytes equal what was sent', async () => {
    // storescu proposes a compressed transfer syntax only when told which one.
    const groups = new Map<string, string[]>();
    for (const c of corpus) groups.set(PROPOSE[c.transferSyntax] ?? '', [...(groups.get(PROPOSE[c.transferSyntax] ?? '') ?? []), c.file]);
    for (const [option, files] of groups) {
      const r = await runDcmtk('storescu', [...(option ? [option] : []), '-aec', 'STORESCP', '-aet', 'MODALITY1', '127.0.0.1', String(scp.port), ...files]);
      expect(r.code, `${option}: ${r.stderr}`).to.equal(0);
      expect(r.stderr, option).to.not.match(/^[EW]:/m);
    }
    const batches = readdirSync(path.join(scp.dir, 'incoming'));
    expect(batches).to.have.length(1);
    for (const c of corpus) {
      const stored = path.join(scp.dir, 'incoming', batches[0], `${c.sopInstanceUid}.dcm`);
      expect(existsSync(stored), c.name).to.equal(true);
      expect(await transferSyntaxOf(stored), c.name).to.equal(c.transferSyntax);
      expect(datasetBytes(stored).equals(sentBytes(c)), `${c.name}: dataset bytes differ`).to.equal(true);
      const dump = await dcmtk('dcmdump', ['-M', '+P', '0002,0002', '+P', '0002,0003', '+P', '0002,0016', stored]);
      expect(dump, c.name).to.contain(c.sopInstanceUid).and.to.contain('MODALITY1');
      await dcmtk('dcmdump', ['-q', stored]);
    }
  });

  it('seals the batch on shutdown with every stored instance and its study', async () => {
    await scp.stop();
    const manifests = sealedManifests<BatchManifest>(scp.dir);
    expect(manifests).to.have.length(1);
    const m = manifests[0];
    expect(m.count).to.equal(corpus.length);
    expect(m.sealReason).to.equal('shutdown');
    expect(m.callingAeTitles).to.deep.equal(['MODALITY1']);
    expect(m.studyInstanceUids).to.have.members([...new Set(corpus.map((c) => c.studyInstanceUid))]);
    expect(m.objects.map((o) => o.sopInstanceUid)).to.have.members(corpus.map((c) => c.sopInstanceUid));
  });
});

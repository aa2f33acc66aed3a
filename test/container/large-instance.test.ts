import { expect } from 'chai';
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { SOP, testUid } from '../helpers/corpus';
import { datasetBytes, runDcmtk } from '../helpers/dcmtk';
import { writeTestInstance } from '../helpers/dicom-writer';
import { spawnScp, tempDir } from '../helpers/scp';
import { createHash } from 'node:crypto';
import { peakRss } from '../helpers/proc';


const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('a 100 MB instance', function () {
  this.timeout(180_000);

  it('is stored intact while the SCP peak RSS grows by far less than its size', async () => {
    const file = path.join(tempDir('big-'), 'big.dcm');
    const uid = testUid(10, process.pid);
    // 100 frames of 512 x 1024 x 16 bit = 100 MiB of pixel data.
    await writeTestInstance(file, { sopClassUid: SOP.CT, sopInstanceUid: uid, studyInstanceUid: testUid(10, 1), seriesInstanceUid: testUid(10, 2), modality: 'CT', rows: 512, columns: 1024, frames: 100 });
    expect(statSync(file).size).to.be.above(100 * 1024 * 1024);

    const scp = await spawnScp({ BATCH_QUIET_SECONDS: '3600' });
    try {
      await scp.waitForLog('scp_started');
      // Warm up the code paths (first association, first store) before the baseline.
      const small = path.join(tempDir('small-'), 'small.dcm');
      await writeTestInstance(small, { sopClassUid: SOP.CT, sopInstanceUid: testUid(10, process.pid, 1), studyInstanceUid: testUid(10, 1), seriesInstanceUid: testUid(10, 2), modality: 'CT', rows: 256, columns: 256 });
      expect((await runDcmtk('storescu', ['-aec', 'STORESCP', '127.0.0.1', String(scp.port), small])).code).to.equal(0);
      const before = peakRss(scp.child.pid as number);

      const r = await runDcmtk('storescu', ['-aec', 'STORESCP', '127.0.0.1', String(scp.port), file], 150_000);
      expect(r.code, r.stderr).to.equal(0);
      const growth = peakRss(scp.child.pid as number) - before;
      const stored = (await scp.waitForLog('instance_stored', 5000, (l) => l.sopInstanceUid === uid)) as { batchId: string; bytes: number };
      const storedFile = path.join(scp.dir, 'incoming', stored.batchId, `${uid}.dcm`);
      expect(sha(datasetBytes(storedFile))).to.equal(sha(datasetBytes(file)));
      // Bounded memory: reads go into recycled 256 KiB slabs and the file writer holds at most
      // ~1 MiB in flight, so growth stays far below the instance; buffering it whole would exceed 100 MiB.
      expect(growth, `peak RSS grew by ${(growth / 1048576).toFixed(1)} MiB`).to.be.below(48 * 1024 * 1024);
      console.log(`      peak RSS growth for a ${(statSync(file).size / 1048576).toFixed(0)} MiB instance: ${(growth / 1048576).toFixed(1)} MiB`);
    } finally {
      scp.kill('SIGKILL');
      await scp.exited;
    }
  });
});

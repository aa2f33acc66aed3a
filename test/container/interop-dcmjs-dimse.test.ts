import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { Client, log, requests } from 'dcmjs-dimse';
import { SOP, testUid } from '../helpers/corpus';
import { datasetBytes, dcmtk, sopInstanceUidOf } from '../helpers/dcmtk';
import { writeTestInstance } from '../helpers/dicom-writer';
import { startScp, tempDir } from '../helpers/scp';

/** Sends requests with dcmjs-dimse's Client and resolves with each response status. */
function send(port: number, reqs: InstanceType<typeof requests.CEchoRequest | typeof requests.CStoreRequest>[]): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const statuses: number[] = [];
    for (const r of reqs) {
      r.on('response', (rsp: { getStatus(): number }) => statuses.push(rsp.getStatus()));
      client.addRequest(r);
    }
    client.on('networkError', (e: Error) => reject(e));
    client.on('associationRejected', (r: unknown) => reject(new Error(`rejected ${JSON.stringify(r)}`)));
    client.on('closed', () => resolve(statuses));
    client.send('127.0.0.1', port, 'DCMJSSCU', 'STORESCP');
  });
}

describe('interop with a second DICOM stack (dcmjs-dimse Client → SCP)', function () {
  this.timeout(60_000);
  before(() => log.setLevel('silent'));

  it('answers C-ECHO and stores its C-STORE as a valid Part-10 file with the UIDs and pixel data sent', async () => {
    const scp = await startScp({ BATCH_QUIET_SECONDS: '3600' });
    try {
      const file = path.join(tempDir('dcmjs-'), 'mr.dcm');
      const uid = testUid(11, process.pid);
      await writeTestInstance(file, { sopClassUid: SOP.MR, sopInstanceUid: uid, studyInstanceUid: testUid(11, 1), seriesInstanceUid: testUid(11, 2), modality: 'MR', rows: 128, columns: 128 });
      const statuses = await send(scp.port, [new requests.CEchoRequest(), new requests.CStoreRequest(file)]);
      expect(statuses).to.deep.equal([0, 0]);
      const batch = readdirSync(path.join(scp.dir, 'incoming'))[0];
      const stored = path.join(scp.dir, 'incoming', batch, `${uid}.dcm`);
      expect(datasetBytes(stored).length).to.be.above(128 * 128 * 2);
      // dcmjs-dimse re-encodes the dataset it read, so compare content, not bytes.
      expect(await sopInstanceUidOf(stored)).to.equal(uid);
      expect(await dcmtk('dcmdump', ['+P', '7fe0,0010', stored])).to.match(/# 32768, 1 PixelData/);
      expect(scp.app.metrics.instancesStored.get()).to.equal(1);
      expect(scp.app.metrics.echoes.get()).to.equal(1);
    } finally {
      await scp.stop();
    }
  });
});

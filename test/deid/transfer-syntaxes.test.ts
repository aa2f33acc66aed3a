import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { writeTestInstance } from '../helpers/dicom-writer';
import { CT_IMAGE_STORAGE } from '../helpers/dicom-fixtures';
import { run, dump } from './dcmdump';
import { deid } from './run';
import { CT, EXPLICIT_LE, part10, type El } from './dataset-builder';

/** Offset of the dataset (after the file meta group, from its group length). */
const datasetStart = (b: Buffer): number => 144 + b.readUInt32LE(140);

/** The bytes from the top-level pixel data element header to the end (dataset of a deflated file inflated). */
function pixelSuffix(file: Buffer, littleEndian = true): Buffer {
  const ts = /1\.2\.840\.10008\.1\.2\.1\.99/.test(file.subarray(0, datasetStart(file)).toString('latin1'));
  const ds = ts ? inflateRawSync(file.subarray(datasetStart(file))) : file.subarray(datasetStart(file));
  const at = ds.indexOf(Buffer.from(littleEndian ? [0xe0, 0x7f, 0x10, 0x00] : [0x7f, 0xe0, 0x00, 0x10]));
  expect(at).to.be.greaterThan(0);
  return ds.subarray(at);
}

const tsOf = async (b: Buffer): Promise<string> => (await dump(b)).top.get('00020010')?.value ?? '';

/** dciodvfy's Error lines (without values that the de-identification changes). */
async function iodErrors(file: string): Promise<Set<string>> {
  const r = await run('dciodvfy', [file]);
  return new Set(`${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.startsWith('Error')));
}

describe('deid: pixel data and transfer syntaxes (dcmtk, dciodvfy)', function () {
  this.timeout(120_000);
  let dir: string;
  const made = new Map<string, Buffer>();

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'deid-ts-'));
    const base = { sopClassUid: CT_IMAGE_STORAGE, studyInstanceUid: '1.2.826.0.1.3680043.2.1.1', seriesInstanceUid: '1.2.826.0.1.3680043.2.1.2', modality: 'CT', rows: 64, columns: 64 };
    await writeTestInstance(join(dir, 'le16.dcm'), { ...base, sopInstanceUid: '1.2.826.0.1.3680043.2.1.3' });
    await writeTestInstance(join(dir, 'le8.dcm'), { ...base, sopInstanceUid: '1.2.826.0.1.3680043.2.1.4', bitsAllocated: 8 });
    await writeTestInstance(join(dir, 'multi.dcm'), { ...base, sopInstanceUid: '1.2.826.0.1.3680043.2.1.5', frames: 6 });
    const conv: [string, string, string[]][] = [
      ['implicit', 'dcmconv', ['+ti', 'le16.dcm']],
      ['bigendian', 'dcmconv', ['+tb', 'le16.dcm']],
      ['deflated', 'dcmconv', ['+td', 'le16.dcm']],
      ['jpeg-baseline', 'dcmcjpeg', ['+eb', 'le8.dcm']],
      ['jpeg-ls', 'dcmcjpls', ['le16.dcm']],
      ['rle', 'dcmcrle', ['le16.dcm']],
      ['rle-multi', 'dcmcrle', ['multi.dcm']],
    ];
    for (const [name, cmd, args] of conv) {
      const r = await run(cmd, [...args.slice(0, -1), join(dir, args[args.length - 1]), join(dir, `${name}.dcm`)]);
      if (r.code !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
    }
    for (const n of ['le16', 'multi', ...conv.map((c) => c[0])]) made.set(n, await readFile(join(dir, `${n}.dcm`)));
  });

  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  const cases: [string, string, boolean][] = [
    ['Explicit VR Little Endian', 'le16', true],
    ['Implicit VR Little Endian', 'implicit', true],
    ['Explicit VR Big Endian', 'bigendian', false],
    ['Deflated Explicit VR Little Endian (inflated and re-deflated)', 'deflated', true],
    ['JPEG baseline', 'jpeg-baseline', true],
    ['JPEG-LS', 'jpeg-ls', true],
    ['RLE', 'rle', true],
    ['a multi-frame instance (native)', 'multi', true],
    ['a multi-frame instance (RLE, one fragment per frame)', 'rle-multi', true],
  ];
  for (const [label, name, le] of cases) {
    it(`${label}: pixel data byte-identical, transfer syntax unchanged, dcmdump parses, dciodvfy reports no new error`, async function () {
      const input = made.get(name) as Buffer;
      const { out, result } = await deid(input, { dates: 'shift' }, 4096);
      expect(pixelSuffix(out, le).equals(pixelSuffix(input, le))).to.equal(true);
      expect(await tsOf(out)).to.equal(await tsOf(input));
      expect(result.transferSyntaxUid).to.equal((await tsOf(input)).replace(/^=.*$/, result.transferSyntaxUid));
      let f = join(dir, `${name}-out.dcm`);
      let inFile = join(dir, `${name}.dcm`);
      await writeFile(f, out);
      if (name === 'deflated') {
        // dciodvfy's inflater misreads some deflated files, dcmconv's own among them (checked by hand):
        // validate both, inflated by dcmconv, instead.
        for (const g of [f, inFile]) expect((await run('dcmconv', ['+te', g, `${g}.le`])).code).to.equal(0);
        [f, inFile] = [`${f}.le`, `${inFile}.le`];
      }
      const before = await iodErrors(inFile);
      const after = [...(await iodErrors(f))].filter((e) => !before.has(e));
      expect(after).to.deep.equal([]);
    });
  }

  it('a fuller CT keeps dciodvfy quiet about everything the de-identifier touched (Type 1 and 2 attributes stay present)', async function () {
    const els: El[] = [
      { tag: 0x00080008, vr: 'CS', value: 'ORIGINAL\\PRIMARY\\AXIAL' },
      { tag: 0x00080016, vr: 'UI', value: CT },
      { tag: 0x00080018, vr: 'UI', value: '1.2.826.0.1.3680043.2.9.3' },
      { tag: 0x00080020, vr: 'DA', value: '20240315' },
      { tag: 0x00080030, vr: 'TM', value: '101500' },
      { tag: 0x00080050, vr: 'SH', value: 'ACC42' },
      { tag: 0x00080060, vr: 'CS', value: 'CT' },
      { tag: 0x00080070, vr: 'LO', value: 'ACME' },
      { tag: 0x00080080, vr: 'LO', value: 'General Hospital' },
      { tag: 0x00080090, vr: 'PN', value: 'WHO^DOCTOR' },
      { tag: 0x00081010, vr: 'SH', value: 'CT01' },
      { tag: 0x00100010, vr: 'PN', value: 'DOE^JANE' },
      { tag: 0x00100020, vr: 'LO', value: 'MRN123' },
      { tag: 0x00100030, vr: 'DA', value: '19700101' },
      { tag: 0x00100040, vr: 'CS', value: 'F' },
      { tag: 0x00180050, vr: 'DS', value: '1.0' },
      { tag: 0x00180060, vr: 'DS', value: '120' },
      { tag: 0x00181000, vr: 'LO', value: 'SN-998877' },
      { tag: 0x00185100, vr: 'CS', value: 'HFS' },
      { tag: 0x0020000d, vr: 'UI', value: '1.2.826.0.1.3680043.2.9.1' },
      { tag: 0x0020000e, vr: 'UI', value: '1.2.826.0.1.3680043.2.9.2' },
      { tag: 0x00200010, vr: 'SH', value: 'S1' },
      { tag: 0x00200011, vr: 'IS', value: '1' },
      { tag: 0x00200013, vr: 'IS', value: '1' },
      { tag: 0x00200032, vr: 'DS', value: '0\\0\\0' },
      { tag: 0x00200037, vr: 'DS', value: '1\\0\\0\\0\\1\\0' },
      { tag: 0x00200052, vr: 'UI', value: '1.2.826.0.1.3680043.2.9.4' },
      { tag: 0x00201040, vr: 'LO', value: '' },
      { tag: 0x00280002, vr: 'US', value: Buffer.from([1, 0]) },
      { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
      { tag: 0x00280010, vr: 'US', value: Buffer.from([4, 0]) },
      { tag: 0x00280011, vr: 'US', value: Buffer.from([4, 0]) },
      { tag: 0x00280030, vr: 'DS', value: '0.5\\0.5' },
      { tag: 0x00280100, vr: 'US', value: Buffer.from([16, 0]) },
      { tag: 0x00280101, vr: 'US', value: Buffer.from([12, 0]) },
      { tag: 0x00280102, vr: 'US', value: Buffer.from([11, 0]) },
      { tag: 0x00280103, vr: 'US', value: Buffer.from([0, 0]) },
      { tag: 0x00281052, vr: 'DS', value: '-1024' },
      { tag: 0x00281053, vr: 'DS', value: '1' },
      { tag: 0x7fe00010, vr: 'OW', value: Buffer.alloc(32, 3) },
    ];
    const input = part10(els, EXPLICIT_LE);
    const inFile = join(dir, 'full.dcm');
    await writeFile(inFile, input);
    for (const dates of ['remove', 'shift', 'keep-year'] as const) {
      const f = join(dir, `full-${dates}.dcm`);
      await writeFile(f, (await deid(input, { dates })).out);
      const before = await iodErrors(inFile);
      expect([...(await iodErrors(f))].filter((e) => !before.has(e)), dates).to.deep.equal([]);
    }
  });
});

import { copyFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { dcmtk, sopInstanceUidOf, transferSyntaxOf } from './dcmtk';
import { writeTestInstance, type TestInstance } from './dicom-writer';

export const SOP = Object.freeze({
  CT: '1.2.840.10008.5.1.4.1.1.2',
  MR: '1.2.840.10008.5.1.4.1.1.4',
  SC: '1.2.840.10008.5.1.4.1.1.7',
  US_MULTIFRAME: '1.2.840.10008.5.1.4.1.1.3.1',
  DX: '1.2.840.10008.5.1.4.1.1.1.1',
});

export interface CorpusFile {
  readonly name: string;
  readonly file: string;
  readonly transferSyntax: string;
  readonly sopInstanceUid: string;
  readonly sopClassUid: string;
  readonly studyInstanceUid: string;
}

const ROOT = '1.2.826.0.1.3680043.9.7433';

/** A unique, deterministic-per-run UID under a test root. */
export function testUid(...parts: (string | number)[]): string {
  return [ROOT, ...parts].join('.');
}

function inst(n: number, sopClassUid: string, modality: string, extra: Partial<TestInstance> = {}): TestInstance {
  return { sopClassUid, sopInstanceUid: testUid(process.pid, 1, n), studyInstanceUid: testUid(process.pid, 2, n % 3), seriesInstanceUid: testUid(process.pid, 3, n % 3), modality, rows: 64, columns: 64, ...extra };
}

/**
 * Builds the interop corpus in `dir` with dcmtk's own tools: implicit /
 * explicit little endian, explicit big endian, deflated, JPEG baseline,
 * JPEG lossless, JPEG-LS, RLE; CT, MR, SC, DX and a multi-frame US.
 */
export async function buildCorpus(dir: string): Promise<CorpusFile[]> {
  const base = async (n: number, t: TestInstance): Promise<string> => {
    const f = path.join(dir, `base-${n}.dcm`);
    await writeTestInstance(f, t);
    return f;
  };
  const jobs: [string, TestInstance, string | undefined, string[]][] = [
    ['ct-explicit-le', inst(1, SOP.CT, 'CT'), undefined, []],
    ['mr-implicit-le', inst(2, SOP.MR, 'MR'), 'dcmconv', ['+ti']],
    ['ct-explicit-be', inst(3, SOP.CT, 'CT'), 'dcmconv', ['+tb']],
    ['mr-deflated', inst(4, SOP.MR, 'MR'), 'dcmconv', ['+td']],
    ['sc-jpeg-baseline', inst(5, SOP.SC, 'OT', { bitsAllocated: 8 }), 'dcmcjpeg', ['+eb']],
    ['ct-jpeg-lossless', inst(6, SOP.CT, 'CT'), 'dcmcjpeg', ['+e1']],
    ['dx-jpeg-ls', inst(7, SOP.DX, 'DX'), 'dcmcjpls', []],
    ['mr-rle', inst(8, SOP.MR, 'MR'), 'dcmcrle', []],
    ['us-multiframe', inst(9, SOP.US_MULTIFRAME, 'US', { bitsAllocated: 8, frames: 12 }), undefined, []],
    ['us-multiframe-rle', inst(10, SOP.US_MULTIFRAME, 'US', { bitsAllocated: 8, frames: 5 }), 'dcmcrle', []],
  ];
  const out: CorpusFile[] = [];
  for (const [name, t, tool, args] of jobs) {
    const src = await base(out.length, t);
    const file = path.join(dir, `${name}.dcm`);
    if (tool) await dcmtk(tool, [...args, src, file]);
    else copyFileSync(src, file);
    out.push({ name, file, transferSyntax: await transferSyntaxOf(file), sopInstanceUid: await sopInstanceUidOf(file), sopClassUid: t.sopClassUid, studyInstanceUid: t.studyInstanceUid });
  }
  // One made by dump2dcm from a text dump, as a sender without pixel data would.
  const dump = path.join(dir, 'sr.dump');
  const srUid = testUid(process.pid, 1, 99);
  writeFileSync(dump, [
    '(0008,0016) UI =BasicTextSRStorage',
    `(0008,0018) UI [${srUid}]`,
    '(0008,0060) CS [SR]',
    `(0020,000d) UI [${testUid(process.pid, 2, 0)}]`,
    `(0020,000e) UI [${testUid(process.pid, 3, 99)}]`,
    '(0040,a040) CS [CONTAINER]',
  ].join('\n'));
  const sr = path.join(dir, 'sr-dump2dcm.dcm');
  await dcmtk('dump2dcm', ['-g', '+te', dump, sr]);
  out.push({ name: 'sr-dump2dcm', file: sr, transferSyntax: await transferSyntaxOf(sr), sopInstanceUid: srUid, sopClassUid: '1.2.840.10008.5.1.4.1.1.88.11', studyInstanceUid: testUid(process.pid, 2, 0) });
  return out;
}

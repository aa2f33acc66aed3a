import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FixtureInstance {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly sopInstanceUid: string;
  /** Default CT Image Storage. */
  readonly sopClassUid?: string;
  readonly patientId?: string;
  /** Side of the square 8-bit image. Default 8. */
  readonly size?: number;
}

export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
export const EXPLICIT_LE = '1.2.840.10008.1.2.1';

/** Writes a real Part-10 file (explicit VR little endian) with dcmtk's dump2dcm; returns its path. */
export async function writeDicomFixture(dir: string, inst: FixtureInstance): Promise<string> {
  const size = inst.size ?? 8;
  const pixels = Array.from({ length: size * size }, (_, i) => (i % 256).toString(16).padStart(2, '0')).join('\\');
  const dump = [
    `(0008,0016) UI [${inst.sopClassUid ?? CT_IMAGE_STORAGE}]`,
    `(0008,0018) UI [${inst.sopInstanceUid}]`,
    '(0008,0060) CS [CT]',
    '(0010,0010) PN [Test^Patient]',
    `(0010,0020) LO [${inst.patientId ?? 'PID-1'}]`,
    `(0020,000d) UI [${inst.studyInstanceUid}]`,
    `(0020,000e) UI [${inst.seriesInstanceUid}]`,
    '(0020,0013) IS [1]',
    '(0028,0002) US 1',
    '(0028,0004) CS [MONOCHROME2]',
    `(0028,0010) US ${size}`,
    `(0028,0011) US ${size}`,
    '(0028,0100) US 8',
    '(0028,0101) US 8',
    '(0028,0102) US 7',
    '(0028,0103) US 0',
    `(7fe0,0010) OB ${pixels}`,
  ].join('\n');
  const txt = join(dir, `${inst.sopInstanceUid}.txt`);
  const out = join(dir, `${inst.sopInstanceUid}.dcm`);
  await writeFile(txt, `${dump}\n`);
  await new Promise<void>((resolve, reject) => {
    execFile('dump2dcm', ['+te', txt, out], { timeout: 15_000, env: { ...process.env, TCP_NODELAY: '1' } }, (err, _o, errOut) => (err ? reject(new Error(`dump2dcm failed: ${errOut || err.message}`)) : resolve()));
  });
  return out;
}

/** The bytes of a fixture (writes it in a fresh temp folder). */
export async function dicomFixtureBytes(inst: FixtureInstance): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'dcm-fixture-'));
  return readFile(await writeDicomFixture(dir, inst));
}

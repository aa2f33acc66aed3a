import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The attributes the stand-in groups and reports by. */
export interface DicomAttributes {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly sopInstanceUid: string;
  readonly sopClassUid: string;
  readonly patientId: string;
  /** (0002,0010) of the meta header. */
  readonly transferSyntaxUid: string;
}

/** Why a file was refused, in the shape of a FAILURE ndjson exception. */
export class NotDicomError extends Error {
  override readonly name = 'NotDicomError';
  readonly code = 'NOT_DICOM';
}

const TAGS: Record<string, keyof DicomAttributes> = {
  '0020,000d': 'studyInstanceUid', '0020,000e': 'seriesInstanceUid', '0008,0018': 'sopInstanceUid',
  '0008,0016': 'sopClassUid', '0010,0020': 'patientId', '0002,0010': 'transferSyntaxUid',
};

/**
 * Parses a Part-10 file with dcmtk's dcmdump (`+fo`: a file without the
 * DICM preamble and meta header is refused, as HealthImaging refuses it).
 * Study, series and SOP Instance UIDs are required, like the service.
 */
export async function readDicomAttributes(bytes: Uint8Array): Promise<DicomAttributes> {
  const dir = await mkdtemp(join(tmpdir(), 'ahi-stand-in-'));
  const file = join(dir, 'in.dcm');
  try {
    await writeFile(file, bytes);
    const args = ['+fo', '-Un', '-s', ...Object.keys(TAGS).flatMap((t) => ['+P', t]), file];
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile('dcmdump', args, { timeout: 15_000, maxBuffer: 1 << 20, env: { ...process.env, TCP_NODELAY: '1' } }, (err, out, errOut) => {
        if (err) reject(new NotDicomError(`not a readable DICOM Part-10 file: ${(errOut || err.message).trim().split('\n')[0]}`));
        else resolve(out);
      });
    });
    const found: Partial<Record<keyof DicomAttributes, string>> = {};
    for (const line of stdout.split('\n')) {
      const m = /^\(([0-9a-f]{4},[0-9a-f]{4})\) \w\w \[([^\]]*)\]/i.exec(line.trim());
      const field = m ? TAGS[m[1]!.toLowerCase()] : undefined;
      if (field && found[field] === undefined) found[field] = m![2]!.trim();
    }
    const missing = (['studyInstanceUid', 'seriesInstanceUid', 'sopInstanceUid'] as const).filter((f) => !found[f]);
    if (missing.length) throw new NotDicomError(`required attributes missing: ${missing.join(', ')}`);
    return { studyInstanceUid: found.studyInstanceUid!, seriesInstanceUid: found.seriesInstanceUid!, sopInstanceUid: found.sopInstanceUid!, sopClassUid: found.sopClassUid ?? '', patientId: found.patientId ?? '', transferSyntaxUid: found.transferSyntaxUid ?? '' };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

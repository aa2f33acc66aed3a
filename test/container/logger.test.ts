import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { createLogger, PHI_KEYS } from '../../container/src/logger';
import { runDcmtk } from '../helpers/dcmtk';
import { writeTestInstance } from '../helpers/dicom-writer';
import { REPO_ROOT, startScp, tempDir } from '../helpers/scp';
import { createNullSink } from '../../container/src/storage/null-sink';

function capture(level: 'debug' | 'info' | 'warn' | 'error' = 'debug', base?: Record<string, unknown>) {
  const lines: string[] = [];
  const logger = createLogger(level, { write: (s: string) => lines.push(s) }, base);
  const parsed = () => lines.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines, parsed };
}

describe('container logger (pino)', () => {
  it('writes one JSON line per event with level name, ISO time, event name, base and fields', () => {
    const { logger, lines, parsed } = capture('debug', { worker: 1 });
    logger.info('instance_stored', { sopInstanceUid: '1.2.3', bytes: 524288, durationMs: 4 });
    expect(lines.join('').split('\n').filter(Boolean)).to.have.length(1);
    const [line] = parsed();
    expect(line).to.include({ level: 'info', event: 'instance_stored', sopInstanceUid: '1.2.3', bytes: 524288, durationMs: 4, worker: 1 });
    expect(line.time).to.be.a('string');
    expect(new Date(line.time as string).toISOString()).to.equal(line.time);
    expect(line).to.not.have.any.keys('msg', 'pid', 'hostname');
  });

  it('drops events below LOG_LEVEL and keeps the rest', () => {
    const { logger, parsed } = capture('warn');
    logger.debug('echo');
    logger.info('association_accepted');
    logger.warn('association_aborted', { reason: 'peer-abort' });
    logger.error('instance_failed', { status: '0xa700' });
    expect(parsed().map((l) => [l.level, l.event])).to.deep.equal([['warn', 'association_aborted'], ['error', 'instance_failed']]);
  });

  it('logs an error as name, message and code only (no stack, no SDK request dump)', () => {
    const { logger, parsed } = capture();
    const err = Object.assign(new Error('Access Denied'), { name: 'AccessDenied', code: 'EACCES', $metadata: { requestId: 'r1' }, $response: { headers: { authorization: 'x' } } });
    logger.error('storage_failed', { error: err, key: 'incoming/b/1.2.3.dcm' });
    expect(parsed()[0].error).to.deep.equal({ name: 'AccessDenied', message: 'Access Denied', code: 'EACCES' });
    expect(parsed()[0].key).to.equal('incoming/b/1.2.3.dcm');
  });

  it('redacts patient-identifying keys should one reach a log call, in every spelling', () => {
    const { logger, lines } = capture();
    logger.warn('sop_instance_uid_mismatch', { PatientName: 'DOE^JANE', patientID: 'MRN-1', patientId: 'MRN-2', accessionNumber: 'ACC-9', PatientBirthDate: '19700101', sopInstanceUid: '1.2.3' });
    const text = lines.join('');
    for (const value of ['DOE^JANE', 'MRN-1', 'MRN-2', 'ACC-9', '19700101']) expect(text).to.not.contain(value);
    const line = JSON.parse(text) as Record<string, unknown>;
    expect(line).to.include({ PatientName: '[REDACTED]', patientId: '[REDACTED]', accessionNumber: '[REDACTED]', sopInstanceUid: '1.2.3' });
    expect(PHI_KEYS).to.include.members(['PatientName', 'PatientID', 'PatientBirthDate', 'AccessionNumber', 'OtherPatientIDs']);
  });

  it('gets a line out before process.exit (stdout is written synchronously)', () => {
    const script = `const { createLogger } = require(${JSON.stringify(path.join(REPO_ROOT, 'container/src/logger'))}); createLogger('info').error('marketplace_not_entitled', { productCode: 'abc' }); process.exit(3);`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).to.equal(3);
    expect(JSON.parse(r.stdout.trim())).to.include({ level: 'error', event: 'marketplace_not_entitled', productCode: 'abc' });
  });
});

describe('no patient-identifying value in the SCP logs', function () {
  this.timeout(60_000);

  it('stores and refuses instances carrying a patient name and id without either appearing in any line', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'ct.dcm');
    const patientId = 'CANARY-PID-7731';
    await writeTestInstance(file, { sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: '1.2.826.0.1.3680043.8.498.7731.1', studyInstanceUid: '1.2.826.0.1.3680043.8.498.7731', seriesInstanceUid: '1.2.826.0.1.3680043.8.498.7731.2', modality: 'CT', rows: 64, columns: 64, patientId });
    const stored = capture('debug');
    const ok = await startScp({}, { logger: stored.logger });
    const failed = capture('debug');
    const failing = { ...createNullSink(), begin: () => ({ write: () => true, onDrain: (cb: () => void) => cb(), abort: async () => {}, commit: async () => { throw new Error('bucket gone'); } }) };
    const bad = await startScp({}, { logger: failed.logger, sink: failing });
    try {
      expect((await runDcmtk('storescu', ['-aec', 'STORESCP', '127.0.0.1', String(ok.port), file])).code).to.equal(0);
      await runDcmtk('storescu', ['-aec', 'STORESCP', '127.0.0.1', String(bad.port), file]);
    } finally {
      await ok.stop();
      await bad.stop();
    }
    expect(stored.parsed().map((l) => l.event)).to.include.members(['association_accepted', 'instance_stored', 'association_released']);
    expect(failed.parsed().map((l) => l.event)).to.include.members(['storage_failed', 'instance_failed']);
    for (const text of [stored.lines.join(''), failed.lines.join('')]) {
      expect(text).to.contain('1.2.826.0.1.3680043.8.498.7731.1');
      expect(text).to.not.contain(patientId);
      expect(text).to.not.contain('TEST^PATIENT');
    }
  });
});

import pino from 'pino';
import type { LogLevel } from './config';

/**
 * Structured JSON logger: one line per event, `{"level":"info","time":"<ISO 8601>",
 * ...fields,"event":"<name>"}`. The event names and fields are the contract of
 * README and docs/operations.md (CloudWatch Logs Insights queries filter on them).
 */
export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

/**
 * Keys whose values identify a patient (DICOM keywords of PS3.15 Table E.1-1's
 * patient and visit attributes, as written and in camelCase). The SCP never
 * puts them in a log line: it reads only UIDs, SOP class and transfer syntax
 * from a dataset. This is the safety net should one ever reach a log call, at
 * the top level of a line's fields.
 */
export const PHI_KEYS: readonly string[] = [
  'PatientName', 'PatientID', 'PatientBirthDate', 'PatientBirthTime', 'PatientSex', 'PatientAge', 'PatientAddress',
  'PatientTelephoneNumbers', 'OtherPatientIDs', 'OtherPatientNames', 'PatientMotherBirthName', 'MedicalRecordLocator',
  'IssuerOfPatientID', 'AccessionNumber', 'ReferringPhysicianName', 'PerformingPhysicianName', 'OperatorsName',
  'InstitutionName', 'InstitutionAddress', 'StudyID', 'StudyDescription', 'AdmissionID',
];

/** `PatientID` → `patientID` and `patientId`: the spellings a TypeScript field would take. */
const spellings = (k: string): string[] => {
  const camel = k[0].toLowerCase() + k.slice(1);
  return [k, camel, camel.replace(/ID(s?)$/, 'Id$1')];
};
/**
 * Top-level keys only: our log calls pass flat fields (an `error` is reduced
 * to name, message and code), and every `*.key` wildcard path costs a walk of
 * each object-valued field on every line (measured: 66 wildcard paths took a
 * line from 7 µs to 350 µs; 66 top-level paths add under 1 µs).
 */
const REDACT_PATHS = [...new Set(PHI_KEYS.flatMap(spellings))];

/** Errors log as name, message and code: no stack, no SDK request dump (it can carry object keys and headers). */
function serializeError(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  return { name: value.name, message: value.message, code: (value as { code?: string }).code };
}

/**
 * A pino logger writing to `out` (stdout by default, synchronously, as
 * `process.stdout` does on a pipe: a line is out before the next event).
 * `base` fields go on every line.
 */
export function createLogger(level: LogLevel, out?: { write(s: string): unknown }, base: Record<string, unknown> = {}): Logger {
  const p = pino(
    {
      level,
      base,
      messageKey: 'event',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { error: serializeError },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    },
    out ?? pino.destination({ dest: 1, sync: true }),
  );
  return {
    debug: (event, fields) => p.debug(fields ?? {}, event),
    info: (event, fields) => p.info(fields ?? {}, event),
    warn: (event, fields) => p.warn(fields ?? {}, event),
    error: (event, fields) => p.error(fields ?? {}, event),
  };
}

/** A logger that drops everything (unit tests). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';

/**
 * One JSON line per event (CloudWatch Logs; Powertools writes INFO to stdout,
 * WARN and ERROR to stderr — Lambda sends both to the function's log group),
 * with the batch / job context. Written by Powertools for AWS Lambda's Logger: every line also
 * carries `level`, `timestamp`, `service`, and — once `addContext` has seen the
 * invocation — `function_request_id`, `cold_start`, `function_name` and
 * `xray_trace_id`, the keys CloudWatch Logs Insights users expect.
 * Our own keys: `event` (the documented event name, also the `message`),
 * `component` (the handler) and the fields given. A field named like one of
 * Powertools' own keys (`message`, `level`, `service`, `timestamp`,
 * `sampling_rate`), which Powertools would drop, is written as `detail` (for
 * `message`) or `field_<key>`.
 */
export interface Logger {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

/** A Logger that can take the Lambda invocation's context (request id, cold start). */
export interface LambdaLogger extends Logger {
  addContext(context: Context): void;
}

/** `service` key of every line (POWERTOOLS_SERVICE_NAME overrides it). */
export const SERVICE_NAME = 'import-workflow';

export function createLogger(component: string): LambdaLogger {
  const powertools = new PowertoolsLogger({
    serviceName: process.env.POWERTOOLS_SERVICE_NAME || SERVICE_NAME,
    persistentKeys: { component },
    jsonReplacerFn: errorReplacer,
  });
  const log = (level: 'info' | 'warn' | 'error') => (event: string, fields: Record<string, unknown> = {}) =>
    powertools[level](event, { ...renameReserved(fields), event });
  return { info: log('info'), warn: log('warn'), error: log('error'), addContext: (context) => powertools.addContext(context) };
}

const RESERVED = new Set(['level', 'message', 'sampling_rate', 'service', 'timestamp']);

function renameReserved(fields: Record<string, unknown>): Record<string, unknown> {
  if (!Object.keys(fields).some((k) => RESERVED.has(k))) return fields;
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [RESERVED.has(k) ? (k === 'message' ? 'detail' : `field_${k}`) : k, v]));
}

/**
 * Errors become `{name, message, code}`: no stack trace (it can quote request
 * data) and the same shape the runbook's queries read. Runs before
 * Powertools' own error formatter, which would add the stack.
 */
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  return value;
}

/** A logger that drops everything (tests that do not assert on logs). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

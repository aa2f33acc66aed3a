import { Readable, Writable } from 'node:stream';
import { deidentifyStream, deriveKeys, localMac, type DeidKeys, type DeidOptions, type DeidResult } from '../../lambda/deid/index';

export const KEY = Buffer.from('8f3a'.repeat(16), 'hex');

export const keysFor = (key: Buffer = KEY): Promise<DeidKeys> => deriveKeys(localMac(key));

/** Runs the engine on bytes, collecting what it writes (also when it rejects). */
export async function deid(input: Buffer, options: Partial<DeidOptions> = {}, chunk = 7919): Promise<{ out: Buffer; result: DeidResult }> {
  const r = await deidCollect(input, options, chunk);
  if (r.error) throw r.error;
  return { out: r.out, result: r.result as DeidResult };
}

export async function deidCollect(input: Buffer, options: Partial<DeidOptions> = {}, chunk = 7919): Promise<{ out: Buffer; result?: DeidResult; error?: unknown }> {
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      parts.push(c);
      cb();
    },
  });
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunk) chunks.push(input.subarray(i, i + chunk));
  const keys = options.keys ?? (await keysFor());
  try {
    const result = await deidentifyStream(Readable.from(chunks), sink, { ...options, keys });
    return { out: Buffer.concat(parts), result };
  } catch (error) {
    return { out: Buffer.concat(parts), error };
  }
}

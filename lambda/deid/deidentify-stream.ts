import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDeflateRaw, createInflateRaw } from 'node:zlib';
import { DeidRefusedError, type DateMode, type DeidOptions, type DeidResult, type DeidentifyStream, type RetainOption, type SafePrivateTag } from './api';
import { likelyBurnedIn } from './burned-in';
import { ByteSource } from './byte-source';
import { ITEM, NeedMore, SEQUENCE_DELIMITER, parseDataset, type ElementNode, type ParsedDataset, type Syntax } from './dataset-parser';
import { readText, stringElement } from './encoding';
import { parseFileMeta, syntaxOf, writeFileMeta, type FileMeta } from './file-meta';
import { dateShiftDays, pseudonymPatientId, pseudonymUid } from './keys';
import { marks, methodText } from './marks';
import { PATIENT_ID, rewriteElements, type RewriteContext } from './rewrite';
import { buildRules } from './rules';

const RETAIN_OPTIONS: readonly RetainOption[] = ['patient-characteristics', 'device-identity', 'institution-identity', 'uids', 'safe-private'];
const DATE_MODES: readonly DateMode[] = ['remove', 'shift', 'keep-year', 'keep'];

interface Settings {
  readonly dates: DateMode;
  readonly maxShiftDays: number;
  readonly retain: ReadonlySet<RetainOption>;
  readonly patientIdPrefix: string;
  readonly allowBurnedIn: boolean;
  readonly maxHeaderBytes: number;
  readonly maxDepth: number;
  readonly safePrivate: readonly SafePrivateTag[];
}

/** Applies the defaults once and reports every invalid option at once (a caller error, not a refusal). */
export function settings(o: DeidOptions): Settings {
  const problems: string[] = [];
  const dates = o.dates ?? 'remove';
  if (!DATE_MODES.includes(dates)) problems.push(`dates must be one of ${DATE_MODES.join(', ')}`);
  const maxShiftDays = o.maxShiftDays ?? 365;
  if (!Number.isInteger(maxShiftDays) || maxShiftDays < 1 || maxShiftDays > 36_500) problems.push('maxShiftDays must be an integer from 1 to 36500');
  for (const r of o.retain ?? []) if (!RETAIN_OPTIONS.includes(r)) problems.push(`unknown retain option ${String(r)}`);
  const patientIdPrefix = o.patientIdPrefix ?? 'ANON-';
  if (!/^[A-Za-z0-9._-]{0,32}$/.test(patientIdPrefix)) problems.push('patientIdPrefix must be at most 32 letters, digits, dots, dashes or underscores');
  const maxHeaderBytes = o.maxHeaderBytes ?? 64 * 1024 * 1024;
  if (!Number.isInteger(maxHeaderBytes) || maxHeaderBytes < 1024) problems.push('maxHeaderBytes must be an integer of at least 1024');
  const maxDepth = o.maxDepth ?? 16;
  if (!Number.isInteger(maxDepth) || maxDepth < 1 || maxDepth > 64) problems.push('maxDepth must be an integer from 1 to 64');
  for (const k of ['uid', 'patient', 'date'] as const) if (!Buffer.isBuffer(o.keys?.[k]) || o.keys[k].length !== 32) problems.push(`keys.${k} must be 32 bytes`);
  if (problems.length) throw new TypeError(`invalid de-identification options: ${problems.join('; ')}`);
  return { dates, maxShiftDays, retain: new Set(o.retain ?? []), patientIdPrefix, allowBurnedIn: o.allowBurnedIn ?? false, maxHeaderBytes, maxDepth, safePrivate: o.safePrivateTags ?? [] };
}

/** Parses from `src` with `parse`, buffering more (doubling) while it needs more, up to `limit` bytes. */
async function parseBuffered<T>(src: ByteSource, limit: number, parse: (buf: Buffer, final: boolean) => T): Promise<T> {
  let target = Math.min(256 * 1024, limit);
  for (;;) {
    await src.fill(target);
    try {
      return parse(src.peek(), src.final);
    } catch (err) {
      if (!(err instanceof NeedMore)) throw err;
      if (src.buffered >= limit) throw new DeidRefusedError('HEADER_TOO_LARGE', `the header exceeds ${limit} bytes`);
      target = Math.min(Math.max(target, src.buffered) * 2, limit);
    }
  }
}

function zlibError(truncatedMessage: string) {
  return (err: unknown): unknown => {
    const code = (err as { code?: string }).code ?? '';
    if (code === 'Z_BUF_ERROR') return new DeidRefusedError('TRUNCATED', truncatedMessage);
    if (code.startsWith('Z_')) return new DeidRefusedError('MALFORMED', 'the deflated dataset does not inflate');
    return err;
  };
}

/** The dataset of a Deflated Explicit VR LE file, inflated as it is read. */
function inflating(src: ByteSource): ByteSource {
  const z = createInflateRaw();
  pipeline(Readable.from(src.rest(), { objectMode: false }), z).catch(() => undefined);
  return new ByteSource(z[Symbol.asyncIterator](), zlibError('the deflated dataset ends early'));
}

/** Deflates the dataset; an odd-length bitstream gets one trailing NUL (PS3.5 A.5). */
async function* deflating(parts: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const z = createDeflateRaw();
  const feeding = pipeline(Readable.from(parts, { objectMode: false }), z).catch(() => undefined);
  let length = 0;
  for await (const c of z) {
    length += (c as Buffer).length;
    yield c as Buffer;
  }
  await feeding;
  if (length % 2) yield Buffer.from([0]);
}

function topText(header: ParsedDataset, buf: Buffer, tag: number): string {
  const el = header.elements.find((e: ElementNode) => e.tag === tag);
  return el && !el.items ? readText(buf, el.valueStart, el.end).trim() : '';
}

/**
 * Reads a Part-10 instance from `input` and writes its de-identified copy to
 * `output` (ended on success, destroyed on failure). Everything before the
 * top-level pixel data is buffered (at most maxHeaderBytes) and rewritten; the
 * pixel data is streamed through unchanged; what follows it is rewritten like
 * the header. Refusals (DeidRefusedError) are raised before the first byte is
 * written when the header is at fault; a truncated pixel data is found while
 * streaming, and the caller discards the partial output.
 */
export const deidentify: DeidentifyStream = async (input, output, options) => {
  const o = settings(options);
  const rules = buildRules({ dates: o.dates, retain: o.retain });
  let bytesIn = 0;
  let bytesOut = 0;
  let result: Omit<DeidResult, 'bytesIn' | 'bytesOut'> | undefined;
  const counted = (async function* () {
    for await (const c of input) {
      bytesIn += (c as Buffer).length;
      yield c as Buffer;
    }
  })();
  const raw = new ByteSource(counted);

  async function* run(): AsyncGenerator<Buffer> {
    const meta: FileMeta = await parseBuffered(raw, o.maxHeaderBytes, (b, f) => parseFileMeta(b, f));
    const ts = syntaxOf(meta.transferSyntaxUid);
    if (!ts) throw new DeidRefusedError('UNSUPPORTED_TRANSFER_SYNTAX', 'the transfer syntax is not one the engine reads');
    raw.consume(meta.end);
    const body = ts.deflated ? inflating(raw) : raw;
    const s: Syntax = ts.syntax;
    const header = await parseBuffered(body, o.maxHeaderBytes + 16, (b, f) => parseDataset(b, 0, s, { maxDepth: o.maxDepth, final: f }, true));
    if ((header.pixel?.valueStart ?? header.end) > o.maxHeaderBytes) throw new DeidRefusedError('HEADER_TOO_LARGE', `the header exceeds ${o.maxHeaderBytes} bytes`);
    const buf = body.peek();
    const text = (tag: number): string => topText(header, buf, tag);
    const sopClassUid = text(0x00080016) || meta.sopClassUid;
    const original = { sop: text(0x00080018), study: text(0x0020000d), series: text(0x0020000e) };
    if (!sopClassUid || !original.sop || !original.study || !original.series) {
      throw new DeidRefusedError('MALFORMED', 'the dataset lacks a SOP Class, SOP Instance, Study or Series Instance UID');
    }
    if (!o.allowBurnedIn && likelyBurnedIn(sopClassUid, text(0x00080060), text(0x00280301))) {
      throw new DeidRefusedError('BURNED_IN', 'the instance is likely to carry burned-in text (Burned In Annotation, or an ultrasound, secondary capture or photographic class)');
    }
    // The patient's identity: Patient ID, or name and birth date when it is empty.
    const identity = text(PATIENT_ID) || `name:${text(0x00100010)}|birth:${text(0x00100030)}`;
    const patientPseudonym = pseudonymPatientId(options.keys, identity, o.patientIdPrefix);
    const ctx: RewriteContext = {
      buf,
      rules,
      keys: options.keys,
      dates: o.dates,
      shiftDays: o.dates === 'shift' ? dateShiftDays(options.keys, identity, o.maxShiftDays) : 0,
      patientIdPrefix: o.patientIdPrefix,
      safePrivate: o.retain.has('safe-private') ? o.safePrivate : undefined,
      retainUids: o.retain.has('uids'),
    };
    const uid = (tag: number, value: string): string => (rules.action(tag) === 'uid' ? pseudonymUid(options.keys, value) : value);
    result = {
      studyInstanceUid: uid(0x0020000d, original.study),
      seriesInstanceUid: uid(0x0020000e, original.series),
      sopInstanceUid: uid(0x00080018, original.sop),
      sopClassUid,
      transferSyntaxUid: meta.transferSyntaxUid,
      patientPseudonym,
      method: methodText(o.dates, o.retain),
    };
    const overrides = [{ tag: PATIENT_ID, bytes: stringElement(PATIENT_ID, 'LO', patientPseudonym, s) }, ...marks(o.dates, o.retain, s)];
    const headerOut = Buffer.concat(rewriteElements(header.elements, s, ctx, overrides));
    yield writeFileMeta(meta, sopClassUid, result.sopInstanceUid);
    const dataset = datasetParts(body, header, headerOut, s, ctx);
    yield* ts.deflated ? deflating(dataset) : dataset;
  }

  async function* datasetParts(body: ByteSource, header: ParsedDataset, headerOut: Buffer, s: Syntax, ctx: RewriteContext): AsyncGenerator<Buffer> {
    yield headerOut;
    const pixel = header.pixel;
    if (!pixel) return;
    yield Buffer.from(body.peek().subarray(pixel.start, pixel.valueStart));
    body.consume(pixel.valueStart);
    if (pixel.length !== undefined) yield* body.take(pixel.length);
    else {
      // Encapsulated: item headers and fragments passed through until the sequence delimiter.
      for (;;) {
        if (!(await body.fill(8))) throw new DeidRefusedError('TRUNCATED', 'the input ends inside the encapsulated pixel data');
        const h = Buffer.from(body.peek().subarray(0, 8));
        const tag = (((s.littleEndian ? h.readUInt16LE(0) : h.readUInt16BE(0)) << 16) | (s.littleEndian ? h.readUInt16LE(2) : h.readUInt16BE(2))) >>> 0;
        const len = s.littleEndian ? h.readUInt32LE(4) : h.readUInt32BE(4);
        body.consume(8);
        yield h;
        if (tag === SEQUENCE_DELIMITER) break;
        if (tag !== ITEM || len === 0xffffffff) throw new DeidRefusedError('MALFORMED', 'encapsulated pixel data holds something other than fragments');
        yield* body.take(len);
      }
    }
    // What follows the pixel data (padding, vendor groups): bounded, rewritten like the header.
    await body.fill(o.maxHeaderBytes + 1);
    if (body.buffered > o.maxHeaderBytes) throw new DeidRefusedError('TRAILING_DATA', `more than ${o.maxHeaderBytes} bytes follow the pixel data`);
    if (body.buffered === 0) return;
    const tail = body.peek();
    let parsed: ParsedDataset;
    try {
      parsed = parseDataset(tail, 0, s, { maxDepth: o.maxDepth, final: true }, false);
    } catch (err) {
      if (err instanceof DeidRefusedError) throw new DeidRefusedError('TRAILING_DATA', `what follows the pixel data does not parse (${err.message})`);
      throw err;
    }
    const out = rewriteElements(parsed.elements, s, { ...ctx, buf: tail });
    if (out.length) yield Buffer.concat(out);
  }

  const counting = (async function* () {
    for await (const c of run()) {
      bytesOut += c.length;
      yield c;
    }
  })();
  await pipeline(Readable.from(counting, { objectMode: false }), output);
  if (!result) throw new Error('de-identification ended without a result');
  return { ...result, bytesIn, bytesOut };
};

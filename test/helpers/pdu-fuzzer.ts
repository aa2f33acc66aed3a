import * as net from 'node:net';
import { ECHO_CONTEXTS, RELEASE_RQ, associateRqPdu, cEchoRq, cStoreRq, pdata } from './raw-peer';

/** A small seeded PRNG (mulberry32), so a failing case can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CT = '1.2.840.10008.5.1.4.1.1.2';

/** Valid conversations the mutations start from. */
export function seeds(): Buffer[][] {
  const rqStore = associateRqPdu('STORESCP', 'FUZZ', [...ECHO_CONTEXTS, [3, CT, ['1.2.840.10008.1.2.1']]]);
  const dataset = Buffer.alloc(3000, 0x41);
  return [
    [rqStore],
    [rqStore, pdata(1, true, cEchoRq(1)), RELEASE_RQ],
    [rqStore, pdata(3, true, cStoreRq(1, CT, '1.2.3.4.5')), pdata(3, false, dataset, 1000), RELEASE_RQ],
    [rqStore, pdata(3, true, cStoreRq(2, CT, '1.2.3.4.6'), 20), pdata(3, false, dataset, 700)],
  ];
}

/** One generated case: a conversation with corrupted lengths, types, items or fragments, or garbage. */
export function mutate(rand: () => number): Buffer {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const conv = pick(seeds()).map((b) => Buffer.from(b));
  const kind = Math.floor(rand() * 8);
  const target = conv[Math.floor(rand() * conv.length)];
  switch (kind) {
    case 0: // flip random bytes
      for (let i = 0, n = 1 + Math.floor(rand() * 8); i < n; i++) target[Math.floor(rand() * target.length)] ^= 1 << Math.floor(rand() * 8);
      break;
    case 1: // PDU length field: 0, huge, off by one
      target.writeUInt32BE(pick([0, 1, 0xffffffff, 0x7fffffff, target.length - 6 + 1, target.length - 6 - 1, 3]) >>> 0, 2);
      break;
    case 2: // PDU type
      target[0] = pick([0, 2, 3, 6, 7, 8, 0xff, Math.floor(rand() * 256)]);
      break;
    case 3: { // item / PDV length inside the body
      const at = 6 + Math.floor(rand() * Math.max(1, target.length - 10));
      target.writeUInt16BE(Math.floor(rand() * 65536), Math.min(at, target.length - 2));
      break;
    }
    case 4: // truncate a PDU
      conv[conv.indexOf(target)] = target.subarray(0, Math.floor(rand() * target.length));
      break;
    case 5: // duplicate or reorder PDUs
      conv.splice(Math.floor(rand() * conv.length), 0, pick(conv));
      break;
    case 6: // random garbage in the middle
      conv.splice(Math.floor(rand() * (conv.length + 1)), 0, Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 300) }, () => Math.floor(rand() * 256))));
      break;
    default: // pure garbage
      return Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 2000) }, () => Math.floor(rand() * 256)));
  }
  return Buffer.concat(conv);
}

/** Sends one case on a fresh connection, then waits for the server to close it (or gives up). */
export function sendCase(port: number, bytes: Buffer, waitMs = 300): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve();
    };
    const timer = setTimeout(done, waitMs);
    s.on('error', done);
    s.on('close', done);
    s.on('data', () => undefined);
    s.on('connect', () => {
      // Random fragmentation of the bytes on the wire.
      let off = 0;
      while (off < bytes.length) {
        const n = 1 + ((bytes[off] * 7919) % 1400);
        s.write(bytes.subarray(off, off + n));
        off += n;
      }
    });
  });
}

/** Runs `count` cases, `parallel` at a time; resolves with the number sent. */
export async function fuzz(port: number, count: number, seed: number, parallel = 16): Promise<number> {
  const rand = prng(seed);
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < count) {
      sent += 1;
      await sendCase(port, mutate(rand));
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return sent;
}

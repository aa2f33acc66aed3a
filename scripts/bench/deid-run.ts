/**
 * One measured run for the de-identification bench (a fresh process each
 * time): `deid-run.ts deid|copy <in> <out>` prints {"seconds","rssGrowth","maxRss"}
 * as JSON. RSS growth is the process's peak RSS minus its RSS just before the
 * work started (runtime and modules already loaded).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { deidentifyStream, deriveKeys, localMac } from '../../lambda/deid/index';

async function main(): Promise<void> {
  const [mode, input, output] = process.argv.slice(2);
  const keys = await deriveKeys(localMac(Buffer.alloc(32, 0x5a)));
  if (global.gc) global.gc();
  const before = process.memoryUsage.rss();
  const t0 = process.hrtime.bigint();
  if (mode === 'deid') await deidentifyStream(createReadStream(input), createWriteStream(output), { keys, dates: 'shift' });
  else if (mode === 'copy') await pipeline(createReadStream(input), createWriteStream(output));
  else throw new Error(`unknown mode ${mode}`);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const maxRss = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(`${JSON.stringify({ seconds, rssGrowth: Math.max(0, maxRss - before), maxRss })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

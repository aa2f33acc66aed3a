import type { InstanceWriter, StorageSink } from './sink';

/** Discards every byte and "commits" at once: the protocol cost alone, for benchmarks. */
export function createNullSink(): StorageSink {
  const writer: InstanceWriter = {
    write: (_chunk, lease) => {
      lease?.release();
      return true;
    },
    onDrain: (cb) => cb(),
    commit: async () => {},
    abort: async () => {},
  };
  return {
    kind: 'null',
    location: 'null:',
    begin: () => writer,
    putObject: async () => {},
    check: async () => {},
  };
}

/**
 * Sizes libuv's thread pool before anything uses it (import this module
 * first). The file sink's fdatasync / fsync calls block a pool thread each
 * for milliseconds; with libuv's default of 4 threads, 16 associations
 * committing at once queue behind each other (and behind DNS lookups).
 * An explicit UV_THREADPOOL_SIZE in the environment wins.
 */
export const THREADPOOL_SIZE = 16;

// eslint-disable-next-line no-process-env -- libuv reads this variable, not our config module.
process.env.UV_THREADPOOL_SIZE ??= String(THREADPOOL_SIZE);

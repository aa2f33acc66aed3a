import type { ManifestObject } from '../storage/batcher';

/**
 * The IPC messages between the primary and its workers (node:cluster). Every
 * message carries `scp` so prom-client's own cluster messages (which share
 * the channel) are told apart.
 */
export type WorkerMessage =
  /** May this worker accept one more association? Answered by `slot`. */
  | { readonly scp: 'acquire'; readonly id: number }
  /** An association that held a slot has ended. */
  | { readonly scp: 'release' }
  /** An instance was stored and is about to be acknowledged: ledger entry of its batch. */
  | { readonly scp: 'committed'; readonly batchId: string; readonly openedAt: string; readonly object: ManifestObject }
  /** The worker sealed (or found empty) a batch: the ledger forgets it. */
  | { readonly scp: 'sealed'; readonly batchId: string }
  /** The worker has started (its listener is bound). */
  | { readonly scp: 'ready' }
  /** The worker's last message before a clean exit: everything it sent before has arrived. */
  | { readonly scp: 'bye' }
  /** The worker's part of `/health`. */
  | { readonly scp: 'health'; readonly id: number; readonly health: WorkerHealth };

export type PrimaryMessage =
  | { readonly scp: 'slot'; readonly id: number; readonly granted: boolean }
  | { readonly scp: 'health?'; readonly id: number }
  /** Stop accepting, drain, seal every open batch, exit 0. */
  | { readonly scp: 'shutdown'; readonly reason: string };

/** One worker's state, as `/health` reports it. */
export interface WorkerHealth {
  readonly listening: boolean;
  readonly draining: boolean;
  readonly storageFailing: boolean;
  readonly associations: number;
}

export function isScpMessage<T extends { scp: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { scp?: unknown }).scp === 'string';
}

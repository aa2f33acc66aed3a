import * as net from 'node:net';
import type { ScpConfig } from '../config';
import type { Logger } from '../logger';
import type { ScpMetrics } from '../metrics';
import { AssociationSession, type SessionHost } from './association-session';
import { adoptSocket, SlabPool } from './socket-reader';
import type { StoreDeps } from './store-operation';

export interface ScpServerOptions {
  readonly config: ScpConfig;
  readonly logger: Logger;
  readonly metrics: ScpMetrics;
  readonly store: StoreDeps;
  /** Task-wide association slots (WORKERS > 1: held by the cluster primary). Unset: the local count decides alone. */
  readonly admission?: AssociationAdmission;
}

/** A limit shared with other processes: one slot per established association. */
export interface AssociationAdmission {
  /** Resolves true when a slot was granted (it must then be released). */
  acquire(): Promise<boolean>;
  release(): void;
}

export type ServerState = 'created' | 'listening' | 'draining' | 'closed';

/**
 * The DICOM listener. Connections that have not yet sent an A-ASSOCIATE-RQ
 * do not count against MAXIMUM_ASSOCIATIONS; they are bounded separately
 * (oldest dropped first), so idle or slow connections cannot lock out a
 * legitimate sender.
 */
export class ScpServer implements SessionHost {
  readonly config: ScpConfig;
  readonly logger: Logger;
  readonly metrics: ScpMetrics;
  readonly store: StoreDeps;
  state: ServerState = 'created';
  private readonly server: net.Server;
  private readonly sessions = new Set<AssociationSession>();
  private readonly pending = new Set<AssociationSession>();
  private established = 0;
  private sweep: NodeJS.Timeout | undefined;
  private readonly maxPending: number;
  private idleWaiters: (() => void)[] = [];
  /** Read buffers shared by every connection of this server. */
  readonly slabs = new SlabPool();
  private readonly admission: AssociationAdmission | undefined;

  constructor(opts: ScpServerOptions) {
    this.admission = opts.admission;
    this.config = opts.config;
    this.logger = opts.logger;
    this.metrics = opts.metrics;
    this.store = opts.store;
    this.maxPending = Math.max(2 * this.config.maximumAssociations, 600);
    this.server = net.createServer({ pauseOnConnect: true }, (socket) => this.onConnection(socket));
    this.server.on('error', (err) => this.logger.error('listener_error', { error: err }));
  }

  /** Binds host:port (port 0 = any free port) and resolves the bound port. */
  async listen(port = this.config.port, host = this.config.host): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port, host, backlog: 1024 }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.state = 'listening';
    this.sweep = setInterval(() => this.checkTimeouts(), 1000);
    this.sweep.unref();
    return (this.server.address() as net.AddressInfo).port;
  }

  get listening(): boolean {
    return this.server.listening;
  }

  activeAssociations(): number {
    return this.established;
  }

  get connections(): number {
    return this.sessions.size;
  }

  /**
   * Set with a shared limit: asks for a slot before accepting; a slot granted
   * to a session that closed meanwhile goes back at once.
   */
  get admit(): ((s: AssociationSession) => Promise<boolean>) | undefined {
    const admission = this.admission;
    if (!admission) return undefined;
    return async (s) => {
      const granted = await admission.acquire();
      if (granted && s.state === 'closed') {
        admission.release();
        return false;
      }
      return granted;
    };
  }

  onEstablished(s: AssociationSession): void {
    this.pending.delete(s);
    this.established += 1;
  }

  onClosed(s: AssociationSession): void {
    if (!this.sessions.delete(s)) return;
    if (!this.pending.delete(s)) {
      this.established -= 1;
      this.admission?.release();
    }
    if (this.sessions.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      waiters.forEach((w) => w());
    }
  }

  /** Stops accepting connections; sessions in progress go on. */
  stopAccepting(): Promise<void> {
    if (this.state === 'listening') this.state = 'draining';
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      // close() waits for open connections; resolve once no longer listening.
      setImmediate(() => {
        if (!this.server.listening) resolve();
      });
    });
  }

  /** Resolves when every session has ended, or after `ms` (then false). */
  waitIdle(ms: number): Promise<boolean> {
    if (this.sessions.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Aborts every session (after the drain deadline). */
  abortAll(reason: string): void {
    for (const s of [...this.sessions]) s.abort(reason);
  }

  close(): void {
    clearInterval(this.sweep);
    this.state = 'closed';
    this.server.close();
    for (const s of [...this.sessions]) s.destroy();
  }

  private onConnection(raw: net.Socket): void {
    if (this.state !== 'listening') {
      raw.destroy();
      return;
    }
    let session: AssociationSession | undefined;
    const socket = adoptSocket(raw, this.slabs, {
      onChunk: (chunk, slab) => session?.onData(chunk, slab),
      wantsSlab: () => session?.receivingDataset ?? false,
    });
    const s = new AssociationSession(socket, this);
    session = s;
    this.sessions.add(s);
    this.pending.add(s);
    if (this.pending.size > this.maxPending) {
      const oldest = this.pending.values().next().value as AssociationSession;
      this.logger.warn('connection_dropped', { reason: 'too-many-pending-connections', remote: oldest.remote });
      this.metrics.associationsRejected.inc({ reason: 'too-many-pending-connections' });
      oldest.destroy();
    }
  }

  private checkTimeouts(): void {
    const now = Date.now();
    for (const s of this.sessions) s.checkTimeouts(now);
  }
}

import * as net from 'node:net';

/**
 * A TCP forwarder on a fixed 127.0.0.1 port that can be switched off: `down()`
 * resets every connection in flight and stops listening (new connections are
 * refused), `up()` listens on the same port again. Put in front of an S3
 * endpoint, it is "the server going away mid-upload".
 */
export class TcpSwitch {
  private server: net.Server | undefined;
  private readonly live = new Set<net.Socket>();
  port = 0;
  /** Connections reset by `down()`. */
  cut = 0;

  constructor(private readonly targetPort: number) {}

  async up(): Promise<number> {
    if (this.server) return this.port;
    const server = net.createServer((client) => {
      const upstream = net.connect({ port: this.targetPort, host: '127.0.0.1' });
      this.live.add(client);
      this.live.add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.live.delete(client);
        this.live.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this.port;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.live) {
      if (s.remotePort !== this.targetPort) this.cut += 1;
      s.resetAndDestroy();
    }
    this.live.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

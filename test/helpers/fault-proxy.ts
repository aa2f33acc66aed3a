import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does with one request. */
export type Fault = 'pass' | 'error500' | 'reset' | { delayMs: number };

/**
 * An HTTP proxy on 127.0.0.1 in front of an S3-compatible server that
 * injects faults per request: 5xx answers, connection resets, latency.
 * `decide` sees the method and path of each request (the S3 key is in it).
 */
export class FaultProxy {
  readonly server: http.Server;
  requests = 0;
  faults = 0;
  decide: (method: string, path: string, n: number) => Fault = () => 'pass';

  constructor(private readonly target: string) {
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.requests += 1;
    const fault = this.decide(req.method ?? 'GET', req.url ?? '/', this.requests);
    if (fault === 'error500') {
      this.faults += 1;
      req.resume();
      req.on('end', () => {
        res.writeHead(500, { 'content-type': 'application/xml' }).end('<?xml version="1.0"?><Error><Code>InternalError</Code><Message>injected fault</Message></Error>');
      });
      return;
    }
    if (fault === 'reset') {
      this.faults += 1;
      req.socket.destroy();
      return;
    }
    const forward = (): void => {
      const url = new URL(req.url ?? '/', this.target);
      const up = http.request(url, { method: req.method, headers: req.headers }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      });
      up.on('error', () => req.socket.destroy());
      req.pipe(up);
    };
    if (typeof fault === 'object') {
      this.faults += 1;
      setTimeout(forward, fault.delayMs);
    } else forward();
  }
}

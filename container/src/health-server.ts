import * as http from 'node:http';
import type { ScpMetrics } from './metrics';

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy' | 'draining';

/** The `/health` body (docs/conformance.md, README). */
export interface HealthReport {
  readonly status: HealthStatus;
  readonly components: {
    readonly dicom_listener: 'listening' | 'draining' | 'down';
    readonly storage: 'ok' | 'failing';
    readonly associations: { readonly active: number; readonly max: number };
  };
}

export interface HealthSource {
  listening(): boolean;
  draining(): boolean;
  storageFailing(): boolean;
  associations(): { active: number; max: number };
}

/**
 * healthy: accepting. degraded: accepting, but associations ≥ 80 % of the
 * limit. unhealthy: listener down, storage failing, or at the limit.
 * draining: SIGTERM received. Only healthy and degraded answer 200.
 */
export function healthReport(src: HealthSource): HealthReport {
  const assoc = src.associations();
  const listener = src.draining() ? 'draining' : src.listening() ? 'listening' : 'down';
  const storage = src.storageFailing() ? 'failing' : 'ok';
  let status: HealthStatus;
  if (src.draining()) status = 'draining';
  else if (listener === 'down' || storage === 'failing' || assoc.active >= assoc.max) status = 'unhealthy';
  else if (assoc.active >= 0.8 * assoc.max) status = 'degraded';
  else status = 'healthy';
  return { status, components: { dicom_listener: listener, storage, associations: assoc } };
}

/** Serves GET /health (JSON) and GET /metrics (Prometheus text format, rendered by prom-client). */
export function createHealthServer(src: HealthSource, metrics: ScpMetrics): http.Server {
  return http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (url === '/health') {
      const report = healthReport(src);
      const ok = report.status === 'healthy' || report.status === 'degraded';
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(report));
      return;
    }
    if (url === '/metrics') {
      metrics.render().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics collection failed: ${(err as Error).message}\n`),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
}

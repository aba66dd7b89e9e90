/**
 * HTTP server for the aggregator: GET /liveness and /readiness → 200 when healthy, 503 otherwise
 * (Felix semantics), JSON detail body; optional /metrics hook. The agent starts it on
 * healthHost:healthPort (localhost:9099) and the metrics variant on 9091.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../common/logger.js';
import type { HealthAggregator } from './health-aggregator.js';

export const DEFAULT_HEALTH_HOST = 'localhost';
export const DEFAULT_HEALTH_PORT = 9099;

export interface HealthServerOptions {
  readonly host?: string;
  /** 0 picks a free port (tests). */
  readonly port?: number;
}

export interface HealthServerDeps {
  /** Omit to serve only /metrics (the 9091 server). */
  readonly aggregator?: HealthAggregator;
  readonly logger: Logger;
  /** /metrics hook, e.g. `() => renderMetrics(registry)`. */
  readonly metrics?: () => Promise<{ contentType: string; body: string }>;
}

export interface RunningHealthServer {
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function handle(deps: HealthServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') { send(res, 405, 'text/plain', 'method not allowed\n'); return; }
  if ((path === '/liveness' || path === '/readiness') && deps.aggregator !== undefined) {
    const s = deps.aggregator.summary();
    const ok = path === '/liveness' ? s.live : s.ready;
    send(res, ok ? 200 : 503, 'application/json', `${JSON.stringify(s)}\n`);
    return;
  }
  if (path === '/metrics' && deps.metrics !== undefined) {
    const m = await deps.metrics();
    send(res, 200, m.contentType, m.body);
    return;
  }
  send(res, 404, 'text/plain', 'not found\n');
}

/** Listen and resolve once bound; rejects with the listen error (e.g. EADDRINUSE). */
export function startHealthServer(deps: HealthServerDeps, options: HealthServerOptions = {}): Promise<RunningHealthServer> {
  const log = deps.logger.child({ component: 'health-server' });
  const server = createServer((req, res) => {
    handle(deps, req, res).catch((err: unknown) => {
      log.error({ err }, 'health handler failed');
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.destroy();
    });
  });
  const host = options.host ?? DEFAULT_HEALTH_HOST;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_HEALTH_PORT, host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      log.info({ host, port }, 'health server listening');
      resolve({
        server, host, port,
        close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}

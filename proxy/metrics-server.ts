// kube-proxy's metrics endpoint: plain HTTP `GET /metrics` on `--metrics-bind-address` (upstream's
// default 127.0.0.1:10249, loopback so that only the node itself reads it without credentials).
// Port 0 turns it off, as upstream. The agent serves its node-network metrics (proxy and
// netplugins) from the same registry and address.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export const DEFAULT_METRICS_BIND_ADDRESS = '127.0.0.1:10249';

/** `host:port` (IPv4, or `[v6]:port`) → parts; throws naming the bad value. Pure. */
export function parseBindAddress(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3}|localhost)):(\d{1,5})$/.exec(s);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new Error(`invalid bind address "${s}": want HOST:PORT such as ${DEFAULT_METRICS_BIND_ADDRESS} (port 0: no metrics server)`);
  return { host: m[1] ?? m[2]!, port };
}

export interface MetricsServer {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

/** Serves `registry` at `/metrics` (and `/healthz`) on `host:port`. */
export async function serveMetrics(registry: Registry, host: string, port: number): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405).end(); return; }
    if (path === '/healthz') { res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok'); return; }
    if (path !== '/metrics') { res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found\n'); return; }
    registry.metrics().then(body => {
      res.writeHead(200, { 'Content-Type': registry.contentType }).end(body);
    }, (err: unknown) => {
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end(String(err));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  return {
    address: server.address() as AddressInfo,
    close: () => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

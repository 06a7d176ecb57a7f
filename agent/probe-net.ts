// The network side of probes and lifecycle hooks: a TCP connect or an HTTP GET to a pod, from
// inside the pod's network namespace.
//
// Design notes: upstream's kubelet dials the pod IP from the node's namespace. The agent may run
// where pod IPs are not routed (its CNI plugins can live in another namespace: tests, `k8ts lab`),
// so it dials from the pod's own namespace instead, which reaches the pod IP in every setup. A
// socket belongs to the namespace it was created in, so the socket is created with the thread
// switched into the pod's namespace (kernel/netns.ts withNetnsSync). Node creates the socket of
// `net.connect` only once the address is known; a `lookup` that answers synchronously makes that
// happen inside the call, hence inside the namespace. Rejected: `ip netns exec … wget` per probe
// (a process per probe and a tool the host may lack).
import { request as httpRequest } from 'node:http';
import { connect as http2Connect, constants as h2 } from 'node:http2';
import { connect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { withNetnsSync } from '../kernel/netns.js';
import { decodeHealthCheckResponse, encodeHealthCheckRequest, grpcCodes, healthCheckPath, servingStatusName, unframe } from './grpc-health.js';

export interface DialTarget {
  host: string;
  port: number;
  /** A named network namespace (/run/netns) to dial from; undefined: the agent's own. */
  netns?: string;
}

export interface CheckResult {
  ok: boolean;
  message: string;
}

/** A connected-or-connecting socket to host:port, created in `netns`. */
export function dial(t: DialTarget): Socket {
  const family = isIP(t.host) === 6 ? 6 : 4;
  const make = () => connect({
    // A placeholder name so Node calls `lookup`, which answers at once with the literal address.
    host: isIP(t.host) ? 'probe.target.invalid' : t.host, port: t.port, family,
    ...(isIP(t.host) ? { lookup: (_h: string, _o: unknown, cb: (err: Error | null, address: string, family: number) => void) => cb(null, t.host, family) } : {}),
  });
  return t.netns ? withNetnsSync(t.netns, make) : make();
}

/** A TCP connect within `timeoutMs`: success when the handshake completes. */
export function tcpCheck(t: DialTarget, timeoutMs: number): Promise<CheckResult> {
  return new Promise(resolve => {
    let s: Socket;
    try { s = dial(t); } catch (err) { resolve({ ok: false, message: String(err) }); return; }
    const timer = setTimeout(() => { s.destroy(); resolve({ ok: false, message: `dial tcp ${t.host}:${t.port}: i/o timeout` }); }, timeoutMs);
    s.once('connect', () => { clearTimeout(timer); s.destroy(); resolve({ ok: true, message: '' }); });
    s.once('error', err => { clearTimeout(timer); s.destroy(); resolve({ ok: false, message: `dial tcp ${t.host}:${t.port}: ${err.message}` }); });
  });
}

export interface HttpTarget extends DialTarget {
  scheme: 'HTTP' | 'HTTPS';
  path: string;
  headers: [string, string][];
}

/** An HTTP GET within `timeoutMs`; resolves with the status code (or the error). */
export function httpGet(t: HttpTarget, timeoutMs: number): Promise<{ status?: number; body: string; error?: string }> {
  return new Promise(resolve => {
    let done = false;
    const finish = (r: { status?: number; body: string; error?: string }) => { if (!done) { done = true; clearTimeout(timer); resolve(r); } };
    const headers: Record<string, string> = { 'User-Agent': 'kube-probe/1.32', Accept: '*/*' };
    for (const [k, v] of t.headers) headers[k] = v;
    const req = httpRequest({
      host: t.host, port: t.port, path: t.path, method: 'GET', headers,
      // Go's HTTP client, which upstream's prober uses, accepts header lines ended by a bare LF
      // (busybox httpd passes CGI headers through as written); Node's strict parser rejects them.
      insecureHTTPParser: true,
      // No agent: Node then dials with createConnection. TLS runs over our own socket; upstream
      // does not verify probe certificates either.
      createConnection: () => (t.scheme === 'HTTPS' ? tlsConnect({ socket: dial(t), rejectUnauthorized: false }) : dial(t)),
    }, res => {
      let body = '';
      res.setEncoding('utf8');
      // Upstream reads at most 10 KiB of a probe's body.
      res.on('data', (c: string) => { if (body.length < 10_240) body += c; });
      res.on('end', () => finish({ status: res.statusCode ?? 0, body }));
      res.on('error', err => finish({ error: err.message, body }));
    });
    const timer = setTimeout(() => { req.destroy(); finish({ error: `Get "${t.scheme.toLowerCase()}://${t.host}:${t.port}${t.path}": context deadline exceeded`, body: '' }); }, timeoutMs);
    req.on('error', err => finish({ error: `Get "${t.scheme.toLowerCase()}://${t.host}:${t.port}${t.path}": ${err.message}`, body: '' }));
    req.end();
  });
}

export interface GrpcTarget extends DialTarget {
  /** HealthCheckRequest.service; '' asks about the server as a whole. */
  service: string;
}

/**
 * A gRPC health check (grpc.health.v1.Health/Check) over HTTP/2 cleartext within `timeoutMs`,
 * with upstream's messages (pkg/probe/grpc): success only for SERVING.
 */
export function grpcCheck(t: GrpcTarget, timeoutMs: number): Promise<CheckResult> {
  const addr = `${isIP(t.host) === 6 ? `[${t.host}]` : t.host}:${t.port}`;
  const secs = `${timeoutMs / 1000}s`;
  return new Promise(resolve => {
    let done = false;
    let connected = false;
    const session = http2Connect(`http://${addr}`, { createConnection: () => dial(t) });
    const finish = (r: CheckResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      session.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish(connected
      ? { ok: false, message: `timeout: health rpc did not complete within ${secs}` }
      : { ok: false, message: `timeout: failed to connect service ${JSON.stringify(addr)} within ${secs}: context deadline exceeded` }), timeoutMs);
    // Before the connection is up, the pending stream fails first, with the socket's error as its cause.
    const failed = (err: Error) => finish({ ok: false, message: connected
      ? `error: health rpc probe failed: ${err.message}`
      : `error: failed to connect service at ${JSON.stringify(addr)}: ${(err.cause instanceof Error ? err.cause : err).message}` });
    session.on('error', failed);
    session.once('connect', () => { connected = true; });
    const req = session.request({
      [h2.HTTP2_HEADER_METHOD]: 'POST', [h2.HTTP2_HEADER_PATH]: healthCheckPath, [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
      te: 'trailers', 'user-agent': 'kube-probe/1.32', 'grpc-timeout': `${Math.max(1, timeoutMs)}m`,
    });
    const chunks: Buffer[] = [];
    let headers: Record<string, unknown> = {};
    req.on('response', h => { headers = h; });
    req.on('data', (c: Buffer) => chunks.push(c));
    let trailers: Record<string, unknown> = {};
    req.on('trailers', h => { trailers = h; });
    req.on('error', failed);
    req.on('end', () => {
      // A trailers-only response (an error) carries grpc-status in its headers.
      const code = Number(trailers['grpc-status'] ?? headers['grpc-status'] ?? NaN);
      const msg = decodeURIComponent(String(trailers['grpc-message'] ?? headers['grpc-message'] ?? ''));
      const http = Number(headers[h2.HTTP2_HEADER_STATUS] ?? 0);
      if (Number.isNaN(code)) { finish({ ok: false, message: `error: health rpc probe failed: rpc error: no grpc-status (HTTP status ${http})` }); return; }
      if (code === grpcCodes.Unimplemented) { finish({ ok: false, message: `error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ${msg}` }); return; }
      if (code === grpcCodes.DeadlineExceeded) { finish({ ok: false, message: `timeout: health rpc did not complete within ${secs}` }); return; }
      if (code !== grpcCodes.OK) { finish({ ok: false, message: `error: health rpc probe failed: rpc error: code = ${code} desc = ${msg}` }); return; }
      let status: number;
      try { status = decodeHealthCheckResponse(unframe(Buffer.concat(chunks))); } catch (err) { finish({ ok: false, message: `error: health rpc probe failed: ${(err as Error).message}` }); return; }
      finish(status === 1 ? { ok: true, message: 'service healthy' } : { ok: false, message: `service unhealthy (responded with ${JSON.stringify(servingStatusName(status))})` });
    });
    req.end(encodeHealthCheckRequest(t.service));
  });
}

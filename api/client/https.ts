// The HTTPS `Transport` under `RestClusterClient`, for every component: one keep-alive agent per
// identity (a client certificate, or a bearer token — optionally impersonating, as joining nodes
// do), JSON bodies, and streaming GETs for watches. It is the one module of api/ that does network
// I/O (the lint allows this file alone): ARCHITECTURE.md puts the client factory here so that
// controllers, agent, proxy and add-ons all reach the apiserver the same way.
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { isIP } from 'node:net';
import { connect } from 'node:tls';
import WebSocket from 'ws';
import YAML from 'yaml';
import { RestClusterClient, type Transport, type TransportResponse } from './rest.js';

export interface HttpsTransportOptions {
  server: string; // https://host:port
  ca: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  token?: string;
  /** Act as this user and groups (the apiserver allows join-token holders to impersonate nodes). */
  impersonate?: { user: string; groups: string[] };
  maxSockets?: number;
  userAgent?: string;
  /** Timeout of ordinary (non-watch) requests. */
  timeoutMs?: number;
}

/** What a command run in a container (pods/exec) printed, and how it ended. */
export interface ExecResult { stdout: string; stderr: string; exitCode: number }

export class HttpsTransport implements Transport {
  private readonly agent: Agent;
  private readonly url: URL;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(private readonly opts: HttpsTransportOptions) {
    this.url = new URL(opts.server);
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.agent = new Agent({
      keepAlive: true, maxSockets: opts.maxSockets ?? 64,
      ca: opts.ca, ...(opts.cert ? { cert: opts.cert } : {}), ...(opts.key ? { key: opts.key } : {}),
    });
    this.headers = { Accept: 'application/json', 'User-Agent': opts.userAgent ?? 'k8ts' };
    if (opts.token) this.headers.Authorization = `Bearer ${opts.token}`;
    if (opts.impersonate) {
      this.headers['Impersonate-User'] = opts.impersonate.user;
      // One header per group would be upstream's form; one group is all we send.
      if (opts.impersonate.groups[0]) this.headers['Impersonate-Group'] = opts.impersonate.groups[0];
    }
  }

  request(method: string, path: string, body?: string, contentType?: string): Promise<TransportResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { ...this.headers };
      if (body !== undefined) { headers['Content-Type'] = contentType ?? 'application/json'; headers['Content-Length'] = Buffer.byteLength(body); }
      const req = request({ host: this.url.hostname, port: this.url.port || 443, method, path, agent: this.agent, headers, timeout: this.timeoutMs }, res => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`request ${method} ${path} timed out`)));
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  stream(path: string, onChunk: (text: string) => void): { stop(): void; done: Promise<TransportResponse> } {
    let stopped = false;
    let req: ReturnType<typeof request> | undefined;
    const done = new Promise<TransportResponse>((resolve, reject) => {
      req = request({ host: this.url.hostname, port: this.url.port || 443, method: 'GET', path, agent: this.agent, headers: this.headers }, res => {
        res.setEncoding('utf8');
        const status = res.statusCode ?? 0;
        let errBody = '';
        res.on('data', (c: string) => { if (status === 200) onChunk(c); else errBody += c; });
        res.on('end', () => resolve({ status, body: errBody }));
        res.on('error', err => (stopped ? resolve({ status, body: '' }) : reject(err)));
        res.on('aborted', () => (stopped ? resolve({ status, body: '' }) : reject(new Error('watch stream aborted'))));
      });
      req.on('error', err => (stopped ? resolve({ status: 200, body: '' }) : reject(err)));
      req.end();
    });
    return { stop: () => { stopped = true; req?.destroy(); }, done };
  }

  /**
   * Runs `command` in a container through `pods/exec` (WebSocket, `v5.channel.k8s.io` or v4) and
   * collects its output. The exit code comes from the Status the server sends on channel 3, as
   * kubectl reads it; a stream that ends without one is an error, never a silent success.
   */
  exec(namespace: string, pod: string, container: string, command: readonly string[], timeoutMs = 30_000): Promise<ExecResult> {
    const q = new URLSearchParams({ container, stdout: 'true', stderr: 'true' });
    for (const c of command) q.append('command', c);
    const url = `wss://${this.url.host}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/exec?${q.toString()}`;
    const { ca, cert, key } = this.opts;
    const headers = { ...this.headers };
    delete headers.Accept;
    return new Promise<ExecResult>((resolve, reject) => {
      const ws = new WebSocket(url, ['v5.channel.k8s.io', 'v4.channel.k8s.io'], { ca, ...(cert ? { cert } : {}), ...(key ? { key } : {}), headers, handshakeTimeout: timeoutMs });
      const out: Buffer[] = [], err: Buffer[] = [];
      let status: { status?: string; message?: string; reason?: string; details?: { causes?: { reason?: string; message?: string }[] } } | undefined;
      const timer = setTimeout(() => { ws.terminate(); reject(new Error(`exec ${command.join(' ')} in ${namespace}/${pod} timed out after ${timeoutMs} ms`)); }, timeoutMs);
      ws.on('message', (data: Buffer) => {
        if (data.length === 0) return;
        const channel = data[0], body = data.subarray(1);
        if (channel === 1) out.push(body);
        else if (channel === 2) err.push(body);
        else if (channel === 3 && body.length > 0) status = JSON.parse(body.toString('utf8')) as typeof status;
      });
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { body += c; });
        res.on('end', () => { clearTimeout(timer); reject(new Error(`exec refused (${String(res.statusCode)}): ${body.slice(0, 300)}`)); });
      });
      ws.on('error', e => { clearTimeout(timer); reject(e); });
      ws.on('close', () => {
        clearTimeout(timer);
        const stdout = Buffer.concat(out).toString('utf8'), stderr = Buffer.concat(err).toString('utf8');
        if (!status) return reject(new Error(`exec in ${namespace}/${pod} ended without a status`));
        if (status.status === 'Success') return resolve({ stdout, stderr, exitCode: 0 });
        const code = status.details?.causes?.find(c => c.reason === 'ExitCode')?.message;
        if (code !== undefined) return resolve({ stdout, stderr, exitCode: Number(code) });
        reject(new Error(`exec in ${namespace}/${pod} failed: ${status.message ?? status.reason ?? 'unknown error'}`));
      });
    });
  }

  close(): void { this.agent.destroy(); }
}

/** A client from a kubeconfig file with embedded certificate data (as `k8ts server` writes). */
export function clientFromKubeconfig(path: string, opts: { maxSockets?: number; userAgent?: string } = {}): { client: RestClusterClient; transport: HttpsTransport } {
  const kc = YAML.parse(readFileSync(path, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { user: { 'client-certificate-data'?: string; 'client-key-data'?: string; token?: string } }[];
  };
  const b64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64') : undefined);
  const cluster = kc.clusters[0]!.cluster;
  const user = kc.users[0]!.user;
  const cert = b64(user['client-certificate-data']);
  const key = b64(user['client-key-data']);
  const transport = new HttpsTransport({
    server: cluster.server, ca: b64(cluster['certificate-authority-data'])!,
    ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(user.token ? { token: user.token } : {}),
    ...(opts.maxSockets ? { maxSockets: opts.maxSockets } : {}), ...(opts.userAgent ? { userAgent: opts.userAgent } : {}),
  });
  return { client: new RestClusterClient(transport), transport };
}

/** The hash in a `K10<hash>::user:secret` token, or undefined for a bare secret. */
export function tokenCAHash(token: string): string | undefined {
  return /^K10([0-9a-f]{64})::/.exec(token)?.[1];
}

/** Fetches the server's issuing CA and trusts it only if it matches the token's hash (as k3s). */
export async function discoverCA(server: string, token: string): Promise<string> {
  const hash = tokenCAHash(token);
  if (!hash) throw new Error('the token has no CA hash (a bare secret): pass --server-ca FILE');
  const url = new URL(server);
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const s = connect({ host: url.hostname, port: Number(url.port || 443), rejectUnauthorized: false, ...(isIP(url.hostname) ? {} : { servername: url.hostname }) }, () => {
      const peer = s.getPeerCertificate(true);
      const issuer = peer.issuerCertificate ?? peer;
      s.end();
      resolve(issuer.raw);
    });
    s.once('error', reject);
  });
  const pem = new X509Certificate(raw).toString();
  if (createHash('sha256').update(pem).digest('hex') !== hash) throw new Error(`the server's CA does not match the token's hash "${hash.slice(0, 12)}…": pass --server-ca FILE`);
  return pem;
}

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

export class HttpsTransport implements Transport {
  private readonly agent: Agent;
  private readonly url: URL;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(opts: HttpsTransportOptions) {
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

// The HTTPS `Transport` under `RestClusterClient`: one keep-alive agent per component identity
// (client certificate, or a bearer token), JSON bodies, and streaming GETs for watches. It lives
// here rather than in api/client because api/ must stay free of side effects.
import { Agent, request } from 'node:https';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { RestClusterClient, type Transport, type TransportResponse } from '../../api/client/rest.js';

export interface HttpsTransportOptions {
  server: string; // https://host:port
  ca: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  token?: string;
  maxSockets?: number;
  userAgent?: string;
}

export class HttpsTransport implements Transport {
  private readonly agent: Agent;
  private readonly url: URL;
  private readonly headers: Record<string, string>;

  constructor(opts: HttpsTransportOptions) {
    this.url = new URL(opts.server);
    this.agent = new Agent({
      keepAlive: true, maxSockets: opts.maxSockets ?? 64,
      ca: opts.ca, ...(opts.cert ? { cert: opts.cert } : {}), ...(opts.key ? { key: opts.key } : {}),
    });
    this.headers = { Accept: 'application/json', 'User-Agent': opts.userAgent ?? 'k8ts-controller-manager' };
    if (opts.token) this.headers.Authorization = `Bearer ${opts.token}`;
  }

  request(method: string, path: string, body?: string, contentType?: string): Promise<TransportResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { ...this.headers };
      if (body !== undefined) { headers['Content-Type'] = contentType ?? 'application/json'; headers['Content-Length'] = Buffer.byteLength(body); }
      const req = request({ host: this.url.hostname, port: this.url.port || 443, method, path, agent: this.agent, headers }, res => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
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

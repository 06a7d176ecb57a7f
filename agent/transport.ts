// The agent's connection to the apiserver: HTTPS with keep-alive, the join token as a bearer and
// the node identity through upstream's impersonation headers (`system:node:<name>` in
// `system:nodes`), as control/apiserver/authn.ts expects of joining nodes. The CA comes from
// `--server-ca`, or from the server itself when the token is in the full `K10<sha256 of ca.crt>::`
// form: the certificate the server presents as its issuer is trusted only if its hash matches.
import { createHash, X509Certificate } from 'node:crypto';
import { Agent, request } from 'node:https';
import { isIP } from 'node:net';
import { connect } from 'node:tls';
import type { Transport, TransportResponse } from '../api/client/rest.js';

export interface NodeIdentity {
  server: string;
  token: string;
  nodeName: string;
  ca: string;
}

export class HttpsTransport implements Transport {
  private readonly agent: Agent;
  private readonly url: URL;
  private readonly headers: Record<string, string>;

  constructor(id: NodeIdentity) {
    this.url = new URL(id.server);
    this.agent = new Agent({ keepAlive: true, maxSockets: 16, ca: id.ca });
    this.headers = {
      Authorization: `Bearer ${id.token}`,
      'Impersonate-User': `system:node:${id.nodeName}`,
      'Impersonate-Group': 'system:nodes',
      Accept: 'application/json',
      'User-Agent': 'k8ts-agent',
    };
  }

  request(method: string, path: string, body?: string, contentType?: string): Promise<TransportResponse> {
    return new Promise((resolve, reject) => {
      const req = request({
        host: this.url.hostname, port: this.url.port || 443, path, method, agent: this.agent,
        headers: { ...this.headers, ...(body !== undefined ? { 'Content-Type': contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(body) } : {}) },
        timeout: 60_000,
      }, res => {
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
    let stop = () => {};
    const done = new Promise<TransportResponse>((resolve, reject) => {
      const req = request({ host: this.url.hostname, port: this.url.port || 443, path, method: 'GET', agent: this.agent, headers: this.headers }, res => {
        res.setEncoding('utf8');
        if (res.statusCode !== 200) {
          let text = '';
          res.on('data', (c: string) => { text += c; });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          return;
        }
        res.on('data', (c: string) => onChunk(c));
        res.on('end', () => resolve({ status: 200, body: '' }));
        res.on('error', () => resolve({ status: 200, body: '' }));
      });
      req.on('error', err => { if (stopped) resolve({ status: 200, body: '' }); else reject(err); });
      let stopped = false;
      stop = () => { stopped = true; req.destroy(); };
      req.end();
    });
    return { stop: () => stop(), done };
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The hash in a `K10<hash>::user:secret` token, or undefined for a bare secret. */
export function tokenCAHash(token: string): string | undefined {
  return /^K10([0-9a-f]{64})::/.exec(token)?.[1];
}

/** Fetches the server's issuing CA and checks it against the token's hash. */
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

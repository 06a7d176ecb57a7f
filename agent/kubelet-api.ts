// The kubelet API (HTTPS, port 10250): `GET /containerLogs/{ns}/{pod}/{container}` and
// `GET /exec/{ns}/{pod}/{container}` (WebSocket, agent/exec.ts), the two the apiserver proxies
// `pods/log` and `pods/exec` to (control/apiserver/kubelet-proxy.ts); `/pods` (the PodList of the
// pods this kubelet runs), `/stats/summary` and `/healthz`, reached through `nodes/proxy`.
//
// Design notes:
// - Callers authenticate with a client certificate from the cluster CA and must be the apiserver
//   (`system:masters`, as `kube-apiserver-kubelet-client` is) or a cluster admin; everything else
//   is 401/403. Upstream asks the apiserver (SubjectAccessReview); one caller does not need that.
// - The serving certificate is self-signed, generated at each start: the apiserver does not verify
//   kubelet serving certificates, as upstream's apiserver without --kubelet-certificate-authority
//   does not. Issuing it from the cluster CA would need a CSR flow (the agent has no CA key);
//   that is the path to take when nodes become untrusted networks.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { webcrypto } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type * as X509 from '@peculiar/x509';
import { WebSocketServer } from 'ws';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { ContainerRecord } from './pod-plan.js';
import { ExecOutput, execOutputUri, parseExecQuery, pickProtocol, relayExec, spawnExec } from './exec.js';
import { parseLogOptions, streamLog } from './logs.js';
import type { Logger } from './kubelet.js';
import type { Summary } from './stats.js';
import type { Registry } from 'prom-client';

await import('../control/apiserver/reflect-metadata.js');
const x509: typeof X509 = await import('@peculiar/x509');

/** What the API needs from the kubelet. */
export interface KubeletView {
  pod(namespace: string, name: string): Pod | undefined;
  recordsOf(uid: string): ContainerRecord[];
  containerLogDir(pod: Pod, container: string): string;
  /** The pods this kubelet runs (`GET /pods`); absent: an empty list. */
  pods?(): Pod[];
  /** The Summary API document; absent: /stats/summary is 404. */
  statsSummary?(): Summary | undefined;
}

export interface KubeletApiOptions {
  kubelet: KubeletView;
  /** PEM of the cluster CA: client certificates must chain to it. */
  clientCA: string;
  /** `ctr tasks exec` command line for a container (CtrRuntime.execCommand). */
  execCommand(id: string, execId: string, argv: readonly string[], tty: boolean, user?: string, logUri?: string): { file: string; args: string[] };
  /** The exec output relay (ensureExecOutputRelay) and where its sockets go; absent: through ctr. */
  execOutput?: { relay: string; socketDir: string };
  nodeName: string;
  hostIPs: string[];
  log: Logger;
  /** The kubelet's metrics (agent/metrics.ts), served at `/metrics`; absent: 404. */
  metrics?: Registry;
}

class HttpError extends Error {
  constructor(readonly code: number, message: string) { super(message); }
}

export async function selfSignedServingCert(cn: string, ips: readonly string[], dns: readonly string[]): Promise<{ cert: string; key: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex').replace(/^[89a-f]/, '1'),
    name: [{ CN: [cn] }],
    notBefore: new Date(now - 3600_000), notAfter: new Date(now + 365 * 86400_000),
    signingAlgorithm: alg, keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([...dns.map(value => ({ type: 'dns' as const, value })), ...ips.map(value => ({ type: 'ip' as const, value }))]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64').replace(/(.{64})/g, '$1\n').trim();
  return { cert: cert.toString('pem') + '\n', key: `-----BEGIN PRIVATE KEY-----\n${pkcs8}\n-----END PRIVATE KEY-----\n` };
}

/** The identity of a verified client certificate, or an HttpError. */
function authenticate(req: IncomingMessage): void {
  const sock = req.socket as TLSSocket;
  const peer = sock.getPeerCertificate?.();
  if (!sock.authorized || !peer?.subject) throw new HttpError(401, 'Unauthorized');
  const orgs = ([] as string[]).concat(peer.subject.O ?? []);
  const cn = String(peer.subject.CN ?? '');
  if (!orgs.includes('system:masters') && cn !== 'kube-apiserver-kubelet-client') {
    throw new HttpError(403, `Forbidden (user=${cn}, verb=get, resource=nodes, subresource=proxy)`);
  }
}

interface Target { pod: Pod; container: string; records: ContainerRecord[] }

export class KubeletApi {
  private server: Server | undefined;
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: p => pickProtocol(p) });
  private readonly aborts = new Set<AbortController>();
  private execSeq = 0;

  constructor(private readonly o: KubeletApiOptions) {}

  async listen(host: string, port: number): Promise<AddressInfo> {
    const tls = await selfSignedServingCert(this.o.nodeName, ['127.0.0.1', ...this.o.hostIPs], [this.o.nodeName, 'localhost']);
    const server = createServer({ ...tls, ca: this.o.clientCA, requestCert: true, rejectUnauthorized: false }, (req, res) => { void this.serve(req, res); });
    server.requestTimeout = 0;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve(); });
    });
    return server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    for (const a of this.aborts) a.abort();
    for (const c of this.wss.clients) c.terminate();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>(resolve => server.close(() => resolve()));
  }

  private target(path: string, prefix: string): Target {
    const parts = path.slice(prefix.length).split('/').map(decodeURIComponent);
    const [ns, name, container] = parts;
    if (parts.length !== 3 || !ns || !name || !container) throw new HttpError(404, `404 page not found: ${path}`);
    const pod = this.o.kubelet.pod(ns, name);
    if (!pod) throw new HttpError(404, `pod "${name}" in namespace "${ns}" is not found on this node`);
    const known = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].some(c => c.name === container);
    if (!known) throw new HttpError(404, `container "${container}" in pod "${name}" is not found`);
    return { pod, container, records: this.o.kubelet.recordsOf(pod.metadata!.uid!).filter(r => r.name === container) };
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    try {
      authenticate(req);
      if (req.method !== 'GET') throw new HttpError(405, `${req.method} is not allowed`);
      if (url.pathname === '/healthz') { res.end('ok'); return; }
      if (url.pathname.startsWith('/containerLogs/')) return await this.containerLogs(res, url);
      if (url.pathname === '/pods' || url.pathname === '/pods/') {
        // Upstream's PodList of the pods the kubelet manages, as the apiserver knows them.
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: this.o.kubelet.pods?.() ?? [] }));
        return;
      }
      if (url.pathname === '/stats/summary' || url.pathname === '/stats/summary/') {
        const summary = this.o.kubelet.statsSummary?.();
        if (!summary) throw new HttpError(404, `404 page not found: ${url.pathname}`);
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify(summary));
        return;
      }
      if (url.pathname === '/metrics' && this.o.metrics) {
        const body = await this.o.metrics.metrics();
        res.writeHead(200, { 'Content-Type': this.o.metrics.contentType });
        res.end(body);
        return;
      }
      if (url.pathname.startsWith('/exec/')) throw new HttpError(400, 'exec needs a WebSocket upgrade (v5.channel.k8s.io)');
      throw new HttpError(404, `404 page not found: ${url.pathname}`);
    } catch (err) {
      const code = err instanceof HttpError ? err.code : 500;
      if (!(err instanceof HttpError)) this.o.log.warn({ err: String(err), path: url.pathname }, 'kubelet API request failed');
      if (!res.headersSent) res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(err instanceof Error ? err.message : String(err));
    }
  }

  private async containerLogs(res: ServerResponse, url: URL): Promise<void> {
    const t = this.target(url.pathname, '/containerLogs/');
    let opts: ReturnType<typeof parseLogOptions>;
    try { opts = parseLogOptions(url.searchParams, Date.now()); } catch (err) { throw new HttpError(400, (err as Error).message); }
    const dir = this.o.kubelet.containerLogDir(t.pod, t.container);
    let attempts: number[] = [];
    try { attempts = readdirSync(dir).map(f => /^(\d+)\.log$/.exec(f)?.[1]).filter((x): x is string => x !== undefined).map(Number).sort((a, b) => a - b); } catch { /* no logs yet */ }
    const name = t.pod.metadata!.name!;
    const latest = Math.max(-1, ...attempts, ...t.records.map(r => r.attempt));
    const attempt = opts.previous ? latest - 1 : latest;
    if (opts.previous && (attempt < 0 || !attempts.includes(attempt))) throw new HttpError(400, `previous terminated container "${t.container}" in pod "${name}" not found`);
    if (attempt < 0) throw new HttpError(400, `container "${t.container}" in pod "${name}" is waiting to start: ContainerCreating`);
    const running = () => this.o.kubelet.recordsOf(t.pod.metadata!.uid!).some(r => r.name === t.container && r.attempt === attempt && r.state === 'running');
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
    res.flushHeaders();
    const ac = new AbortController();
    this.aborts.add(ac);
    res.on('close', () => ac.abort());
    try {
      await streamLog(join(dir, `${attempt}.log`), opts, { write: s => res.write(s), get closed() { return res.destroyed || res.writableEnded; } }, running, ac.signal);
    } finally {
      this.aborts.delete(ac);
      res.end();
    }
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const refuse = (code: number, message: string) => {
      const reason = code === 401 ? 'Unauthorized' : code === 403 ? 'Forbidden' : code === 404 ? 'Not Found' : 'Bad Request';
      socket.end(`HTTP/1.1 ${code} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(message)}\r\nconnection: close\r\n\r\n${message}`);
    };
    try {
      authenticate(req);
      if (!url.pathname.startsWith('/exec/')) throw new HttpError(404, `404 page not found: ${url.pathname}`);
      const t = this.target(url.pathname, '/exec/');
      let spec: ReturnType<typeof parseExecQuery>;
      try { spec = parseExecQuery(url.searchParams); } catch (err) { throw new HttpError(400, (err as Error).message); }
      const rec = t.records.find(r => r.state === 'running');
      if (!rec) throw new HttpError(400, `container not found ("${t.container}")`);
      const execId = `exec-${process.pid}-${++this.execSeq}-${Date.now().toString(36)}`;
      // Output without stdin and TTY comes through the relay, never through ctr (agent/exec.ts).
      const relay = !spec.stdin && !spec.tty ? this.o.execOutput : undefined;
      this.wss.handleUpgrade(req, socket, head, ws => void (async () => {
        let output: ExecOutput | undefined;
        if (relay) {
          try {
            output = await ExecOutput.listen(join(relay.socketDir, `${execId}.sock`));
          } catch (err) {
            this.o.log.warn({ err: String(err) }, 'exec output relay socket failed: the output goes through ctr');
          }
          if (ws.readyState !== ws.OPEN) { output?.close(); return; }
        }
        const cmd = this.o.execCommand(rec.id, execId, spec.command, spec.tty, rec.user, output && relay ? execOutputUri(relay.relay, output.path) : undefined);
        const child = spawnExec(cmd, spec);
        this.o.log.debug({ pod: `${t.pod.metadata!.namespace}/${t.pod.metadata!.name}`, container: t.container, command: spec.command, tty: spec.tty, relay: output !== undefined }, 'exec');
        void relayExec(ws, ws.protocol, child, spec, output);
      })());
    } catch (err) {
      if (!(err instanceof HttpError)) this.o.log.warn({ err: String(err), path: url.pathname }, 'kubelet API upgrade failed');
      refuse(err instanceof HttpError ? err.code : 500, err instanceof Error ? err.message : String(err));
    }
  }
}

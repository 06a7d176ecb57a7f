// `pods/log` and `pods/exec` (and `pods/attach`, refused for now): the apiserver checks the pod
// and container the way upstream does (its error messages), finds the pod's kubelet from the Node
// (InternalIP, status.daemonEndpoints.kubeletEndpoint.Port) and proxies to the kubelet API
// (agent/kubelet-api.ts) with the `kube-apiserver-kubelet-client` certificate.
// `nodes/NAME/proxy[/PATH]` (any verb) goes to `/PATH` on that node's kubelet, as upstream's node
// proxy: `kubectl get --raw /api/v1/nodes/N/proxy/stats/summary`.
//
// Design notes:
// - Logs are streamed through as they come (`follow` keeps the response open).
// - An exec upgrade is spliced at the byte level after the kubelet's `101 Switching Protocols`:
//   the client's handshake (key, protocols) goes to the kubelet unchanged and the kubelet's answer
//   comes back unchanged, so the apiserver neither parses nor re-frames the channel protocol and
//   any version the kubelet speaks passes through. Upstream's UpgradeAwareHandler does the same.
// - Kubelet serving certificates are not verified (upstream's default without
//   --kubelet-certificate-authority); the kubelet authenticates us by client certificate.
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Container, ContainerStatus, Node, Pod } from 'kubernetes-types/core/v1.js';
import { errors, StatusError } from '../../api/errors.js';
import type { KubeObject } from '../../api/object.js';
import type { ResourceRequest } from './request-info.js';
import type { SubresourceProxy } from './resource-handler.js';

export interface KubeletProxyOptions {
  /** The `kube-apiserver-kubelet-client` certificate and key (PEM). */
  clientCert: { cert: string; key: string };
  /** Reads a Node (undefined: not found); bound after the ApiServer exists. */
  getNode?: (name: string) => Promise<KubeObject | undefined>;
  timeoutMs?: number;
}

/** Where the head of an upgrade request went: set by the server's `upgrade` listener. */
export const upgradeHeads = new WeakMap<IncomingMessage, Buffer>();

function chooseContainer(pod: Pod, requested: string | null): string {
  const name = pod.metadata?.name ?? '';
  if (requested) return requested;
  const containers = pod.spec?.containers ?? [];
  const def = pod.metadata?.annotations?.['kubectl.kubernetes.io/default-container'];
  if (def) return def;
  if (containers.length === 1) return containers[0]!.name;
  throw errors.badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.map(c => c.name).join(' ')}]`);
}

function statusOf(pod: Pod, container: string): ContainerStatus | undefined {
  const s = pod.status;
  return [...(s?.containerStatuses ?? []), ...(s?.initContainerStatuses ?? [])].find(c => c.name === container);
}

/** Upstream's checks for `pods/log`, with its messages (kubelet's validateContainerLogStatus). */
export function checkLogTarget(pod: Pod, container: string, previous: boolean): void {
  const name = pod.metadata?.name ?? '';
  const all: Container[] = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  if (!all.some(c => c.name === container)) throw errors.badRequest(`container ${container} is not valid for pod ${name}`);
  if (!pod.spec?.nodeName) throw errors.badRequest(`pod ${name} does not have a host assigned`);
  const st = statusOf(pod, container);
  if (previous) {
    if (!st?.lastState?.terminated) throw errors.badRequest(`previous terminated container "${container}" in pod "${name}" not found`);
    return;
  }
  if (!st) throw errors.badRequest(`container "${container}" in pod "${name}" is waiting to start: ContainerCreating`);
  if (st.state?.waiting && !st.lastState?.terminated) {
    const reason = st.state.waiting.reason ?? 'ContainerCreating';
    if (reason === 'ErrImagePull' || reason === 'ImagePullBackOff') throw errors.badRequest(`container "${container}" in pod "${name}" is waiting to start: trying and failing to pull image`);
    throw errors.badRequest(`container "${container}" in pod "${name}" is waiting to start: ${reason}`);
  }
}

/** Upstream's checks for `pods/exec` and `pods/attach`. */
export function checkExecTarget(pod: Pod, container: string): void {
  const name = pod.metadata?.name ?? '';
  const all: Container[] = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  if (!all.some(c => c.name === container)) throw errors.badRequest(`container ${container} is not valid for pod ${name}`);
  if (!pod.spec?.nodeName) throw errors.badRequest(`pod ${name} does not have a host assigned`);
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') throw errors.badRequest(`cannot exec into a container in a completed pod; current phase is ${phase}`);
  if (!statusOf(pod, container)?.state?.running) throw errors.badRequest(`unable to upgrade connection: container not found ("${container}")`);
}

export function kubeletAddress(node: Node): { host: string; port: number } {
  const addrs = node.status?.addresses ?? [];
  const host = addrs.find(a => a.type === 'InternalIP')?.address ?? addrs.find(a => a.type === 'ExternalIP')?.address ?? addrs.find(a => a.type === 'Hostname')?.address;
  if (!host) throw errors.badRequest(`node "${node.metadata?.name ?? ''}" has no address to reach its kubelet`);
  return { host, port: node.status?.daemonEndpoints?.kubeletEndpoint?.Port || 10250 };
}

const hopHeaders = new Set(['host', 'authorization', 'cookie', 'content-length', 'transfer-encoding', 'impersonate-user', 'impersonate-group']);

/**
 * Headers a plain HTTP proxy must not forward (RFC 9110 hop-by-hop ones), and the client's own
 * credentials: the kubelet sees the apiserver's certificate, never the user's token.
 */
const proxyDropped = new Set(['host', 'authorization', 'cookie', 'connection', 'keep-alive', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'impersonate-user', 'impersonate-group', 'impersonate-uid']);

/**
 * The kubelet path and query for an apiserver `…/nodes/NAME/proxy[/PATH]` URL: `/PATH` (just `/`
 * when there is none), still percent-encoded as the client sent it, with the client's query.
 */
export function nodeProxyPath(url: string): string {
  const u = new URL(url, 'https://localhost');
  const m = /\/nodes\/[^/]+\/proxy(\/.*)?$/.exec(u.pathname);
  return `${m?.[1] ?? '/'}${u.search}`;
}

export class KubeletProxy implements SubresourceProxy {
  getNode: ((name: string) => Promise<KubeObject | undefined>) | undefined;

  constructor(private readonly o: KubeletProxyOptions) {
    this.getNode = o.getNode;
  }

  async handle(req: IncomingMessage, res: ServerResponse, info: ResourceRequest, obj: KubeObject): Promise<void> {
    if (info.resource === 'nodes' && info.subresource === 'proxy') return this.proxyNode(req, res, obj as Node);
    if (info.resource !== 'pods') throw errors.badRequest(`${info.resource}/${info.subresource} is not supported by this apiserver yet`);
    const pod = obj as Pod;
    const q = new URL(req.url ?? '/', 'https://localhost').searchParams;
    const container = chooseContainer(pod, q.get('container'));
    const sub = info.subresource;
    if (sub === 'log') {
      checkLogTarget(pod, container, q.get('previous') === 'true');
    } else if (sub === 'exec') {
      checkExecTarget(pod, container);
    } else {
      throw errors.badRequest(`${sub} is not supported by this apiserver yet`);
    }
    const nodeName = pod.spec!.nodeName!;
    const node = await this.getNode?.(nodeName) as Node | undefined;
    if (!node) throw errors.badRequest(`pod ${pod.metadata?.name ?? ''} is bound to node "${nodeName}", which does not exist`);
    const { host, port } = kubeletAddress(node);
    const kq = new URLSearchParams(q);
    kq.delete('container');
    const seg = (s: string) => encodeURIComponent(s);
    const path = `/${sub === 'log' ? 'containerLogs' : 'exec'}/${seg(pod.metadata!.namespace!)}/${seg(pod.metadata!.name!)}/${seg(container)}?${kq.toString()}`;
    const target = { host: host.includes(':') ? `[${host}]` : host, port };
    if (sub === 'log') return this.proxyLogs(res, target, path);
    if (!req.headers.upgrade) throw errors.badRequest('exec needs an upgrade to a WebSocket (v5.channel.k8s.io)');
    return this.proxyUpgrade(req, res, target, path);
  }

  /** `nodes/NAME/proxy/PATH`: the request goes to the node's kubelet as it came (any verb, body). */
  private proxyNode(req: IncomingMessage, res: ServerResponse, node: Node): Promise<void> {
    let addr: { host: string; port: number };
    // Upstream answers 503 when it cannot tell where the node's kubelet is.
    try { addr = kubeletAddress(node); } catch (err) { throw errors.unavailable((err as Error).message); }
    const target = { host: addr.host.includes(':') ? `[${addr.host}]` : addr.host, port: addr.port };
    const path = nodeProxyPath(req.url ?? '/');
    if (req.headers.upgrade) return this.proxyUpgrade(req, res, target, path);
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !proxyDropped.has(k)) headers[k] = v;
    headers.host = `${target.host}:${target.port}`;
    return this.relay(res, this.requestOptions(target, path, req.method ?? 'GET', headers), req, 'error trying to reach service', kres => {
      // The kubelet's answer passes through as it is (status, type, body), as upstream's proxy.
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(kres.headers)) if (v !== undefined && !proxyDropped.has(k)) out[k] = v;
      res.writeHead(kres.statusCode ?? 502, out);
      return undefined;
    });
  }

  /**
   * Sends one request to the kubelet (with the client's body, or none) and streams the kubelet's
   * answer back. `start` sees the kubelet's response first: it writes the reply's head, or returns
   * the error to answer with instead (the body is then not streamed). A kubelet that cannot be
   * reached is a 503 (`unreachable`: the message's start), unless the reply has begun: then the
   * connection is cut, as nothing else can tell the client.
   */
  private relay(res: ServerResponse, options: RequestOptions, body: IncomingMessage | undefined, unreachable: string, start: (kres: IncomingMessage) => Promise<Error> | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const up = httpsRequest(options, kres => {
        up.setTimeout(0);
        const refused = start(kres);
        if (refused) { void refused.then(reject); return; }
        kres.pipe(res);
        kres.on('end', () => resolve());
        kres.on('error', () => { res.destroy(); resolve(); });
      });
      up.on('timeout', () => up.destroy(new Error('timed out')));
      up.on('error', err => {
        if (res.headersSent) { res.destroy(); resolve(); return; }
        reject(errors.unavailable(`${unreachable}: ${err.message}`));
      });
      // The response closes when the client leaves (or the stream ended): stop reading the kubelet.
      res.on('close', () => up.destroy());
      if (body) body.pipe(up);
      else up.end();
    });
  }

  private requestOptions(target: { host: string; port: number }, path: string, method: string, headers: Record<string, string | string[]>) {
    return {
      host: target.host.replace(/^\[|\]$/g, ''), port: target.port, path, method, headers,
      cert: this.o.clientCert.cert, key: this.o.clientCert.key, rejectUnauthorized: false, agent: false as const,
      timeout: this.o.timeoutMs ?? 30_000,
    };
  }

  private proxyLogs(res: ServerResponse, target: { host: string; port: number }, path: string): Promise<void> {
    return this.relay(res, this.requestOptions(target, path, 'GET', {}), undefined, `error trying to reach the kubelet at ${target.host}:${target.port}`, kres => {
      if (kres.statusCode !== 200) {
        // The kubelet's refusal (its text) becomes the matching Status.
        return new Promise<Error>(done => {
          let body = '';
          kres.setEncoding('utf8');
          kres.on('data', (c: string) => { body += c; });
          kres.on('end', () => {
            const code = kres.statusCode ?? 500;
            done(code === 404 ? new StatusError(404, 'NotFound', body.trim()) : code >= 500 ? errors.unavailable(body.trim()) : errors.badRequest(body.trim()));
          });
        });
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-cache' });
      res.flushHeaders();
      return undefined;
    });
  }

  private proxyUpgrade(req: IncomingMessage, res: ServerResponse, target: { host: string; port: number }, path: string): Promise<void> {
    const client = res.socket as Socket | null;
    if (!client) throw errors.badRequest('the connection cannot be upgraded');
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !hopHeaders.has(k)) headers[k] = v;
    headers.host = `${target.host}:${target.port}`;
    return new Promise<void>((resolve, reject) => {
      const up = httpsRequest(this.requestOptions(target, path, req.method ?? 'GET', headers));
      up.on('upgrade', (kres: IncomingMessage, ksock: Socket, khead: Buffer) => {
        up.setTimeout(0);
        ksock.setTimeout(0);
        // From here on the client's socket is ours: the HTTP layer lets go of it.
        res.detachSocket(client);
        const lines = [`HTTP/1.1 ${kres.statusCode ?? 101} ${kres.statusMessage ?? 'Switching Protocols'}`];
        for (let i = 0; i < kres.rawHeaders.length; i += 2) lines.push(`${kres.rawHeaders[i]}: ${kres.rawHeaders[i + 1]}`);
        client.write(`${lines.join('\r\n')}\r\n\r\n`);
        if (khead.length) client.write(khead);
        const head = upgradeHeads.get(req);
        if (head?.length) ksock.write(head);
        client.pipe(ksock);
        ksock.pipe(client);
        const end = () => { client.destroy(); ksock.destroy(); resolve(); };
        client.on('close', end);
        ksock.on('close', end);
        client.on('error', end);
        ksock.on('error', end);
        res.statusCode = 101;
      });
      up.on('response', kres => {
        let body = '';
        kres.setEncoding('utf8');
        kres.on('data', (c: string) => { body += c; });
        kres.on('end', () => {
          const code = kres.statusCode ?? 500;
          reject(code === 404 ? new StatusError(404, 'NotFound', body.trim()) : code === 401 || code === 403 ? errors.unavailable(`the kubelet refused the apiserver: ${body.trim()}`) : errors.badRequest(body.trim()));
        });
      });
      up.on('timeout', () => up.destroy(new Error('timed out')));
      up.on('error', err => reject(errors.unavailable(`error trying to reach the kubelet at ${target.host}:${target.port}: ${err.message}`)));
      up.end();
    });
  }
}

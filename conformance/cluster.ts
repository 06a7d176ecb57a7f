// The cluster side of a conformance run: a throwaway namespace with the suite's pods on every node,
// and the primitives checks are written in — run a command in a pod, fetch over HTTP, ask over UDP,
// create a Service and wait for its endpoints. Every probe runs inside a pod (or a host-network pod
// for "from the node"), through the API's pods/exec, so the suite tests any cluster it can reach
// exactly as a user's workloads would see it.
import { randomBytes } from 'node:crypto';
import type { Node, Pod, Service, ServiceSpec } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { HttpsTransport, ExecResult } from '../api/client/https.js';
import { isNotFound } from '../api/client/rest.js';
import { resources, type ClusterClient } from '../api/client/types.js';
import type { KubeObject } from '../api/object.js';
import { CheckFailure } from './check.js';

export const DEFAULT_IMAGE = 'docker.io/k8ts/busybox:test';
/** Ports every netserver pod listens on. */
export const HTTP_PORT = 8080;
export const HTTP2_PORT = 8082;
export const UDP_PORT = 8081;

/** `[::ffff:10.42.0.3]` → `10.42.0.3`: an IPv4 client seen by an IPv6 socket. Other text unchanged. */
export function normalizeClientAddress(text: string): string {
  return text.replace(/^\[?::ffff:(\d+\.\d+\.\d+\.\d+)\]?$/, '$1');
}

export interface FixturePod { name: string; node: string; ip: string }
export interface ClusterNode { name: string; ip: string }

export interface ClusterOptions {
  client: ClusterClient;
  transport: HttpsTransport;
  image?: string;
  /** The cluster's DNS domain (default cluster.local). */
  clusterDomain?: string;
  /** At most this many nodes get suite pods (the inter-node checks need two). */
  maxNodes?: number;
  log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
/**
 * `reachAll` gives up early when nothing has answered after this many tries and this long (the
 * time limit keeps fast failures — a reset while the proxy has not synced yet — from ending it).
 */
const NO_ANSWER_TRIES = 4;
const NO_ANSWER_MS = 15_000;
const hostPort = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/**
 * Why a probe command exited non-zero without a word on stderr: busybox `timeout` kills it with
 * SIGTERM (exit 143) when its time is up, which `exit 143` alone does not tell a reader.
 */
export function exitReason(exitCode: number, timedOut: string): string {
  return exitCode === 143 || exitCode === 124 ? `timed out: ${timedOut}` : `exit ${exitCode}`;
}

export class ConformanceCluster {
  readonly client: ClusterClient;
  readonly namespace = `k8ts-conformance-${randomBytes(3).toString('hex')}`;
  readonly image: string;
  readonly clusterDomain: string;
  nodes: ClusterNode[] = [];
  /** One per node: httpd on 8080 and 8082 (/cgi-bin/hostname, /cgi-bin/clientip), udpecho on 8081. */
  servers: FixturePod[] = [];
  /** One per node: a pod to probe from. */
  clients: FixturePod[] = [];
  /** One per node: a host-network pod, to probe "from the node". */
  hosts: FixturePod[] = [];
  private readonly transport: HttpsTransport;
  private readonly log: (line: string) => void;

  constructor(private readonly o: ClusterOptions) {
    this.client = o.client;
    this.transport = o.transport;
    this.image = o.image ?? DEFAULT_IMAGE;
    this.clusterDomain = o.clusterDomain ?? 'cluster.local';
    this.log = o.log ?? (() => undefined);
  }

  get nodeCount(): number { return this.nodes.length; }

  /** Creates the namespace and the suite's pods, and waits until every one runs. */
  async setUp(timeoutMs = 180_000): Promise<void> {
    const all = (await this.client.list<Node>(resources.nodes, undefined)).items;
    const usable = all.filter(n => !n.spec?.unschedulable
      && n.status?.conditions?.some(c => c.type === 'Ready' && c.status === 'True')
      && !(n.spec?.taints ?? []).some(t => t.effect === 'NoSchedule' || t.effect === 'NoExecute'));
    if (usable.length === 0) throw new Error('no Ready, schedulable node: nothing to run the suite on');
    this.nodes = usable.slice(0, this.o.maxNodes ?? 3).map(n => ({
      name: n.metadata?.name ?? '',
      ip: n.status?.addresses?.find(a => a.type === 'InternalIP')?.address ?? '',
    }));
    this.log(`namespace ${this.namespace}, ${this.nodes.length} node(s): ${this.nodes.map(n => `${n.name} (${n.ip})`).join(', ')}`);
    await this.client.create(resources.namespaces, undefined, { metadata: { name: this.namespace, labels: { 'k8ts.io/conformance': 'true' } } });
    const pods: Pod[] = [];
    this.nodes.forEach((node, i) => {
      pods.push(this.pod(`netserver-${i}`, node.name, { app: 'netserver', node: `n${i}` }, ['sh', '-c', `httpd -f -p ${HTTP_PORT} -h /var/www & httpd -f -p ${HTTP2_PORT} -h /var/www & udpecho -l ${UDP_PORT} & wait`], [
        { name: 'http', containerPort: HTTP_PORT }, { name: 'http2', containerPort: HTTP2_PORT }, { name: 'udp', containerPort: UDP_PORT, protocol: 'UDP' },
      ]));
      pods.push(this.pod(`client-${i}`, node.name, { app: 'client' }, ['sleep', '100000']));
      pods.push(this.pod(`host-${i}`, node.name, { app: 'host' }, ['sleep', '100000'], [], { hostNetwork: true }));
    });
    for (const p of pods) await this.client.create(resources.pods, this.namespace, p);
    const running = await this.waitForPods(pods.map(p => p.metadata!.name!), timeoutMs);
    const byName = (prefix: string) => this.nodes.map((n, i) => ({ name: `${prefix}-${i}`, node: n.name, ip: running.get(`${prefix}-${i}`)! }));
    this.servers = byName('netserver');
    this.clients = byName('client');
    this.hosts = byName('host');
  }

  /** A pod spec of the suite, pinned to a node (no scheduler decision in the way of the check). */
  pod(name: string, node: string, labels: Record<string, string>, command: string[], ports: NonNullable<Pod['spec']>['containers'][number]['ports'] = [], extra: Partial<NonNullable<Pod['spec']>> = {}): Pod {
    return {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name, namespace: this.namespace, labels },
      spec: {
        nodeName: node, terminationGracePeriodSeconds: 1, ...extra,
        containers: [{ name: 'main', image: this.image, imagePullPolicy: 'IfNotPresent', command, ...(ports.length ? { ports } : {}) }],
      },
    };
  }

  /** Waits for pods to run; returns name → pod IP. Fails with each laggard's state. */
  waitForPods(names: readonly string[], timeoutMs = 120_000): Promise<Map<string, string>> {
    return this.waitForPodsIn(this.namespace, names, timeoutMs);
  }

  async waitForPodsIn(namespace: string, names: readonly string[], timeoutMs = 120_000): Promise<Map<string, string>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pods = (await this.client.list<Pod>(resources.pods, namespace)).items;
      const ready = new Map<string, string>();
      const waiting: string[] = [];
      for (const name of names) {
        const p = pods.find(x => x.metadata?.name === name);
        if (p?.status?.phase === 'Running' && p.status.podIP) ready.set(name, p.status.podIP);
        else {
          const why = p?.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? p?.status?.phase ?? 'not found';
          waiting.push(`${name}: ${why}`);
        }
      }
      if (waiting.length === 0) return ready;
      if (Date.now() > deadline) throw new Error(`pods did not start within ${timeoutMs / 1000} s: ${waiting.join(', ')}`);
      await sleep(500);
    }
  }

  exec(pod: FixturePod | string, command: readonly string[], timeoutMs = 30_000): Promise<ExecResult> {
    return this.execIn(this.namespace, typeof pod === 'string' ? pod : pod.name, command, timeoutMs);
  }

  execIn(namespace: string, pod: string, command: readonly string[], timeoutMs = 30_000): Promise<ExecResult> {
    return this.transport.exec(namespace, pod, 'main', command, timeoutMs);
  }

  /** GET http://ip:port/path from a pod: the body, or a CheckFailure naming what went wrong. */
  async http(from: FixturePod, ip: string, port: number, path = '/cgi-bin/hostname', timeoutS = 5): Promise<string> {
    // busybox 1.35's wget crashes with -T: `timeout` bounds it instead.
    const r = await this.exec(from, ['timeout', String(timeoutS), 'wget', '-qO-', `http://${hostPort(ip, port)}${path}`], (timeoutS + 10) * 1000);
    if (r.exitCode !== 0) throw new CheckFailure(`http://${hostPort(ip, port)}${path} from ${from.name}: ${r.stderr.trim() || exitReason(r.exitCode, `wget got no answer within ${timeoutS} s`)}`);
    return r.stdout.trim();
  }

  /**
   * `http`, retried until the first answer for up to `withinMs`: a Service's rules may land a
   * moment after its endpoints are ready (upstream polls the same way before its checks). Fails
   * with the last error.
   */
  async httpOnceReady(from: FixturePod, ip: string, port: number, path = '/cgi-bin/hostname', withinMs = 15_000): Promise<string> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      try {
        return await this.http(from, ip, port, path);
      } catch (err) {
        if (Date.now() > deadline) throw new CheckFailure(`${(err as Error).message} (still, after retrying for ${withinMs / 1000} s)`);
      }
      await sleep(500);
    }
  }

  /**
   * The client address the server saw (busybox httpd's REMOTE_ADDR). Its socket is IPv6, so an
   * IPv4 client shows as `[::ffff:a.b.c.d]`: that is the same address, not NAT.
   */
  async clientAddressSeen(from: FixturePod, ip: string, port: number): Promise<string> {
    return normalizeClientAddress(await this.http(from, ip, port, '/cgi-bin/clientip'));
  }

  /** One UDP question from a pod; the answer is "<hostname> <client ip>:<port>". */
  async udp(from: FixturePod, ip: string, port: number, opts: { waitMs?: number; tries?: number; sourcePort?: number } = {}): Promise<{ host: string; client: string }> {
    const args = ['udpecho', '-w', String(opts.waitMs ?? 1000), '-n', String(opts.tries ?? 3), ...(opts.sourcePort ? ['-s', String(opts.sourcePort)] : []), ip, String(port)];
    const r = await this.exec(from, args);
    // EPERM on send is the kernel saying a rule on the sender's own node dropped the datagram.
    const eperm = /Operation not permitted/.test(r.stderr) ? ' (a firewall rule on the sending node dropped it)' : '';
    if (r.exitCode !== 0) throw new CheckFailure(`udp ${hostPort(ip, port)} from ${from.name}: ${r.stderr.trim() || `exit ${r.exitCode}`}${eperm}`);
    const [host = '', client = ''] = r.stdout.trim().split(/\s+/);
    return { host, client: client.replace(/:\d+$/, '') };
  }

  /**
   * Asks `ip:port` until every expected backend has answered (upstream's "dial until all endpoints
   * are reached"), at most `tries` times; fails naming the ones never seen.
   */
  async reachAll(from: FixturePod, ip: string, port: number, protocol: 'http' | 'udp', expected: readonly string[], tries = 5 * expected.length + 10): Promise<void> {
    const seen = new Set<string>();
    const errors: string[] = [];
    const t0 = Date.now();
    let i = 0;
    for (; i < tries && !expected.every(e => seen.has(e)); i++) {
      try {
        seen.add(protocol === 'http' ? await this.http(from, ip, port) : (await this.udp(from, ip, port)).host);
      } catch (err) {
        errors.push((err as Error).message);
        // Nothing has answered at all: a broken path times out on every try, and waiting out all
        // of them (minutes) tells no more than the first few.
        if (seen.size === 0 && errors.length >= NO_ANSWER_TRIES && Date.now() - t0 >= NO_ANSWER_MS) { i++; break; }
      }
    }
    const missing = expected.filter(e => !seen.has(e));
    if (missing.length > 0) {
      throw new CheckFailure(`${protocol} ${hostPort(ip, port)} from ${from.name}: never reached ${missing.join(', ')} in ${i} tries (reached: ${[...seen].join(', ') || 'none'}${errors.length ? `; last error: ${errors[errors.length - 1]}` : ''})`);
    }
  }

  async createService(name: string, spec: ServiceSpec): Promise<Service> {
    return this.client.create<Service>(resources.services, this.namespace, { metadata: { name, namespace: this.namespace }, spec });
  }

  async updateService(name: string, mutate: (s: Service) => Service): Promise<Service> {
    for (let attempt = 0; ; attempt++) {
      const cur = await this.client.get<Service>(resources.services, this.namespace, name);
      try {
        return await this.client.update<Service>(resources.services, mutate(structuredClone(cur)));
      } catch (err) {
        if ((err as { code?: number }).code !== 409 || attempt > 5) throw err;
      }
    }
  }

  /** Waits until the Service's EndpointSlices list exactly `count` ready addresses. */
  async waitForEndpoints(service: string, count: number, timeoutMs = 30_000): Promise<string[]> {
    let last: string[] = [];
    await this.eventually(`${count} ready endpoint(s) for service ${service}`, async () => {
      const slices = (await this.client.list<EndpointSlice>(resources.endpointslices, this.namespace, { labelSelector: `kubernetes.io/service-name=${service}` })).items;
      last = slices.flatMap(s => (s.endpoints ?? []).filter(e => e.conditions?.ready !== false).flatMap(e => e.addresses));
      return last.length === count ? last : undefined;
    }, timeoutMs, () => `saw ${last.length}: ${last.join(', ')}`);
    return last;
  }

  async deletePod(name: string): Promise<void> {
    try { await this.client.delete(resources.pods, this.namespace, name, { gracePeriodSeconds: 0 }); } catch (err) { if (!isNotFound(err)) throw err; }
  }

  async createPod(pod: Pod): Promise<void> {
    await this.client.create(resources.pods, this.namespace, pod as KubeObject);
  }

  /** Polls `probe` until it returns a value; fails with `what` (and `detail()`) after the timeout. */
  async eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, detail?: () => string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError = '';
    for (;;) {
      try {
        const v = await probe();
        if (v !== undefined) return v;
      } catch (err) {
        lastError = (err as Error).message;
      }
      if (Date.now() > deadline) throw new CheckFailure(`timed out after ${timeoutMs / 1000} s waiting for ${what}${detail ? ` (${detail()})` : lastError ? ` (last error: ${lastError})` : ''}`);
      await sleep(500);
    }
  }

  /** Deletes the namespace and waits (up to `timeoutMs`) until it is gone. */
  async tearDown(timeoutMs = 120_000): Promise<void> {
    try {
      await this.client.delete(resources.namespaces, undefined, this.namespace);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try { await this.client.get(resources.namespaces, undefined, this.namespace); } catch (err) { if (isNotFound(err)) return; }
      await sleep(1000);
    }
    this.log(`namespace ${this.namespace} is still terminating after ${timeoutMs / 1000} s`);
  }
}

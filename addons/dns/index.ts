// The cluster DNS add-on as `k8ts server` runs it: informers on Services, EndpointSlices and Pods
// feed the zone (each event recompiles the one Service or Pod it concerns, synchronously, so a
// query right after the watch event sees it), and a DnsServer answers on UDP and TCP. It reaches
// the apiserver over HTTPS like every other component (ARCHITECTURE.md, "The seams").
//
// Alternatives rejected: rebuilding the whole zone on every event (O(services) per change, 10 000
// Services make that ~50 ms of blocked queries per event) and a debounced rebuild (adds latency
// against the 1 s budget for no gain, since per-object fragments are cheap and exact).
import { readFileSync } from 'node:fs';
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { HttpsTransport } from '../../api/client/https.js';
import { Informer } from '../../api/client/informer.js';
import { RestClusterClient } from '../../api/client/rest.js';
import { resources, type ClusterClient } from '../../api/client/types.js';
import { DnsCache } from './cache.js';
import { Forwarder, parseResolvConf, type Upstream } from './forward.js';
import { compilePod, compileService } from './records.js';
import { DnsServer } from './server.js';
import { Zone } from './zone.js';

export { Zone, resolve } from './zone.js';
export { DnsServer, answer } from './server.js';
export { Forwarder, parseResolvConf } from './forward.js';
export { compileService, compilePod } from './records.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface ClusterDnsOptions {
  /** A client to watch with; else one is made from `server`, `caPem`, `cert`, `key`. */
  client?: ClusterClient;
  server?: string;
  caPem?: string;
  cert?: string;
  key?: string;
  /** Listen address; default 0.0.0.0 (the cluster DNS Service IP 10.43.0.10 reaches it through the proxy). */
  host?: string;
  /** Default 53; 0 picks a free port. */
  port?: number;
  /** --cluster-domain; default cluster.local. */
  clusterDomain?: string;
  /** --cluster-dns: the address `ns.dns.<zone>` resolves to; default 10.43.0.10. */
  clusterDnsIPs?: string[];
  /** Upstream resolvers come from this file's nameserver lines; default /etc/resolv.conf. */
  resolvConf?: string;
  /** Or these upstreams (tests); overrides resolvConf. */
  upstreams?: Upstream[];
  /** Port of the resolv.conf nameservers (53; tests use a fake upstream on another port). */
  upstreamPort?: number;
  ttl?: number;
  onError?: (err: unknown) => void;
}

export interface ClusterDns {
  readonly host: string;
  readonly port: number;
  readonly zone: Zone;
  readonly server: DnsServer;
  readonly forwarder: Forwarder;
  stop(): Promise<void>;
}

const svcKey = (ns: string | undefined, name: string | undefined) => `${ns ?? 'default'}/${name ?? ''}`;

/** Wires informers to a zone; exported for tests that bring their own client. */
export class ZoneSync {
  readonly services: Informer<Service>;
  readonly slices: Informer<EndpointSlice>;
  readonly pods: Informer<Pod>;

  constructor(client: ClusterClient, readonly zone: Zone, onError?: (err: unknown) => void) {
    const errs = onError ? { onError } : {};
    this.services = new Informer<Service>(client, resources.services, errs);
    this.slices = new Informer<EndpointSlice>(client, resources.endpointslices, {
      ...errs,
      indexers: { service: s => { const n = s.metadata?.labels?.[SERVICE_NAME_LABEL]; return n ? [svcKey(s.metadata?.namespace, n)] : []; } },
    });
    this.pods = new Informer<Pod>(client, resources.pods, errs);
    const sliceOwner = (s: EndpointSlice) => { const n = s.metadata?.labels?.[SERVICE_NAME_LABEL]; return n ? svcKey(s.metadata?.namespace, n) : undefined; };
    this.services.on({
      add: s => this.syncService(svcKey(s.metadata?.namespace, s.metadata?.name)),
      update: (_o, s) => this.syncService(svcKey(s.metadata?.namespace, s.metadata?.name)),
      delete: s => this.syncService(svcKey(s.metadata?.namespace, s.metadata?.name)),
    });
    const onSlice = (...ss: EndpointSlice[]) => { for (const k of new Set(ss.map(sliceOwner))) if (k) this.syncService(k); };
    this.slices.on({ add: s => onSlice(s), update: (o, s) => onSlice(o, s), delete: s => onSlice(s) });
    const onPod = (p: Pod, gone = false) => this.zone.set(`pod/${svcKey(p.metadata?.namespace, p.metadata?.name)}`, gone ? undefined : compilePod(p, this.zone.domain));
    this.pods.on({ add: p => onPod(p), update: (_o, p) => onPod(p), delete: p => onPod(p, true) });
  }

  /** Recompiles one Service from the caches (level-triggered: the event only names the key). */
  syncService(key: string): void {
    const [ns, name] = key.split('/') as [string, string];
    const svc = this.services.getBy(ns, name);
    this.zone.set(`svc/${key}`, svc ? compileService(svc, this.slices.byIndex('service', key), this.zone.domain) : undefined);
  }

  async start(): Promise<void> {
    await Promise.all([this.services.start(), this.slices.start(), this.pods.start()]);
  }

  stop(): void {
    this.pods.stop();
    this.slices.stop();
    this.services.stop();
  }
}

/**
 * The upstream resolvers: `upstreams`, else resolv.conf's nameservers minus our own addresses
 * (a host whose resolv.conf names the cluster DNS would otherwise forward to itself forever).
 */
export function upstreamsFrom(opts: Pick<ClusterDnsOptions, 'resolvConf' | 'upstreams' | 'upstreamPort' | 'clusterDnsIPs' | 'host' | 'port'>): Upstream[] {
  if (opts.upstreams) return opts.upstreams;
  let text = '';
  try { text = readFileSync(opts.resolvConf ?? '/etc/resolv.conf', 'utf8'); } catch { /* no upstreams: outside names get SERVFAIL */ }
  const port = opts.upstreamPort ?? 53;
  const ours = new Set(opts.clusterDnsIPs ?? ['10.43.0.10']);
  return parseResolvConf(text)
    .filter(host => !ours.has(host) && !(host === opts.host && port === (opts.port ?? 53)))
    .map(host => ({ host, port }));
}

/**
 * Publishes the add-on as upstream's `kube-system/kube-dns` Service at the cluster DNS IP, with a
 * hand-made EndpointSlice (the Service has no selector, so the EndpointSlice controller leaves it
 * alone) pointing at the addresses the add-on listens on; the proxy's rules then carry pod
 * traffic for 10.43.0.10:53 to us. Idempotent: creates what is missing, replaces a stale slice.
 */
export async function ensureKubeDnsService(client: ClusterClient, opts: { clusterIP: string; endpointIPs: string[]; port: number }): Promise<void> {
  const ns = 'kube-system';
  const labels = { 'k8s-app': 'kube-dns', 'kubernetes.io/name': 'CoreDNS', 'kubernetes.io/cluster-service': 'true' };
  try {
    await client.create<Service>(resources.services, ns, {
      metadata: { name: 'kube-dns', namespace: ns, labels },
      spec: { clusterIP: opts.clusterIP, clusterIPs: [opts.clusterIP], ports: [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: opts.port },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: opts.port },
      ] },
    });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
  const slice: EndpointSlice = {
    metadata: { name: 'kube-dns-k8ts', namespace: ns, labels: { [SERVICE_NAME_LABEL]: 'kube-dns', 'endpointslice.kubernetes.io/managed-by': 'k8ts-dns' } },
    addressType: 'IPv4',
    endpoints: opts.endpointIPs.map(ip => ({ addresses: [ip], conditions: { ready: true } })),
    ports: [{ name: 'dns', port: opts.port, protocol: 'UDP' }, { name: 'dns-tcp', port: opts.port, protocol: 'TCP' }],
  };
  try {
    await client.create<EndpointSlice>(resources.endpointslices, ns, slice);
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
    const have = await client.get<EndpointSlice>(resources.endpointslices, ns, 'kube-dns-k8ts');
    await client.update<EndpointSlice>(resources.endpointslices, { ...slice, metadata: { ...slice.metadata, resourceVersion: have.metadata?.resourceVersion ?? '' } });
  }
}

/** Starts the cluster DNS add-on: resolves once the caches are synced and both sockets listen. */
export async function startClusterDns(opts: ClusterDnsOptions): Promise<ClusterDns> {
  let transport: HttpsTransport | undefined;
  let client = opts.client;
  if (!client) {
    if (!opts.server || !opts.caPem || !opts.cert || !opts.key) throw new Error('startClusterDns needs `client`, or `server`, `caPem`, `cert` and `key`');
    transport = new HttpsTransport({ server: opts.server, ca: opts.caPem, cert: opts.cert, key: opts.key, userAgent: 'k8ts-dns' });
    client = new RestClusterClient(transport);
  }
  const zone = new Zone({ domain: opts.clusterDomain ?? 'cluster.local', nsIPs: opts.clusterDnsIPs ?? ['10.43.0.10'], ttl: opts.ttl ?? 5, serial: Math.floor(Date.now() / 1000) });
  const sync = new ZoneSync(client, zone, opts.onError);
  const forwarder = new Forwarder({ upstreams: upstreamsFrom(opts), cache: new DnsCache() });
  const server = new DnsServer({ zone, forwarder, host: opts.host ?? '0.0.0.0', port: opts.port ?? 53, ...(opts.onError ? { onError: opts.onError } : {}) });
  try {
    await sync.start();
    await server.start();
  } catch (err) {
    sync.stop();
    forwarder.close();
    transport?.close();
    throw err;
  }
  return {
    host: server.address.host, port: server.port, zone, server, forwarder,
    stop: async () => {
      await server.stop();
      forwarder.close();
      sync.stop();
      transport?.close();
    },
  };
}

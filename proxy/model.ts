// The mode-neutral service model: what every proxy mode (nftables, iptables, IPVS) programs, built
// from Services and EndpointSlices. Pure.
//
// Design notes. One entry per (Service, port) — kube-proxy's "ServicePortName" — carrying every
// candidate endpoint with its conditions, and the node-independent facts of the port (ClusterIPs,
// NodePort, external and load-balancer IPs, affinity, traffic policies). Which endpoints a given
// kind of traffic uses is decided by `clusterEndpoints`/`externalEndpoints`, which follow upstream's
// CategorizeEndpoints: ready endpoints; if none is ready, serving-and-terminating ones; and with a
// Local traffic policy only those on this node. Services that kube-proxy ignores (headless,
// ExternalName, no ClusterIP) produce no entries. IPv4 only for now.
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface EndpointModel {
  readonly ip: string;
  readonly port: number;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly nodeName?: string;
}

export interface ServicePortModel {
  /** `namespace/name:port-name/protocol`, stable and unique. */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly portName: string;
  readonly protocol: Protocol;
  readonly port: number;
  readonly clusterIPs: readonly string[];
  readonly nodePort?: number;
  readonly externalIPs: readonly string[];
  readonly loadBalancerIPs: readonly string[];
  /** Seconds of ClientIP affinity, if enabled. */
  readonly affinityTimeoutSeconds?: number;
  readonly internalTrafficLocal: boolean;
  readonly externalTrafficLocal: boolean;
  /** Endpoints in a stable order (by ip, then port), deduplicated across slices. */
  readonly endpoints: readonly EndpointModel[];
}

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/**
 * Dotted-quad IPv4 (1–3 digits per octet, each ≤ 255). A character loop rather than a regular
 * expression with captures: it runs once per endpoint, 100 000 times in a 10 000-service sync.
 */
export const isIPv4 = (s: string): boolean => {
  let octets = 0;
  let digits = 0;
  let value = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (++digits > 3) return false;
      value = value * 10 + (c - 48);
    } else if (c === 46 && digits > 0 && value <= 255 && octets < 3) {
      octets++;
      digits = 0;
      value = 0;
    } else return false;
  }
  return octets === 3 && digits > 0 && value <= 255;
};

/** Builds the model from the current Services and EndpointSlices. */
export function buildServiceModel(services: readonly Service[], slices: readonly EndpointSlice[]): ServicePortModel[] {
  const slicesBySvc = new Map<string, EndpointSlice[]>();
  for (const s of slices) {
    const svc = s.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!svc || (s.addressType !== undefined && s.addressType !== 'IPv4')) continue;
    const key = `${s.metadata?.namespace ?? 'default'}/${svc}`;
    let l = slicesBySvc.get(key);
    if (!l) slicesBySvc.set(key, (l = []));
    l.push(s);
  }
  const out: ServicePortModel[] = [];
  for (const svc of services) {
    const spec = svc.spec;
    const ns = svc.metadata?.namespace ?? 'default';
    const name = svc.metadata?.name ?? '';
    if (!spec || spec.type === 'ExternalName') continue;
    const clusterIPs = (spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : [])).filter(isIPv4);
    if (clusterIPs.length === 0) continue; // headless ("None") or not yet allocated
    const svcSlices = slicesBySvc.get(`${ns}/${name}`) ?? [];
    const lbIPs = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter(isIPv4);
    for (const p of spec.ports ?? []) {
      const protocol = (p.protocol ?? 'TCP') as Protocol;
      const portName = p.name ?? '';
      const eps = new Map<string, EndpointModel>();
      for (const sl of svcSlices) {
        const sp = (sl.ports ?? []).find((x) => (x.name ?? '') === portName && (x.protocol ?? 'TCP') === protocol);
        if (!sp || sp.port === undefined) continue;
        for (const e of sl.endpoints ?? []) {
          const c = e.conditions ?? {};
          const ready = c.ready !== false; // nil means ready (API contract)
          const serving = c.serving ?? ready;
          const terminating = c.terminating ?? false;
          const ip = e.addresses[0]; // the first address is the one proxies use
          if (ip === undefined || !isIPv4(ip)) continue;
          const key = `${ip}:${sp.port}`;
          const prev = eps.get(key);
          if (prev && prev.ready) continue;
          eps.set(key, e.nodeName ? { ip, port: sp.port, ready, serving, terminating, nodeName: e.nodeName } : { ip, port: sp.port, ready, serving, terminating });
        }
      }
      const endpoints = sortEndpoints([...eps.values()]);
      const affinity = spec.sessionAffinity === 'ClientIP'
        ? spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800
        : undefined;
      out.push({
        id: `${ns}/${name}:${portName}/${protocol}`,
        namespace: ns, name, portName, protocol, port: p.port, clusterIPs,
        ...(p.nodePort && (spec.type === 'NodePort' || spec.type === 'LoadBalancer') ? { nodePort: p.nodePort } : {}),
        externalIPs: (spec.externalIPs ?? []).filter(isIPv4),
        loadBalancerIPs: lbIPs,
        ...(affinity !== undefined ? { affinityTimeoutSeconds: affinity } : {}),
        internalTrafficLocal: spec.internalTrafficPolicy === 'Local',
        externalTrafficLocal: spec.externalTrafficPolicy === 'Local' && (spec.type === 'NodePort' || spec.type === 'LoadBalancer'),
        endpoints,
      });
    }
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** A dotted-quad IPv4 address as an unsigned number (a character loop: no split, no garbage). */
export function ipNum(ip: string): number {
  let n = 0;
  let octet = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) { n = n * 256 + octet; octet = 0; } else octet = octet * 10 + (c - 48);
  }
  return n * 256 + octet;
}

/**
 * Endpoints by address, then port. Slices usually list them in order already: checking that is one
 * pass, where a sort would parse each address once per comparison (or allocate to decorate).
 */
function sortEndpoints(eps: EndpointModel[]): EndpointModel[] {
  const nums = eps.map((e) => ipNum(e.ip));
  let sorted = true;
  for (let i = 1; i < eps.length && sorted; i++) sorted = nums[i - 1]! < nums[i]! || (nums[i - 1] === nums[i] && eps[i - 1]!.port <= eps[i]!.port);
  if (sorted) return eps;
  const idx = eps.map((_, i) => i).sort((a, b) => nums[a]! - nums[b]! || eps[a]!.port - eps[b]!.port);
  return idx.map((i) => eps[i]!);
}

function usable(eps: readonly EndpointModel[]): EndpointModel[] {
  const ready = eps.filter((e) => e.ready);
  return ready.length ? ready : eps.filter((e) => e.serving && e.terminating);
}

/** Endpoints for traffic to the ClusterIP from this node. */
export function clusterEndpoints(sp: ServicePortModel, nodeName: string): EndpointModel[] {
  return usable(sp.internalTrafficLocal ? sp.endpoints.filter((e) => e.nodeName === nodeName) : sp.endpoints);
}

/**
 * Endpoints of the Cluster policy whatever the service's policies say: where pods and the node
 * itself go when they reach an externalTrafficPolicy=Local service's external addresses (upstream's
 * short circuit through KUBE-SVC).
 */
export function clusterPolicyEndpoints(sp: ServicePortModel): EndpointModel[] {
  return usable(sp.endpoints);
}

/** Endpoints for traffic arriving from outside (NodePort, externalIPs, load-balancer IPs). */
export function externalEndpoints(sp: ServicePortModel, nodeName: string): EndpointModel[] {
  return usable(sp.externalTrafficLocal ? sp.endpoints.filter((e) => e.nodeName === nodeName) : sp.endpoints);
}

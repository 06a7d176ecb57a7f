// What the network plugins need to know about a Node, read from the API object, and the generic
// desired-vs-observed diff both plugins' planners are built on. Pure.
//
// Design notes. A node takes part in the pod network once it has a podCIDR (allocated by the
// node-IPAM controller) and an underlay address. The underlay address is the one the node
// published itself (`k8ts.io/public-ip`, flannel's `public-ip`), falling back to its InternalIP, so
// a node whose status is not posted yet is still reachable as soon as its plugin ran once. Only
// IPv4 is handled: the pod network is single-stack for now.
import type { Node } from 'kubernetes-types/core/v1.js';
import { formatCidr, formatIP, nthIP, parseCidrSloppy, parseIPSloppy } from '../../api/cidr.js';

/** Annotations we publish on our own Node, mirroring flannel's `flannel.alpha.coreos.com/*`. */
export const ANNOTATIONS = {
  /** `{"VNI":1,"VtepMAC":"…"}` (vxlan mode only), as flannel's `backend-data`. */
  backendData: 'k8ts.io/backend-data',
  /** `vxlan` or `routed`. */
  backendType: 'k8ts.io/backend-type',
  /** The node's underlay address: VXLAN packets and routed pod traffic go there. */
  publicIP: 'k8ts.io/public-ip',
} as const;

export type NetMode = 'vxlan' | 'routed';

export interface NodeNet {
  readonly name: string;
  /** Underlay IPv4 address, if known. */
  readonly ip?: string;
  /** The node's IPv4 pod block, normalised (`10.244.1.0/24`). */
  readonly podCidr?: string;
  /** The block's network address (`10.244.1.0`): the VXLAN device address and next hop. */
  readonly podGateway?: string;
  /** From `k8ts.io/backend-data`, when well-formed. */
  readonly vtepMac?: string;
  readonly vni?: number;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

function ipv4(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const ip = parseIPSloppy(text);
  return ip?.family === 4 ? formatIP(ip) : undefined;
}

/** The node's IPv4 pod block: `spec.podCIDRs` (first IPv4 one) or `spec.podCIDR`. */
export function podCidrOf(node: Node): string | undefined {
  const all = node.spec?.podCIDRs?.length ? node.spec.podCIDRs : node.spec?.podCIDR ? [node.spec.podCIDR] : [];
  for (const text of all) {
    const c = parseCidrSloppy(text);
    if (c?.family === 4) return formatCidr(c);
  }
  return undefined;
}

/** The node's InternalIP (IPv4), else its ExternalIP. */
export function internalIPOf(node: Node): string | undefined {
  const addrs = node.status?.addresses ?? [];
  for (const type of ['InternalIP', 'ExternalIP']) {
    for (const a of addrs) if (a.type === type && ipv4(a.address)) return ipv4(a.address);
  }
  return undefined;
}

export function parseBackendData(text: string | undefined): { vtepMac?: string; vni?: number } {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as { VtepMAC?: unknown; VNI?: unknown };
    const mac = typeof v.VtepMAC === 'string' ? v.VtepMAC.toLowerCase() : undefined;
    return {
      ...(mac && MAC_RE.test(mac) ? { vtepMac: mac } : {}),
      ...(typeof v.VNI === 'number' && Number.isInteger(v.VNI) ? { vni: v.VNI } : {}),
    };
  } catch {
    return {};
  }
}

export function nodeNet(node: Node): NodeNet {
  const ann = node.metadata?.annotations ?? {};
  const podCidr = podCidrOf(node);
  const ip = ipv4(ann[ANNOTATIONS.publicIP]) ?? internalIPOf(node);
  const gw = podCidr ? formatIP(nthIP(parseCidrSloppy(podCidr)!, 0)) : undefined;
  return {
    name: node.metadata?.name ?? '',
    ...(ip ? { ip } : {}),
    ...(podCidr ? { podCidr, podGateway: gw! } : {}),
    ...parseBackendData(ann[ANNOTATIONS.backendData]),
  };
}

/** A plan: objects to delete (first) and to add. A changed object appears in both. */
export interface Plan<T> {
  readonly add: readonly T[];
  readonly del: readonly T[];
}

export const emptyPlan = <T>(): Plan<T> => ({ add: [], del: [] });
export const isEmptyPlan = (p: Plan<unknown>): boolean => p.add.length === 0 && p.del.length === 0;

/**
 * Diffs by key: what is observed but not desired is deleted, what is desired but not observed is
 * added, and an object whose key matches but which differs (`same` false) is deleted and re-added.
 * Duplicated observed keys (two routes to one prefix) are all deleted except one that matches.
 */
export function planByKey<T>(desired: readonly T[], observed: readonly T[], key: (t: T) => string, same: (want: T, have: T) => boolean): Plan<T> {
  const want = new Map<string, T>();
  for (const d of desired) want.set(key(d), d);
  const add: T[] = [];
  const del: T[] = [];
  const satisfied = new Set<string>();
  for (const o of observed) {
    const k = key(o);
    const d = want.get(k);
    if (d !== undefined && !satisfied.has(k) && same(d, o)) satisfied.add(k);
    else del.push(o);
  }
  for (const [k, d] of want) if (!satisfied.has(k)) add.push(d);
  return { add, del };
}

// The flannel-like VXLAN overlay, pure part: from this node and every Node object, the device, its
// address and the per-peer neighbour, FDB and route entries we want; from that and what the kernel
// has, the plan. The applier (./apply.ts) only executes plans.
//
// Design notes and history. As flannel's vxlan backend (DATAPLANE.md): one device `k8ts.1` (VNI 1,
// the kernel's default port 8472, learning off, local = node address, dev = underlay, MTU =
// underlay − 50 for the outer IPv4 + UDP + VXLAN + Ethernet headers). The device address is the
// node's pod block network address as a /32, and every other node's block is routed `via
// <its network address> dev k8ts.1 onlink`: the kernel then needs that address's MAC (a permanent
// neighbour entry: the peer's VTEP MAC) and where to send frames for that MAC (a permanent FDB
// entry: the peer's underlay address). All three come from the Node objects, so no multicast,
// learning or ARP is ever needed on the overlay.
// The VTEP MAC is derived from the node name (a hash, locally administered, unicast), so it is
// stable across restarts, re-installs and node re-registration without any state on disk; we still
// publish it (`k8ts.io/backend-data`) and peers read it from there, as flannel's do, so a node
// running a different MAC scheme interoperates. Rejected: the kernel's random MAC persisted in a
// file — one more piece of state to lose, for nothing.
import { createHash } from 'node:crypto';
import type { Node } from 'kubernetes-types/core/v1.js';
import { ANNOTATIONS, nodeNet, planByKey, type NodeNet, type Plan } from '../common/plan-nodes.js';
import { planRoutes, type ObservedRoute, type RouteSpec } from '../common/plan-routes.js';

export const VXLAN_DEVICE = 'k8ts.1';
export const VXLAN_VNI = 1;
export const VXLAN_PORT = 8472;
/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14). */
export const VXLAN_OVERHEAD = 50;

/**
 * Whether this kernel (`uname -r`, os.release()) needs TX checksum offload off on the VXLAN device:
 * the double-NAT checksum bug (kubernetes#88986, flannel#1279, calico#3145) is a bug of kernels
 * before 5.7, which is where calico turns offload off (felix#2811); flannel only documents the
 * switch. Off costs here ~5× of cross-node throughput (bench/network.ts: 0.2–0.5 against 1.5–1.9
 * Gbit/s on kernel 6.18), so newer kernels keep it on. A release we cannot read gets the
 * workaround: a slow overlay beats 63 s stalls.
 */
export function vxlanNeedsChecksumWorkaround(release: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return true;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major < 5 || (major === 5 && minor < 7);
}

export interface VxlanDeviceSpec {
  readonly name: string;
  readonly vni: number;
  readonly port: number;
  readonly local: string;
  /** The underlay interface (by name). */
  readonly underlay: string;
  readonly mtu: number;
  readonly mac: string;
  readonly learning: boolean;
}

/** The device as observed (`undefined` fields: not reported). */
export interface ObservedVxlanDevice {
  readonly name: string;
  readonly kind: string;
  readonly vni?: number;
  readonly port?: number;
  readonly local?: string;
  readonly underlay?: string;
  readonly mtu?: number;
  readonly mac?: string;
  readonly learning?: boolean;
  readonly up?: boolean;
}

export interface NeighSpec { readonly ip: string; readonly mac: string }
export interface FdbSpec { readonly mac: string; readonly dst: string }

export interface VxlanPeer {
  readonly node: string;
  readonly podCidr: string;
  readonly gateway: string;
  readonly vtepMac: string;
  readonly nodeIP: string;
}

export interface VxlanDesired {
  readonly device: VxlanDeviceSpec;
  /** `podCIDR network/32`. */
  readonly address: string;
  readonly peers: readonly VxlanPeer[];
  readonly neighbours: readonly NeighSpec[];
  readonly fdb: readonly FdbSpec[];
  readonly routes: readonly RouteSpec[];
  /** Nodes left out, with why (no podCIDR yet, no VTEP MAC published yet, …): for logs. */
  readonly skipped: readonly { node: string; reason: string }[];
}

export interface VxlanSelf {
  readonly nodeName: string;
  readonly nodeIP: string;
  readonly podCidr: string;
  readonly underlay: string;
  readonly underlayMtu: number;
  /** Overrides the derived MAC (tests). */
  readonly mac?: string;
}

/** A stable, locally administered unicast MAC for a node's VTEP. */
export function vtepMacFor(nodeName: string): string {
  const b = createHash('sha256').update(`k8ts-vtep/${nodeName}`).digest();
  b[0] = ((b[0]! & 0xfe) | 0x02) & 0xff;
  return [...b.subarray(0, 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** The annotations this node publishes (merge-patched onto its Node). */
export function vxlanAnnotations(mac: string, nodeIP: string): Record<string, string> {
  return {
    [ANNOTATIONS.backendData]: JSON.stringify({ VNI: VXLAN_VNI, VtepMAC: mac }),
    [ANNOTATIONS.backendType]: 'vxlan',
    [ANNOTATIONS.publicIP]: nodeIP,
  };
}

export function vxlanDeviceSpec(self: VxlanSelf): VxlanDeviceSpec {
  return {
    name: VXLAN_DEVICE, vni: VXLAN_VNI, port: VXLAN_PORT, local: self.nodeIP, underlay: self.underlay,
    mtu: self.underlayMtu - VXLAN_OVERHEAD, mac: self.mac ?? vtepMacFor(self.nodeName), learning: false,
  };
}

/** Everything we want in the kernel, from this node's facts and all Node objects. */
export function desiredVxlan(self: VxlanSelf, nodes: readonly Node[]): VxlanDesired {
  const device = vxlanDeviceSpec(self);
  const own = nodeNet({ metadata: { name: self.nodeName }, spec: { podCIDR: self.podCidr } });
  const peers: VxlanPeer[] = [];
  const skipped: { node: string; reason: string }[] = [];
  const seenMacs = new Set<string>([device.mac]);
  const sorted = nodes.map(nodeNet).filter((n) => n.name !== self.nodeName).sort((a, b) => a.name.localeCompare(b.name));
  for (const n of sorted) {
    const why = peerProblem(n, self);
    if (why) { skipped.push({ node: n.name, reason: why }); continue; }
    if (seenMacs.has(n.vtepMac!)) { skipped.push({ node: n.name, reason: `VTEP MAC ${n.vtepMac!} is already used by another node` }); continue; }
    seenMacs.add(n.vtepMac!);
    peers.push({ node: n.name, podCidr: n.podCidr!, gateway: n.podGateway!, vtepMac: n.vtepMac!, nodeIP: n.ip! });
  }
  return {
    device,
    address: `${own.podGateway!}/32`,
    peers,
    neighbours: peers.map((p) => ({ ip: p.gateway, mac: p.vtepMac })),
    fdb: peers.map((p) => ({ mac: p.vtepMac, dst: p.nodeIP })),
    routes: peers.map((p): RouteSpec => ({ dst: p.podCidr, type: 'unicast', gateway: p.gateway, dev: VXLAN_DEVICE, onlink: true })),
    skipped,
  };
}

function peerProblem(n: NodeNet, self: VxlanSelf): string | undefined {
  if (!n.podCidr) return 'no podCIDR allocated yet';
  if (!n.ip) return 'no underlay address (k8ts.io/public-ip or InternalIP) yet';
  if (!n.vtepMac) return `no VTEP MAC published yet (${ANNOTATIONS.backendData})`;
  if (n.vni !== undefined && n.vni !== VXLAN_VNI) return `VNI ${n.vni} differs from ours (${VXLAN_VNI})`;
  if (n.podCidr === self.podCidr) return `podCIDR ${n.podCidr} is also ours`;
  if (n.ip === self.nodeIP) return `underlay address ${n.ip} is also ours`;
  return undefined;
}

/**
 * Why an existing device cannot be kept (it must be deleted and re-created), or `undefined`.
 * MTU, MAC and up/down can be changed in place; the VXLAN attributes cannot.
 */
export function vxlanIncompatibility(want: VxlanDeviceSpec, have: ObservedVxlanDevice): string | undefined {
  if (have.kind !== 'vxlan') return `"${have.name}" is a ${have.kind || 'non-vxlan'} device`;
  if (have.vni !== undefined && have.vni !== want.vni) return `VNI is ${have.vni}, want ${want.vni}`;
  if (have.port !== undefined && have.port !== want.port) return `port is ${have.port}, want ${want.port}`;
  if ((have.local ?? '') !== want.local) return `local address is ${have.local ?? 'unset'}, want ${want.local}`;
  if (have.underlay !== undefined && have.underlay !== want.underlay) return `underlay device is ${have.underlay}, want ${want.underlay}`;
  if (have.learning !== undefined && have.learning !== want.learning) return `learning is ${have.learning ? 'on' : 'off'}, want ${want.learning ? 'on' : 'off'}`;
  return undefined;
}

export type DeviceAction =
  | { readonly action: 'create' }
  | { readonly action: 'recreate'; readonly reason: string }
  | { readonly action: 'update'; readonly mtu?: number; readonly mac?: string; readonly up?: true }
  | { readonly action: 'keep' };

export function planDevice(want: VxlanDeviceSpec, have: ObservedVxlanDevice | undefined): DeviceAction {
  if (!have) return { action: 'create' };
  const reason = vxlanIncompatibility(want, have);
  if (reason) return { action: 'recreate', reason };
  const mtu = have.mtu !== want.mtu ? want.mtu : undefined;
  const mac = have.mac?.toLowerCase() !== want.mac ? want.mac : undefined;
  const up = have.up !== true ? true : undefined;
  if (mtu === undefined && mac === undefined && up === undefined) return { action: 'keep' };
  return { action: 'update', ...(mtu !== undefined ? { mtu } : {}), ...(mac !== undefined ? { mac } : {}), ...(up ? { up } : {}) };
}

export interface VxlanObserved {
  readonly device?: ObservedVxlanDevice;
  /** IPv4 addresses on the device, `a.b.c.d/len`. */
  readonly addresses: readonly string[];
  /** Permanent neighbour entries on the device. */
  readonly neighbours: readonly NeighSpec[];
  /** FDB entries on the device that have a remote destination. */
  readonly fdb: readonly FdbSpec[];
  /** Every route of the main table (the planner picks ours). */
  readonly routes: readonly ObservedRoute[];
}

export interface VxlanPlan {
  readonly device: DeviceAction;
  readonly addresses: Plan<string>;
  readonly neighbours: Plan<NeighSpec>;
  readonly fdb: Plan<FdbSpec>;
  readonly routes: Plan<RouteSpec>;
}

/**
 * The plan. A device that is (re)created starts empty, so everything on it is planned as an add.
 * The applier adds neighbours, then FDB entries, then routes, and deletes in the reverse order,
 * so a route never points at a next hop the kernel cannot resolve.
 */
export function planVxlan(want: VxlanDesired, have: VxlanObserved, protocol: number): VxlanPlan {
  const device = planDevice(want.device, have.device);
  const fresh = device.action === 'create' || device.action === 'recreate';
  const onDevice = <T>(xs: readonly T[]): readonly T[] => (fresh ? [] : xs);
  // Routes via the old device vanish with it; the others (routed-mode leftovers) stay observed.
  const routes = fresh ? have.routes.filter((r) => r.dev !== want.device.name) : have.routes;
  return {
    device,
    addresses: planByKey([want.address], onDevice(have.addresses), (a) => a, (a, b) => a === b),
    neighbours: planByKey(want.neighbours, onDevice(have.neighbours), (n) => n.ip, (a, b) => a.mac === b.mac.toLowerCase()),
    // A vxlan FDB may hold several destinations per MAC: key on both, so a moved node's stale
    // destination is deleted rather than kept alongside the new one.
    fdb: planByKey(want.fdb, onDevice(have.fdb), (f) => `${f.mac.toLowerCase()} ${f.dst}`, () => true),
    routes: planRoutes(want.routes, routes, protocol),
  };
}

export function isNoopVxlanPlan(p: VxlanPlan): boolean {
  return p.device.action === 'keep'
    && [p.addresses, p.neighbours, p.fdb, p.routes].every((x) => x.add.length === 0 && x.del.length === 0);
}

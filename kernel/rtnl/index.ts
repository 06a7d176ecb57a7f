// rtnetlink for k8ts: links (veth, bridge, vxlan), addresses, routes, neighbours, bridge FDB and
// per-namespace sysctls — the one module the CNI plugin and the netplugins use to program the
// kernel's network stack.
//
// Design notes.
// - One `Rtnl` object = one NETLINK_ROUTE socket bound to one network namespace for its whole
//   life (a netlink socket talks to the namespace its creator thread was in at `socket(2)`), made
//   with `withNetnsPathSync`. Open one per namespace and close it when done.
// - The typed message formats come from the `netlink` package; what it leaves as raw bytes (the
//   nested IFLA_LINKINFO of veth/bridge/vxlan and bridge-port options) is encoded in ./encode.ts.
// - IPv4 only: k8ts's pod network is single-stack IPv4 today. Addresses are plain strings.
// - Every failure is an `RtnlError` naming the operation, the object and the kernel's errno, so a
//   caller can tell EEXIST from ENODEV without string matching, and a log line says what failed.
// - `ensure*` functions are idempotent: they read first and only change what differs.
// - Ownership: routes k8ts installs carry `RTPROT_K8TS` (see below), so sync and cleanup can list
//   and delete exactly ours. Links are recognised by name prefix (the caller's convention).
// - Sysctls: /proc/sys/net/* is resolved against the network namespace of the thread that opens
//   the file (net_ctl_header_lookup uses current->nsproxy), so a write done while the thread is
//   switched into a namespace lands in that namespace; rtnl.itest.ts checks this.
// Rejected: shelling out to `ip` (a process per call: ~2–5 ms each, 100× the netlink round trip,
// and text parsing) — `ip -j` is used only by the tests, as the independent witness.
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { RtNetlinkSocket } from 'netlink/dist/rt/rt.js';
import type * as rt from 'netlink/dist/rt/structs.js';
import { withNetnsPathSync } from '../setns.js';
import {
  bridgePortLinkInfo, bufToIpv4, bufToMac, errnoName, ipv4ToBuf, kindLinkInfo, macToBuf,
  parseLinkInfo, parsePrefix, vethLinkInfo, vxlanLinkInfo,
} from './encode.js';

// Start-up matters for the CNI plugin (one process per pod attach): the package's rt module alone
// (not its index, which also loads genl/nl80211/wg), loaded with require — an ESM import of this
// CommonJS package makes Node lex its large generated sources for named exports, ~45 ms of CPU
// per process start (measured: 105 → 60 ms CPU for loading, node's own 45 ms included).
const require = createRequire(import.meta.url);
const { createRtNetlink } = require('netlink/dist/rt/rt.js') as typeof import('netlink/dist/rt/rt.js');
const rtEnums = require('netlink/dist/rt/structs.js') as typeof rt;

export { isIpv4, isMac, networkOf, parsePrefix } from './encode.js';

/**
 * The route protocol number on every route k8ts installs (`ip route … proto 107`), so listing and
 * cleanup touch only ours. 107 ('k') is unassigned in iproute2's rt_protos (zebra 11, BIRD 12,
 * keepalived 18, Babel 42, openr 99, FRR's bgp/isis/ospf/rip/eigrp 186–192) and differs from
 * calico/felix's 80, the other CNI data plane an operator may have run on the node.
 */
export const RTPROT_K8TS = 107;

const AF_INET = 2;
const AF_BRIDGE = 7;
const NLM_F = { REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400, APPEND: 0x800 } as const;
const RTNH_F_ONLINK = 0x04;
const RT_TABLE_MAIN = 254;

/** A network namespace: a name under /run/netns, or a path (`/proc/PID/ns/net`, CNI_NETNS). */
export type NetnsRef = string;
export const netnsPath = (ns: NetnsRef): string => (ns.includes('/') ? ns : `/run/netns/${ns}`);

export class RtnlError extends Error {
  constructor(
    /** What we asked the kernel to do: 'link add', 'route replace', … */
    readonly op: string,
    /** What it was about: 'veth0', '10.1.0.0/24 dev cni0', … */
    readonly object: string,
    /** The kernel's errno name (EEXIST, ENODEV, ENOENT, ESRCH, EINVAL…), or ENOTFOUND for a missing link we looked up by name. */
    readonly errno: string,
    readonly netns?: NetnsRef,
  ) {
    super(`${op} ${object}${netns ? ` (netns ${netns})` : ''}: ${errno}`);
    this.name = 'RtnlError';
  }
}

export interface Link {
  index: number;
  name: string;
  /** IFLA_INFO_KIND: veth, bridge, vxlan, dummy…; undefined for physical devices and lo. */
  kind?: string;
  mtu: number;
  mac: string;
  up: boolean;
  /** ifindex of the master (bridge) if enslaved. */
  master?: number;
  /** IFLA_LINK: for a veth, the peer's ifindex (in the peer's namespace). */
  link?: number;
  vxlan?: { vni?: number; port?: number; local?: string; underlayIndex?: number; learning?: boolean };
  /** Bridge-port options when enslaved to a bridge. */
  bridgePort?: { hairpin: boolean; learning?: boolean };
}

export interface Addr { dev: string; index: number; address: string; prefix: number }

export interface Route {
  /** 'a.b.c.d/len' or 'default'. */
  dst: string;
  via?: string;
  dev?: string;
  /** Routing protocol; defaults to RTPROT_K8TS when writing. */
  protocol?: number;
  scope?: 'universe' | 'link' | 'host';
  onlink?: boolean;
  table?: number;
  type?: 'unicast' | 'blackhole' | 'local' | 'broadcast' | 'unreachable' | 'prohibit';
  metric?: number;
  src?: string;
}

export interface Neigh { dev: string; ip: string; mac: string; permanent: boolean }

export interface FdbEntry { dev: string; mac: string; dst?: string; self: boolean; permanent: boolean }

export interface VethSpec {
  name: string;
  peerName: string;
  /** Create the peer directly in this namespace (no move afterwards, so no name clash in ours). */
  peerNetns?: NetnsRef;
  mtu?: number;
  mac?: string;
  peerMac?: string;
}

export interface BridgeSpec { name: string; mtu?: number; mac?: string }

export interface VxlanSpec {
  name: string;
  vni: number;
  /** UDP destination port (flannel: 8472). */
  port: number;
  /** Local (source) underlay IP. */
  local?: string;
  /** Underlay device name. */
  underlay?: string;
  /** Default false: k8ts programs FDB/neighbours itself, as flannel. */
  learning?: boolean;
  mac?: string;
  mtu?: number;
}

export interface RouteFilter { protocol?: number; table?: number; dev?: string; type?: Route['type'] }

const SCOPES: Record<NonNullable<Route['scope']>, number> = { universe: 0, link: 253, host: 254 };
const TYPES: Record<NonNullable<Route['type']>, number> = { unicast: 1, local: 2, broadcast: 3, blackhole: 6, unreachable: 7, prohibit: 8 };
const scopeName = (n: number): NonNullable<Route['scope']> => (n === 253 ? 'link' : n === 254 ? 'host' : 'universe');
const typeName = (n: number): NonNullable<Route['type']> => (Object.entries(TYPES).find(([, v]) => v === n)?.[0] ?? 'unicast') as NonNullable<Route['type']>;
const num = (v: unknown, fallback = 0): number => (typeof v === 'number' ? v : fallback);

/** Opens an rtnetlink socket in `netns` (or the current namespace). Close it with `close()`. */
export function openRtnl(netns?: NetnsRef): Rtnl {
  return new Rtnl(netns);
}

/** Opens, runs `fn`, closes — for one-shot work in a namespace. */
export async function withRtnl<T>(netns: NetnsRef | undefined, fn: (r: Rtnl) => Promise<T>): Promise<T> {
  const r = openRtnl(netns);
  try { return await fn(r); } finally { r.close(); }
}

export class Rtnl {
  private readonly sock: RtNetlinkSocket;
  constructor(readonly netns?: NetnsRef) {
    this.sock = netns === undefined ? createRtNetlink() : withNetnsPathSync(netnsPath(netns), () => createRtNetlink());
  }

  close(): void { this.sock.socket.close(); }

  // One request at a time: the kernel runs a single dump per netlink socket (a second one gets
  // EBUSY), so concurrent callers (Promise.all over methods) are queued here, request by request.
  private queue: Promise<unknown> = Promise.resolve();
  private one<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async call<T>(op: string, object: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.one(fn);
    } catch (e) {
      if (e instanceof RtnlError) throw e;
      throw new RtnlError(op, object, errnoName(e), this.netns);
    }
  }

  // ---------------------------------------------------------------- links

  async listLinks(): Promise<Link[]> {
    const msgs = await this.call('link list', '*', () => this.sock.getLinks());
    return msgs.map(toLink);
  }

  /** The link called `name`, or undefined. */
  async getLink(name: string): Promise<Link | undefined> {
    try {
      const msgs = await this.one(() => this.sock.getLink({}, { ifname: name }));
      return msgs[0] ? toLink(msgs[0]) : undefined;
    } catch (e) {
      const errno = errnoName(e);
      if (errno === 'ENODEV') return undefined;
      throw new RtnlError('link get', name, errno, this.netns);
    }
  }

  /** The link called `name`; RtnlError ENODEV if it is missing. */
  async requireLink(name: string): Promise<Link> {
    const l = await this.getLink(name);
    if (!l) throw new RtnlError('link get', name, 'ENODEV', this.netns);
    return l;
  }

  private async index(name: string): Promise<number> { return (await this.requireLink(name)).index; }

  /** Creates a veth pair; fails with EEXIST if either name exists (where it is created). */
  async addVeth(s: VethSpec): Promise<void> {
    let fd: number | undefined;
    try {
      if (s.peerNetns !== undefined) fd = openSync(netnsPath(s.peerNetns), 'r');
      const linkinfo = vethLinkInfo({ name: s.peerName, ...(fd === undefined ? {} : { netnsFd: fd }), ...(s.mtu === undefined ? {} : { mtu: s.mtu }), ...(s.peerMac === undefined ? {} : { mac: s.peerMac }) });
      await this.call('veth add', `${s.name} peer ${s.peerName}${s.peerNetns ? ` (in ${s.peerNetns})` : ''}`, () =>
        this.sock.newLink({}, { ifname: s.name, linkinfo, ...this.common(s) }, { flags: NLM_F.CREATE | NLM_F.EXCL }));
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  async addBridge(s: BridgeSpec): Promise<void> {
    await this.call('bridge add', s.name, () =>
      this.sock.newLink({}, { ifname: s.name, linkinfo: kindLinkInfo('bridge'), ...this.common(s) }, { flags: NLM_F.CREATE | NLM_F.EXCL }));
  }

  /**
   * Creates a dummy link (IPVS mode's kube-ipvs0). The kernel loads the module on demand; one
   * without dummy links answers EOPNOTSUPP, which the error says in words.
   */
  async addDummy(name: string): Promise<void> {
    try {
      await this.call('dummy add', name, () => this.sock.newLink({}, { ifname: name, linkinfo: kindLinkInfo('dummy') }, { flags: NLM_F.CREATE | NLM_F.EXCL }));
    } catch (e) {
      // errno 95 is named ENOTSUP or EOPNOTSUPP (the same number on Linux).
      if (e instanceof RtnlError && (e.errno === 'EOPNOTSUPP' || e.errno === 'ENOTSUP')) throw new RtnlError('dummy add', `${name} (this kernel has no dummy links)`, e.errno, this.netns);
      throw e;
    }
  }

  /** Creates the bridge unless a bridge of that name exists; EEXIST if the name is another kind. */
  async ensureBridge(s: BridgeSpec & { up?: boolean }): Promise<Link> {
    let l = await this.getLink(s.name);
    if (l && l.kind !== 'bridge') throw new RtnlError('bridge ensure', `${s.name} (is ${l.kind ?? 'a device'})`, 'EEXIST', this.netns);
    if (!l) {
      try { await this.addBridge(s); } catch (e) { if (!(e instanceof RtnlError && e.errno === 'EEXIST')) throw e; }
      l = await this.requireLink(s.name);
    }
    if (s.mtu !== undefined && l.mtu !== s.mtu) await this.setMtu(s.name, s.mtu);
    if (s.mac !== undefined && l.mac !== s.mac.toLowerCase()) await this.setMac(s.name, s.mac);
    if (s.up !== false && !l.up) await this.setUp(s.name);
    return this.requireLink(s.name);
  }

  async addVxlan(s: VxlanSpec): Promise<void> {
    const underlayIndex = s.underlay === undefined ? undefined : await this.index(s.underlay);
    const linkinfo = vxlanLinkInfo({ vni: s.vni, port: s.port, learning: s.learning ?? false, ...(s.local === undefined ? {} : { local: s.local }), ...(underlayIndex === undefined ? {} : { underlayIndex }) });
    await this.call('vxlan add', s.name, () =>
      this.sock.newLink({}, { ifname: s.name, linkinfo, ...this.common(s) }, { flags: NLM_F.CREATE | NLM_F.EXCL }));
  }

  /**
   * Keeps a compatible VXLAN device (same VNI, port, local IP, underlay, learning) and recreates an
   * incompatible one (as flannel does); then sets MAC/MTU and brings it up.
   */
  async ensureVxlan(s: VxlanSpec & { up?: boolean }): Promise<Link> {
    let l = await this.getLink(s.name);
    if (l) {
      const why = vxlanIncompatibility(s, l, s.underlay === undefined ? undefined : await this.index(s.underlay));
      if (why !== undefined) { await this.deleteLink(s.name); l = undefined; }
    }
    if (!l) { await this.addVxlan(s); l = await this.requireLink(s.name); }
    if (s.mtu !== undefined && l.mtu !== s.mtu) await this.setMtu(s.name, s.mtu);
    if (s.mac !== undefined && l.mac !== s.mac.toLowerCase()) await this.setMac(s.name, s.mac);
    if (s.up !== false && !l.up) await this.setUp(s.name);
    return this.requireLink(s.name);
  }

  private common(s: { mtu?: number; mac?: string }): { mtu?: number; address?: Buffer } {
    return { ...(s.mtu === undefined ? {} : { mtu: s.mtu }), ...(s.mac === undefined ? {} : { address: macToBuf(s.mac) }) };
  }

  async setUp(name: string): Promise<void> {
    const index = await this.index(name);
    await this.call('link set up', name, () => this.sock.setLink({ index, change: { up: true }, flags: { up: true } }));
  }

  async setDown(name: string): Promise<void> {
    const index = await this.index(name);
    await this.call('link set down', name, () => this.sock.setLink({ index, change: { up: true }, flags: {} }));
  }

  async setMtu(name: string, mtu: number): Promise<void> {
    const index = await this.index(name);
    await this.call('link set mtu', `${name} ${mtu}`, () => this.sock.setLink({ index }, { mtu }));
  }

  async setMac(name: string, mac: string): Promise<void> {
    const index = await this.index(name);
    await this.call('link set address', `${name} ${mac}`, () => this.sock.setLink({ index }, { address: macToBuf(mac) }));
  }

  /** Enslaves `name` to `master` (a bridge), or frees it with `master: undefined`. */
  async setMaster(name: string, master: string | undefined): Promise<void> {
    const index = await this.index(name);
    const m = master === undefined ? 0 : await this.index(master);
    await this.call('link set master', `${name} ${master ?? 'nomaster'}`, () => this.sock.setLink({ index }, { master: m }));
  }

  /** Moves the link into another namespace (it disappears from this one). */
  async moveToNetns(name: string, netns: NetnsRef): Promise<void> {
    const index = await this.index(name);
    const fd = openSync(netnsPath(netns), 'r');
    try {
      await this.call('link set netns', `${name} → ${netns}`, () => this.sock.setLink({ index }, { netNsFd: fd }));
    } finally { closeSync(fd); }
  }

  /** Sets bridge-port options (hairpin = reflective relay; learning) on a port of a bridge. */
  async setBridgePort(name: string, opts: { hairpin?: boolean; learning?: boolean }): Promise<void> {
    const index = await this.index(name);
    await this.call('bridge port set', name, () => this.sock.newLink({ index }, { linkinfo: bridgePortLinkInfo(opts) }));
  }

  async deleteLink(name: string): Promise<void> {
    const index = await this.index(name);
    await this.call('link delete', name, () => this.sock.delLink({ index }));
  }

  /** Deletes the link if it exists; true if something was deleted. */
  async ensureLinkAbsent(name: string): Promise<boolean> {
    const l = await this.getLink(name);
    if (!l) return false;
    try {
      await this.call('link delete', name, () => this.sock.delLink({ index: l.index }));
    } catch (e) {
      if (e instanceof RtnlError && e.errno === 'ENODEV') return false;
      throw e;
    }
    return true;
  }

  // ---------------------------------------------------------------- addresses

  /** IPv4 addresses, of one device or all. */
  async listAddrs(dev?: string): Promise<Addr[]> {
    const links = new Map((await this.listLinks()).map((l) => [l.index, l.name]));
    const want = dev === undefined ? undefined : await this.index(dev);
    const msgs = await this.call('address list', dev ?? '*', () => this.sock.getAddresses({ family: AF_INET }));
    return msgs
      .filter((m) => m.data.family === AF_INET && (want === undefined || m.data.index === want))
      .map((m) => ({
        dev: links.get(num(m.data.index)) ?? String(m.data.index), index: num(m.data.index),
        address: bufToIpv4((m.attrs.local ?? m.attrs.address)!), prefix: num(m.data.prefixlen),
      }));
  }

  /** Adds `cidr` ("10.1.0.1/24") to `dev`; EEXIST if present. */
  async addAddr(dev: string, cidr: string): Promise<void> {
    const { addr, prefix } = parsePrefix(cidr);
    const index = await this.index(dev);
    const ip = ipv4ToBuf(addr);
    await this.call('address add', `${cidr} dev ${dev}`, () =>
      this.sock.newAddress({ family: AF_INET, prefixlen: prefix, index }, { local: ip, address: ip }, { flags: NLM_F.CREATE | NLM_F.EXCL }));
  }

  /** Adds the address unless the device already has it (same address and prefix). */
  async ensureAddr(dev: string, cidr: string): Promise<void> {
    const { addr, prefix } = parsePrefix(cidr);
    if ((await this.listAddrs(dev)).some((a) => a.address === addr && a.prefix === prefix)) return;
    try { await this.addAddr(dev, cidr); } catch (e) { if (!(e instanceof RtnlError && e.errno === 'EEXIST')) throw e; }
  }

  async delAddr(dev: string, cidr: string): Promise<void> {
    const { addr, prefix } = parsePrefix(cidr);
    const index = await this.index(dev);
    const ip = ipv4ToBuf(addr);
    await this.call('address delete', `${cidr} dev ${dev}`, () =>
      this.sock.delAddress({ family: AF_INET, prefixlen: prefix, index }, { local: ip, address: ip }));
  }

  async ensureAddrAbsent(dev: string, cidr: string): Promise<void> {
    const { addr, prefix } = parsePrefix(cidr);
    if (!(await this.getLink(dev))) return;
    if (!(await this.listAddrs(dev)).some((a) => a.address === addr && a.prefix === prefix)) return;
    try { await this.delAddr(dev, cidr); } catch (e) { if (!(e instanceof RtnlError && (e.errno === 'EADDRNOTAVAIL' || e.errno === 'ENODEV'))) throw e; }
  }

  // ---------------------------------------------------------------- routes

  /** IPv4 routes (main table unless `filter.table`), filtered by protocol/dev/type. */
  async listRoutes(filter: RouteFilter = {}): Promise<Route[]> {
    const links = new Map((await this.listLinks()).map((l) => [l.index, l.name]));
    const table = filter.table ?? RT_TABLE_MAIN;
    const msgs = await this.call('route list', `table ${table}`, () => this.sock.getRoutes({ family: AF_INET }));
    const out: Route[] = [];
    for (const m of msgs) {
      const t = m.attrs.table ?? num(m.data.table);
      if (t !== table || m.data.family !== AF_INET) continue;
      const r = toRoute(m, links);
      if (filter.protocol !== undefined && r.protocol !== filter.protocol) continue;
      if (filter.dev !== undefined && r.dev !== filter.dev) continue;
      if (filter.type !== undefined && r.type !== filter.type) continue;
      out.push(r);
    }
    return out;
  }

  /** `ip route replace` (idempotent). Protocol defaults to RTPROT_K8TS. */
  async replaceRoute(r: Route): Promise<void> {
    await this.routeOp('route replace', r, NLM_F.CREATE | NLM_F.REPLACE);
  }

  /** `ip route add`: EEXIST if a route to the same dst (table, tos, metric) exists. */
  async addRoute(r: Route): Promise<void> {
    await this.routeOp('route add', r, NLM_F.CREATE | NLM_F.EXCL);
  }

  /** Deletes the route (matched by dst/table and, when given, dev/via/protocol/type). */
  async delRoute(r: Route): Promise<void> {
    const { data, attrs } = await this.routeMsg(r, true);
    await this.call('route delete', describeRoute(r), () => this.sock.delRoute(data, attrs));
  }

  /** Deletes the route if present; ESRCH/ENODEV are success. */
  async ensureRouteAbsent(r: Route): Promise<void> {
    try { await this.delRoute(r); } catch (e) { if (!(e instanceof RtnlError && (e.errno === 'ESRCH' || e.errno === 'ENODEV' || e.errno === 'ENOENT'))) throw e; }
  }

  private async routeOp(op: string, r: Route, flags: number): Promise<void> {
    const { data, attrs } = await this.routeMsg(r, false);
    await this.call(op, describeRoute(r), () => this.sock.newRoute(data, attrs, { flags }));
  }

  private async routeMsg(r: Route, forDelete: boolean): Promise<{ data: rt.Route; attrs: rt.RouteAttrs }> {
    const { addr, prefix } = r.dst === 'default' ? { addr: '0.0.0.0', prefix: 0 } : parsePrefix(r.dst);
    const table = r.table ?? RT_TABLE_MAIN;
    const type = forDelete && r.type === undefined ? 0 : TYPES[r.type ?? 'unicast'];
    const scope = r.scope !== undefined ? SCOPES[r.scope]
      : forDelete ? 255 /* RT_SCOPE_NOWHERE: match any scope */
        : r.type === 'blackhole' || r.type === 'unreachable' || r.type === 'prohibit' || r.via !== undefined ? 0
          : r.dev !== undefined ? 253 : 0;
    const data: rt.Route = {
      family: AF_INET, dstLen: prefix, table: table < 256 ? table : 252 /* RT_TABLE_COMPAT */, type, scope,
      protocol: (forDelete && r.protocol === undefined ? 0 : r.protocol ?? RTPROT_K8TS) as rt.RouteProtocol,
      flags: r.onlink ? { __unknown: RTNH_F_ONLINK } : {},
    };
    const attrs: rt.RouteAttrs = { table };
    if (prefix > 0) attrs.dst = ipv4ToBuf(addr);
    if (r.via !== undefined) attrs.gateway = ipv4ToBuf(r.via);
    if (r.dev !== undefined) attrs.oif = await this.index(r.dev);
    if (r.metric !== undefined) attrs.priority = r.metric;
    if (r.src !== undefined) attrs.prefsrc = ipv4ToBuf(r.src);
    return { data, attrs };
  }

  // ---------------------------------------------------------------- neighbours

  /** IPv4 neighbours (ARP entries), of one device or all. */
  async listNeighs(dev?: string): Promise<Neigh[]> {
    const links = new Map((await this.listLinks()).map((l) => [l.index, l.name]));
    const want = dev === undefined ? undefined : await this.index(dev);
    const msgs = await this.call('neigh list', dev ?? '*', () => this.sock.getNeighbors({ family: AF_INET }));
    return msgs
      .filter((m) => m.data.family === AF_INET && m.attrs.dst && (want === undefined || m.data.ifindex === want))
      .map((m) => ({
        dev: links.get(num(m.data.ifindex)) ?? String(m.data.ifindex), ip: bufToIpv4(m.attrs.dst!),
        mac: m.attrs.lladdr ? bufToMac(m.attrs.lladdr) : '', permanent: m.data.state?.permanent === true,
      }));
  }

  /** `ip neigh replace IP lladdr MAC dev DEV nud permanent` (idempotent). */
  async replaceNeigh(n: { dev: string; ip: string; mac: string }): Promise<void> {
    const ifindex = await this.index(n.dev);
    await this.call('neigh replace', `${n.ip} lladdr ${n.mac} dev ${n.dev}`, () =>
      this.sock.newNeighbor({ family: AF_INET, ifindex, state: { permanent: true } }, { dst: ipv4ToBuf(n.ip), lladdr: macToBuf(n.mac) }, { flags: NLM_F.CREATE | NLM_F.REPLACE }));
  }

  async ensureNeighAbsent(n: { dev: string; ip: string }): Promise<void> {
    const l = await this.getLink(n.dev);
    if (!l) return;
    try {
      await this.call('neigh delete', `${n.ip} dev ${n.dev}`, () => this.sock.delNeighbor({ family: AF_INET, ifindex: l.index }, { dst: ipv4ToBuf(n.ip) }));
    } catch (e) { if (!(e instanceof RtnlError && (e.errno === 'ENOENT' || e.errno === 'ESRCH'))) throw e; }
  }

  // ---------------------------------------------------------------- bridge FDB (AF_BRIDGE, NTF_SELF)

  /** FDB entries of a device (`bridge fdb show dev DEV`). */
  async listFdb(dev: string): Promise<FdbEntry[]> {
    const ifindex = await this.index(dev);
    const msgs = await this.call('fdb list', dev, () => this.sock.getNeighbors({ family: AF_BRIDGE }));
    return msgs
      .filter((m) => m.data.family === AF_BRIDGE && m.data.ifindex === ifindex && m.attrs.lladdr)
      .map((m) => {
        const e: FdbEntry = { dev, mac: bufToMac(m.attrs.lladdr!), self: m.data.flags?.self === true, permanent: m.data.state?.permanent === true };
        if (m.attrs.dst && m.attrs.dst.length === 4) e.dst = bufToIpv4(m.attrs.dst);
        return e;
      });
  }

  /**
   * `bridge fdb replace MAC dev DEV dst IP self permanent` — the per-MAC entry flannel writes for
   * each remote VTEP. Idempotent.
   */
  async replaceFdb(e: { dev: string; mac: string; dst: string }): Promise<void> {
    await this.fdbOp('fdb replace', e, NLM_F.CREATE | NLM_F.REPLACE);
  }

  /**
   * `bridge fdb append MAC dev DEV dst IP self permanent` — adds one more destination for the MAC
   * (00:00:00:00:00:00 = flood to every listed VTEP). Idempotent: an existing identical entry is kept.
   */
  async appendFdb(e: { dev: string; mac: string; dst: string }): Promise<void> {
    const have = await this.listFdb(e.dev);
    if (have.some((h) => h.mac === e.mac.toLowerCase() && h.dst === e.dst)) return;
    await this.fdbOp('fdb append', e, NLM_F.CREATE | NLM_F.APPEND);
  }

  /** Deletes the entry (the one for `dst` if given); a missing one is not an error. */
  async ensureFdbAbsent(e: { dev: string; mac: string; dst?: string }): Promise<void> {
    const l = await this.getLink(e.dev);
    if (!l) return;
    const attrs: rt.NeighborAttrs = { lladdr: macToBuf(e.mac) };
    if (e.dst !== undefined) attrs.dst = ipv4ToBuf(e.dst);
    try {
      await this.call('fdb delete', `${e.mac} dev ${e.dev}${e.dst ? ` dst ${e.dst}` : ''}`, () =>
        this.sock.delNeighbor({ family: AF_BRIDGE, ifindex: l.index, flags: { self: true }, state: { permanent: true } }, attrs));
    } catch (err) { if (!(err instanceof RtnlError && (err.errno === 'ENOENT' || err.errno === 'ESRCH'))) throw err; }
  }

  private async fdbOp(op: string, e: { dev: string; mac: string; dst: string }, flags: number): Promise<void> {
    const ifindex = await this.index(e.dev);
    await this.call(op, `${e.mac} dev ${e.dev} dst ${e.dst}`, () =>
      this.sock.newNeighbor({ family: AF_BRIDGE, ifindex, flags: { self: true }, state: { permanent: true } },
        { lladdr: macToBuf(e.mac), dst: ipv4ToBuf(e.dst) }, { flags }));
  }

  // ---------------------------------------------------------------- sysctls of this socket's namespace

  writeSysctl(path: string, value: string): void { writeSysctl(path, value, this.netns); }
  readSysctl(path: string): string { return readSysctl(path, this.netns); }
}

/** Why an existing VXLAN device cannot be kept for `want`, or undefined if it can. */
export function vxlanIncompatibility(want: VxlanSpec, have: Link, underlayIndex: number | undefined): string | undefined {
  if (have.kind !== 'vxlan') return `is a ${have.kind ?? 'device'}, not vxlan`;
  const v = have.vxlan ?? {};
  if (v.vni !== want.vni) return `VNI ${String(v.vni)} ≠ ${want.vni}`;
  if (v.port !== want.port) return `port ${String(v.port)} ≠ ${want.port}`;
  if (want.local !== undefined && v.local !== want.local) return `local ${String(v.local)} ≠ ${want.local}`;
  if (underlayIndex !== undefined && v.underlayIndex !== underlayIndex) return `underlay ifindex ${String(v.underlayIndex)} ≠ ${underlayIndex}`;
  if ((v.learning ?? false) !== (want.learning ?? false)) return `learning ${String(v.learning)} ≠ ${String(want.learning ?? false)}`;
  return undefined;
}

function toLink(m: rt.LinkMessage): Link {
  const a = m.attrs;
  const l: Link = {
    index: num(m.data.index), name: a.ifname ?? '', mtu: num(a.mtu),
    mac: a.address ? bufToMac(a.address) : '', up: m.data.flags?.up === true,
  };
  if (a.master) l.master = a.master;
  const info = a.linkinfo ? parseLinkInfo(a.linkinfo) : {};
  // A veth's peer may have the same ifindex in its own namespace, so keep IFLA_LINK for veths.
  if (a.link !== undefined && a.link.length >= 4) { const peer = a.link.readUInt32LE(0); if (peer !== l.index || info.kind === 'veth') l.link = peer; }
  if (info.kind) l.kind = info.kind;
  if (info.vxlan) l.vxlan = info.vxlan;
  if (info.bridgePort) l.bridgePort = info.bridgePort;
  return l;
}

function toRoute(m: rt.RouteMessage, links: Map<number, string>): Route {
  const d = m.data;
  const a = m.attrs;
  const dstLen = num(d.dstLen);
  const r: Route = {
    dst: dstLen === 0 ? 'default' : `${a.dst ? bufToIpv4(a.dst) : '0.0.0.0'}/${dstLen}`,
    protocol: typeof d.protocol === 'number' ? d.protocol : num(rtEnums.RouteProtocol[d.protocol as keyof typeof rt.RouteProtocol]),
    scope: scopeName(typeof d.scope === 'number' ? d.scope : num(rtEnums.RouteScope[d.scope as keyof typeof rt.RouteScope])),
    table: a.table ?? num(d.table),
    type: typeName(typeof d.type === 'number' ? d.type : num(rtEnums.RouteType[d.type as keyof typeof rt.RouteType])),
  };
  if (a.gateway) r.via = bufToIpv4(a.gateway);
  if (a.oif !== undefined) r.dev = links.get(a.oif) ?? String(a.oif);
  if (a.priority !== undefined) r.metric = a.priority;
  if (a.prefsrc) r.src = bufToIpv4(a.prefsrc);
  if (((d.flags?.__unknown ?? 0) & RTNH_F_ONLINK) !== 0) r.onlink = true;
  return r;
}

function describeRoute(r: Route): string {
  return [r.type && r.type !== 'unicast' ? r.type : '', r.dst, r.via ? `via ${r.via}` : '', r.dev ? `dev ${r.dev}` : '', r.onlink ? 'onlink' : '', r.table ? `table ${r.table}` : '']
    .filter(Boolean).join(' ');
}

// ---------------------------------------------------------------- sysctls

const SYSCTL_PATH_RE = /^net\/[A-Za-z0-9_./@:-]+$/;

function sysctlFile(path: string): string {
  // Slash-separated (net/ipv4/conf/eth0.100/proxy_arp), because interface names may contain dots.
  if (!SYSCTL_PATH_RE.test(path) || path.includes('..')) throw new TypeError(`invalid sysctl path "${path}": expected net/… with slashes`);
  return `/proc/sys/${path}`;
}

/** Writes /proc/sys/<path> in `netns` (or the current namespace). */
export function writeSysctl(path: string, value: string, netns?: NetnsRef): void {
  const file = sysctlFile(path);
  const write = (): void => {
    try { writeFileSync(file, value); } catch (e) { throw new RtnlError('sysctl write', `${path}=${value}`, errnoName(e), netns); }
  };
  if (netns === undefined) write(); else withNetnsPathSync(netnsPath(netns), write);
}

/** Reads /proc/sys/<path> in `netns` (trimmed). */
export function readSysctl(path: string, netns?: NetnsRef): string {
  const file = sysctlFile(path);
  const read = (): string => {
    try { return readFileSync(file, 'utf8').trim(); } catch (e) { throw new RtnlError('sysctl read', path, errnoName(e), netns); }
  };
  return netns === undefined ? read() : withNetnsPathSync(netnsPath(netns), read);
}

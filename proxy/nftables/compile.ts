// Compiles the service model into one nf_tables table (`table ip k8ts-proxy`). Pure.
//
// Design notes — the layout, and why. Upstream's nftables kube-proxy (KEP-3866) gives every
// service and every endpoint its own chain: at 10 000 × 10 that is ~110 000 chains, and the
// kernel's transaction cost for chains reached through verdict maps dominates (229 s via `nft -f`
// here, ../shared/ANCHORS.md). This layout keeps the number of chains independent of the number of
// services: the cost of a service is a handful of map elements.
//
//   nat-prerouting / nat-output (dstnat)   jump services
//   services        ip daddr . meta l4proto . th dport vmap @service-ips
//                     ClusterIP:port          → goto lb-N         (N = number of endpoints)
//                     nodeIP:nodePort, externalIP, LB IP → goto ext-N (mark for masquerade, goto lb-N)
//   lb-N            [ip saddr != <cluster CIDR> meta mark set meta mark | 0x4000]
//                   dnat ip to ip daddr . meta l4proto . th dport . numgen random mod N map @eps-N
//   eps-N           (vip, proto, port, i) → (endpoint ip, endpoint port), i in 0..N-1
//   filter-{input,forward,output}  ip daddr . meta l4proto . th dport vmap @no-endpoint-services
//                     → goto reject-service (TCP reset, else ICMP port unreachable);
//                   ip daddr @cluster-ips goto reject-service (a ClusterIP on a port it lacks);
//                   ip daddr <service CIDR> drop (unallocated ClusterIPs)
//   nat-postrouting (srcnat)  jump masquerading (mark 0x4000 → clear it, masquerade fully-random);
//                     ip saddr . ip daddr @hairpin masquerade (a pod reaching itself via its service;
//                     one element per endpoint on this node — the only ones that can hairpin here)
//
// One lb-N chain serves every service with N endpoints, because the map key includes the service's
// own address and port. Services whose spec conflicts with an earlier one (same address, protocol
// and port) are skipped rather than allowed to break the map. Each service port compiles to a
// Fragment of set elements; fragments are memoized per model object, so a caller that keeps
// unchanged model objects gets identical fragments and the planner skips them by identity.
//
//   aff-N-T         ClientIP affinity with timeout T s. For each endpoint index K < N one rule:
//                   ip saddr . ip daddr . meta l4proto . th dport found in @affinity-K (flags
//                   dynamic,timeout) → timeout refreshed, DNAT to element K of @eps-N; then, for a
//                   new client, `numgen random mod N vmap @aff-N-T-pick` → aff-N-T-new-K, which adds
//                   the client to @affinity-K and DNATs to element K. One chain (+ N small ones) per
//                   (N, T) in use; the sets affinity-K are shared by every service (the service is
//                   part of the key). Why a set per index rather than one map client → endpoint: a
//                   map's data would come from another lookup, which the kernel runs but `nft`
//                   (1.0.6, Debian 12) cannot print — it aborts listing the whole ruleset.
//   ext-aff-N-T     external traffic (NodePort, external/LB IPs) of an affinity service: mark for
//                   masquerade, goto aff-N-T.
//   local-N, local-aff-N-T   external traffic of an externalTrafficPolicy=Local service: as lb-N /
//                   aff-N-T over this node's endpoints only (map local-eps-N), and never marked for
//                   masquerade — the endpoint must see the client's address (upstream's ESIPP), and
//                   since it runs on this node its replies come back through this node's conntrack
//                   without SNAT. A node with no endpoint of its own rejects external clients.
//   services        (before @service-ips, only while some Local service has endpoints anywhere)
//                   ip saddr <cluster CIDR> … vmap @external-from-pods   → goto lb-M / aff-M-T
//                   fib saddr type local … vmap @external-from-node      → goto ext-M / ext-aff-M-T
//                   Pods and the node itself reaching a Local service's NodePort, external or LB IP
//                   use every endpoint of the cluster, as upstream's KUBE-EXT chain ("pod traffic
//                   for external destinations", "masquerade/route LOCAL traffic"): the Local
//                   policy exists to keep an external client's address, and these clients are not
//                   external. Their M endpoints sit in eps-M under the external address, beside the
//                   local ones in local-eps-N, so the two never clash when M = N. The node's own
//                   traffic is masqueraded (its source may be 127.0.0.1 or an address the endpoint
//                   cannot answer); a pod keeps its address. Without a cluster CIDR there is no way
//                   to tell a pod, so only the node's own traffic is short-circuited (as upstream).
// Not yet: IPv6, SCTP.
import { PROTO_NUM, R, cidrMatch, fibSaddrLocal, hex, le32, setMarkBits } from '../../kernel/nftables/match.js';
import { sharedKey } from '../../kernel/nftables/plan.js';
import type { Chain, Expr, Fragment, NftSet, Rule, Ruleset, SetElement } from '../../kernel/nftables/types.js';
import { clusterEndpoints, clusterPolicyEndpoints, externalEndpoints, ipNum, type EndpointModel, type ServicePortModel } from '../model.js';

export const TABLE = 'k8ts-proxy';
export const MASQUERADE_MARK = 0x4000;
const NF_NAT_RANGE_PROTO_RANDOM_FULLY = 1 << 4;

export interface ProxyState {
  readonly services: readonly ServicePortModel[];
  readonly nodeName: string;
  /** This node's IPv4 addresses, where NodePorts listen. */
  readonly nodeIPs: readonly string[];
  /** The service CIDR: traffic to an unallocated address in it is dropped. */
  readonly serviceCIDR?: string;
  /** The pod CIDR: ClusterIP traffic from outside it is masqueraded. */
  readonly clusterCIDR?: string;
}

// ---- rule builders: each returns the nft text and the kernel expressions of the same rule ----

const loadDispatchKey: Expr[] = [
  { op: 'payload', base: 'network', offset: 16, len: 4, dreg: R.a },
  { op: 'meta', key: 'l4proto', dreg: R.b },
  { op: 'payload', base: 'transport', offset: 2, len: 2, dreg: R.c },
];

// Affinity key in r8..r11 (client, service address, protocol, port); the endpoint map's key is then
// r9..r12 with the endpoint index in r12, so both lookups read contiguous registers.
const loadAffinityKey: Expr[] = [
  { op: 'payload', base: 'network', offset: 12, len: 4, dreg: R.a },
  { op: 'payload', base: 'network', offset: 16, len: 4, dreg: R.b },
  { op: 'meta', key: 'l4proto', dreg: R.c },
  { op: 'payload', base: 'transport', offset: 2, len: 2, dreg: R.d },
];

/**
 * Endpoint `k` of the service the packet is addressed to (key in r9..r12), then DNAT to it. The
 * index comes from `numgen inc mod 1 offset k` (always k) rather than an immediate: nft can type a
 * numgen in the map's `typeof … numgen` key, so it prints the rule and loads its text back, while a
 * bare constant there is `[invalid type]` to nft and cannot be written in its syntax at all.
 */
const endpointIndexText = (k: number): string => `numgen inc mod 1${k ? ` offset ${k}` : ''}`;
function natToEndpoint(k: number, eps: string): Expr[] {
  return [
    { op: 'numgen', dreg: 12, modulus: 1, random: false, offset: k },
    { op: 'lookup', set: eps, sreg: R.b, dreg: R.b },
    { op: 'nat', type: 'dnat', addrReg: R.b, protoReg: R.c },
  ];
}

export const rules = {
  jump: (chain: string): Rule => ({ text: `jump ${chain}`, exprs: [{ op: 'verdict', verdict: { code: 'jump', chain } }] }),
  goto: (chain: string): Rule => ({ text: `goto ${chain}`, exprs: [{ op: 'verdict', verdict: { code: 'goto', chain } }] }),
  dispatch: (map: string): Rule => ({
    text: `ip daddr . meta l4proto . th dport vmap @${map}`,
    exprs: [...loadDispatchKey, { op: 'lookup', set: map, sreg: R.a, dreg: 0 }],
  }),
  /** `ip saddr CIDR ip daddr . meta l4proto . th dport vmap @map` */
  dispatchFrom: (cidr: string, map: string): Rule => ({
    text: `ip saddr ${cidr} ip daddr . meta l4proto . th dport vmap @${map}`,
    exprs: [...cidrMatch(12, cidr, 'eq'), ...loadDispatchKey, { op: 'lookup', set: map, sreg: R.a, dreg: 0 }],
  }),
  /** `fib saddr type local ip daddr . meta l4proto . th dport vmap @map` */
  dispatchFromLocal: (map: string): Rule => ({
    text: `fib saddr type local ip daddr . meta l4proto . th dport vmap @${map}`,
    exprs: [...fibSaddrLocal(), ...loadDispatchKey, { op: 'lookup', set: map, sreg: R.a, dreg: 0 }],
  }),
  loadBalance: (n: number, map: string): Rule => ({
    text: `dnat ip to ip daddr . meta l4proto . th dport . numgen random mod ${n} map @${map}`,
    exprs: [
      ...loadDispatchKey,
      { op: 'numgen', dreg: R.d, modulus: n, random: true },
      { op: 'lookup', set: map, sreg: R.a, dreg: R.a },
      { op: 'nat', type: 'dnat', addrReg: R.a, protoReg: R.b },
    ],
  }),
  /**
   * A client seen before (within the timeout) with endpoint K of the service goes to it again, and
   * the timeout restarts. One rule per K, each with its own set, because a set's data cannot come
   * from a lookup in a form `nft` can print back (it asserts on it): the index is the set's name.
   */
  affinityHit: (k: number, eps: string, timeoutS: number): Rule => ({
    text: `ip saddr . ip daddr . meta l4proto . th dport @${affSet(k)} update @${affSet(k)} { ip saddr . ip daddr . meta l4proto . th dport timeout ${timeoutS}s } dnat ip to ip daddr . meta l4proto . th dport . ${endpointIndexText(k)} map @${eps}`,
    exprs: [
      ...loadAffinityKey,
      { op: 'lookup', set: affSet(k), sreg: R.a },
      { op: 'dynset', set: affSet(k), operation: 'update', sregKey: R.a, timeoutMs: timeoutS * 1000 },
      ...natToEndpoint(k, eps),
    ],
  }),
  /** A new client: endpoint K (picked by the chain's `numgen` dispatch) is remembered in its set. */
  affinityNew: (k: number, eps: string, timeoutS: number): Rule => ({
    text: `add @${affSet(k)} { ip saddr . ip daddr . meta l4proto . th dport timeout ${timeoutS}s } dnat ip to ip daddr . meta l4proto . th dport . ${endpointIndexText(k)} map @${eps}`,
    exprs: [
      ...loadAffinityKey,
      { op: 'dynset', set: affSet(k), operation: 'add', sregKey: R.a, timeoutMs: timeoutS * 1000 },
      ...natToEndpoint(k, eps),
    ],
  }),
  /** `numgen random mod N vmap @map`: one of N chains at random. */
  pickAtRandom: (n: number, map: string): Rule => ({
    text: `numgen random mod ${n} vmap @${map}`,
    exprs: [{ op: 'numgen', dreg: R.a, modulus: n, random: true }, { op: 'lookup', set: map, sreg: R.a, dreg: 0 }],
  }),
  setMarkBits: (bits: number): Rule => ({ text: `meta mark set meta mark | ${hex(bits)}`, exprs: setMarkBits(bits) }),
  returnUnlessMarked: (bits: number): Rule => ({
    text: `meta mark & ${hex(bits)} == ${hex(0)} return`,
    exprs: [
      { op: 'meta', key: 'mark', dreg: R.a },
      { op: 'bitwise', sreg: R.a, dreg: R.a, mask: le32(bits), xor: le32(0) },
      { op: 'cmp', sreg: R.a, cmp: 'eq', data: le32(0) },
      { op: 'verdict', verdict: { code: 'return' } },
    ],
  }),
  flipMarkBits: (bits: number): Rule => ({
    text: `meta mark set meta mark ^ ${hex(bits)}`,
    exprs: [
      { op: 'meta', key: 'mark', dreg: R.a },
      { op: 'bitwise', sreg: R.a, dreg: R.a, mask: le32(0xffffffff), xor: le32(bits) },
      { op: 'metaSet', key: 'mark', sreg: R.a },
    ],
  }),
  masquerade: (): Rule => ({ text: 'masquerade fully-random', exprs: [{ op: 'masq', flags: NF_NAT_RANGE_PROTO_RANDOM_FULLY }] }),
  hairpinMasquerade: (set: string): Rule => ({
    text: `ip saddr . ip daddr @${set} masquerade fully-random`,
    exprs: [
      { op: 'payload', base: 'network', offset: 12, len: 4, dreg: R.a },
      { op: 'payload', base: 'network', offset: 16, len: 4, dreg: R.b },
      { op: 'lookup', set, sreg: R.a },
      { op: 'masq', flags: NF_NAT_RANGE_PROTO_RANDOM_FULLY },
    ],
  }),
  rejectTcpReset: (): Rule => ({
    text: 'meta l4proto tcp reject with tcp reset',
    exprs: [
      { op: 'meta', key: 'l4proto', dreg: R.a },
      { op: 'cmp', sreg: R.a, cmp: 'eq', data: [6] },
      { op: 'reject', type: 'tcp-rst' },
    ],
  }),
  reject: (): Rule => ({ text: 'reject', exprs: [{ op: 'reject', type: 'icmp', code: 3 }] }),
  /** `ip daddr @set goto chain` */
  daddrInSetGoto: (set: string, chain: string): Rule => ({
    text: `ip daddr @${set} goto ${chain}`,
    exprs: [
      { op: 'payload', base: 'network', offset: 16, len: 4, dreg: R.a },
      { op: 'lookup', set, sreg: R.a },
      { op: 'verdict', verdict: { code: 'goto', chain } },
    ],
  }),
  /** `ip daddr CIDR drop` */
  daddrInCidrDrop: (cidr: string): Rule => ({
    text: `ip daddr ${cidr} drop`,
    exprs: [...cidrMatch(16, cidr, 'eq'), { op: 'verdict', verdict: { code: 'drop' } }],
  }),
  /** `ip saddr != CIDR meta mark set meta mark | bits` */
  markUnlessFrom: (cidr: string, bits: number): Rule => ({
    text: `ip saddr != ${cidr} meta mark set meta mark | ${hex(bits)}`,
    exprs: [...cidrMatch(12, cidr, 'neq'), ...setMarkBits(bits)],
  }),
};

// ---- the table ----

const SERVICE_IPS = 'service-ips';
const NO_ENDPOINTS = 'no-endpoint-services';
const HAIRPIN = 'hairpin';
const CLUSTER_IPS = 'cluster-ips';
/** Local-policy external entries, for traffic from pods and from the node: every endpoint. */
const FROM_PODS = 'external-from-pods';
const FROM_NODE = 'external-from-node';
const lbChain = (n: number): string => `lb-${n}`;
const extChain = (n: number): string => `ext-${n}`;
const localChain = (n: number): string => `local-${n}`;
/** Packs (endpoint count, Local policy) into one number for the external chain counters. */
const extKey = (n: number, local: boolean): number => n * 2 + (local ? 1 : 0);
const epsMap = (n: number): string => `eps-${n}`;
const localEpsMap = (n: number): string => `local-eps-${n}`;
/** ClientIP affinity: the clients (and the address they reached) that endpoint number K serves. */
const affSet = (k: number): string => `affinity-${k}`;
const affNewChain = (chain: string, k: number): string => `${chain}-new-${k}`;
const affPickMap = (chain: string): string => `${chain}-pick`;
const AFF_SHIFT = 2 ** 20;
const affChain = (n: number, t: number): string => `aff-${n}-${t}`;
const extAffChain = (n: number, t: number): string => `ext-aff-${n}-${t}`;
const localAffChain = (n: number, t: number): string => `local-aff-${n}-${t}`;
/** Which traffic an affinity chain serves: ClusterIP, external, external with a Local policy. */
type AffKind = 0 | 1 | 2;
/** Packs (timeout, endpoint count, kind) into one number for the chain counters. */
const affKey = (t: number, n: number, kind: AffKind): number => (t * AFF_SHIFT + n) * 3 + kind;
const affOf = (k: number): { t: number; n: number; kind: AffKind } => {
  const kind = (k % 3) as AffKind;
  const rest = (k - kind) / 3;
  return { t: Math.floor(rest / AFF_SHIFT), n: rest % AFF_SHIFT, kind };
};

interface CompiledFragment {
  readonly fragment: Fragment;
  readonly lb: readonly number[];
  /** External chains used, as `extKey` numbers. */
  readonly ext: readonly number[];
  /** ClientIP-affinity chains used, as `affKey` numbers. */
  readonly aff: readonly number[];
  /** (address, protocol, port) of every dispatch entry, packed in a number (50 bits). */
  readonly keys: readonly number[];
}
/** Per model object: its compiled fragment, and the generation of the last compile that used it. */
interface Compiled { readonly ctx: string; readonly frag: CompiledFragment; acceptedGen: number }
const cache = new WeakMap<ServicePortModel, Compiled>();

/**
 * What the previous call produced, so that the next one costs O(services) pointer checks plus
 * the work for what changed — not a conflict check of every address. Memoization only: the
 * result is always what a from-scratch compile of the same input gives (any conflict between
 * services sends us down the from-scratch path, which resolves it in input order).
 */
interface Memo {
  ctx: string;
  gen: number;
  accepted: Compiled[];
  owner: Map<number, Compiled>;
  lbCount: Map<number, number>;
  extCount: Map<number, number>;
  affCount: Map<number, number>;
  /** Elements per set name (shared ones counted once per contributor). */
  elCount: Map<string, number>;
}
let memo: Memo | undefined;
let generation = 0;

const bump = <K>(m: Map<K, number>, n: K, d: number): void => {
  const v = (m.get(n) ?? 0) + d;
  if (v === 0) m.delete(n); else m.set(n, v);
};
function accept(m: Memo, c: Compiled): void {
  c.acceptedGen = m.gen;
  for (const k of c.frag.keys) m.owner.set(k, c);
  for (const n of c.frag.lb) bump(m.lbCount, n, 1);
  for (const n of c.frag.ext) bump(m.extCount, n, 1);
  for (const n of c.frag.aff) bump(m.affCount, n, 1);
  countElements(m.elCount, c.frag.fragment, 1);
}
function release(m: Memo, c: Compiled): void {
  for (const k of c.frag.keys) if (m.owner.get(k) === c) m.owner.delete(k);
  for (const n of c.frag.lb) bump(m.lbCount, n, -1);
  for (const n of c.frag.ext) bump(m.extCount, n, -1);
  for (const n of c.frag.aff) bump(m.affCount, n, -1);
  countElements(m.elCount, c.frag.fragment, -1);
}
function countElements(m: Map<string, number>, f: Fragment, d: number): void {
  for (const name in f.elements) bump(m, name, d * f.elements[name]!.length);
}

const MIN_SET_SIZE = 1024;
/**
 * The size a set is declared with (`Ruleset` sets' `size`): a power of two at least twice its
 * elements, so the kernel's fixed-size hash keeps a low load. The size is a hard limit and a new
 * one re-creates the table (one full sync), so it only changes when the elements outgrow it or
 * fall below a sixteenth of it: a cluster growing from nothing to 100 000 endpoints pays ~8 such
 * syncs, and none flaps on a boundary.
 */
export function setSize(prev: number | undefined, count: number): number {
  if (prev !== undefined && count <= prev && count * 16 >= prev) return prev;
  let size = MIN_SET_SIZE;
  while (size < count * 2) size *= 2;
  return size;
}

function compiledFor(sp: ServicePortModel, state: ProxyState, ctx: string): Compiled {
  let c = cache.get(sp);
  if (c === undefined || c.ctx !== ctx) {
    c = { ctx, frag: compileServicePort(sp, state), acceptedGen: -1 };
    cache.set(sp, c);
  }
  return c;
}

/** From scratch: earlier services win conflicts. */
function compileAll(state: ProxyState, ctx: string, order: readonly Compiled[]): Memo {
  const m: Memo = { ctx, gen: ++generation, accepted: [], owner: new Map(), lbCount: new Map(), extCount: new Map(), affCount: new Map(), elCount: new Map() };
  for (const c of order) {
    if (c.acceptedGen === m.gen || c.frag.keys.some((k) => m.owner.has(k))) continue; // duplicate or conflict
    accept(m, c);
    m.accepted.push(c);
  }
  return m;
}

/** Incrementally from the previous call; undefined when a conflict needs the from-scratch path. */
function compileDelta(prev: Memo, order: Compiled[]): Memo | undefined {
  const gen = ++generation;
  const fresh: Compiled[] = [];
  let kept = 0;
  for (let i = 0; i < order.length; i++) {
    const c = order[i]!;
    if (c.acceptedGen === prev.gen) { c.acceptedGen = gen; kept++; } else if (c.acceptedGen !== gen) fresh.push(c); else return undefined;
  }
  const m: Memo = { ...prev, gen, accepted: order }; // no conflicts: every entry is accepted
  if (kept < prev.accepted.length) for (const c of prev.accepted) if (c.acceptedGen === prev.gen) release(m, c);
  for (const c of fresh) {
    if (c.frag.keys.some((k) => m.owner.has(k))) return undefined;
    accept(m, c);
  }
  return m;
}

/** Compiles the service model into the proxy's table. */
export function compileServices(state: ProxyState): Ruleset {
  const ctx0 = `${state.nodeName}|${state.nodeIPs.join(',')}`;
  const ctx = memo?.ctx === ctx0 ? memo.ctx : ctx0; // the same string object: comparisons are pointer checks
  const services = state.services;
  const order: Compiled[] = new Array<Compiled>(services.length);
  for (let i = 0; i < services.length; i++) order[i] = compiledFor(services[i]!, state, ctx);
  let m = memo && memo.ctx === ctx ? compileDelta(memo, order) : undefined;
  if (!m) {
    if (memo) memo.gen = -2; // the delta attempt may have re-tagged entries; make them all stale
    m = compileAll(state, ctx, order);
  }
  memo = m;
  return assemble(state, m.accepted.map((c) => c.frag.fragment), m.lbCount, m.extCount, m.affCount, m.elCount, new Map()); // sizes from the counts alone: stateless
}

/** The table around the fragments: sets, one lb/ext chain per endpoint count in use, base chains. */
function assemble(state: Omit<ProxyState, 'services'>, fragments: readonly Fragment[], lbCount: ReadonlyMap<number, number>, extCount: ReadonlyMap<number, number>, affCount: ReadonlyMap<number, number>, elCount: ReadonlyMap<string, number>, sizes: Map<string, number>, sharedRefs?: Ruleset['sharedRefs']): Ruleset {
  const extKeys = [...extCount.keys()].sort((a, b) => a - b);
  const ext = extKeys.filter((k) => k % 2 === 0).map((k) => k / 2);
  const local = extKeys.filter((k) => k % 2 === 1).map((k) => (k - 1) / 2);
  const affKeys = [...affCount.keys()].sort((a, b) => a - b).map(affOf);
  const extAff = affKeys.filter((a) => a.kind === 1);
  const localAff = affKeys.filter((a) => a.kind === 2);
  // ext-aff-N-T goes on to aff-N-T; local-aff-N-T needs none.
  const aff = [...new Map(affKeys.filter((a) => a.kind !== 2).map((a) => [`${a.n}-${a.t}`, { n: a.n, t: a.t }])).values()];
  const lbSizes = new Set([...lbCount.keys(), ...ext]);
  const lb = [...lbSizes].sort((a, b) => a - b);
  // Affinity chains read the same endpoint maps, without needing an lb-N chain; the Local chains
  // read their own (local-eps-N).
  const epsSizes = [...new Set([...lbSizes, ...aff.map((a) => a.n)])].sort((a, b) => a - b);
  const localEpsSizes = [...new Set([...local, ...localAff.map((a) => a.n)])].sort((a, b) => a - b);
  const shortCircuit = (elCount.get(FROM_NODE) ?? 0) > 0;

  const masqueradeOutside = state.clusterCIDR ? [rules.markUnlessFrom(state.clusterCIDR, MASQUERADE_MARK)] : [];
  // ClientIP affinity: per (N, T) a chain for cluster traffic and per (N, T) one for Local external
  // traffic, each with N hit rules, a random pick among N `-new-K` chains, and the K-th endpoint's
  // client set `affinity-K` shared by every service (the service is part of the key).
  const affChains = [
    ...aff.map(({ n, t }) => ({ name: affChain(n, t), n, t, eps: epsMap(n), prefix: masqueradeOutside })),
    ...localAff.map(({ n, t }) => ({ name: localAffChain(n, t), n, t, eps: localEpsMap(n), prefix: [] as Rule[] })),
  ];
  const affSetCount = Math.max(0, ...affChains.map((c) => c.n));
  const affSets = Array.from({ length: affSetCount }, (_, k): NftSet => ({ name: affSet(k), key: ['ipv4_addr', 'ipv4_addr', 'inet_proto', 'inet_service'], dynamic: true, elements: [] }));
  const dispatchShape = { key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict' } as const;
  const endpointMap = (name: string, n: number): NftSet => ({
    name,
    key: ['ipv4_addr', 'inet_proto', 'inet_service', 'mark'],
    data: ['ipv4_addr', 'inet_service'],
    typeText: `typeof ip daddr . meta l4proto . th dport . numgen random mod ${n} : ip daddr . th dport`,
    elements: [],
  });
  const sets: NftSet[] = [
    { name: SERVICE_IPS, ...dispatchShape, elements: [] },
    { name: NO_ENDPOINTS, ...dispatchShape, elements: [] },
    { name: HAIRPIN, key: ['ipv4_addr', 'ipv4_addr'], shared: true, elements: [] },
    { name: CLUSTER_IPS, key: ['ipv4_addr'], shared: true, elements: [] },
    ...affSets,
    ...affChains.map(({ name, n }): NftSet => ({
      name: affPickMap(name), key: ['mark'], data: 'verdict', typeText: `typeof numgen random mod ${n} : verdict`,
      elements: Array.from({ length: n }, (_, k) => ({ key: [k], data: { code: 'goto', chain: affNewChain(name, k) } })),
    })),
    ...(shortCircuit ? [{ name: FROM_PODS, ...dispatchShape, elements: [] }, { name: FROM_NODE, ...dispatchShape, elements: [] }] : []),
    ...epsSizes.map((n) => endpointMap(epsMap(n), n)),
    ...localEpsSizes.map((n) => endpointMap(localEpsMap(n), n)),
  ];
  const nat = (hook: 'prerouting' | 'output' | 'postrouting'): Chain['base'] => ({ type: 'nat', hook, priority: hook === 'postrouting' ? 100 : -100 });
  const filter = (hook: 'input' | 'forward' | 'output'): Chain['base'] => ({ type: 'filter', hook, priority: -10 });
  // Reaching the filter hooks still addressed to a ClusterIP means no DNAT happened: the service
  // has no endpoints (rejected by the map), or the port is not one of the service's (rejected), or
  // the address is not allocated at all (dropped).
  const filterRules = [
    rules.dispatch(NO_ENDPOINTS),
    rules.daddrInSetGoto(CLUSTER_IPS, 'reject-service'),
    ...(state.serviceCIDR ? [rules.daddrInCidrDrop(state.serviceCIDR)] : []),
  ];
  const chains: Chain[] = [
    { name: 'nat-prerouting', base: nat('prerouting')!, rules: [rules.jump('services')] },
    { name: 'nat-output', base: nat('output')!, rules: [rules.jump('services')] },
    { name: 'nat-postrouting', base: nat('postrouting')!, rules: [rules.jump('masquerading'), rules.hairpinMasquerade(HAIRPIN)] },
    { name: 'masquerading', rules: [rules.returnUnlessMarked(MASQUERADE_MARK), rules.flipMarkBits(MASQUERADE_MARK), rules.masquerade()] },
    {
      name: 'services',
      rules: [
        ...(shortCircuit && state.clusterCIDR ? [rules.dispatchFrom(state.clusterCIDR, FROM_PODS)] : []),
        ...(shortCircuit ? [rules.dispatchFromLocal(FROM_NODE)] : []),
        rules.dispatch(SERVICE_IPS),
      ],
    },
    { name: 'filter-input', base: filter('input')!, rules: filterRules },
    { name: 'filter-forward', base: filter('forward')!, rules: filterRules },
    { name: 'filter-output', base: filter('output')!, rules: filterRules },
    { name: 'reject-service', rules: [rules.rejectTcpReset(), rules.reject()] },
    ...lb.map((n): Chain => ({ name: lbChain(n), rules: [...masqueradeOutside, rules.loadBalance(n, epsMap(n))] })),
    ...ext.map((n): Chain => ({ name: extChain(n), rules: [rules.setMarkBits(MASQUERADE_MARK), rules.goto(lbChain(n))] })),
    ...affChains.flatMap(({ name, n, t, eps, prefix }): Chain[] => [
      { name, rules: [...prefix, ...Array.from({ length: n }, (_, k) => rules.affinityHit(k, eps, t)), rules.pickAtRandom(n, affPickMap(name))] },
      ...Array.from({ length: n }, (_, k): Chain => ({ name: affNewChain(name, k), rules: [rules.affinityNew(k, eps, t)] })),
    ]),
    ...extAff.map(({ n, t }): Chain => ({ name: extAffChain(n, t), rules: [rules.setMarkBits(MASQUERADE_MARK), rules.goto(affChain(n, t))] })),
    ...local.map((n): Chain => ({ name: localChain(n), rules: [rules.loadBalance(n, localEpsMap(n))] })),
  ];
  // Sizes for every set the packet path does not fill; sets that went away forget theirs.
  const names = new Set(sets.map((x) => x.name));
  for (const name of sizes.keys()) if (!names.has(name)) sizes.delete(name);
  const sized = sets.map((x): NftSet => {
    if (x.dynamic) return x;
    const size = setSize(sizes.get(x.name), (elCount.get(x.name) ?? 0) + x.elements.length);
    sizes.set(x.name, size);
    return { ...x, size };
  });
  return { family: 'ip', table: TABLE, chains, sets: sized, fragments, ...(sharedRefs ? { sharedRefs } : {}) };
}

function compileServicePort(sp: ServicePortModel, state: Omit<ProxyState, 'services'>): CompiledFragment {
  const proto = PROTO_NUM[sp.protocol];
  const els: Record<string, SetElement[]> = {};
  const push = (set: string, e: SetElement): void => { (els[set] ??= []).push(e); };
  const lb = new Set<number>();
  const ext = new Set<number>();
  const aff = new Set<number>();
  const keys: number[] = [];
  const protoIdx = proto === 6 ? 0 : proto === 17 ? 1 : 2;
  const t = sp.affinityTimeoutSeconds;
  // Pods and the node itself reaching an external address of a Local service: every endpoint.
  const everyEndpoint = sp.externalTrafficLocal ? clusterPolicyEndpoints(sp) : [];
  const shortCircuit = (addr: string, port: number): void => {
    const m = everyEndpoint.length;
    if (m === 0) return;
    if (t !== undefined && m < AFF_SHIFT) {
      aff.add(affKey(t, m, 0)).add(affKey(t, m, 1));
      push(FROM_PODS, { key: [addr, proto, port], data: { code: 'goto', chain: affChain(m, t) } });
      push(FROM_NODE, { key: [addr, proto, port], data: { code: 'goto', chain: extAffChain(m, t) } });
    } else {
      lb.add(m);
      ext.add(extKey(m, false));
      push(FROM_PODS, { key: [addr, proto, port], data: { code: 'goto', chain: lbChain(m) } });
      push(FROM_NODE, { key: [addr, proto, port], data: { code: 'goto', chain: extChain(m) } });
    }
    everyEndpoint.forEach((e, i) => push(epsMap(m), { key: [addr, proto, port, i], data: [e.ip, e.port] }));
  };
  const entry = (addr: string, port: number, eps: readonly EndpointModel[], external: boolean): void => {
    keys.push(ipNum(addr) * 2 ** 18 + protoIdx * 2 ** 16 + port);
    // externalTrafficPolicy=Local: `eps` are this node's endpoints, reached without masquerade.
    const local = external && sp.externalTrafficLocal;
    if (local) shortCircuit(addr, port);
    const n = eps.length;
    if (n === 0) {
      push(NO_ENDPOINTS, { key: [addr, proto, port], data: { code: 'goto', chain: 'reject-service' } });
      return;
    }
    if (t !== undefined && n < AFF_SHIFT) {
      // ClientIP affinity: the chain remembers each client in the set of the endpoint it got.
      aff.add(affKey(t, n, local ? 2 : external ? 1 : 0));
      push(SERVICE_IPS, { key: [addr, proto, port], data: { code: 'goto', chain: local ? localAffChain(n, t) : external ? extAffChain(n, t) : affChain(n, t) } });
    } else {
      if (external) ext.add(extKey(n, local)); else lb.add(n);
      push(SERVICE_IPS, { key: [addr, proto, port], data: { code: 'goto', chain: local ? localChain(n) : external ? extChain(n) : lbChain(n) } });
    }
    eps.forEach((e, i) => push(local ? localEpsMap(n) : epsMap(n), { key: [addr, proto, port, i], data: [e.ip, e.port] }));
  };
  const internal = clusterEndpoints(sp, state.nodeName);
  const outside = externalEndpoints(sp, state.nodeName);
  for (const ip of sp.clusterIPs) entry(ip, sp.port, internal, false);
  for (const ip of [...sp.externalIPs, ...sp.loadBalancerIPs]) entry(ip, sp.port, outside, true);
  if (sp.nodePort !== undefined) for (const ip of state.nodeIPs) entry(ip, sp.nodePort, outside, true);
  // Hairpin traffic is DNATed on the node of the pod that sends it, which is then the endpoint: so
  // only this node's endpoints (or those whose node is unknown) can hairpin here.
  const hairpin = new Set([...internal, ...outside].filter((e) => e.nodeName === undefined || e.nodeName === state.nodeName).map((e) => e.ip));
  for (const ip of hairpin) push(HAIRPIN, { key: [ip, ip] });
  for (const ip of sp.clusterIPs) push(CLUSTER_IPS, { key: [ip] });
  return { fragment: { id: sp.id, elements: els }, lb: [...lb], ext: [...ext], aff: [...aff], keys };
}

/** What the compiler needs besides the services: this node and the cluster's address ranges. */
export type NodeContext = Omit<ProxyState, 'services'>;

interface Entry { sp: ServicePortModel; frag: CompiledFragment; accepted: boolean }

/**
 * The compiler fed with changes, for the sync loop: `update` takes the changed service ports
 * (from the change trackers) and costs O(changed) plus an O(accepted) walk that only gathers
 * fragment pointers — no per-service compile, lookup or conflict check for the unchanged ones.
 * Its output equals `compileServices` over the same ports sorted by id (tested), including which
 * of two conflicting ports wins (the one first by id): any conflict, or the release of a port
 * that had shut another out, sends it down a from-scratch resolution over the memoized
 * fragments. Pure: holds only data.
 */
export class IncrementalCompiler {
  private ctxKey: string | undefined;
  private ctx: NodeContext | undefined;
  private readonly entries = new Map<string, Entry>();
  private readonly owner = new Map<number, Entry>();
  private readonly lbCount = new Map<number, number>();
  private readonly extCount = new Map<number, number>();
  private readonly affCount = new Map<number, number>();
  private readonly elCount = new Map<string, number>();
  private readonly sizes = new Map<string, number>();
  /** Contributors per element of the shared sets, so the planner need not scan them all. */
  private readonly refs = new Map<string, Map<string, number>>([[HAIRPIN, new Map()], [CLUSTER_IPS, new Map()]]);
  /**
   * Whether `refs` counts the accepted entries. A from-scratch resolution leaves them uncounted:
   * at 10 000 × 10 counting is ~100 000 key strings, which a full sync (the start-up one above all)
   * never reads. They are counted when a plan first asks, or by `settle` when the caller is idle.
   */
  private refsCounted = true;
  /** What the rulesets hand the planner: the counts, counted first if they are not yet. */
  private readonly sharedRefs: NonNullable<Ruleset['sharedRefs']> = { get: (set) => { this.settle(); return this.refs.get(set); } };
  private rejected = 0;

  /** Number of service ports programmed (not shut out by a conflict). */
  get acceptedCount(): number { return this.entries.size - this.rejected; }

  update(ctx: NodeContext, changes: ReadonlyMap<string, ServicePortModel | undefined>): Ruleset {
    const key = JSON.stringify([ctx.nodeName, ctx.nodeIPs, ctx.serviceCIDR ?? null, ctx.clusterCIDR ?? null]);
    if (key !== this.ctxKey) {
      // The node's addresses or ranges changed: every fragment may differ.
      this.ctxKey = key;
      this.ctx = ctx;
      for (const [id, sp] of changes) if (sp) this.entries.set(id, { sp, frag: compileServicePort(sp, ctx), accepted: false }); else this.entries.delete(id);
      for (const e of this.entries.values()) if (!changes.has(e.sp.id)) e.frag = compileServicePort(e.sp, ctx);
      this.resolveAll();
    } else {
      let needFull = false;
      for (const [id, sp] of changes) {
        const old = this.entries.get(id);
        if (old?.accepted) {
          this.release(old);
          if (this.rejected > 0) needFull = true; // it may have shut another out
        } else if (old) this.rejected--;
        if (!sp) { this.entries.delete(id); continue; }
        const e: Entry = { sp, frag: old?.sp === sp ? old.frag : compileServicePort(sp, ctx), accepted: false };
        this.entries.set(id, e); // an existing id keeps its place: the planner's in-step walk matches
        if (needFull || e.frag.keys.some((k) => this.owner.has(k))) { needFull = true; this.rejected++; continue; }
        this.accept(e);
      }
      if (needFull) this.resolveAll();
    }
    const fragments: Fragment[] = [];
    for (const e of this.entries.values()) if (e.accepted) fragments.push(e.frag.fragment);
    return assemble(this.ctx!, fragments, this.lbCount, this.extCount, this.affCount, this.elCount, this.sizes, this.sharedRefs);
  }

  /** Does the bookkeeping a from-scratch resolution deferred (cheap when there is none): call it when idle. */
  settle(): void {
    if (this.refsCounted) return;
    this.refsCounted = true;
    for (const e of this.entries.values()) if (e.accepted) this.count(e, 1);
  }

  private count(e: Entry, d: number): void {
    if (!this.refsCounted) return;
    for (const [set, m] of this.refs) {
      const els = e.frag.fragment.elements[set];
      if (els) for (const el of els) bump(m, sharedKey(el.key), d);
    }
  }

  private accept(e: Entry): void {
    e.accepted = true;
    for (const k of e.frag.keys) this.owner.set(k, e);
    for (const n of e.frag.lb) bump(this.lbCount, n, 1);
    for (const n of e.frag.ext) bump(this.extCount, n, 1);
    for (const n of e.frag.aff) bump(this.affCount, n, 1);
    countElements(this.elCount, e.frag.fragment, 1);
    this.count(e, 1);
  }
  private release(e: Entry): void {
    e.accepted = false;
    for (const k of e.frag.keys) if (this.owner.get(k) === e) this.owner.delete(k);
    for (const n of e.frag.lb) bump(this.lbCount, n, -1);
    for (const n of e.frag.ext) bump(this.extCount, n, -1);
    for (const n of e.frag.aff) bump(this.affCount, n, -1);
    countElements(this.elCount, e.frag.fragment, -1);
    this.count(e, -1);
  }

  /** From scratch over the memoized fragments: the first by id wins a conflict. */
  private resolveAll(): void {
    this.owner.clear();
    this.lbCount.clear();
    this.extCount.clear();
    this.affCount.clear();
    this.elCount.clear();
    for (const m of this.refs.values()) m.clear();
    this.refsCounted = false;
    this.rejected = 0;
    const sorted = [...this.entries.values()].sort((a, b) => (a.sp.id < b.sp.id ? -1 : a.sp.id > b.sp.id ? 1 : 0));
    for (const e of sorted) {
      e.accepted = false;
      if (e.frag.keys.some((k) => this.owner.has(k))) { this.rejected++; continue; }
      this.accept(e);
    }
  }
}

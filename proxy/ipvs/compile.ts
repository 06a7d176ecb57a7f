// Compiles the service model into what IPVS mode programs: virtual servers with their real
// servers, the addresses to bind on the dummy device `kube-ipvs0`, and a small nf_tables table for
// what IPVS itself cannot do (masquerade, hairpin, refusing stray ports on the VIPs). Pure.
//
// Design notes. Upstream's IPVS proxier (pkg/proxy/ipvs) makes one virtual server per ClusterIP,
// externalIP and load-balancer IP and port, and one per node IP and NodePort; real servers are the
// endpoints with weight 1, NAT ("masq") forwarding; scheduler rr unless configured; ClientIP
// affinity is IPVS persistence (flag PERSISTENT, timeout = the affinity timeout). ClusterIP
// virtual servers get the endpoints for internal traffic, the others those for external traffic
// (traffic policies Local filter them to this node's). Every service address except the node's own
// is bound to kube-ipvs0 so IPVS sees its packets as local.
//
// Masquerade and filtering: upstream uses iptables with ipsets (KUBE-CLUSTER-IP, KUBE-LOOP-BACK,
// KUBE-NODE-PORT-*, KUBE-IPVS-FILTER). We use one nf_tables table (`k8ts-ipvs`) through our own
// netlink encoder instead: the same sets become nf_tables sets whose elements are diffed per
// service (one batch, atomic, no iptables/ipset binaries needed), and the nftables mode's rule
// builders are reused, so masquerade works identically in both modes. The table:
//   nat-prerouting / nat-output   jump services
//   services    ip saddr != <cluster CIDR> ip daddr . meta l4proto . th dport @cluster-services  mark 0x4000
//               ip daddr . meta l4proto . th dport @external-services                          mark 0x4000
//   nat-postrouting   jump masquerading (mark → masquerade fully-random); ip saddr . ip daddr @hairpin masquerade
//   filter-input      ct state new ip daddr @vips, unless ip daddr . meta l4proto . th dport @service-ips: reject
// (IPVS's conntrack support, net.ipv4.vs.conntrack=1, is what lets nf_nat masquerade IPVS traffic.)
// External services with externalTrafficPolicy Local are not marked: the client's address is kept.
// A service port whose virtual server conflicts with an earlier one (by id) is skipped.
import { PROTO_NUM, R, le32 } from '../../kernel/nftables/match.js';
import type { Chain, Expr, Fragment, NftSet, Rule, Ruleset, SetElement } from '../../kernel/nftables/types.js';
import type { RealServer, VirtualServer } from '../../kernel/ipvs/encode.js';
import { clusterEndpoints, externalEndpoints, type ServicePortModel } from '../model.js';
import { MASQUERADE_MARK, rules, type ProxyState } from '../nftables/compile.js';

export const IPVS_TABLE = 'k8ts-ipvs';
export const DEFAULT_SCHEDULER = 'rr';
const IP_VS_SVC_F_PERSISTENT = 0x1;

export interface VirtualServerState { readonly vs: VirtualServer; readonly dests: readonly RealServer[] }

export interface IpvsState {
  /** By `vsKey`, in service-id order. */
  readonly services: ReadonlyMap<string, VirtualServerState>;
  /** Addresses to bind on kube-ipvs0 (sorted). */
  readonly bindAddrs: readonly string[];
  readonly ruleset: Ruleset;
  /** Service port ids skipped because a virtual server of theirs belonged to an earlier one. */
  readonly conflicts: readonly string[];
}

export const vsKey = (v: { protocol: string; address: string; port: number }): string => `${v.protocol} ${v.address}:${v.port}`;

export interface IpvsOptions { readonly scheduler?: string }

const CLUSTER = 'cluster-services';
const EXTERNAL = 'external-services';
const SERVICE_IPS = 'service-ips';
const VIPS = 'vips';
const HAIRPIN = 'hairpin';
const CT_STATE_NEW = 1 << 3;

const loadKey: Expr[] = [
  { op: 'payload', base: 'network', offset: 16, len: 4, dreg: R.a },
  { op: 'meta', key: 'l4proto', dreg: R.b },
  { op: 'payload', base: 'transport', offset: 2, len: 2, dreg: R.c },
];
const ipvsRules = {
  /** `ip daddr . meta l4proto . th dport @set meta mark set meta mark | bits` */
  markIfIn: (set: string, bits: number): Rule => ({
    text: `ip daddr . meta l4proto . th dport @${set} meta mark set meta mark | 0x${bits.toString(16).padStart(8, '0')}`,
    exprs: [...loadKey, { op: 'lookup', set, sreg: R.a }, ...rules.setMarkBits(bits).exprs],
  }),
  /** `ip saddr != CIDR ip daddr . meta l4proto . th dport @set meta mark set meta mark | bits` */
  markIfInFromOutside: (cidr: string, set: string, bits: number): Rule => {
    const outside = rules.markUnlessFrom(cidr, bits);
    const cidrExprs = outside.exprs.slice(0, outside.exprs.length - rules.setMarkBits(bits).exprs.length);
    return {
      text: `ip saddr != ${cidr} ip daddr . meta l4proto . th dport @${set} meta mark set meta mark | 0x${bits.toString(16).padStart(8, '0')}`,
      exprs: [...cidrExprs, ...loadKey, { op: 'lookup', set, sreg: R.a }, ...rules.setMarkBits(bits).exprs],
    };
  },
  returnIfIn: (set: string): Rule => ({
    text: `ip daddr . meta l4proto . th dport @${set} return`,
    exprs: [...loadKey, { op: 'lookup', set, sreg: R.a }, { op: 'verdict', verdict: { code: 'return' } }],
  }),
  /** A new connection to a VIP on a port no service has: reject (upstream KUBE-IPVS-FILTER). */
  rejectNewToVip: (set: string): Rule => ({
    text: `ct state new ip daddr @${set} reject`,
    exprs: [
      { op: 'ct', key: 'state', dreg: R.a },
      { op: 'bitwise', sreg: R.a, dreg: R.a, mask: le32(CT_STATE_NEW), xor: le32(0) },
      { op: 'cmp', sreg: R.a, cmp: 'neq', data: le32(0) },
      { op: 'payload', base: 'network', offset: 16, len: 4, dreg: R.a },
      { op: 'lookup', set, sreg: R.a },
      { op: 'reject', type: 'icmp', code: 3 },
    ],
  }),
};

/** Compiles the whole IPVS state from the model (services sorted by id, as buildServiceModel gives them). */
export function compileIpvs(state: ProxyState, opts: IpvsOptions = {}): IpvsState {
  const scheduler = opts.scheduler ?? DEFAULT_SCHEDULER;
  const services = new Map<string, VirtualServerState>();
  const bind = new Set<string>();
  const fragments: Fragment[] = [];
  const conflicts: string[] = [];
  const sorted = [...state.services].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const ctx = `${state.nodeName}|${state.nodeIPs.join(',')}|${scheduler}`;
  for (const sp of sorted) {
    let c = cache.get(sp);
    if (c?.ctx !== ctx) cache.set(sp, (c = { ctx, ...compileServicePort(sp, state, scheduler) }));
    if (c.vss.some((v) => services.has(vsKey(v.vs))) || new Set(c.vss.map((v) => vsKey(v.vs))).size !== c.vss.length) {
      conflicts.push(sp.id);
      continue;
    }
    for (const v of c.vss) services.set(vsKey(v.vs), v);
    for (const a of c.bind) bind.add(a);
    fragments.push(c.fragment);
  }
  return { services, bindAddrs: [...bind].sort(), ruleset: assemble(state, fragments), conflicts };
}

/**
 * Per model object: its compiled virtual servers and fragment. The sync loop's service map keeps
 * unchanged ports as the same objects, so their output is the same objects too, and the planners
 * (plan.ts, the nf_tables one) skip them by identity: a one-service change costs O(services)
 * pointer checks plus that service's work, not a comparison of every real server.
 */
const cache = new WeakMap<ServicePortModel, { ctx: string; vss: VirtualServerState[]; bind: string[]; fragment: Fragment }>();

function compileServicePort(sp: ServicePortModel, state: ProxyState, scheduler: string): { vss: VirtualServerState[]; bind: string[]; fragment: Fragment } {
  const proto = PROTO_NUM[sp.protocol];
  const els: Record<string, SetElement[]> = {};
  const push = (set: string, e: SetElement): void => { (els[set] ??= []).push(e); };
  const persistent = sp.affinityTimeoutSeconds !== undefined;
  const vss: VirtualServerState[] = [];
  const bind: string[] = [];
  const add = (address: string, port: number, eps: ReturnType<typeof clusterEndpoints>, kind: 'cluster' | 'external'): void => {
    vss.push({
      vs: { address, protocol: sp.protocol, port, scheduler, flags: persistent ? IP_VS_SVC_F_PERSISTENT : 0, timeout: sp.affinityTimeoutSeconds ?? 0 },
      dests: eps.map((e) => ({ address: e.ip, port: e.port, weight: 1 })),
    });
    const key = [address, proto, port];
    push(SERVICE_IPS, { key });
    if (kind === 'cluster') push(CLUSTER, { key });
    else if (!sp.externalTrafficLocal) push(EXTERNAL, { key });
  };
  const internal = clusterEndpoints(sp, state.nodeName);
  const outside = externalEndpoints(sp, state.nodeName);
  for (const ip of sp.clusterIPs) { add(ip, sp.port, internal, 'cluster'); bind.push(ip); }
  for (const ip of [...sp.externalIPs, ...sp.loadBalancerIPs]) { add(ip, sp.port, outside, 'external'); bind.push(ip); }
  if (sp.nodePort !== undefined) for (const ip of state.nodeIPs) add(ip, sp.nodePort, outside, 'external');
  for (const ip of bind) push(VIPS, { key: [ip] });
  // As in the nftables mode: only this node's endpoints (or those of unknown node) can hairpin here.
  const hairpin = new Set([...internal, ...outside].filter((e) => e.nodeName === undefined || e.nodeName === state.nodeName).map((e) => e.ip));
  for (const ip of hairpin) push(HAIRPIN, { key: [ip, ip] });
  return { vss, bind, fragment: { id: sp.id, elements: els } };
}

function assemble(state: Omit<ProxyState, 'services'>, fragments: readonly Fragment[]): Ruleset {
  const keyShape = ['ipv4_addr', 'inet_proto', 'inet_service'] as const;
  const sets: NftSet[] = [
    { name: CLUSTER, key: keyShape, elements: [] },
    { name: EXTERNAL, key: keyShape, elements: [] },
    { name: SERVICE_IPS, key: keyShape, elements: [] },
    { name: VIPS, key: ['ipv4_addr'], shared: true, elements: [] },
    { name: HAIRPIN, key: ['ipv4_addr', 'ipv4_addr'], shared: true, elements: [] },
  ];
  const nat = (hook: 'prerouting' | 'output' | 'postrouting'): Chain['base'] => ({ type: 'nat', hook, priority: hook === 'postrouting' ? 100 : -100 });
  const chains: Chain[] = [
    { name: 'nat-prerouting', base: nat('prerouting')!, rules: [rules.jump('services')] },
    { name: 'nat-output', base: nat('output')!, rules: [rules.jump('services')] },
    { name: 'nat-postrouting', base: nat('postrouting')!, rules: [rules.jump('masquerading'), rules.hairpinMasquerade(HAIRPIN)] },
    { name: 'masquerading', rules: [rules.returnUnlessMarked(MASQUERADE_MARK), rules.flipMarkBits(MASQUERADE_MARK), rules.masquerade()] },
    {
      name: 'services',
      rules: [
        ...(state.clusterCIDR ? [ipvsRules.markIfInFromOutside(state.clusterCIDR, CLUSTER, MASQUERADE_MARK)] : []),
        ipvsRules.markIfIn(EXTERNAL, MASQUERADE_MARK),
      ],
    },
    // Before IPVS's LOCAL_IN hook (priority 98): a VIP answers only on its services' ports.
    { name: 'filter-input', base: { type: 'filter', hook: 'input', priority: -10 }, rules: [ipvsRules.returnIfIn(SERVICE_IPS), ipvsRules.rejectNewToVip(VIPS)] },
  ];
  return { family: 'ip', table: IPVS_TABLE, chains, sets, fragments };
}

// Compiles the service model into upstream kube-proxy's iptables layout (pkg/proxy/iptables). Pure.
//
// Design notes — the layout is upstream's, chain for chain and name for name, so that operators'
// tools and habits (`iptables-save | grep KUBE-SVC-…`) carry over and a node can switch between
// k8ts and kube-proxy:
//
//   nat PREROUTING/OUTPUT → KUBE-SERVICES   one rule per ClusterIP / external IP / LB IP and port
//                                             → KUBE-SVC-<h> (cluster) / KUBE-SVL-<h> (node-local)
//                                             → KUBE-EXT-<h> (external destinations)
//                                           last: local (or --nodeport-addresses) → KUBE-NODEPORTS
//       KUBE-NODEPORTS                      one rule per NodePort → KUBE-EXT-<h>
//       KUBE-EXT-<h>                        mark for masquerade (or, with eTP Local, pod/LOCAL
//                                           traffic to KUBE-SVC, the rest to KUBE-SVL — kept on a
//                                           node with no local endpoint, where the rest falls
//                                           through to filter's DROP)
//       KUBE-SVC-<h> / KUBE-SVL-<h>         [! -s clusterCIDR mark], [affinity: recent --rcheck per
//                                           endpoint], then one rule per endpoint with
//                                           `statistic --probability 1/(n-i)` → KUBE-SEP-<h>
//       KUBE-SEP-<h>                        -s EP mark (hairpin); [recent --set] DNAT to EP:port
//   nat POSTROUTING → KUBE-POSTROUTING      mark 0x4000 → clear it, MASQUERADE --random-fully
//   filter INPUT/FORWARD/OUTPUT → KUBE-SERVICES, KUBE-EXTERNAL-SERVICES: REJECT for services
//       without endpoints (DROP when only a Local policy leaves none); KUBE-FORWARD accepts marked
//       and established traffic. With a service CIDR, filter KUBE-SERVICES ends with a DROP of the
//       rest of it (unallocated ClusterIPs, as our nftables mode does; upstream's iptables has none).
//
// Chain names hash the service port name and protocol (and endpoint) with SHA-256 in base32, as
// upstream does, so they are stable across restarts and identical to kube-proxy's. Each service
// port compiles to a Fragment: the chains it owns and the rules it contributes to the shared
// chains; fragments are memoized per model object, so the planner (./plan.ts) finds the changed
// ones by identity and a partial sync rewrites only their chains. A fragment is built on first use:
// compiling the model only names the (address, protocol, port) keys each port claims, and the rule
// text is built while a full sync streams it to iptables-restore (./plan.ts), so that work runs
// beside the restore's own instead of before it. Services whose address, protocol and port are
// already taken by an earlier one (by id) are skipped, so a conflicting spec cannot shadow
// another's rules. Above 1 000 endpoints in all, the per-endpoint comments are left out,
// as upstream's "large cluster mode" does: they are most of the restore input's bytes and of the
// kernel's per-rule match data. One deliberate difference in rule text: an endpoint chain's DNAT
// rule says `-p tcp` where upstream says `-m tcp -p tcp`. A protocol match with no port or flag
// option adds nothing to `-p` here (nat sees only defragmented first packets that conntrack
// accepted), but it is not free: iptables-nft (1.8.9) keeps an option-less tcp/udp match as an
// x_tables compat expression for iptables-save's sake, and legacy carries it as a match blob the
// kernel checks: one per endpoint, 100 000 at 10 000 × 10, about 1 s of a 9 s iptables-nft-restore
// of upstream's layout here. Chains, targets and the packets each rule takes are upstream's.
// Not yet: loadBalancerSourceRanges (KUBE-FW-*, not in the model), healthCheckNodePort rules, IPv6.
import { hash } from 'node:crypto';
import { clusterEndpoints, externalEndpoints, type EndpointModel, type ServicePortModel } from '../model.js';

export const MASQUERADE_MARK = '0x4000';

export type Table = 'nat' | 'filter';

/** A rule in a shared (top-level) chain, as iptables-restore arguments after `-A CHAIN`. */
export interface SharedRule { readonly table: Table; readonly chain: string; readonly rule: string }

export interface IptablesFragment {
  readonly id: string;
  /**
   * The nat chains this service port owns (KUBE-SVC/SVL/EXT/SEP-…), each with its rules as one
   * block of iptables-restore lines (`-A NAME …`, newline-separated): one long-lived string per
   * chain rather than one per rule keeps a 10 000-service model light on the collector.
   */
  readonly chains: ReadonlyMap<string, string>;
  /** Its rules in the shared chains (KUBE-SERVICES, KUBE-NODEPORTS, KUBE-EXTERNAL-SERVICES). */
  readonly shared: readonly SharedRule[];
  /** (address, protocol, port) claimed, for conflict detection. */
  readonly keys: readonly string[];
  /** About how many restore lines its chains take, known before they are built (a hint: see plan.ts). */
  readonly size?: number;
}

/** A chain we own outright whose rules are not per service (KUBE-POSTROUTING, …). */
export interface StaticChain { readonly table: Table; readonly name: string; readonly rules: readonly string[] }

/** A rule in a built-in chain that sends traffic into ours (upstream's iptablesJumpChains). */
export interface JumpRule { readonly table: Table; readonly from: string; readonly to: string; readonly comment: string; readonly extra: string }

export interface IptablesRuleset {
  /** Accepted service ports, by id. */
  readonly fragments: ReadonlyMap<string, IptablesFragment>;
  /** Our chains without per-service rules, and the shared chains with their fixed trailing rules. */
  readonly statics: readonly StaticChain[];
  /** The rules in built-in chains that lead into ours. */
  readonly jumps: readonly JumpRule[];
  /** Equal keys ⇒ equal statics and jumps (the planner's cheap check). */
  readonly baseKey: string;
}

export interface NodeContext {
  readonly nodeName: string;
  /** Where NodePorts listen; empty means every local address (`-m addrtype --dst-type LOCAL`). */
  readonly nodeIPs: readonly string[];
  readonly serviceCIDR?: string;
  /** The pod network: ClusterIP traffic from outside it is masqueraded. */
  readonly clusterCIDR?: string;
}

/** Upstream's largeClusterEndpointsThreshold: above it, no per-endpoint comments. */
export const LARGE_CLUSTER_ENDPOINTS = 1000;
type FullContext = NodeContext & { readonly largeCluster: boolean };

export interface ProxyState extends NodeContext { readonly services: readonly ServicePortModel[] }

// ---- names ----

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** The first 16 characters of base32(sha256(s)): upstream's portProtoHash. */
export function hash16(s: string): string {
  const d = hash('sha256', s, 'buffer'); // one-shot: half the cost of createHash per name
  let out = '';
  let bits = 0;
  let v = 0;
  for (let i = 0; out.length < 16; i++) {
    v = ((v << 8) | d[i]!) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < 16) {
      out += B32[(v >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

/** `ns/name:port` (or `ns/name` for an unnamed port): upstream's ServicePortName.String(). */
export const servicePortName = (sp: ServicePortModel): string => `${sp.namespace}/${sp.name}${sp.portName ? `:${sp.portName}` : ''}`;
const proto = (sp: ServicePortModel): string => sp.protocol.toLowerCase();
export const svcChain = (sp: ServicePortModel): string => `KUBE-SVC-${hash16(servicePortName(sp) + proto(sp))}`;
export const svlChain = (sp: ServicePortModel): string => `KUBE-SVL-${hash16(servicePortName(sp) + proto(sp))}`;
export const extChain = (sp: ServicePortModel): string => `KUBE-EXT-${hash16(servicePortName(sp) + proto(sp))}`;
export const sepChain = (sp: ServicePortModel, e: EndpointModel): string => `KUBE-SEP-${hash16(servicePortName(sp) + proto(sp) + `${e.ip}:${e.port}`)}`;
/** The per-service chains (ours to delete when stale). */
export const SERVICE_CHAIN_RE = /^KUBE-(SVC|SVL|EXT|FW|SEP)-[A-Z2-7]{16}$/;

const comment = (text: string): string => `-m comment --comment ${/[\s"]/.test(text) ? `"${text.replace(/"/g, '')}"` : text}`;
const KUBE_SERVICES = 'KUBE-SERVICES';
const KUBE_NODEPORTS = 'KUBE-NODEPORTS';
const KUBE_EXTERNAL_SERVICES = 'KUBE-EXTERNAL-SERVICES';
const KUBE_MARK_MASQ = 'KUBE-MARK-MASQ';

// ---- one service port ----

const cache = new WeakMap<ServicePortModel, { ctx: string; frag: IptablesFragment }>();
const ctxKey = (c: FullContext): string => JSON.stringify([c.nodeName, c.nodeIPs, c.serviceCIDR ?? null, c.clusterCIDR ?? null, c.largeCluster]);

const probabilities: string[] = [];
function probability(n: number): string { return (probabilities[n] ??= (1 / n).toFixed(10)); }

/** The (address, protocol, port) keys a service port claims: cheap, known before its rules are built. */
export function serviceKeys(sp: ServicePortModel): string[] {
  const p = proto(sp);
  const keys: string[] = [];
  for (const ip of sp.clusterIPs) keys.push(`${ip}/${p}/${sp.port}`);
  for (const ip of sp.externalIPs) keys.push(`${ip}/${p}/${sp.port}`);
  for (const ip of sp.loadBalancerIPs) keys.push(`${ip}/${p}/${sp.port}`);
  if (sp.nodePort !== undefined) keys.push(`nodeport/${p}/${sp.nodePort}`);
  return keys;
}

/**
 * A fragment whose chains and shared rules are built on first use and then kept: its identity and
 * keys are there at once (the planner and the conflict check need no more), the rule text of a
 * 10 000-service model is built while the restore that carries it runs.
 */
class LazyFragment implements IptablesFragment {
  readonly keys: readonly string[];
  readonly size: number;
  private built: IptablesFragment | undefined;
  private src: { sp: ServicePortModel; ctx: FullContext } | undefined;
  constructor(readonly id: string, sp: ServicePortModel, ctx: FullContext) {
    this.keys = serviceKeys(sp);
    // A service chain with a rule per endpoint, an endpoint chain with two rules per endpoint.
    this.size = 2 + 4 * sp.endpoints.length;
    this.src = { sp, ctx };
  }
  private get frag(): IptablesFragment {
    if (!this.built) {
      this.built = compileServicePort(this.src!.sp, this.src!.ctx);
      this.src = undefined;
    }
    return this.built;
  }
  get chains(): ReadonlyMap<string, string> { return this.frag.chains; }
  get shared(): readonly SharedRule[] { return this.frag.shared; }
}

export function compileServicePort(sp: ServicePortModel, ctx: FullContext): IptablesFragment {
  const name = servicePortName(sp);
  const epComment = (text: string): string => (ctx.largeCluster ? '' : `${comment(text)} `);
  const p = proto(sp);
  const chains = new Map<string, string[]>();
  const shared: SharedRule[] = [];
  const svc = svcChain(sp);
  const svl = svlChain(sp);
  const ext = extChain(sp);
  const all = externalEndpoints({ ...sp, externalTrafficLocal: false }, ctx.nodeName);
  const local = clusterEndpoints({ ...sp, internalTrafficLocal: true }, ctx.nodeName);
  const internalEps = clusterEndpoints(sp, ctx.nodeName);
  const externalEps = externalEndpoints(sp, ctx.nodeName);
  const internalChain = sp.internalTrafficLocal ? svl : svc;
  const hasExternal = sp.externalIPs.length > 0 || sp.loadBalancerIPs.length > 0 || sp.nodePort !== undefined;
  // Upstream's usesExternalChain: with a Local policy the EXT chain also carries the short circuit
  // for pods and the node itself, so it is used whenever the service has endpoints anywhere —
  // even on a node with none of its own, where only external clients are dropped.
  const usesExt = hasExternal && (externalEps.length > 0 || (sp.externalTrafficLocal && all.length > 0));
  const usesSvc = (internalChain === svc && internalEps.length > 0) || usesExt;
  const usesSvl = (internalChain === svl && internalEps.length > 0) || (sp.externalTrafficLocal && externalEps.length > 0);
  const chain = (c: string): string[] => { let l = chains.get(c); if (!l) chains.set(c, (l = [])); return l; };
  const sepNames = new Map<EndpointModel, string>();
  const sepOf = (e: EndpointModel): string => { let n = sepNames.get(e); if (n === undefined) sepNames.set(e, (n = sepChain(sp, e))); return n; };
  // Declared up front so the map keeps upstream's order: SVC, SVL, EXT, then the endpoints.
  if (usesSvc) chain(svc);
  if (usesSvl) chain(svl);
  if (usesExt) chain(ext);
  // Upstream: REJECT when the service has no endpoints at all, DROP when a Local policy leaves none here.
  const filterTarget = (): { comment: string; target: string } => (all.length === 0
    ? { comment: `${name} has no endpoints`, target: 'REJECT' }
    : { comment: `${name} has no local endpoints`, target: 'DROP' });

  for (const ip of sp.clusterIPs) {
    const match = `-m ${p} -p ${p} -d ${ip}/32 --dport ${sp.port}`;
    if (internalEps.length > 0) {
      if (ctx.clusterCIDR) chain(internalChain).push(`${comment(`${name} cluster IP`)} ${match} ! -s ${ctx.clusterCIDR} -j ${KUBE_MARK_MASQ}`);
      shared.push({ table: 'nat', chain: KUBE_SERVICES, rule: `${comment(`${name} cluster IP`)} ${match} -j ${internalChain}` });
    } else {
      const f = filterTarget();
      shared.push({ table: 'filter', chain: KUBE_SERVICES, rule: `${comment(f.comment)} ${match} -j ${f.target}` });
    }
  }
  const external = (ip: string, what: string): void => {
    const match = `-m ${p} -p ${p} -d ${ip}/32 --dport ${sp.port}`;
    if (usesExt) shared.push({ table: 'nat', chain: KUBE_SERVICES, rule: `${comment(`${name} ${what}`)} ${match} -j ${ext}` });
    if (externalEps.length === 0) {
      const f = filterTarget();
      shared.push({ table: 'filter', chain: KUBE_EXTERNAL_SERVICES, rule: `${comment(f.comment)} ${match} -j ${f.target}` });
    }
  };
  for (const ip of sp.externalIPs) external(ip, 'external IP');
  for (const ip of sp.loadBalancerIPs) external(ip, 'loadbalancer IP');
  if (sp.nodePort !== undefined) {
    if (usesExt) shared.push({ table: 'nat', chain: KUBE_NODEPORTS, rule: `${comment(name)} -m ${p} -p ${p} --dport ${sp.nodePort} -j ${ext}` });
    if (externalEps.length === 0) {
      const f = filterTarget();
      shared.push({ table: 'filter', chain: KUBE_EXTERNAL_SERVICES, rule: `${comment(f.comment)} -m addrtype --dst-type LOCAL -m ${p} -p ${p} --dport ${sp.nodePort} -j ${f.target}` });
    }
  }
  if (usesExt) {
    const r = chain(ext);
    if (!sp.externalTrafficLocal) {
      r.push(`${comment(`masquerade traffic for ${name} external destinations`)} -j ${KUBE_MARK_MASQ}`, `-j ${svc}`);
    } else {
      // Pods and the node itself may reach any endpoint; only traffic from outside must stay local.
      if (ctx.clusterCIDR) r.push(`${comment(`pod traffic for ${name} external destinations`)} -s ${ctx.clusterCIDR} -j ${svc}`);
      r.push(
        `${comment(`masquerade LOCAL traffic for ${name} external destinations`)} -m addrtype --src-type LOCAL -j ${KUBE_MARK_MASQ}`,
        `${comment(`route LOCAL traffic for ${name} external destinations`)} -m addrtype --src-type LOCAL -j ${svc}`,
      );
      // No local endpoint: the rest falls through un-DNATed, to filter's "has no local endpoints" DROP.
      if (externalEps.length > 0) r.push(`-j ${svl}`);
    }
  }
  const toEndpoints = (c: string, eps: readonly EndpointModel[]): void => {
    const r = chain(c);
    if (sp.affinityTimeoutSeconds !== undefined) {
      for (const e of eps) {
        const sep = sepOf(e);
        r.push(`${epComment(`${name} -> ${e.ip}:${e.port}`)}-m recent --name ${sep} --rcheck --seconds ${sp.affinityTimeoutSeconds} --reap -j ${sep}`);
      }
    }
    eps.forEach((e, i) => {
      const stat = i < eps.length - 1 ? `-m statistic --mode random --probability ${probability(eps.length - i)} ` : '';
      r.push(`${epComment(`${name} -> ${e.ip}:${e.port}`)}${stat}-j ${sepOf(e)}`);
    });
  };
  if (usesSvc) toEndpoints(svc, all);
  if (usesSvl) toEndpoints(svl, local);
  const seps = new Map<string, EndpointModel>();
  if (usesSvc) for (const e of all) seps.set(sepOf(e), e);
  if (usesSvl) for (const e of local) seps.set(sepOf(e), e);
  for (const [sep, e] of seps) {
    const recent = sp.affinityTimeoutSeconds !== undefined ? `-m recent --name ${sep} --set ` : '';
    // `-p` without upstream's `-m ${p}`: see the notes at the top.
    chain(sep).push(`${epComment(name)}-s ${e.ip}/32 -j ${KUBE_MARK_MASQ}`, `${epComment(name)}${recent}-p ${p} -j DNAT --to-destination ${e.ip}:${e.port}`);
  }
  const blocks = new Map<string, string>();
  for (const [c, rules] of chains) blocks.set(c, rules.map((r) => `-A ${c} ${r}`).join('\n'));
  return { id: sp.id, chains: blocks, shared, keys: serviceKeys(sp) };
}

function fragmentFor(sp: ServicePortModel, ctx: FullContext, key: string): IptablesFragment {
  const c = cache.get(sp);
  if (c && c.ctx === key) return c.frag;
  const frag = new LazyFragment(sp.id, sp, ctx);
  cache.set(sp, { ctx: key, frag });
  return frag;
}

// ---- the chains around the services ----

const JUMPS: readonly JumpRule[] = [
  { table: 'filter', from: 'INPUT', to: KUBE_EXTERNAL_SERVICES, comment: 'kubernetes externally-visible service portals', extra: '-m conntrack --ctstate NEW' },
  { table: 'filter', from: 'FORWARD', to: KUBE_EXTERNAL_SERVICES, comment: 'kubernetes externally-visible service portals', extra: '-m conntrack --ctstate NEW' },
  { table: 'filter', from: 'INPUT', to: KUBE_NODEPORTS, comment: 'kubernetes health check service ports', extra: '' },
  { table: 'filter', from: 'FORWARD', to: KUBE_SERVICES, comment: 'kubernetes service portals', extra: '-m conntrack --ctstate NEW' },
  { table: 'filter', from: 'OUTPUT', to: KUBE_SERVICES, comment: 'kubernetes service portals', extra: '-m conntrack --ctstate NEW' },
  { table: 'filter', from: 'FORWARD', to: 'KUBE-FORWARD', comment: 'kubernetes forwarding rules', extra: '' },
  { table: 'filter', from: 'INPUT', to: 'KUBE-PROXY-FIREWALL', comment: 'kubernetes load balancer firewall', extra: '-m conntrack --ctstate NEW' },
  { table: 'filter', from: 'OUTPUT', to: 'KUBE-PROXY-FIREWALL', comment: 'kubernetes load balancer firewall', extra: '-m conntrack --ctstate NEW' },
  { table: 'filter', from: 'FORWARD', to: 'KUBE-PROXY-FIREWALL', comment: 'kubernetes load balancer firewall', extra: '-m conntrack --ctstate NEW' },
  { table: 'nat', from: 'OUTPUT', to: KUBE_SERVICES, comment: 'kubernetes service portals', extra: '' },
  { table: 'nat', from: 'PREROUTING', to: KUBE_SERVICES, comment: 'kubernetes service portals', extra: '' },
  { table: 'nat', from: 'POSTROUTING', to: 'KUBE-POSTROUTING', comment: 'kubernetes postrouting rules', extra: '' },
];

/** The arguments of a jump rule, as iptables-restore takes them after `-I CHAIN`. */
export const jumpArgs = (j: JumpRule): string => `${j.extra ? `${j.extra} ` : ''}${comment(j.comment)} -j ${j.to}`;

/** The shared chains whose per-service rules must stay before the static trailing ones. */
export const SHARED_WITH_TRAILER = new Set(['nat KUBE-SERVICES', 'filter KUBE-SERVICES']);

export function staticChains(ctx: NodeContext): StaticChain[] {
  const nodePorts = ctx.nodeIPs.length
    ? ctx.nodeIPs.map((ip) => `${comment('kubernetes service nodeports; NOTE: this must be the last rule in this chain')} -d ${ip}/32 -j ${KUBE_NODEPORTS}`)
    : [`${comment('kubernetes service nodeports; NOTE: this must be the last rule in this chain')} -m addrtype --dst-type LOCAL -j ${KUBE_NODEPORTS}`];
  return [
    { table: 'filter', name: KUBE_SERVICES, rules: ctx.serviceCIDR ? [`${comment('unallocated service IPs')} -d ${ctx.serviceCIDR} -j DROP`] : [] },
    { table: 'filter', name: KUBE_EXTERNAL_SERVICES, rules: [] },
    { table: 'filter', name: KUBE_NODEPORTS, rules: [] },
    { table: 'filter', name: 'KUBE-PROXY-FIREWALL', rules: [] },
    {
      table: 'filter', name: 'KUBE-FORWARD', rules: [
        '-m conntrack --ctstate INVALID -j DROP',
        `${comment('kubernetes forwarding rules')} -m mark --mark ${MASQUERADE_MARK}/${MASQUERADE_MARK} -j ACCEPT`,
        `${comment('kubernetes forwarding conntrack rule')} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
      ],
    },
    { table: 'nat', name: KUBE_SERVICES, rules: nodePorts },
    { table: 'nat', name: KUBE_NODEPORTS, rules: [] },
    {
      table: 'nat', name: 'KUBE-POSTROUTING', rules: [
        `-m mark ! --mark ${MASQUERADE_MARK}/${MASQUERADE_MARK} -j RETURN`,
        `-j MARK --xor-mark ${MASQUERADE_MARK}`,
        `${comment('kubernetes service traffic requiring SNAT')} -j MASQUERADE --random-fully`,
      ],
    },
    { table: 'nat', name: KUBE_MARK_MASQ, rules: [`-j MARK --or-mark ${MASQUERADE_MARK}`] },
  ];
}

function assemble(ctx: NodeContext, key: string, fragments: ReadonlyMap<string, IptablesFragment>): IptablesRuleset {
  return { fragments, statics: staticChains(ctx), jumps: JUMPS, baseKey: key };
}

/** Compiles the whole model from scratch (first by id wins a conflict). */
export function compileIptables(state: ProxyState, largeCluster?: boolean): IptablesRuleset {
  let endpoints = 0;
  if (largeCluster === undefined) for (const sp of state.services) endpoints += sp.endpoints.length;
  const ctx: FullContext = { ...state, largeCluster: largeCluster ?? endpoints > LARGE_CLUSTER_ENDPOINTS };
  const key = ctxKey(ctx);
  const sorted = [...state.services].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const taken = new Set<string>();
  const fragments = new Map<string, IptablesFragment>();
  for (const sp of sorted) {
    const f = fragmentFor(sp, ctx, key);
    if (fragments.has(f.id) || f.keys.some((k) => taken.has(k))) continue;
    for (const k of f.keys) taken.add(k);
    fragments.set(f.id, f);
  }
  return assemble(ctx, key, fragments);
}

/**
 * The compiler fed with changes, for the sync loop: O(changed) fragment compiles, plus an O(ports)
 * copy of the accepted map (pointer work only). Output equals `compileIptables` over the same
 * ports (conflicts resolved first by id: any conflict, or the release of a port that had shut
 * another out, re-resolves over the memoized fragments). Pure: holds only data.
 */
export class IptablesCompiler {
  private key: string | undefined;
  private readonly models = new Map<string, ServicePortModel>();
  private accepted = new Map<string, IptablesFragment>();
  private readonly owner = new Map<string, string>();
  private rejected = 0;
  private endpoints = 0;

  update(node: NodeContext, changes: ReadonlyMap<string, ServicePortModel | undefined>): IptablesRuleset {
    for (const [id, sp] of changes) {
      this.endpoints -= this.models.get(id)?.endpoints.length ?? 0;
      this.endpoints += sp?.endpoints.length ?? 0;
      if (sp) this.models.set(id, sp); else this.models.delete(id);
    }
    const ctx: FullContext = { ...node, largeCluster: this.endpoints > LARGE_CLUSTER_ENDPOINTS };
    const key = ctxKey(ctx);
    let full = key !== this.key;
    this.key = key;
    if (!full) {
      for (const id of changes.keys()) {
        const old = this.accepted.get(id);
        if (old) {
          for (const k of old.keys) if (this.owner.get(k) === id) this.owner.delete(k);
          this.accepted.delete(id);
          if (this.rejected > 0) { full = true; break; }
        } else if (this.rejected > 0) { full = true; break; }
        const sp = this.models.get(id);
        if (!sp) continue;
        const f = fragmentFor(sp, ctx, key);
        if (f.keys.some((k) => this.owner.has(k))) { full = true; break; }
        for (const k of f.keys) this.owner.set(k, id);
        this.accepted.set(id, f);
      }
    }
    if (full) {
      const rs = compileIptables({ ...node, services: [...this.models.values()] }, ctx.largeCluster);
      this.accepted = new Map(rs.fragments);
      this.owner.clear();
      for (const f of this.accepted.values()) for (const k of f.keys) this.owner.set(k, f.id);
      this.rejected = this.models.size - this.accepted.size;
      return rs;
    }
    return assemble(ctx, key, new Map(this.accepted));
  }
}

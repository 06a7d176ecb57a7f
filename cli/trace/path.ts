// The path of one packet, NODE → SVC → POD, computed from a snapshot of a node's kernel state: the
// nftables hooks it crosses (with the rules it matches, by table, chain and handle), the DNAT
// choice set, the route and device it leaves by (for VXLAN: the neighbour entry of the next hop
// and the FDB entry naming the remote VTEP; routed: the next hop), and the NetworkPolicy verdicts
// of the k8ts-netpol table on the way out (this node) and in (the endpoint's node, when its
// snapshot was read too). Pure: every input is in the `Snapshot`, so the unit tests run on
// fixtures and the command only reads.
import type { RealServer, VirtualServer } from '../../kernel/ipvs/encode.js';
import type { Addr, FdbEntry, Link, Neigh, Route } from '../../kernel/rtnl/index.js';
import { evalHook, type Choice, type HookResult, type Packet, type Ruleset } from './nft-eval.js';

export const NETPOL_TABLE = 'k8ts-netpol';

/** One node's kernel state, as read at one moment. */
export interface Snapshot {
  node: string;
  nft: Ruleset;
  /** Rule text by `table chain handle` (from `nft -a list ruleset`), for readable output. */
  ruleText: Record<string, string>;
  links: Link[];
  addrs: Addr[];
  /** The main routing table. */
  routes: Route[];
  neighs: Neigh[];
  fdb: FdbEntry[];
  /** IPVS virtual servers and their real servers; undefined: no IPVS in this kernel. */
  ipvs?: { service: VirtualServer; dests: RealServer[] }[];
}

export interface Flow { saddr: string; daddr: string; proto: 'tcp' | 'udp' | 'sctp'; dport: number; sport: number }

export interface Hop {
  /** local: delivered on this node (dev = the pod's host side); vxlan: through the overlay; routed: to a next hop; unreachable. */
  kind: 'local' | 'vxlan' | 'routed' | 'unreachable' | 'host';
  dst: string;
  route?: Route;
  dev?: string;
  via?: string;
  vxlan?: { vni?: number; port?: number; neighMac?: string; vtep?: string; underlayDev?: string };
  text: string;
}

export interface PolicyVerdict {
  /** allowed: no policy isolates the pod in this direction, or one allows it; denied: dropped. */
  verdict: 'allowed' | 'denied' | 'not read';
  /** The k8ts-netpol chains the packet crossed (p-<policy>-in|eg chains name the policies). */
  chains: string[];
  node: string;
  text: string;
}

export interface EndpointPath {
  endpoint: Choice;
  hop: Hop;
  /** The filter hook after routing: forward, or input when the endpoint is this node (host network). */
  forward: HookResult;
  /** Absent for input: a packet delivered to the node itself meets no postrouting. */
  postrouting?: HookResult;
  egress: PolicyVerdict;
  ingress: PolicyVerdict;
}

export interface TracePath {
  node: string;
  flow: Flow;
  /** The interface the packet enters the node by (the pod's host side). */
  iif?: string;
  prerouting: HookResult;
  /** The destination is an address of this node and nothing DNATs it: input hook. */
  input?: HookResult;
  dnat?: HookResult['dnat'] & { rule: string };
  endpoints: EndpointPath[];
  unknown: string[];
}

const ipNum = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0) >>> 0;
function inPrefix(ip: string, cidr: string): boolean {
  if (cidr === 'default') return true;
  const [net, len] = cidr.split('/');
  const l = Number(len ?? 32);
  const mask = l === 0 ? 0 : (~0 << (32 - l)) >>> 0;
  return ((ipNum(ip) & mask) >>> 0) === ((ipNum(net!) & mask) >>> 0);
}
const prefixLen = (cidr: string): number => (cidr === 'default' ? 0 : Number(cidr.split('/')[1] ?? 32));

/** Longest-prefix match in the main table (metric breaks ties, lowest first). */
export function lookupRoute(routes: readonly Route[], dst: string): Route | undefined {
  let best: Route | undefined;
  for (const r of routes) {
    if (!inPrefix(dst, r.dst)) continue;
    if (!best || prefixLen(r.dst) > prefixLen(best.dst) || (prefixLen(r.dst) === prefixLen(best.dst) && (r.metric ?? 0) < (best.metric ?? 0))) best = r;
  }
  return best;
}

/** How the node sends a packet to `dst`: the route, device, and (VXLAN) neighbour and FDB entries. */
export function resolveHop(s: Snapshot, dst: string): Hop {
  if (s.addrs.some(a => a.address === dst)) return { kind: 'host', dst, text: `${dst} is an address of node ${s.node}: delivered locally (input)` };
  const r = lookupRoute(s.routes, dst);
  if (!r || r.type === 'blackhole' || r.type === 'unreachable' || r.type === 'prohibit') {
    return { kind: 'unreachable', dst, ...(r ? { route: r } : {}), text: r ? `route ${r.type} ${r.dst}: dropped` : `no route to ${dst}` };
  }
  const routeText = `route ${r.dst}${r.via ? ` via ${r.via}` : ''}${r.dev ? ` dev ${r.dev}` : ''}${r.onlink ? ' onlink' : ''}${r.protocol !== undefined ? ` proto ${r.protocol}` : ''}`;
  const link = s.links.find(l => l.name === r.dev);
  if (link?.kind === 'vxlan') {
    const nh = r.via ?? dst;
    const neigh = s.neighs.find(n => n.dev === link.name && n.ip === nh);
    const fdb = neigh ? s.fdb.find(f => f.dev === link.name && f.mac.toLowerCase() === neigh.mac.toLowerCase() && f.dst) : undefined;
    const underlay = fdb?.dst ? lookupRoute(s.routes, fdb.dst) : undefined;
    const vx = {
      ...(link.vxlan?.vni !== undefined ? { vni: link.vxlan.vni } : {}), ...(link.vxlan?.port !== undefined ? { port: link.vxlan.port } : {}),
      ...(neigh ? { neighMac: neigh.mac } : {}), ...(fdb?.dst ? { vtep: fdb.dst } : {}), ...(underlay?.dev ? { underlayDev: underlay.dev } : {}),
    };
    const text = `${routeText}; neigh ${nh} lladdr ${neigh?.mac ?? '(none: the packet is dropped)'}; fdb ${neigh?.mac ?? '?'} dst ${fdb?.dst ?? '(none)'}`
      + `${vx.vni !== undefined ? ` (VNI ${vx.vni}, UDP ${vx.port ?? 8472})` : ''}${underlay?.dev ? ` → underlay dev ${underlay.dev}` : ''}`;
    return { kind: 'vxlan', dst, route: r, dev: link.name, ...(r.via ? { via: r.via } : {}), vxlan: vx, text };
  }
  if (r.via) return { kind: 'routed', dst, route: r, via: r.via, ...(r.dev ? { dev: r.dev } : {}), text: `${routeText}: next hop ${r.via}` };
  return { kind: 'local', dst, route: r, ...(r.dev ? { dev: r.dev } : {}), text: `${routeText}: a pod on this node` };
}

/**
 * The NetworkPolicy verdict for one direction from one hook's run: the k8ts-netpol per-pod chains
 * (`eg-…` isolate a pod for egress, `in-…` for ingress) it crossed, and whether one of them dropped
 * the packet (no selecting policy set the allow bit).
 */
export function policyOf(h: HookResult, node: string, direction: 'egress' | 'ingress', who: string): PolicyVerdict {
  const dirRe = direction === 'egress' ? /^eg-/ : /^in-/;
  const netpol = h.hits.filter(x => x.table === NETPOL_TABLE);
  const chains = [...new Set(netpol.map(x => x.chain))];
  const isolating = chains.filter(c => dirRe.test(c));
  const policies = chains.filter(c => c.startsWith('p-') && c.endsWith(direction === 'egress' ? '-eg' : '-in'));
  const drop = netpol.find(x => x.effect === 'drop' || x.effect === 'reject');
  if (drop && (dirRe.test(drop.chain) || !/^(eg|in)-/.test(drop.chain))) {
    return { verdict: 'denied', chains, node, text: `${direction} of ${who}: denied on ${node} (table ${NETPOL_TABLE} chain ${drop.chain} [${drop.handle}]: no policy${policies.length ? ` of ${policies.join(', ')}` : ''} allows it)` };
  }
  if (isolating.length === 0) return { verdict: 'allowed', chains, node, text: `${direction} of ${who}: allowed on ${node} (no NetworkPolicy selects it for ${direction})` };
  return { verdict: 'allowed', chains, node, text: `${direction} of ${who}: allowed on ${node} by ${policies.join(', ') || 'a policy'} (chain ${isolating.join(', ')})` };
}

/** Two verdicts of one direction (this node's, the endpoint node's): denied if either denies. */
function both(a: PolicyVerdict, b: PolicyVerdict): PolicyVerdict {
  if (a.verdict === 'denied') return a;
  if (b.verdict === 'denied' || b.verdict === 'not read') return b;
  return { ...b, chains: [...new Set([...a.chains, ...b.chains])] };
}

/** The interface a packet from `saddr` comes in by: the device of the route back to it. */
function ingressDev(s: Snapshot, saddr: string): string | undefined {
  return lookupRoute(s.routes, saddr)?.dev;
}

/**
 * The path of `flow` from a pod on `src`'s node. `peers`: snapshots of other nodes by node IP (for
 * the ingress policy verdict of endpoints there); `podNodes`: which node IP each endpoint (pod IP)
 * lives on, when known (else the route decides: a local route is this node).
 */
export function computePath(src: Snapshot, flow: Flow, peers: ReadonlyMap<string, Snapshot> = new Map(), endpointNode: (ip: string) => string | undefined = () => undefined): TracePath {
  const iif = ingressDev(src, flow.saddr);
  const local = src.addrs.map(a => a.address);
  const packet: Packet = { ...flow, mark: 0, ...(iif ? { iif } : {}) };
  const prerouting = evalHook(src.nft, 'prerouting', packet, local);
  const unknown = [...prerouting.unknown];
  const out: TracePath = { node: src.node, flow, ...(iif ? { iif } : {}), prerouting, endpoints: [], unknown };
  if (prerouting.verdict !== 'accept') return out;
  const d = prerouting.dnat;
  if (d) out.dnat = { ...d, rule: src.ruleText[`${d.table} ${d.chain} ${d.handle}`] ?? '' };
  const targets = (): Choice[] => out.dnat?.choices ?? [{ ip: flow.daddr, port: flow.dport, probability: 1 }];
  const vs = d ? undefined : src.ipvs?.find(v => v.service.address === flow.daddr && v.service.port === flow.dport && v.service.protocol.toLowerCase() === flow.proto);
  if (vs) {
    // IPVS (proxy mode ipvs): the VIP is a local address (kube-ipvs0), so the packet crosses input,
    // where IPVS (LOCAL_IN, after the filter chains) picks a real server and sends the packet out
    // again through output and postrouting.
    out.input = evalHook(src.nft, 'input', prerouting.packet, local);
    unknown.push(...out.input.unknown);
    if (out.input.verdict !== 'accept') return out;
    const total = vs.dests.reduce((a, x) => a + x.weight, 0);
    const weighted = vs.service.scheduler === 'rr' || vs.service.scheduler === 'wrr';
    const choices = vs.dests.filter(x => x.weight > 0).map(x => ({ ip: x.address, port: x.port, probability: weighted && total > 0 ? x.weight / total : 1 / vs.dests.filter(y => y.weight > 0).length }));
    const persistent = (vs.service.flags & 0x0001) !== 0; // IP_VS_SVC_F_PERSISTENT
    out.dnat = {
      choices, table: 'ipvs', chain: `${vs.service.protocol} ${vs.service.address}:${vs.service.port}`, handle: 0,
      rule: `virtual server ${vs.service.protocol} ${vs.service.address}:${vs.service.port} scheduler ${vs.service.scheduler}${weighted ? '' : ' (the pick depends on its connection counts; shown evenly)'}`,
      ...(persistent ? { affinity: { map: 'ipvs persistence', timeoutS: vs.service.timeout } } : {}),
    };
  } else if (!d && src.addrs.some(a => a.address === flow.daddr)) {
    out.input = evalHook(src.nft, 'input', prerouting.packet, local);
    unknown.push(...out.input.unknown);
    return out;
  }
  const who = `${flow.saddr}`;
  // After IPVS the packet leaves through output, but its connection got its destination NAT
  // binding in prerouting (a null one: nothing DNATed it there) when nat chains ran there, so the
  // nat chains of output are not consulted for it (seen in a trace of a real probe in the IPVS
  // test VM: output's nat chains never show).
  const outNft = vs && src.nft.chains.some(c => c.hook === 'prerouting' && c.type === 'nat')
    ? { ...src.nft, chains: src.nft.chains.filter(c => !(c.hook === 'output' && c.type === 'nat')) }
    : src.nft;
  for (const ep of targets()) {
    const hop = resolveHop(src, ep.ip);
    const after: Packet = { ...prerouting.packet, daddr: ep.ip, dport: ep.port ?? flow.dport, ...(hop.dev ? { oif: hop.dev } : {}) };
    if (hop.kind === 'host') {
      // A host-network endpoint on this node: input hook; NetworkPolicy never selects the node.
      const input = evalHook(src.nft, 'input', { ...after, oif: '' }, local);
      unknown.push(...input.unknown);
      out.endpoints.push({
        endpoint: ep, hop, forward: input, egress: policyOf(input, src.node, 'egress', who),
        ingress: { verdict: 'allowed', chains: [], node: src.node, text: `ingress of ${ep.ip}: allowed (the node itself: no NetworkPolicy applies)` },
      });
      continue;
    }
    const forward = vs ? evalHook(outNft, 'output', after, local) : evalHook(src.nft, 'forward', after, local);
    const postrouting = evalHook(src.nft, 'postrouting', forward.packet, local);
    unknown.push(...forward.unknown, ...postrouting.unknown);
    const egress = policyOf(forward, src.node, 'egress', who);
    // Ingress is decided where the endpoint lives: here when the route is local, else on its node.
    let ingress: PolicyVerdict;
    const peerIP = hop.kind === 'local' ? undefined : endpointNode(ep.ip) ?? hop.vxlan?.vtep ?? hop.via;
    const peer = peerIP ? peers.get(peerIP) : undefined;
    // This node's forward chain may already police the endpoint's ingress (k8ts-netpol programs
    // every pod's ingress on every node), so its verdict counts too.
    const here = policyOf(forward, src.node, 'ingress', ep.ip);
    if (hop.kind === 'local') ingress = here;
    else if (peer) {
      const masq = postrouting.masquerade ? (src.addrs.find(a => a.dev === (hop.vxlan ? hop.dev : hop.route?.dev))?.address ?? flow.saddr) : flow.saddr;
      const there: Packet = { ...after, saddr: masq, mark: 0, iif: hop.dev ?? '' };
      const peerHop = resolveHop(peer, ep.ip);
      const f2 = evalHook(peer.nft, 'forward', { ...there, ...(peerHop.dev ? { oif: peerHop.dev } : {}) }, peer.addrs.map(a => a.address));
      unknown.push(...f2.unknown.map(u => `${peer.node}: ${u}`));
      ingress = both(here, policyOf(f2, peer.node, 'ingress', ep.ip));
    } else ingress = both(here, { verdict: 'not read', chains: [], node: peerIP ?? '?', text: `ingress of ${ep.ip}: decided on node ${peerIP ?? '?'} (its kernel state was not read)` });
    out.endpoints.push({ endpoint: ep, hop, forward, postrouting, egress, ingress });
  }
  return out;
}

const pct = (p: number): string => `${(Math.round(p * 1000) / 10).toString()}%`;

/** The path as numbered steps an operator reads. Pure. */
export function renderPath(t: TracePath, ruleText: Record<string, string>): string {
  const lines: string[] = [];
  const f = t.flow;
  lines.push(`${f.proto} ${f.saddr}:${f.sport} → ${f.daddr}:${f.dport}, from node ${t.node}${t.iif ? ` (in by ${t.iif})` : ''}`);
  let n = 0;
  const step = (s: string) => lines.push(`${String(++n).padStart(2)}. ${s}`);
  const rule = (h: { table: string; chain: string; handle: number; effect: string }) => {
    const text = ruleText[`${h.table} ${h.chain} ${h.handle}`];
    return `      ${h.table} ${h.chain} [${h.handle}]${text ? ` ${text}` : ''}  → ${h.effect}`;
  };
  step(`NODE ${t.node}: prerouting — ${t.prerouting.chains.map(c => `${c.table}/${c.chain} ${c.verdict}`).join(', ') || 'no base chains'}`);
  for (const h of t.prerouting.hits) lines.push(rule(h));
  if (t.prerouting.verdict !== 'accept') { step(`the packet is ${t.prerouting.verdict === 'drop' ? 'dropped' : 'rejected'} in prerouting`); return `${lines.join('\n')}\n`; }
  if (t.input && t.dnat) {
    step(`${f.daddr} is a local address (an IPVS virtual server): input — ${t.input.chains.map(c => `${c.table}/${c.chain} ${c.verdict}`).join(', ') || 'no base chains'}`);
    for (const h of t.input.hits) lines.push(rule(h));
  } else if (t.input) {
    step(`${f.daddr} is this node's own address and no rule DNATs it: input — ${t.input.verdict}`);
    for (const h of t.input.hits) lines.push(rule(h));
    return `${lines.join('\n')}\n`;
  }
  if (t.dnat) {
    const aff = t.dnat.affinity ? `; ClientIP affinity (map @${t.dnat.affinity.map}${t.dnat.affinity.timeoutS ? `, timeout ${t.dnat.affinity.timeoutS}s` : ''})` : '';
    step(`SVC: DNAT in ${t.dnat.table}/${t.dnat.chain} to one of ${t.dnat.choices.length} endpoint(s)${aff}:`);
    for (const c of t.dnat.choices) lines.push(`      ${c.ip}${c.port ? `:${c.port}` : ''}  p=${pct(c.probability)}`);
  } else step(`no DNAT: ${f.daddr} is not a service address on this node`);
  for (const e of t.endpoints) {
    const ep = `${e.endpoint.ip}${e.endpoint.port ? `:${e.endpoint.port}` : ''}`;
    step(`POD ${ep}: ${e.hop.text}`);
    lines.push(`      ${e.forward.hook}: ${e.forward.chains.map(c => `${c.table}/${c.chain} ${c.verdict}`).join(', ') || 'no base chains'}`);
    for (const h of e.forward.hits) lines.push(`  ${rule(h)}`);
    if (e.postrouting) lines.push(`      postrouting: ${e.postrouting.masquerade ? `masqueraded (${e.postrouting.masquerade.table}/${e.postrouting.masquerade.chain})` : 'source kept'}`);
    lines.push(`      policy: ${e.egress.text}`);
    lines.push(`      policy: ${e.ingress.text}`);
  }
  if (t.unknown.length) lines.push(`not understood (treated as not matching): ${[...new Set(t.unknown)].join('; ')}`);
  return `${lines.join('\n')}\n`;
}

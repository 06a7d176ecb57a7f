// Compiles NetworkPolicies (networking.k8s.io/v1) over the pods and namespaces of the cluster into
// one nf_tables table for a node, `table ip k8ts-netpol`. Pure.
//
// Design notes — the layout, and why.
//
//   forward (filter, hook forward)  ct state established,related accept
//                                   ip saddr vmap @egress-pods    → jump eg-<pod>
//                                   ip daddr vmap @ingress-pods   → jump in-<pod>
//   input   (filter, hook input,    ct state established,related accept
//            priority 99)           ip saddr vmap @egress-pods    (a pod talking to the node itself)
//   output  (filter, hook output)   fib saddr type local accept   (the node's own traffic)
//                                   ct state established,related accept, then both dispatches:
//                                   pod traffic the IPVS proxy forwards (INPUT_PRIORITY below)
//   in-<set> / eg-<set>             clear the allow bit; jump p-<policy>-in|eg for each policy that
//                                   selects the pod; drop unless the allow bit is set (one chain per
//                                   distinct set of selecting policies, shared by its pods)
//   p-<policy>-in|eg                one rule per (peer, port) of each policy rule: match → set the
//                                   allow bit and return
//   b-<policy>-<dir>-<rule>-<peer>  an ipBlock with excepts: except → return; CIDR → allow bit
//
// - The hook is forward (and input for egress; output for what the IPVS proxy forwards), so policy
//   sees traffic after the proxy's DNAT: a Service never bypasses a policy. Replies pass on conntrack. Traffic the node sends to its pods
//   (kubelet probes) leaves through output and is never policed, as upstream requires.
// - Policies are additive: a pod is allowed what any selecting policy allows, so each policy chain
//   only ever sets the allow bit (mark 0x10000, clear of the proxy's 0x4000) and the pod chain
//   decides once at the end. A pod no policy selects has no element in the maps: it is open.
// - Peer pods are sets of IPs named by the peer selectors (policies naming the same peers share
//   one set); a named port becomes a set of (pod IP, protocol, port) resolved on the pods that
//   define it (the selected pods for ingress, the peers for egress), so policy chains are shared
//   by all the pods a policy selects.
// - Chains and sets are named by a short hash of what defines them (the policy's namespace/name,
//   the list of policies, the peer selectors): stable across syncs, so the planner sends only what
//   changed.
import { createHash } from 'node:crypto';
import type { NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort } from 'kubernetes-types/networking/v1.js';
import { fromMetaLabelSelector, labelsMatch } from '../../api/selectors.js';
import {
  DADDR, PROTO_NUM, SADDR, addrInSet, addrProtoPortInSet, addrVmap, cidrMatch, clearMarkBits, ctEstablishedOrRelated,
  dportMatch, fibSaddrLocal, hex, l4protoMatch, markBitsMatch, setMarkBits,
} from '../../kernel/nftables/match.js';
import type { Chain, Expr, NftSet, Rule, Ruleset, SetElement } from '../../kernel/nftables/types.js';

export const NETPOL_TABLE = 'k8ts-netpol';

/**
 * The input chain runs after IPVS's LOCAL_IN hook (priority 98, NF_IP_PRI_NAT_SRC - 2). With the
 * IPVS proxy a Service address is local (on kube-ipvs0): pod → Service goes prerouting → input,
 * where IPVS DNATs it and sends it on through LOCAL_OUT, never through forward. Running after IPVS,
 * input judges only traffic for the node itself (IPVS took the rest), and the output chain judges
 * what IPVS sends on — against the endpoint, as forward does for the other proxies. Output lets the
 * node's own traffic pass (`fib saddr type local`): kubelet probes are never policed, as upstream
 * requires; a packet there with a pod's source can only be one IPVS forwarded.
 */
const INPUT_PRIORITY = 99;
/** The allow bit: set by a policy rule that matches, read by the pod chain. */
export const ALLOW_MARK = 0x10000;

export interface PodInfo {
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  /** Unset until the pod has an address; such pods are neither policed nor peers yet. */
  ip?: string;
  hostNetwork?: boolean;
  /** Container ports, for named ports. */
  ports: readonly { name?: string; containerPort: number; protocol?: string }[];
}

export interface NamespaceInfo { name: string; labels: Readonly<Record<string, string>> }

export interface NetpolState {
  pods: readonly PodInfo[];
  namespaces: readonly NamespaceInfo[];
  policies: readonly NetworkPolicy[];
}

/** Something about a policy that matches nothing: reported as an Event, never a failed sync. */
export interface PolicyProblem { namespace: string; name: string; message: string }

export interface CompiledPolicies { ruleset: Ruleset; problems: PolicyProblem[] }

type Direction = 'in' | 'eg';

const shortHash = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 10);
const INGRESS_PODS = 'ingress-pods';
const EGRESS_PODS = 'egress-pods';
const isIPv4 = (ip: string | undefined): ip is string => !!ip && /^\d{1,3}(\.\d{1,3}){3}$/.test(ip);

const rule = (text: string, exprs: Expr[]): Rule => ({ text, exprs });
const accept: Expr = { op: 'verdict', verdict: { code: 'accept' } };
const ret: Expr = { op: 'verdict', verdict: { code: 'return' } };
const jump = (chain: string): Rule => rule(`jump ${chain}`, [{ op: 'verdict', verdict: { code: 'jump', chain } }]);
const allowAndReturn: Expr[] = [...setMarkBits(ALLOW_MARK), ret];
const allowText = `meta mark set meta mark | ${hex(ALLOW_MARK)} return`;
// Rules every pod chain has: built once, shared by reference (thousands of pod chains).
const clearAllowRule = rule(`meta mark set meta mark & ${hex(~ALLOW_MARK >>> 0)}`, clearMarkBits(ALLOW_MARK));
const dropUnlessAllowedRule = rule(`meta mark & ${hex(ALLOW_MARK)} == 0 drop`, [...markBitsMatch(ALLOW_MARK, false), { op: 'verdict', verdict: { code: 'drop' } }]);

/** upstream defaulting: Ingress always, Egress when egress rules are given. */
export function policyTypes(p: NetworkPolicy): { ingress: boolean; egress: boolean } {
  const types = p.spec?.policyTypes;
  if (types && types.length > 0) return { ingress: types.includes('Ingress'), egress: types.includes('Egress') };
  return { ingress: true, egress: (p.spec?.egress?.length ?? 0) > 0 };
}

/**
 * Selector evaluation over an index built once per compile: pods by namespace, and each distinct
 * selector's result cached (many policies repeat selectors), so a compile costs about one pass over
 * the pods per distinct selector rather than one per policy rule.
 */
class PodIndex {
  private readonly byNamespace = new Map<string, PodInfo[]>();
  private readonly nsLabels = new Map<string, Record<string, string>>();
  private readonly cache = new Map<string, PodInfo[]>();

  constructor(readonly pods: readonly PodInfo[], namespaces: readonly NamespaceInfo[]) {
    for (const p of pods) {
      let list = this.byNamespace.get(p.namespace);
      if (!list) this.byNamespace.set(p.namespace, (list = []));
      list.push(p);
    }
    // Upstream sets kubernetes.io/metadata.name on every namespace; selecting by it must work even if ours lack it.
    for (const n of namespaces) this.nsLabels.set(n.name, { ...n.labels, 'kubernetes.io/metadata.name': n.name });
    for (const name of this.byNamespace.keys()) if (!this.nsLabels.has(name)) this.nsLabels.set(name, { 'kubernetes.io/metadata.name': name });
  }

  /** Pods in `namespaces` (all when undefined) whose labels match `podSelector` (all when undefined). */
  select(namespace: string | undefined, namespaceSelector: LabelSelectorSpec | undefined, podSelector: LabelSelectorSpec | undefined): PodInfo[] {
    const key = JSON.stringify([namespace, namespaceSelector, podSelector]);
    const hit = this.cache.get(key);
    if (hit) return hit;
    let namespaces: string[];
    if (namespaceSelector) {
      const sel = fromMetaLabelSelector(namespaceSelector);
      namespaces = [...this.nsLabels].filter(([, labels]) => labelsMatch(sel, labels)).map(([name]) => name);
    } else {
      namespaces = namespace === undefined ? [...this.byNamespace.keys()] : [namespace];
    }
    const podSel = podSelector ? fromMetaLabelSelector(podSelector) : undefined;
    const out: PodInfo[] = [];
    for (const ns of namespaces) for (const p of this.byNamespace.get(ns) ?? []) if (!podSel || labelsMatch(podSel, p.labels)) out.push(p);
    this.cache.set(key, out);
    return out;
  }
}

type LabelSelectorSpec = NonNullable<NetworkPolicyPeer['podSelector']>;

/** Pods a peer entry selects (ipBlock peers select none). */
function peerPods(peer: NetworkPolicyPeer, policyNs: string, index: PodIndex): PodInfo[] {
  if (peer.ipBlock) return [];
  return index.select(peer.namespaceSelector ? undefined : policyNs, peer.namespaceSelector, peer.podSelector);
}

interface PortMatch { text: string; exprs: Expr[]; namedSet?: { name: string; elements: SetElement[] } }

/**
 * The port half of a rule; undefined entries mean "any port". A named port's set is named by what
 * it is resolved on (`namedOnKey`) and the port, so policies that resolve the same name on the same
 * pods share one set.
 */
function portMatches(ports: readonly NetworkPolicyPort[] | undefined, namedOn: readonly PodInfo[], namedOnKey: string, dir: Direction, problems: string[]): (PortMatch | undefined)[] {
  if (!ports || ports.length === 0) return [undefined];
  return ports.map((p): PortMatch => {
    const proto = (p.protocol ?? 'TCP') as keyof typeof PROTO_NUM;
    const num = PROTO_NUM[proto] ?? PROTO_NUM.TCP;
    const protoText = proto.toLowerCase();
    if (p.port === undefined) return { text: `meta l4proto ${protoText}`, exprs: l4protoMatch(num) };
    if (typeof p.port === 'number' || /^\d+$/.test(String(p.port))) {
      const from = Number(p.port), to = p.endPort ?? from;
      return { text: `meta l4proto ${protoText} th dport ${from === to ? from : `${from}-${to}`}`, exprs: [...l4protoMatch(num), ...dportMatch(from, to)] };
    }
    // A named port: the address and port of every pod that defines it, as one set.
    const name = `n-${shortHash(`${namedOnKey}|${String(p.port)}|${proto}`)}`;
    const elements: SetElement[] = [];
    for (const pod of namedOn) {
      const cp = pod.ports.find(x => x.name === p.port && (x.protocol ?? 'TCP') === proto);
      if (cp && isIPv4(pod.ip)) elements.push({ key: [pod.ip, num, cp.containerPort] });
    }
    if (elements.length === 0) problems.push(`named port "${String(p.port)}" (${proto}) is defined by none of the ${dir === 'in' ? 'pods the policy selects' : 'peer pods'}`);
    // The destination pod defines the port in both directions: the selected pod for ingress, the peer for egress.
    return { text: `ip daddr . meta l4proto . th dport @${name}`, exprs: addrProtoPortInSet(DADDR, name), namedSet: { name, elements } };
  });
}

/** Compiles the whole state. The same state always gives the same ruleset (sorted, hashed names). */
export function compileNetworkPolicies(state: NetpolState): CompiledPolicies {
  const policed = state.pods.filter(p => !p.hostNetwork && isIPv4(p.ip));
  const index = new PodIndex(policed, state.namespaces);
  const chains: Chain[] = [];
  const sets: NftSet[] = [];
  const setNames = new Set<string>();
  const addSet = (set: NftSet): void => { if (!setNames.has(set.name)) { setNames.add(set.name); sets.push(set); } };
  const jumps = new Map<string, Rule>();
  const jumpTo = (chain: string): Rule => { let r = jumps.get(chain); if (!r) jumps.set(chain, (r = jump(chain))); return r; };
  const problems: PolicyProblem[] = [];
  const selectedBy = { in: new Map<PodInfo, string[]>(), eg: new Map<PodInfo, string[]>() };

  const policyKey = (p: NetworkPolicy) => `${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`;
  const policies = [...state.policies].sort((a, b) => (policyKey(a) < policyKey(b) ? -1 : policyKey(a) > policyKey(b) ? 1 : 0));
  for (const policy of policies) {
    const ns = policy.metadata?.namespace ?? 'default';
    const pname = policy.metadata?.name ?? '';
    const id = shortHash(`${ns}/${pname}`);
    const selected = index.select(ns, undefined, policy.spec?.podSelector ?? {});
    const types = policyTypes(policy);
    const messages: string[] = [];
    for (const dir of ['in', 'eg'] as const) {
      if (dir === 'in' ? !types.ingress : !types.egress) continue;
      const chainName = `p-${id}-${dir}`;
      const rules: Rule[] = [];
      const policyRules = dir === 'in' ? (policy.spec?.ingress ?? []) : (policy.spec?.egress ?? []);
      policyRules.forEach((r, i) => {
        const peers = (dir === 'in' ? (r as { from?: NetworkPolicyPeer[] }).from : (r as { to?: NetworkPolicyPeer[] }).to) ?? [];
        const peerAddr = dir === 'in' ? SADDR : DADDR;
        const peerWord = dir === 'in' ? 'saddr' : 'daddr';
        const podPeers = peers.filter(p => !p.ipBlock);
        const peerPodList = podPeers.length === 1 ? peerPods(podPeers[0]!, ns, index) : [...new Set(podPeers.flatMap(p => peerPods(p, ns, index)))];
        const peersKey = JSON.stringify(podPeers.map(p => [p.namespaceSelector ? null : ns, p.namespaceSelector ?? null, p.podSelector ?? null]));
        const selectedKey = JSON.stringify([ns, policy.spec?.podSelector ?? {}]);
        const ports = portMatches(r.ports, dir === 'in' ? selected : peerPodList, dir === 'in' ? selectedKey : peersKey, dir, messages);
        for (const pm of ports) if (pm?.namedSet) addSet({ name: pm.namedSet.name, key: ['ipv4_addr', 'inet_proto', 'inet_service'], elements: pm.namedSet.elements });
        const withPort = (peerText: string, peerExprs: Expr[], tail: { text: string; exprs: Expr[] }): void => {
          for (const pm of ports) {
            rules.push(rule([peerText, pm?.text, tail.text].filter(Boolean).join(' '), [...peerExprs, ...(pm?.exprs ?? []), ...tail.exprs]));
          }
        };
        const allow = { text: allowText, exprs: allowAndReturn };
        if (peers.length === 0) {
          withPort('', [], allow);
          return;
        }
        if (podPeers.length > 0) {
          // Named by the peer selectors: policies that name the same peers share one set.
          const set = `s-${shortHash(peersKey)}`;
          addSet({ name: set, key: ['ipv4_addr'], elements: peerPodList.map(p => ({ key: [p.ip!] })) });
          withPort(`ip ${peerWord} @${set}`, addrInSet(peerAddr, set), allow);
        }
        peers.forEach((peer, j) => {
          if (!peer.ipBlock) return;
          const block = `b-${id}-${dir}${i}-${j}`;
          const blockRules: Rule[] = [];
          for (const except of peer.ipBlock.except ?? []) blockRules.push(rule(`ip ${peerWord} ${except} return`, [...cidrMatch(peerAddr, except, 'eq'), ret]));
          blockRules.push(rule(`ip ${peerWord} ${peer.ipBlock.cidr} ${allowText}`, [...cidrMatch(peerAddr, peer.ipBlock.cidr, 'eq'), ...allowAndReturn]));
          chains.push({ name: block, rules: blockRules });
          withPort('', [], { text: `jump ${block}`, exprs: [{ op: 'verdict', verdict: { code: 'jump', chain: block } }] });
        });
      });
      chains.push({ name: chainName, rules });
      for (const pod of selected) {
        const list = selectedBy[dir].get(pod) ?? [];
        list.push(chainName);
        selectedBy[dir].set(pod, list);
      }
    }
    for (const message of messages) problems.push({ namespace: ns, name: pname, message });
  }

  // Pods selected by the same policies share one chain: the chain depends only on that list.
  const vmapElements = { in: [] as SetElement[], eg: [] as SetElement[] };
  const podChains = new Set<string>();
  for (const dir of ['in', 'eg'] as const) {
    const key = (p: PodInfo) => `${p.namespace}/${p.name}`;
    const entries = [...selectedBy[dir]].sort(([a], [b]) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    for (const [pod, policyChains] of entries) {
      const podChain = `${dir}-${shortHash(policyChains.join(' '))}`;
      if (!podChains.has(podChain)) {
        podChains.add(podChain);
        chains.push({ name: podChain, rules: [clearAllowRule, ...policyChains.map(jumpTo), dropUnlessAllowedRule] });
      }
      vmapElements[dir].push({ key: [pod.ip!], data: { code: 'jump', chain: podChain } });
    }
  }

  const established = rule('ct state established,related accept', [...ctEstablishedOrRelated(), accept]);
  const egressDispatch = rule(`ip saddr vmap @${EGRESS_PODS}`, addrVmap(SADDR, EGRESS_PODS));
  const ingressDispatch = rule(`ip daddr vmap @${INGRESS_PODS}`, addrVmap(DADDR, INGRESS_PODS));
  const fromNode = rule('fib saddr type local accept', [...fibSaddrLocal(), accept]);
  const base: Chain[] = [
    { name: 'forward', base: { type: 'filter', hook: 'forward', priority: 0 }, rules: [established, egressDispatch, ingressDispatch] },
    { name: 'input', base: { type: 'filter', hook: 'input', priority: INPUT_PRIORITY }, rules: [established, egressDispatch] },
    { name: 'output', base: { type: 'filter', hook: 'output', priority: 0 }, rules: [fromNode, established, egressDispatch, ingressDispatch] },
  ];
  const vmaps: NftSet[] = [
    { name: INGRESS_PODS, key: ['ipv4_addr'], data: 'verdict', elements: vmapElements.in },
    { name: EGRESS_PODS, key: ['ipv4_addr'], data: 'verdict', elements: vmapElements.eg },
  ];
  return {
    ruleset: { family: 'ip', table: NETPOL_TABLE, chains: [...base, ...chains], sets: [...vmaps, ...sets], fragments: [] },
    problems,
  };
}

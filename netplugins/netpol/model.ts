// The NetworkPolicy reference model: may `client` open a connection to `server` on (port,
// protocol)? A direct reading of the networking.k8s.io/v1 semantics, one connection at a time —
// nothing shared with the compiler (compile.ts), so the two can check each other: the lab's truth
// tables (test/e2e/netpol-lab.test.ts) compare what the kernel lets through with this function.
// Pure.
//
// Upstream semantics, as evaluated here:
// - A connection needs both the client's egress and the server's ingress to allow it.
// - A direction is open for a pod unless some policy of its namespace selects it with that policy
//   type (policyTypes defaulting: Ingress always, Egress when egress rules exist); then it is the
//   union (policies are additive) of the rules of those policies.
// - A rule matches when one of its peers matches (none listed: everyone) and one of its ports
//   matches (none listed: every port). A peer is a podSelector (the policy's namespace), a
//   namespaceSelector (any pod of a matching namespace), both (AND), or an ipBlock minus excepts.
// - A port names a protocol (default TCP) and a number, a number range (endPort), a name (the
//   destination pod's container port of that name and protocol), or nothing (every port).
// - A pod reaching its own address never leaves its namespace: always allowed (upstream's e2e
//   suite calls this AllowLoopback).
import type { NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort } from 'kubernetes-types/networking/v1.js';
import { cidrContains, parseCidrSloppy, parseIPSloppy } from '../../api/cidr.js';
import { fromMetaLabelSelector, labelsMatch } from '../../api/selectors.js';
import { policyTypes, type NamespaceInfo, type PodInfo } from './compile.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type ModelPod = PodInfo & { ip: string };

export interface ModelState {
  namespaces: readonly NamespaceInfo[];
  policies: readonly NetworkPolicy[];
}

function namespaceLabels(state: ModelState, name: string): Record<string, string> {
  const labels = state.namespaces.find(n => n.name === name)?.labels ?? {};
  // Upstream's apiserver labels every namespace with its name.
  return { ...labels, 'kubernetes.io/metadata.name': name };
}

function inIpBlock(ip: string, block: NonNullable<NetworkPolicyPeer['ipBlock']>): boolean {
  const addr = parseIPSloppy(ip);
  const cidr = parseCidrSloppy(block.cidr);
  if (!addr || !cidr || !cidrContains(cidr, addr)) return false;
  return !(block.except ?? []).some(e => { const c = parseCidrSloppy(e); return c !== undefined && cidrContains(c, addr); });
}

function peerMatches(state: ModelState, peer: NetworkPolicyPeer, policyNs: string, other: ModelPod): boolean {
  if (peer.ipBlock) return inIpBlock(other.ip, peer.ipBlock);
  if (peer.namespaceSelector) {
    if (!labelsMatch(fromMetaLabelSelector(peer.namespaceSelector), namespaceLabels(state, other.namespace))) return false;
  } else if (other.namespace !== policyNs) {
    return false;
  }
  return !peer.podSelector || labelsMatch(fromMetaLabelSelector(peer.podSelector), other.labels);
}

function portMatches(p: NetworkPolicyPort, dest: ModelPod, port: number, proto: Protocol): boolean {
  if ((p.protocol ?? 'TCP') !== proto) return false;
  if (p.port === undefined) return true;
  if (typeof p.port === 'number' || /^\d+$/.test(p.port)) {
    const from = Number(p.port);
    return port >= from && port <= (p.endPort ?? from);
  }
  return dest.ports.some(c => c.name === p.port && (c.protocol ?? 'TCP') === proto && c.containerPort === port);
}

/** Whether `pod`'s side of the connection allows it: `dir` ingress for the server, egress for the client. */
function sideAllows(state: ModelState, dir: 'ingress' | 'egress', pod: ModelPod, peer: ModelPod, dest: ModelPod, port: number, proto: Protocol): boolean {
  const applying = state.policies.filter(pol => (pol.metadata?.namespace ?? 'default') === pod.namespace
    && policyTypes(pol)[dir]
    && labelsMatch(fromMetaLabelSelector(pol.spec?.podSelector ?? {}), pod.labels));
  if (applying.length === 0) return true;
  return applying.some(pol => {
    const rules = dir === 'ingress' ? (pol.spec?.ingress ?? []).map(r => ({ peers: r.from, ports: r.ports })) : (pol.spec?.egress ?? []).map(r => ({ peers: r.to, ports: r.ports }));
    const ns = pol.metadata?.namespace ?? 'default';
    return rules.some(r => (!r.peers?.length || r.peers.some(x => peerMatches(state, x, ns, peer)))
      && (!r.ports?.length || r.ports.some(x => portMatches(x, dest, port, proto))));
  });
}

/** Whether policy lets `client` open a connection to `server` on `port`/`proto`. */
export function connectionAllowed(state: ModelState, client: ModelPod, server: ModelPod, port: number, proto: Protocol): boolean {
  if (client.ip === server.ip) return true;
  return sideAllows(state, 'egress', client, server, server, port, proto) && sideAllows(state, 'ingress', server, client, server, port, proto);
}

/** A grid cell's key: `ns/pod`. */
export const podKey = (p: { namespace: string; name: string }): string => `${p.namespace}/${p.name}`;

export interface Probe { port: number; proto: Protocol }

/** Every (client, server) of `pods` for each probe: client key → server key → allowed, per probe. */
export type Grid = Map<string, Map<string, boolean>>;

export function expectedGrids(state: ModelState, pods: readonly ModelPod[], probes: readonly Probe[]): Map<string, Grid> {
  const out = new Map<string, Grid>();
  for (const pr of probes) {
    const grid: Grid = new Map();
    for (const c of pods) grid.set(podKey(c), new Map(pods.map(s => [podKey(s), connectionAllowed(state, c, s, pr.port, pr.proto)])));
    out.set(probeKey(pr), grid);
  }
  return out;
}

export const probeKey = (p: Probe): string => `${p.proto}/${p.port}`;

/**
 * The truth table of one probe in upstream's layout (rows: clients, columns: servers; `.` allowed,
 * `X` denied), with every cell where `observed` differs from `expected` marked `*` after it.
 * Empty when they agree.
 */
export function gridDiff(expected: Grid, observed: Grid): string {
  const clients = [...expected.keys()];
  const servers = [...(expected.get(clients[0] ?? '')?.keys() ?? [])];
  let differs = false;
  const width = Math.max(...clients.map(c => c.length), 6);
  const lines = [`${'from\\to'.padEnd(width)} ${servers.map(s => s.padEnd(width)).join(' ')}`];
  for (const c of clients) {
    const cells = servers.map(s => {
      const want = expected.get(c)!.get(s)!;
      const got = observed.get(c)?.get(s);
      const mark = got === want ? ' ' : '*';
      if (got !== want) differs = true;
      return `${got === undefined ? '?' : got ? '.' : 'X'}${mark}`.padEnd(width);
    });
    lines.push(`${c.padEnd(width)} ${cells.join(' ')}`);
  }
  return differs ? `${lines.join('\n')}\n(observed; * = expected the opposite)` : '';
}

// NetworkPolicy as pods see it: upstream's "[sig-network] NetworkPolicy" tests, with real TCP and
// UDP from pods in the suite's namespace and in a second namespace. Each check installs its
// policies, waits for the expected allow/deny pattern, and removes them again, so the checks after
// it see an open network.
import { randomBytes } from 'node:crypto';
import type { NetworkPolicy, NetworkPolicySpec } from 'kubernetes-types/networking/v1.js';
import type { ResourceType } from '../../api/client/types.js';
import { resources } from '../../api/client/types.js';
import { expectThat, type Check } from '../check.js';
import { HTTP2_PORT, HTTP_PORT, UDP_PORT, type ConformanceCluster, type FixturePod } from '../cluster.js';

const np = '[sig-network] NetworkPolicy [LinuxOnly] NetworkPolicy between server and client';
const networkPolicies: ResourceType = { group: 'networking.k8s.io', version: 'v1', resource: 'networkpolicies', kind: 'NetworkPolicy', namespaced: true };
/** How long a policy change may take to show in the data path (the issue asks for 1 s; allow slack). */
const SETTLE_MS = 15_000;

async function reachable(c: ConformanceCluster, from: FixturePod | string, ip: string, port: number, proto: 'tcp' | 'udp', namespace?: string): Promise<boolean> {
  const cmd = proto === 'tcp' ? ['timeout', '2', 'wget', '-qO-', `http://${ip}:${port}/cgi-bin/hostname`] : ['udpecho', '-w', '700', '-n', '2', ip, String(port)];
  const r = namespace ? await c.execIn(namespace, typeof from === 'string' ? from : from.name, cmd) : await c.exec(from, cmd);
  return r.exitCode === 0;
}

interface Probe { from: FixturePod | string; namespace?: string; port?: number; proto?: 'tcp' | 'udp'; allowed: boolean; what: string }

/** Waits until every probe shows its expected outcome at once. */
async function expectPattern(c: ConformanceCluster, target: FixturePod, probes: Probe[]): Promise<void> {
  let last: string[] = [];
  await c.eventually('the policy to take effect', async () => {
    last = [];
    for (const p of probes) {
      const ok = await reachable(c, p.from, target.ip, p.port ?? HTTP_PORT, p.proto ?? 'tcp', p.namespace);
      if (ok !== p.allowed) last.push(`${p.what}: ${ok ? 'allowed' : 'denied'}, expected ${p.allowed ? 'allowed' : 'denied'}`);
    }
    return last.length === 0 ? true : undefined;
  }, SETTLE_MS, () => last.join('; '));
}

/** Runs `body` with the policies installed and a second namespace with one client pod; removes both after. */
async function withPolicies(c: ConformanceCluster, policies: { name: string; spec: NetworkPolicySpec; namespace?: string }[], body: (peerNs: string) => Promise<void>): Promise<void> {
  // A fresh name per check: the previous check's namespace may still be terminating.
  const peerNs = `${c.namespace}-b${randomBytes(2).toString('hex')}`;
  await c.client.create(resources.namespaces, undefined, { metadata: { name: peerNs, labels: { 'k8ts.io/conformance-peer': 'b' } } });
  try {
    await c.client.create(resources.pods, peerNs, { ...c.pod('client-b', c.nodes[0]!.name, { app: 'client' }, ['sleep', '100000']), metadata: { name: 'client-b', namespace: peerNs, labels: { app: 'client' } } });
    await c.waitForPodsIn(peerNs, ['client-b']);
    for (const p of policies) {
      const obj: NetworkPolicy = { metadata: { name: p.name, namespace: p.namespace ?? c.namespace }, spec: p.spec };
      await c.client.create(networkPolicies, p.namespace ?? c.namespace, obj);
    }
    await body(peerNs);
  } finally {
    for (const p of policies) await c.client.delete(networkPolicies, p.namespace ?? c.namespace, p.name).catch(() => undefined);
    await c.client.delete(resources.namespaces, undefined, peerNs).catch(() => undefined);
  }
}

const server0 = { matchLabels: { app: 'netserver', node: 'n0' } };

async function defaultDenyIngress(c: ConformanceCluster): Promise<void> {
  const target = c.servers[0]!;
  await withPolicies(c, [{ name: 'deny-ingress', spec: { podSelector: {}, policyTypes: ['Ingress'] } }], async () => {
    await expectPattern(c, target, [
      { from: c.clients[0]!, allowed: false, what: 'tcp from a pod in the namespace' },
      { from: c.clients[0]!, proto: 'udp', port: UDP_PORT, allowed: false, what: 'udp from a pod in the namespace' },
      ...(c.clients[1] ? [{ from: c.clients[1], allowed: false, what: 'tcp from another node' }] : []),
    ]);
  });
  // Removed: open again.
  await expectPattern(c, target, [{ from: c.clients[0]!, allowed: true, what: 'tcp after the policy is deleted' }]);
}

async function defaultDenyAll(c: ConformanceCluster): Promise<void> {
  const target = c.servers[0]!;
  await withPolicies(c, [{ name: 'deny-all', spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } }], async () => {
    await expectPattern(c, target, [{ from: c.clients[0]!, allowed: false, what: 'tcp into the namespace' }]);
    // Egress too: the netserver itself cannot reach the other server.
    const other = c.servers[1] ?? c.servers[0]!;
    expectThat(!(await reachable(c, c.servers[0]!, other.ip, HTTP_PORT, 'tcp')), 'egress from a pod under default-deny-all was allowed');
  });
}

async function podSelectorIngress(c: ConformanceCluster): Promise<void> {
  const target = c.servers[0]!;
  const spec: NetworkPolicySpec = { podSelector: server0, ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['client'] }] } }] }] };
  await withPolicies(c, [{ name: 'from-clients', spec }], async peerNs => {
    const probes: Probe[] = [
      { from: c.clients[0]!, allowed: true, what: 'tcp from app=client in the namespace' },
      { from: 'client-b', namespace: peerNs, allowed: false, what: 'tcp from app=client in another namespace' },
    ];
    if (c.servers[1]) probes.push({ from: c.servers[1], allowed: false, what: 'tcp from app=netserver in the namespace' });
    await expectPattern(c, target, probes);
  });
}

async function namespaceSelectorIngress(c: ConformanceCluster): Promise<void> {
  const target = c.servers[0]!;
  await withPolicies(c, [{ name: 'from-ns-b', spec: { podSelector: server0, ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'k8ts.io/conformance-peer': 'b' } } }] }] } }], async peerNs => {
    await expectPattern(c, target, [
      { from: 'client-b', namespace: peerNs, allowed: true, what: 'tcp from the selected namespace' },
      { from: c.clients[0]!, allowed: false, what: 'tcp from the policy\'s own namespace' },
    ]);
  });
}

async function podAndNamespaceSelector(c: ConformanceCluster): Promise<void> {
  const target = c.servers[0]!;
  const from = [{ namespaceSelector: { matchLabels: { 'k8ts.io/conformance-peer': 'b' } }, podSelector: { matchLabels: { app: 'nobody' } } }];
  await withPolicies(c, [{ name: 'both', spec: { podSelector: server0, ingress: [{ from }] } }], async peerNs => {
    // The pod in namespace b is app=client, not app=nobody: both selectors must match.
    await expectPattern(c, target, [{ from: 'client-b', namespace: peerNs, allowed: false, what: 'tcp from namespace b, wrong pod labels' }]);
  });
}

async function ports(c: ConformanceCluster): Promise<void> {
  const target = c.servers[0]!;
  await withPolicies(c, [{ name: 'only-8082', spec: { podSelector: server0, ingress: [{ ports: [{ protocol: 'TCP', port: HTTP2_PORT }] }] } }], async () => {
    await expectPattern(c, target, [
      { from: c.clients[0]!, port: HTTP2_PORT, allowed: true, what: `tcp ${HTTP2_PORT}` },
      { from: c.clients[0]!, port: HTTP_PORT, allowed: false, what: `tcp ${HTTP_PORT}` },
      { from: c.clients[0]!, port: UDP_PORT, proto: 'udp', allowed: false, what: `udp ${UDP_PORT}` },
    ]);
  });
}

async function namedPort(c: ConformanceCluster): Promise<void> {
  const target = c.servers[0]!;
  await withPolicies(c, [{ name: 'named-udp', spec: { podSelector: server0, ingress: [{ ports: [{ protocol: 'UDP', port: 'udp' }] }] } }], async () => {
    await expectPattern(c, target, [
      { from: c.clients[0]!, port: UDP_PORT, proto: 'udp', allowed: true, what: 'udp to the named port' },
      { from: c.clients[0]!, port: HTTP_PORT, allowed: false, what: 'tcp to another port' },
    ]);
  });
}

async function egressWithPorts(c: ConformanceCluster): Promise<void> {
  const target = c.servers[0]!;
  // Clients may reach netserver pods, on the named port "http" only.
  const spec: NetworkPolicySpec = { podSelector: { matchLabels: { app: 'client' } }, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: { matchLabels: { app: 'netserver' } } }], ports: [{ port: 'http' }] }] };
  await withPolicies(c, [{ name: 'client-egress', spec }], async () => {
    await expectPattern(c, target, [
      { from: c.clients[0]!, allowed: true, what: 'tcp to the allowed peer on its named port' },
      { from: c.clients[0]!, port: HTTP2_PORT, allowed: false, what: `tcp to the same peer on ${HTTP2_PORT}` },
      { from: c.clients[0]!, port: UDP_PORT, proto: 'udp', allowed: false, what: 'udp to the same peer' },
    ]);
  });
}

async function cidrExcept(c: ConformanceCluster): Promise<void> {
  const target = c.servers[0]!;
  const client = c.clients[0]!;
  const spec: NetworkPolicySpec = { podSelector: server0, ingress: [{ from: [{ ipBlock: { cidr: '0.0.0.0/0', except: [`${client.ip}/32`] } }] }] };
  await withPolicies(c, [{ name: 'cidr-except', spec }], async peerNs => {
    await expectPattern(c, target, [
      { from: client, allowed: false, what: `tcp from the excepted ${client.ip}` },
      { from: 'client-b', namespace: peerNs, allowed: true, what: 'tcp from another address in the block' },
    ]);
  });
}

async function allNamespaces(c: ConformanceCluster): Promise<void> {
  const target = c.servers[0]!;
  await withPolicies(c, [{ name: 'all-ns', spec: { podSelector: server0, ingress: [{ from: [{ namespaceSelector: {} }] }] } }], async peerNs => {
    await expectPattern(c, target, [
      { from: 'client-b', namespace: peerNs, allowed: true, what: 'tcp from another namespace' },
      { from: c.clients[0]!, allowed: true, what: 'tcp from the own namespace' },
    ]);
  });
}

export const netpolChecks: Check[] = [
  { name: 'netpol default-deny ingress', area: 'netpol', upstream: `${np} should support a 'default-deny-ingress' policy [Feature:NetworkPolicy]`, run: defaultDenyIngress },
  { name: 'netpol default-deny all', area: 'netpol', upstream: `${np} should support a 'default-deny-all' policy [Feature:NetworkPolicy]`, run: defaultDenyAll },
  { name: 'netpol podSelector', area: 'netpol', upstream: `${np} should enforce policy based on PodSelector with MatchExpressions[Feature:NetworkPolicy]`, run: podSelectorIngress },
  { name: 'netpol namespaceSelector', area: 'netpol', upstream: `${np} should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector [Feature:NetworkPolicy]`, run: namespaceSelectorIngress },
  { name: 'netpol pod and namespace selector', area: 'netpol', upstream: `${np} should enforce policy based on PodSelector and NamespaceSelector [Feature:NetworkPolicy]`, run: podAndNamespaceSelector },
  { name: 'netpol ports', area: 'netpol', upstream: `${np} should enforce policy based on Ports [Feature:NetworkPolicy]`, run: ports },
  { name: 'netpol named port', area: 'netpol', upstream: `${np} should allow ingress access on one named port [Feature:NetworkPolicy]`, run: namedPort },
  { name: 'netpol egress on a named port', area: 'netpol', upstream: `${np} should allow egress access on one named port [Feature:NetworkPolicy]`, run: egressWithPorts },
  { name: 'netpol CIDR with except', area: 'netpol', upstream: `${np} should enforce except clause while egress access to server in CIDR block [Feature:NetworkPolicy]`, run: cidrExcept },
  { name: 'netpol all namespaces', area: 'netpol', upstream: `${np} should enforce policy to allow ingress traffic from pods in all namespaces [Feature:NetworkPolicy]`, run: allNamespaces },
];

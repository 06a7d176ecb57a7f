// NetworkPolicy with real traffic: a "node" namespace routes between a client and three backend
// namespaces (kernel/testlab.ts); the compiled policy table is programmed into the node over
// netlink, and TCP connections show what passes. The backends are pods of namespace "prod"; the
// client is a pod of namespace "dev".
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import { jest } from '@jest/globals';
import { NfTablesSocket } from '../../kernel/nftables/socket.js';
import { readSysctl, writeSysctl } from '../../kernel/rtnl/index.js';
import { createLab, type Lab } from '../../kernel/testlab.js';
import { createNetLab, type LabPod, type NetLab } from '../testlab.js';
import { NftablesApplier } from '../../proxy/nftables/apply.js';
import { compileNetworkPolicies, type PodInfo } from './compile.js';
import { BRIDGE_NF_CALL_IPTABLES, ensureBridgeNetfilter } from './daemon.js';

jest.setTimeout(90_000);

const PORT = 7100; // backends answer their name on 7100 and the client's address on 7101
let lab: Lab;
let sock: NfTablesSocket;
let applier: NftablesApplier;

const namespaces = [{ name: 'prod', labels: { env: 'prod' } }, { name: 'dev', labels: { env: 'dev' } }];
function pods(labels: Record<string, Record<string, string>> = {}): PodInfo[] {
  return [
    ...lab.backends.map((b, i) => ({ namespace: 'prod', name: `b${i + 1}`, ip: lab.backendIP(i + 1), labels: labels[`b${i + 1}`] ?? { app: `b${i + 1}`, tier: 'backend' }, ports: [{ name: 'answer', containerPort: PORT }] })),
    { namespace: 'dev', name: 'client', ip: lab.clientIP, labels: labels.client ?? { role: 'frontend' }, ports: [] },
  ];
}
const policy = (name: string, spec: NonNullable<NetworkPolicy['spec']>, namespace = 'prod'): NetworkPolicy => ({ metadata: { namespace, name }, spec });
async function apply(policies: NetworkPolicy[], podLabels?: Record<string, Record<string, string>>) {
  await applier.sync(compileNetworkPolicies({ pods: pods(podLabels), namespaces, policies }).ruleset);
}
/** 'ok' when `from` reached backend i on `port`, else the error. */
async function reach(i: number, port = PORT, from?: string): Promise<string> {
  const [answer] = await lab.connectMany(lab.backendIP(i), port, 1, 600, from);
  return answer === lab.backends[i - 1] || answer === (from ? lab.backendIP(Number(from.slice(-1))) : lab.clientIP) ? 'ok' : answer!;
}

beforeAll(async () => {
  lab = await createLab(3);
  await lab.startServers(PORT);
  sock = NfTablesSocket.open(lab.node);
  applier = new NftablesApplier(sock);
});
afterAll(async () => {
  sock?.close();
  await lab?.destroy();
});

test('without policies every pod is reachable', async () => {
  await apply([]);
  expect(await reach(1)).toBe('ok');
  expect(await reach(2, PORT, lab.backends[0])).toBe('ok');
});

test('default-deny ingress closes the namespace, and removing it opens it again', async () => {
  await apply([policy('deny', { podSelector: {}, policyTypes: ['Ingress'] })]);
  expect(await reach(1)).toBe('ERR:TIMEOUT');
  expect(await reach(2, PORT, lab.backends[0])).toBe('ERR:TIMEOUT');
  await apply([]);
  expect(await reach(1)).toBe('ok');
});

test('namespaceSelector and podSelector together admit only the matching client', async () => {
  const from = [{ namespaceSelector: { matchLabels: { env: 'dev' } }, podSelector: { matchLabels: { role: 'frontend' } } }];
  await apply([policy('frontends', { podSelector: { matchLabels: { app: 'b1' } }, ingress: [{ from }] })]);
  expect(await reach(1)).toBe('ok');
  expect(await reach(1, PORT, lab.backends[1])).toBe('ERR:TIMEOUT'); // prod pod, not a dev frontend
  expect(await reach(2, PORT, lab.backends[0])).toBe('ok'); // b2 is not selected: open
  // The client's label changes: it is no longer a frontend.
  await apply([policy('frontends', { podSelector: { matchLabels: { app: 'b1' } }, ingress: [{ from }] })], { client: { role: 'batch' } });
  expect(await reach(1)).toBe('ERR:TIMEOUT');
});

test('ports: numbers, named ports and ranges', async () => {
  await apply([policy('only-peer-port', { podSelector: {}, ingress: [{ ports: [{ port: PORT + 1 }] }] })]);
  expect(await reach(1)).toBe('ERR:TIMEOUT');
  expect(await reach(1, PORT + 1)).toBe('ok');
  await apply([policy('named', { podSelector: {}, ingress: [{ ports: [{ port: 'answer' }] }] })]);
  expect(await reach(1)).toBe('ok');
  expect(await reach(1, PORT + 1)).toBe('ERR:TIMEOUT');
  await apply([policy('range', { podSelector: {}, ingress: [{ ports: [{ port: PORT - 5, endPort: PORT }] }] })]);
  expect(await reach(1)).toBe('ok');
  expect(await reach(1, PORT + 1)).toBe('ERR:TIMEOUT');
});

test('ipBlock with except', async () => {
  await apply([policy('cidr', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.0.0.0/24'] } }] }] })]);
  expect(await reach(1)).toBe('ERR:TIMEOUT'); // the client, 10.0.0.2, is in the except
  expect(await reach(1, PORT, lab.backends[1])).toBe('ok'); // 10.128.2.2
});

test('egress allow-list: replies to allowed ingress still flow', async () => {
  await apply([policy('b1-egress', { podSelector: { matchLabels: { app: 'b1' } }, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: { matchLabels: { app: 'b3' } } }] }] })]);
  expect(await reach(3, PORT, lab.backends[0])).toBe('ok');
  expect(await reach(2, PORT, lab.backends[0])).toBe('ERR:TIMEOUT');
  expect(await reach(1)).toBe('ok'); // client -> b1: the reply leaves b1 on an established connection
});

test('policies are additive', async () => {
  await apply([
    policy('deny', { podSelector: {}, policyTypes: ['Ingress'] }),
    policy('allow-b2', { podSelector: { matchLabels: { app: 'b1' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'b2' } } }] }] }),
  ]);
  expect(await reach(1, PORT, lab.backends[1])).toBe('ok');
  expect(await reach(1)).toBe('ERR:TIMEOUT');
  expect(await reach(3)).toBe('ERR:TIMEOUT');
  await apply([]);
});

// Same-node traffic in the VXLAN mode crosses the node's bridge, which reaches the IPv4 hooks of our
// table only with bridge-nf-call-iptables on: the daemon's ensureBridgeNetfilter sees to that, in
// the node's namespace only.
describe('pods on one bridge', () => {
  let net: NetLab;
  let nodeSock: NfTablesSocket;
  const BRIDGE_PORT = 7200;
  beforeAll(async () => {
    net = await createNetLab(1);
    await net.addPod(0, 'bridge');
    await net.addPod(0, 'bridge');
    await net.serve(net.nodes[0]!.pods[1]!.ns, BRIDGE_PORT);
    nodeSock = NfTablesSocket.open(net.nodes[0]!.ns);
  });
  afterAll(async () => {
    nodeSock?.close();
    await net?.destroy();
  });

  test('are policed once the daemon turns bridge-nf-call-iptables on, and only in the node namespace', async () => {
    const node = net.nodes[0]!;
    const [client, server] = node.pods as [LabPod, LabPod];
    const hostValue = readSysctl(BRIDGE_NF_CALL_IPTABLES);
    const bridged = (p: LabPod, name: string): PodInfo => ({ namespace: 'prod', name, ip: p.ip, labels: { app: name }, ports: [] });
    const deny = policy('deny', { podSelector: { matchLabels: { app: 'server' } }, policyTypes: ['Ingress'] });
    await new NftablesApplier(nodeSock).sync(compileNetworkPolicies({ pods: [bridged(client, 'client'), bridged(server, 'server')], namespaces, policies: [deny] }).ruleset);

    // Off: the bridge forwards straight from port to port and the policy never sees the packets.
    writeSysctl(BRIDGE_NF_CALL_IPTABLES, '0', node.ns);
    expect(await net.send(client.ns, server.ip, BRIDGE_PORT, 10, 800)).toMatch(new RegExp(`^${server.ns} `));

    expect(ensureBridgeNetfilter(node.ns)).toBe('set');
    expect(readSysctl(BRIDGE_NF_CALL_IPTABLES, node.ns)).toBe('1');
    expect(await net.send(client.ns, server.ip, BRIDGE_PORT, 10, 800)).toBe('ERR:TIMEOUT');
    expect(ensureBridgeNetfilter(node.ns)).toBe('ok');
    // Another namespace (here: this process', the host's) is untouched.
    expect(readSysctl(BRIDGE_NF_CALL_IPTABLES)).toBe(hostValue);
  });
});

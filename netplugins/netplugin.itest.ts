// The netplugin daemon (startNetplugin) against a real k8ts server: Node objects in the API drive
// the overlay in three node namespaces; a node joining or leaving is reflected within 1 s, a
// device deleted by hand comes back with the periodic resync, and the Node gets its annotations
// and NetworkUnavailable=False.
import { jest } from '@jest/globals';
import type { Node } from 'kubernetes-types/core/v1.js';
import { resources, type ClusterClient } from '../api/client/types.js';
import { execInNetns } from '../kernel/netns.js';
import { ANNOTATIONS } from './common/plan-nodes.js';
import { startNetplugin, type Netplugin, VXLAN_DEVICE, vtepMacFor, MASQ_TABLE } from './index.js';
import { createNetLab, registerLabNode, startLabApi, type NetLab } from './testlab.js';
import { within } from '../test/poll.js';

jest.setTimeout(120_000);

const PORT = 7000;
let lab: NetLab;
let client: ClusterClient;
const plugins: (Netplugin | undefined)[] = [];

const registerNode = (i: number): Promise<void> => registerLabNode(client, lab.nodes[i]!, { ready: true });

const start = (i: number): Promise<Netplugin> => startNetplugin({
  client, nodeName: lab.nodes[i]!.name, mode: 'vxlan', clusterCIDR: '10.244.0.0/16', netns: lab.nodes[i]!.ns, resyncMs: 1000,
});

const hasRoute = async (ns: string, dst: string): Promise<boolean> => (await lab.ip(ns, ['route', 'show', dst, 'proto', '107'])).trim() !== '';

beforeAll(async () => {
  lab = await createNetLab(3, { pods: 'bridge', mtu: 1450, serve: PORT });
  client = await startLabApi(lab);
  for (let i = 0; i < 2; i++) await registerNode(i);
}, 120_000);

afterAll(async () => {
  for (const p of plugins) await p?.stop({ cleanup: true }).catch(() => undefined);
  await lab?.destroy();
}, 60_000);

const pod = (i: number) => lab.pod(i);

test('starting on two nodes connects their pods and reports the overlay MTU and the node facts', async () => {
  const [a, b] = await Promise.all([start(0), start(1)]);
  plugins.push(a, b);
  expect(a.mtu).toBe(1450);
  expect(a.underlayIface).toBe('eth0');
  expect(a.nodeIP).toBe('192.168.77.11');
  expect(a.podCIDR).toBe('10.244.1.0/24');
  // Each may have started before the other published its VTEP MAC: the watch fills the gap.
  await within(3000, 'routes to each other', async () => await hasRoute(lab.nodes[0]!.ns, '10.244.2.0/24') && await hasRoute(lab.nodes[1]!.ns, '10.244.1.0/24'));
  expect(await lab.send(pod(0).ns, pod(1).ip, PORT, 100)).toMatch(new RegExp(`^${pod(1).ns} ${pod(0).ip} 100 `));
  expect(await lab.send(pod(1).ns, pod(0).ip, PORT, 100)).toMatch(new RegExp(`^${pod(0).ns} ${pod(1).ip} 100 `));
});

test('the Node carries its VTEP MAC, address and NetworkUnavailable=False', async () => {
  const node = await client.get<Node>(resources.nodes, undefined, lab.nodes[0]!.name);
  expect(node.metadata?.annotations).toMatchObject({
    [ANNOTATIONS.backendData]: JSON.stringify({ VNI: 1, VtepMAC: vtepMacFor(lab.nodes[0]!.name) }),
    [ANNOTATIONS.backendType]: 'vxlan',
    [ANNOTATIONS.publicIP]: lab.nodes[0]!.ip,
  });
  expect(node.status?.conditions?.find((c) => c.type === 'NetworkUnavailable')).toMatchObject({ status: 'False', reason: 'K8tsVxlanIsUp' });
  // merged by type with the kubelet's conditions, not replacing them
  expect(node.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'KubeletReady' });
  expect(node.status?.addresses).toEqual([{ type: 'InternalIP', address: lab.nodes[0]!.ip }]);
});

test('a node that joins is routed to within 1 s of publishing itself, and unrouted within 1 s of its deletion', async () => {
  await registerNode(2);
  plugins.push(await start(2));
  // start() resolves after node 3 published its annotations; the others must follow within 1 s.
  const joinMs = await within(1000, 'route to the new node', () => hasRoute(lab.nodes[0]!.ns, '10.244.3.0/24'));
  await within(1000, 'route on node 2', () => hasRoute(lab.nodes[1]!.ns, '10.244.3.0/24'));
  expect(await lab.send(pod(0).ns, pod(2).ip, PORT, 0)).toContain(pod(2).ns);
  expect(await lab.send(pod(2).ns, pod(1).ip, PORT, 0)).toContain(pod(1).ns);

  await client.delete(resources.nodes, undefined, lab.nodes[2]!.name);
  const leaveMs = await within(1000, 'route removal', async () => !(await hasRoute(lab.nodes[0]!.ns, '10.244.3.0/24')));
  expect(await lab.ip(lab.nodes[0]!.ns, ['neigh', 'show', '10.244.3.0', 'dev', VXLAN_DEVICE])).toBe('');
  process.stdout.write(`netplugin: join reflected in ${joinMs.toFixed(0)} ms, removal in ${leaveMs.toFixed(0)} ms\n`);

  await registerNode(2);
  await within(2000, 'route after re-adding the node', () => hasRoute(lab.nodes[0]!.ns, '10.244.3.0/24'));
  expect(await lab.send(pod(0).ns, pod(2).ip, PORT, 0)).toContain(pod(2).ns);
});

test('a VXLAN device deleted by hand is back with its routes within the resync period', async () => {
  const ns = lab.nodes[1]!.ns;
  await lab.ip(ns, ['link', 'del', VXLAN_DEVICE]);
  const ms = await within(3000, 'device repaired', async () => await hasRoute(ns, '10.244.1.0/24') && await hasRoute(ns, '10.244.3.0/24'));
  process.stdout.write(`netplugin: deleted device repaired in ${ms.toFixed(0)} ms\n`);
  expect(await lab.send(pod(1).ns, pod(0).ip, PORT, 0)).toContain(pod(0).ns);
});

test('stop with cleanup removes the device, our routes and the masquerade table', async () => {
  const p = plugins.pop()!;
  await p.stop({ cleanup: true });
  const ns = lab.nodes[2]!.ns;
  expect(await lab.ip(ns, ['link', 'show'])).not.toContain(VXLAN_DEVICE);
  expect(await lab.ip(ns, ['route', 'show', 'proto', '107'])).toBe('');
  expect(await execInNetns(ns, 'nft', ['list', 'tables'])).not.toContain(MASQ_TABLE);
});

test('a start can be aborted before its first sync completed, leaving nothing running', async () => {
  const ac = new AbortController();
  const started = startNetplugin({
    client, nodeName: 'no-such-node', mode: 'vxlan', clusterCIDR: '10.244.0.0/16', netns: lab.inet,
    nodeIP: lab.inetIP, podCIDR: '10.244.99.0/24', signal: ac.signal,
  });
  ac.abort();
  await expect(started).rejects.toThrow(/stopped before its first successful sync/);
});

test('a cluster CIDR the masquerade cannot handle is refused at start', async () => {
  await expect(startNetplugin({ client, nodeName: lab.nodes[1]!.name, mode: 'vxlan', clusterCIDR: 'fd00::/48', netns: lab.nodes[1]!.ns }))
    .rejects.toThrow(/IPv4/);
});

// startNetplugin in routed mode against a real k8ts server: three node namespaces on one L2
// underlay, pods wired as the CNI plugin's routed mode does; routes follow the Node objects within
// 1 s and a route deleted by hand is back within the resync period.
import { jest } from '@jest/globals';
import type { Node } from 'kubernetes-types/core/v1.js';
import { resources, type ClusterClient } from '../api/client/types.js';
import { ANNOTATIONS } from './common/plan-nodes.js';
import { startNetplugin, type Netplugin } from './index.js';
import { createNetLab, registerLabNode, startLabApi, type NetLab } from './testlab.js';
import { within } from '../test/poll.js';

jest.setTimeout(120_000);

const PORT = 7000;
let lab: NetLab;
let client: ClusterClient;
const plugins: Netplugin[] = [];

const registerNode = (i: number): Promise<void> => registerLabNode(client, lab.nodes[i]!);

const routeVia = async (ns: string, dst: string): Promise<string> => (await lab.ip(ns, ['route', 'show', dst, 'proto', '107'])).trim();

beforeAll(async () => {
  lab = await createNetLab(3, { pods: 'routed', serve: PORT });
  client = await startLabApi(lab);
  for (let i = 0; i < 3; i++) await registerNode(i);
}, 120_000);

afterAll(async () => {
  for (const p of plugins) await p.stop({ cleanup: true }).catch(() => undefined);
  await lab?.destroy();
}, 60_000);

const pod = (i: number) => lab.pod(i);

test('three nodes in routed mode: pods reach each other, the underlay MTU is reported, the Node is marked', async () => {
  // A node whose address is not on our L2 segment: the kernel refuses its route, which must not
  // keep the others unconnected or the plugin from starting.
  await client.create<Node>(resources.nodes, undefined, { metadata: { name: 'ghost' }, spec: { podCIDR: '10.244.9.0/24' } });
  await client.patch(resources.nodes, undefined, 'ghost', 'merge', { status: { addresses: [{ type: 'InternalIP', address: '172.31.0.1' }] } }, { subresource: 'status' });
  plugins.push(...await Promise.all([0, 1, 2].map((i) => startNetplugin({
    client, nodeName: lab.nodes[i]!.name, mode: 'routed', clusterCIDR: '10.244.0.0/16', netns: lab.nodes[i]!.ns, resyncMs: 1000,
  }))));
  expect(plugins.map((p) => p.mtu)).toEqual([1500, 1500, 1500]);
  expect(await routeVia(lab.nodes[0]!.ns, '10.244.9.0/24')).toBe('');
  await client.delete(resources.nodes, undefined, 'ghost');
  expect(await routeVia(lab.nodes[0]!.ns, '10.244.3.0/24')).toBe('10.244.3.0/24 via 192.168.77.13 dev eth0');
  expect(await routeVia(lab.nodes[0]!.ns, '10.244.1.0/24')).toBe('blackhole 10.244.1.0/24');
  for (const [a, b] of [[0, 1], [1, 2], [2, 0]] as const) {
    expect(await lab.send(pod(a).ns, pod(b).ip, PORT, 1000)).toMatch(new RegExp(`^${pod(b).ns} ${pod(a).ip} 1000 `));
  }
  const node = await client.get<Node>(resources.nodes, undefined, lab.nodes[1]!.name);
  expect(node.metadata?.annotations).toMatchObject({ [ANNOTATIONS.backendType]: 'routed', [ANNOTATIONS.publicIP]: lab.nodes[1]!.ip });
  expect(node.status?.conditions?.find((c) => c.type === 'NetworkUnavailable')).toMatchObject({ status: 'False', reason: 'K8tsRoutedIsUp' });
});

test('a deleted Node loses its route within 1 s and gets it back within 1 s of being re-created', async () => {
  const ns = lab.nodes[0]!.ns;
  await client.delete(resources.nodes, undefined, lab.nodes[2]!.name);
  const leaveMs = await within(1000, 'route removal', async () => (await routeVia(ns, '10.244.3.0/24')) === '');
  expect(await lab.send(pod(0).ns, pod(2).ip, PORT, 0, 1000)).toMatch(/^ERR:/);
  await registerNode(2);
  const joinMs = await within(1000, 'route to the re-created node', async () => (await routeVia(ns, '10.244.3.0/24')) === '10.244.3.0/24 via 192.168.77.13 dev eth0');
  expect(await lab.send(pod(0).ns, pod(2).ip, PORT, 0)).toContain(pod(2).ns);
  process.stdout.write(`netplugin routed: removal reflected in ${leaveMs.toFixed(0)} ms, re-add in ${joinMs.toFixed(0)} ms\n`);
});

test('a route deleted by hand is back within the resync period', async () => {
  const ns = lab.nodes[1]!.ns;
  await lab.ip(ns, ['route', 'del', '10.244.1.0/24']);
  const ms = await within(3000, 'route repaired', async () => (await routeVia(ns, '10.244.1.0/24')) !== '');
  process.stdout.write(`netplugin routed: deleted route repaired in ${ms.toFixed(0)} ms\n`);
  expect(await lab.send(pod(1).ns, pod(0).ip, PORT, 0)).toContain(pod(0).ns);
});

test('restarted with BGP, the nodes learn each other\'s blocks from BIRD instead', async () => {
  for (const p of plugins.splice(0)) await p.stop();
  plugins.push(...await Promise.all([0, 1, 2].map((i) => startNetplugin({
    client, nodeName: lab.nodes[i]!.name, mode: 'routed', clusterCIDR: '10.244.0.0/16', netns: lab.nodes[i]!.ns, resyncMs: 1000,
    bgp: { runDir: `/tmp/${lab.nodes[i]!.ns}-bird` },
  }))));
  const ns = lab.nodes[0]!.ns;
  const ms = await within(20_000, 'routes learned over BGP', async () => {
    const r = await lab.ip(ns, ['route', 'show', 'proto', 'bird']);
    return r.includes('10.244.2.0/24 via 192.168.77.12') && r.includes('10.244.3.0/24 via 192.168.77.13');
  });
  process.stdout.write(`netplugin routed+BGP: converged in ${ms.toFixed(0)} ms\n`);
  expect(await lab.ip(ns, ['route', 'show', 'proto', '107'])).not.toMatch(/via/);
  for (const [a, b] of [[0, 1], [1, 2], [2, 0]] as const) {
    expect(await lab.send(pod(a).ns, pod(b).ip, PORT, 0)).toContain(pod(b).ns);
  }
});

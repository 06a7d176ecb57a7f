// The routed (calico-like) mode for real: three node namespaces on one L2 underlay, the applier run
// in each (not the whole agent), pods wired by hand as the CNI plugin's routed mode does (IP/32,
// 169.254.1.1 gateway answered by proxy ARP, a /32 route on the host), and real TCP between them.
import { jest } from '@jest/globals';
import { execInNetns } from '../../kernel/netns.js';
import { K8TS_ROUTE_PROTOCOL } from '../common/rtnl-kernel.js';
import { createNetLab, labNodeObject, payloadDigest, testPodTraffic, type LabNode, type NetLab } from '../testlab.js';
import { RoutedApplier } from './apply.js';
import { desiredRouted } from './plan.js';

jest.setTimeout(120_000);

const PORT = 7000;
let lab: NetLab;
const appliers: RoutedApplier[] = [];

function syncNode(i: number, nodes: readonly LabNode[] = lab.nodes) {
  const n = lab.nodes[i]!;
  return appliers[i]!.sync(desiredRouted({ nodeName: n.name, nodeIP: n.ip, podCidr: n.podCidr }, nodes.map((n) => labNodeObject(n))));
}

const pattern = payloadDigest;
const routes = async (ns: string): Promise<string[]> =>
  (JSON.parse(await lab.ip(ns, ['-j', 'route', 'show', 'proto', '107'])) as { type?: string; dst: string; gateway?: string; dev?: string }[])
    .map((r) => [r.type ?? '', r.dst, r.gateway ? `via ${r.gateway}` : '', r.dev ? `dev ${r.dev}` : ''].filter(Boolean).join(' '));

beforeAll(async () => {
  lab = await createNetLab(3, { pods: 'routed', serve: PORT, masquerade: '10.244.0.0/16' });
  for (let i = 0; i < 3; i++) {
    appliers.push(new RoutedApplier(lab.kernel(i), K8TS_ROUTE_PROTOCOL));
    await syncNode(i);
  }
}, 120_000);

afterAll(() => lab?.destroy());

const pod = (i: number) => lab.pod(i);

test('our block is blackholed, the others are routed via their nodes, and the per-pod route stays', async () => {
  expect((await routes(lab.nodes[0]!.ns)).sort()).toEqual([
    '10.244.1.2 dev cali2',
    '10.244.2.0/24 via 192.168.77.12 dev eth0',
    '10.244.3.0/24 via 192.168.77.13 dev eth0',
    'blackhole 10.244.1.0/24',
  ]);
  // A lookup that ends in a blackhole is refused with EINVAL; without it the default route would win.
  await expect(lab.ip(lab.nodes[0]!.ns, ['route', 'get', '10.244.1.99'])).rejects.toThrow(/Invalid argument/);
  expect(await lab.ip(lab.nodes[0]!.ns, ['route', 'get', '10.244.1.2'])).toMatch(/dev cali2/);
});

test('a second sync finds nothing to do', async () => {
  for (let i = 0; i < 3; i++) expect(await syncNode(i)).toEqual({ add: [], del: [] });
});

testPodTraffic(() => lab, PORT);

test('a node reaches a pod on another node', async () => {
  expect(await lab.send(lab.nodes[0]!.ns, pod(2).ip, PORT, 0)).toBe(`${pod(2).ns} ${lab.nodes[0]!.ip} 0 ${pattern(0)}`);
});

test('packets the proxy marked 0x4000 are left to the proxy, not masqueraded by us', async () => {
  const n2 = lab.nodes[1]!;
  // "The internet" can route back to node 2's pods here, so an un-NATed connection still works
  // and the server reports the address it really saw.
  await lab.ip(lab.inet, ['route', 'add', n2.podCidr, 'via', n2.ip]);
  await execInNetns(n2.ns, 'nft', ['-f', '-'], `table ip k8ts-t-proxy {
    chain forwarding {
      type filter hook forward priority 0;
      ip daddr ${lab.inetIP} tcp dport ${PORT} meta mark set meta mark | 0x4000
    }
  }`);
  try {
    expect(await lab.send(pod(1).ns, lab.inetIP, PORT, 10)).toBe(`${lab.inet} ${pod(1).ip} 10 ${pattern(10)}`);
  } finally {
    await execInNetns(n2.ns, 'nft', ['delete', 'table', 'ip', 'k8ts-t-proxy']);
    await lab.ip(lab.inet, ['route', 'del', n2.podCidr]);
  }
  expect(await lab.send(pod(1).ns, lab.inetIP, PORT, 10)).toBe(`${lab.inet} ${n2.ip} 10 ${pattern(10)}`);
});

test('the route to a node that goes away is removed, and comes back with it', async () => {
  const n1 = lab.nodes[0]!;
  expect(await syncNode(0, lab.nodes.slice(0, 2))).toMatchObject({ add: [], del: [{ dst: '10.244.3.0/24' }] });
  expect(await lab.ip(n1.ns, ['route', 'show', '10.244.3.0/24'])).toBe('');
  expect(await lab.send(pod(0).ns, pod(2).ip, PORT, 0, 1500)).toMatch(/^ERR:/);
  expect((await syncNode(0)).add).toEqual([{ dst: '10.244.3.0/24', type: 'unicast', gateway: '192.168.77.13' }]);
  expect(await lab.send(pod(0).ns, pod(2).ip, PORT, 0)).toContain(pod(2).ns);
});

test('routes deleted or changed behind the applier\'s back are repaired by the next sync', async () => {
  const n2 = lab.nodes[1]!;
  await lab.ip(n2.ns, ['route', 'del', '10.244.1.0/24']);
  await lab.ip(n2.ns, ['route', 'del', 'blackhole', '10.244.2.0/24']);
  await lab.ip(n2.ns, ['route', 'replace', '10.244.3.0/24', 'via', '192.168.77.254', 'proto', '107']);
  expect(await lab.send(pod(1).ns, pod(0).ip, PORT, 0, 1500)).toMatch(/^ERR:/);
  const p = await syncNode(1);
  expect(p.add).toHaveLength(3);
  expect(p.del).toEqual([expect.objectContaining({ dst: '10.244.3.0/24', gateway: '192.168.77.254' })]);
  expect(await lab.send(pod(1).ns, pod(0).ip, PORT, 0)).toContain(pod(0).ns);
  expect(await lab.send(pod(1).ns, pod(2).ip, PORT, 0)).toContain(pod(2).ns);
});

test('cleanup removes our routes and leaves the per-pod route', async () => {
  const n3 = lab.nodes[2]!;
  await appliers[2]!.cleanup();
  expect(await routes(n3.ns)).toEqual(['10.244.3.2 dev cali2']);
});

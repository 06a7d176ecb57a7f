// The VXLAN overlay for real: three node namespaces on an underlay switch, the applier run in each
// (not the whole agent), pods wired by hand onto a cni0 bridge, and real TCP between them.
import { release } from 'node:os';
import { jest } from '@jest/globals';
import type { Node } from 'kubernetes-types/core/v1.js';
import { execInNetns } from '../../kernel/netns.js';
import { K8TS_ROUTE_PROTOCOL } from '../common/rtnl-kernel.js';
import { createNetLab, labNodeObject, testPodTraffic, type LabNode, type NetLab } from '../testlab.js';
import { VxlanApplier } from './apply.js';
import { desiredVxlan, isNoopVxlanPlan, vtepMacFor, vxlanAnnotations, vxlanNeedsChecksumWorkaround, VXLAN_DEVICE, type VxlanPlan } from './plan.js';

/** What ethtool shows on this kernel (the workaround only before 5.7). */
const offloadExpected = vxlanNeedsChecksumWorkaround(release()) ? /tx-checksum-ip-generic: off/ : /tx-checksum-ip-generic: on/;

jest.setTimeout(120_000);

const PORT = 7000;
let lab: NetLab;
const appliers: VxlanApplier[] = [];

const nodeObject = (n: LabNode): Node => labNodeObject(n, vxlanAnnotations(vtepMacFor(n.name), n.ip));

/** One sync of node `i` against the given Node objects. */
function syncNode(i: number, nodes: readonly LabNode[] = lab.nodes): Promise<VxlanPlan> {
  const n = lab.nodes[i]!;
  return appliers[i]!.sync(desiredVxlan({ nodeName: n.name, nodeIP: n.ip, podCidr: n.podCidr, underlay: 'eth0', underlayMtu: 1500 }, nodes.map(nodeObject)));
}

const json = async <T>(ns: string, args: string[]): Promise<T> => JSON.parse(await lab.ip(ns, ['-j', ...args])) as T;

beforeAll(async () => {
  lab = await createNetLab(3, { pods: 'bridge', mtu: 1450, serve: PORT, masquerade: '10.244.0.0/16' });
  for (let i = 0; i < 3; i++) {
    appliers.push(new VxlanApplier(lab.kernel(i), K8TS_ROUTE_PROTOCOL, (m) => { throw new Error(m); }, vxlanNeedsChecksumWorkaround(release())));
    await syncNode(i);
  }
}, 120_000);

afterAll(() => lab?.destroy());

const pod = (i: number) => lab.pod(i);

test('the device is flannel\'s: VNI 1, port 8472, learning off, MTU underlay - 50, stable MAC, TX checksum offload off only where the kernel needs it', async () => {
  const n1 = lab.nodes[0]!;
  const [link] = await json<{ mtu: number; address: string; linkinfo: { info_kind: string; info_data: { id: number; port: number; learning: boolean; local: string; link: string } } }[]>(n1.ns, ['-d', 'link', 'show', VXLAN_DEVICE]);
  expect(link!.linkinfo.info_kind).toBe('vxlan');
  expect(link!.linkinfo.info_data).toMatchObject({ id: 1, port: 8472, learning: false, local: n1.ip, link: 'eth0' });
  expect(link!.mtu).toBe(1450);
  expect(link!.address).toBe(vtepMacFor(n1.name));
  const addrs = await json<{ addr_info: { local: string; prefixlen: number }[] }[]>(n1.ns, ['-4', 'addr', 'show', VXLAN_DEVICE]);
  expect(addrs[0]!.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toEqual(['10.244.1.0/32']);
  const features = await execInNetns(n1.ns, 'ethtool', ['-k', VXLAN_DEVICE]);
  expect(features).toMatch(offloadExpected);
});

test('each peer has a permanent neighbour, an FDB entry and an onlink route with the k8ts protocol', async () => {
  const n1 = lab.nodes[0]!;
  const neigh = await json<{ dst: string; lladdr: string; state: string[] }[]>(n1.ns, ['neigh', 'show', 'dev', VXLAN_DEVICE]);
  expect(neigh.map((n) => `${n.dst} ${n.lladdr} ${n.state.join(',')}`).sort()).toEqual([
    `10.244.2.0 ${vtepMacFor('node-2')} PERMANENT`,
    `10.244.3.0 ${vtepMacFor('node-3')} PERMANENT`,
  ]);
  const fdb = JSON.parse(await execInNetns(n1.ns, 'bridge', ['-j', 'fdb', 'show', 'dev', VXLAN_DEVICE])) as { mac: string; dst?: string }[];
  expect(fdb.filter((f) => f.dst).map((f) => `${f.mac} ${f.dst!}`).sort()).toEqual([`${vtepMacFor('node-2')} 192.168.77.12`, `${vtepMacFor('node-3')} 192.168.77.13`].sort());
  const routes = await json<{ dst: string; gateway: string; dev: string; protocol: string; flags: string[] }[]>(n1.ns, ['route', 'show', 'proto', '107']);
  expect(routes.map((r) => [r.dst, r.gateway, r.dev, r.flags])).toEqual([
    ['10.244.2.0/24', '10.244.2.0', VXLAN_DEVICE, ['onlink']],
    ['10.244.3.0/24', '10.244.3.0', VXLAN_DEVICE, ['onlink']],
  ]);
});

test('a second sync finds nothing to do', async () => {
  for (let i = 0; i < 3; i++) expect(isNoopVxlanPlan(await syncNode(i))).toBe(true);
  expect(await lab.masq(0).sync('10.244.0.0/16')).toBe(false);
});

testPodTraffic(() => lab, PORT);

test('a node that goes away loses its neighbour, FDB entry and route; they return with it', async () => {
  const n1 = lab.nodes[0]!;
  const without3 = lab.nodes.slice(0, 2);
  const p = await syncNode(0, without3);
  expect(p.neighbours.del).toHaveLength(1);
  expect(p.fdb.del).toHaveLength(1);
  expect(p.routes.del).toHaveLength(1);
  expect(await lab.ip(n1.ns, ['route', 'show', '10.244.3.0/24'])).toBe('');
  expect(await lab.ip(n1.ns, ['neigh', 'show', '10.244.3.0', 'dev', VXLAN_DEVICE])).toBe('');
  expect(await execInNetns(n1.ns, 'bridge', ['fdb', 'show', 'dev', VXLAN_DEVICE])).not.toContain(vtepMacFor('node-3'));
  expect(await lab.send(pod(0).ns, pod(2).ip, PORT, 0, 1500)).toMatch(/^ERR:/);
  expect(await lab.send(pod(0).ns, pod(1).ip, PORT, 0)).toContain(pod(1).ns);

  const back = await syncNode(0);
  expect([back.neighbours.add.length, back.fdb.add.length, back.routes.add.length]).toEqual([1, 1, 1]);
  expect(await lab.send(pod(0).ns, pod(2).ip, PORT, 0)).toContain(pod(2).ns);
});

test('a device or route deleted behind the applier\'s back is repaired by the next sync', async () => {
  const n2 = lab.nodes[1]!;
  await lab.ip(n2.ns, ['link', 'del', VXLAN_DEVICE]);
  expect(await lab.send(pod(1).ns, pod(0).ip, PORT, 0, 1500)).toMatch(/^ERR:/);
  const p = await syncNode(1);
  expect(p.device).toEqual({ action: 'create' });
  const [relinked] = JSON.parse(await lab.ip(n2.ns, ['-j', 'link', 'show', VXLAN_DEVICE])) as { address: string }[];
  expect(relinked!.address).toBe(vtepMacFor(n2.name)); // the same MAC, so peers' entries stay valid
  expect(await lab.send(pod(1).ns, pod(0).ip, PORT, 0)).toContain(pod(0).ns);
  expect(await execInNetns(n2.ns, 'ethtool', ['-k', VXLAN_DEVICE])).toMatch(offloadExpected);

  const n1 = lab.nodes[0]!;
  await lab.ip(n1.ns, ['route', 'del', '10.244.2.0/24']);
  await lab.ip(n1.ns, ['link', 'set', VXLAN_DEVICE, 'mtu', '1400']);
  const q = await syncNode(0);
  expect(q.device).toEqual({ action: 'update', mtu: 1450 });
  expect(q.routes.add).toHaveLength(1);
  expect(await lab.send(pod(0).ns, pod(1).ip, PORT, 0)).toContain(pod(1).ns);
});

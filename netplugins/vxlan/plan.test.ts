import type { Node } from 'kubernetes-types/core/v1.js';
import { ANNOTATIONS } from '../common/plan-nodes.js';
import { routeText, type ObservedRoute } from '../common/plan-routes.js';
import {
  desiredVxlan, isNoopVxlanPlan, planDevice, planVxlan, vtepMacFor, vxlanAnnotations, vxlanIncompatibility, vxlanNeedsChecksumWorkaround,
  VXLAN_DEVICE, type ObservedVxlanDevice, type VxlanObserved,
} from './plan.js';

const P = 199;
const node = (name: string, ip: string | undefined, podCIDR: string | undefined, mac: string | null = vtepMacFor(name)): Node => ({
  metadata: { name, annotations: { ...(mac ? vxlanAnnotations(mac, ip ?? '') : {}), ...(ip ? {} : { [ANNOTATIONS.publicIP]: '' }) } },
  spec: podCIDR ? { podCIDR } : {},
  status: ip ? { addresses: [{ type: 'InternalIP', address: ip }] } : {},
});
const self = { nodeName: 'n1', nodeIP: '192.168.50.1', podCidr: '10.244.1.0/24', underlay: 'eth0', underlayMtu: 1500 };
const nodes = [node('n1', '192.168.50.1', '10.244.1.0/24'), node('n2', '192.168.50.2', '10.244.2.0/24'), node('n3', '192.168.50.3', '10.244.3.0/24')];
const obsRoute = (r: Partial<ObservedRoute> & { dst: string }): ObservedRoute => ({ type: 'unicast', protocol: P, table: 254, ...r });
const goodDevice = (): ObservedVxlanDevice => ({
  name: VXLAN_DEVICE, kind: 'vxlan', vni: 1, port: 8472, local: '192.168.50.1', underlay: 'eth0', mtu: 1450, mac: vtepMacFor('n1'), learning: false, up: true,
});

/** What the kernel holds after a plan for `nodes` was applied. */
function applied(): VxlanObserved {
  const d = desiredVxlan(self, nodes);
  return {
    device: goodDevice(),
    addresses: [d.address],
    neighbours: d.neighbours,
    fdb: d.fdb,
    routes: d.routes.map((r) => obsRoute(r)),
  };
}

describe('vxlanNeedsChecksumWorkaround', () => {
  it('turns offload off before kernel 5.7 (and when the release cannot be read), not after', () => {
    expect(['4.19.0-25-amd64', '5.4.0-150-generic', '5.6.19', 'weird'].map(vxlanNeedsChecksumWorkaround)).toEqual([true, true, true, true]);
    expect(['5.7.0', '5.10.0-28-cloud-amd64', '6.1.0-18-amd64', '6.18.0'].map(vxlanNeedsChecksumWorkaround)).toEqual([false, false, false, false]);
  });
});

describe('vtepMacFor', () => {
  it('is stable, unicast and locally administered, and differs between nodes', () => {
    const a = vtepMacFor('node-a');
    expect(a).toBe(vtepMacFor('node-a'));
    expect(a).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    const first = parseInt(a.slice(0, 2), 16);
    expect(first & 1).toBe(0);
    expect(first & 2).toBe(2);
    expect(vtepMacFor('node-b')).not.toBe(a);
  });
});

describe('desiredVxlan', () => {
  it('wants the device flannel would create, with MTU underlay - 50 and our block address as /32', () => {
    const d = desiredVxlan(self, nodes);
    expect(d.device).toEqual({ name: 'k8ts.1', vni: 1, port: 8472, local: '192.168.50.1', underlay: 'eth0', mtu: 1450, mac: vtepMacFor('n1'), learning: false });
    expect(d.address).toBe('10.244.1.0/32');
  });

  it('wants a neighbour, an FDB entry and an onlink route per other node', () => {
    const d = desiredVxlan(self, nodes);
    expect(d.neighbours).toEqual([{ ip: '10.244.2.0', mac: vtepMacFor('n2') }, { ip: '10.244.3.0', mac: vtepMacFor('n3') }]);
    expect(d.fdb).toEqual([{ mac: vtepMacFor('n2'), dst: '192.168.50.2' }, { mac: vtepMacFor('n3'), dst: '192.168.50.3' }]);
    expect(d.routes.map(routeText)).toEqual(['10.244.2.0/24 via 10.244.2.0 dev k8ts.1 onlink', '10.244.3.0/24 via 10.244.3.0 dev k8ts.1 onlink']);
  });

  it('uses the MAC the peer published, not one derived from its name', () => {
    const d = desiredVxlan(self, [node('n2', '192.168.50.2', '10.244.2.0/24', '0a:00:00:00:00:02')]);
    expect(d.neighbours).toEqual([{ ip: '10.244.2.0', mac: '0a:00:00:00:00:02' }]);
  });

  it('skips peers that are not ready, or that collide with us or each other', () => {
    const d = desiredVxlan(self, [
      ...nodes,
      node('n4', '192.168.50.4', undefined),
      node('n5', '192.168.50.5', '10.244.5.0/24', null),
      node('n6', '192.168.50.6', '10.244.1.0/24'),
      node('n7', '192.168.50.1', '10.244.7.0/24'),
      node('n8', '192.168.50.8', '10.244.8.0/24', vtepMacFor('n2')),
      { ...node('n9', '192.168.50.9', '10.244.9.0/24'), metadata: { name: 'n9', annotations: { [ANNOTATIONS.backendData]: JSON.stringify({ VNI: 7, VtepMAC: vtepMacFor('n9') }) } } },
    ]);
    expect(d.peers.map((p) => p.node)).toEqual(['n2', 'n3']);
    expect(Object.fromEntries(d.skipped.map((s) => [s.node, s.reason]))).toEqual({
      n4: 'no podCIDR allocated yet',
      n5: 'no VTEP MAC published yet (k8ts.io/backend-data)',
      n6: 'podCIDR 10.244.1.0/24 is also ours',
      n7: 'underlay address 192.168.50.1 is also ours',
      n8: `VTEP MAC ${vtepMacFor('n2')} is already used by another node`,
      n9: 'VNI 7 differs from ours (1)',
    });
  });

  it('publishes flannel-shaped annotations', () => {
    expect(vxlanAnnotations('0a:00:00:00:00:01', '192.168.50.1')).toEqual({
      'k8ts.io/backend-data': '{"VNI":1,"VtepMAC":"0a:00:00:00:00:01"}',
      'k8ts.io/backend-type': 'vxlan',
      'k8ts.io/public-ip': '192.168.50.1',
    });
  });
});

describe('planDevice', () => {
  const want = desiredVxlan(self, nodes).device;
  it('creates a missing device and keeps a matching one', () => {
    expect(planDevice(want, undefined)).toEqual({ action: 'create' });
    expect(planDevice(want, goodDevice())).toEqual({ action: 'keep' });
  });
  it('changes MTU, MAC and link state in place', () => {
    expect(planDevice(want, { ...goodDevice(), mtu: 1500, mac: '0a:00:00:00:00:09', up: false })).toEqual({ action: 'update', mtu: 1450, mac: want.mac, up: true });
    expect(planDevice(want, { ...goodDevice(), mac: want.mac.toUpperCase() })).toEqual({ action: 'keep' });
  });
  it('re-creates a device whose VXLAN attributes differ, naming the difference', () => {
    expect(vxlanIncompatibility(want, { ...goodDevice(), kind: 'bridge' })).toBe('"k8ts.1" is a bridge device');
    expect(vxlanIncompatibility(want, { ...goodDevice(), vni: 2 })).toBe('VNI is 2, want 1');
    expect(vxlanIncompatibility(want, { ...goodDevice(), port: 4789 })).toBe('port is 4789, want 8472');
    expect(vxlanIncompatibility(want, { ...goodDevice(), local: '192.168.50.9' })).toBe('local address is 192.168.50.9, want 192.168.50.1');
    expect(vxlanIncompatibility(want, { ...goodDevice(), underlay: 'eth1' })).toBe('underlay device is eth1, want eth0');
    expect(vxlanIncompatibility(want, { ...goodDevice(), learning: true })).toBe('learning is on, want off');
    expect(planDevice(want, { ...goodDevice(), vni: 2 })).toEqual({ action: 'recreate', reason: 'VNI is 2, want 1' });
  });
});

describe('planVxlan', () => {
  it('builds everything on a fresh node, keeping routed-mode leftovers in the plan to delete', () => {
    const leftover = obsRoute({ dst: '10.244.2.0/24', gateway: '192.168.50.2', dev: 'eth0' });
    const p = planVxlan(desiredVxlan(self, nodes), { addresses: [], neighbours: [], fdb: [], routes: [leftover] }, P);
    expect(p.device).toEqual({ action: 'create' });
    expect(p.addresses).toEqual({ add: ['10.244.1.0/32'], del: [] });
    expect(p.neighbours.add).toHaveLength(2);
    expect(p.fdb.add).toHaveLength(2);
    expect(p.routes.add).toHaveLength(2);
    expect(p.routes.del).toEqual([leftover]);
  });

  it('is a no-op when the kernel already matches', () => {
    const p = planVxlan(desiredVxlan(self, nodes), applied(), P);
    expect(isNoopVxlanPlan(p)).toBe(true);
  });

  it('removes all three entries of a node that went away', () => {
    const p = planVxlan(desiredVxlan(self, nodes.slice(0, 2)), applied(), P);
    expect(p.neighbours).toEqual({ add: [], del: [{ ip: '10.244.3.0', mac: vtepMacFor('n3') }] });
    expect(p.fdb).toEqual({ add: [], del: [{ mac: vtepMacFor('n3'), dst: '192.168.50.3' }] });
    expect(p.routes.del.map(routeText)).toEqual(['10.244.3.0/24 via 10.244.3.0 dev k8ts.1 onlink']);
    expect(p.routes.add).toEqual([]);
  });

  it('moves the FDB entry of a node whose underlay address changed, leaving the rest', () => {
    const moved = [nodes[0]!, nodes[1]!, node('n3', '192.168.50.33', '10.244.3.0/24')];
    const p = planVxlan(desiredVxlan(self, moved), applied(), P);
    expect(p.fdb).toEqual({ add: [{ mac: vtepMacFor('n3'), dst: '192.168.50.33' }], del: [{ mac: vtepMacFor('n3'), dst: '192.168.50.3' }] });
    expect(p.neighbours).toEqual({ add: [], del: [] });
    expect(p.routes).toEqual({ add: [], del: [] });
  });

  it('replaces the neighbour entry of a node whose VTEP MAC changed', () => {
    const p = planVxlan(desiredVxlan(self, [nodes[0]!, node('n2', '192.168.50.2', '10.244.2.0/24', '0a:00:00:00:00:22'), nodes[2]!]), applied(), P);
    expect(p.neighbours.add).toEqual([{ ip: '10.244.2.0', mac: '0a:00:00:00:00:22' }]);
    expect(p.neighbours.del).toEqual([{ ip: '10.244.2.0', mac: vtepMacFor('n2') }]);
  });

  it('repairs a route or neighbour deleted behind our back', () => {
    const have = applied();
    const p = planVxlan(desiredVxlan(self, nodes), { ...have, routes: have.routes.slice(1), neighbours: have.neighbours.slice(0, 1) }, P);
    expect(p.routes.add.map(routeText)).toEqual(['10.244.2.0/24 via 10.244.2.0 dev k8ts.1 onlink']);
    expect(p.neighbours.add).toEqual([{ ip: '10.244.3.0', mac: vtepMacFor('n3') }]);
  });

  it('plans every entry again when the device must be re-created', () => {
    const have = { ...applied(), device: { ...goodDevice(), local: '192.168.50.99' } };
    const p = planVxlan(desiredVxlan(self, nodes), have, P);
    expect(p.device.action).toBe('recreate');
    expect(p.addresses.add).toEqual(['10.244.1.0/32']);
    expect(p.neighbours.add).toHaveLength(2);
    expect(p.fdb.add).toHaveLength(2);
    expect(p.routes.add).toHaveLength(2);
    expect(p.routes.del).toEqual([]);
  });

  it('removes a stray address from the device (the node got another block)', () => {
    const p = planVxlan(desiredVxlan({ ...self, podCidr: '10.244.11.0/24' }, nodes.slice(1)), applied(), P);
    expect(p.addresses).toEqual({ add: ['10.244.11.0/32'], del: ['10.244.1.0/32'] });
  });
});

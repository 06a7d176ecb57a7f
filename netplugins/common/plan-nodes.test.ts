import type { Node } from 'kubernetes-types/core/v1.js';
import { ANNOTATIONS, nodeNet, parseBackendData, planByKey, podCidrOf } from './plan-nodes.js';
import { isOwnedRoute, planRoutes, routeText, type ObservedRoute } from './plan-routes.js';

const node = (name: string, extra: { ip?: string; podCIDR?: string; podCIDRs?: string[]; ann?: Record<string, string> } = {}): Node => ({
  metadata: { name, ...(extra.ann ? { annotations: extra.ann } : {}) },
  spec: { ...(extra.podCIDR ? { podCIDR: extra.podCIDR } : {}), ...(extra.podCIDRs ? { podCIDRs: extra.podCIDRs } : {}) },
  status: extra.ip ? { addresses: [{ type: 'Hostname', address: name }, { type: 'InternalIP', address: extra.ip }] } : {},
});

describe('nodeNet', () => {
  it('reads the pod block, its network address and the InternalIP', () => {
    expect(nodeNet(node('a', { ip: '192.168.1.2', podCIDR: '10.244.1.0/24' }))).toEqual({
      name: 'a', ip: '192.168.1.2', podCidr: '10.244.1.0/24', podGateway: '10.244.1.0',
    });
  });

  it('prefers the published public-ip annotation over the InternalIP', () => {
    expect(nodeNet(node('a', { ip: '192.168.1.2', ann: { [ANNOTATIONS.publicIP]: '172.16.0.9' } })).ip).toBe('172.16.0.9');
  });

  it('ignores a malformed public-ip annotation', () => {
    expect(nodeNet(node('a', { ip: '192.168.1.2', ann: { [ANNOTATIONS.publicIP]: 'nope' } })).ip).toBe('192.168.1.2');
  });

  it('picks the first IPv4 block of a dual-stack node and normalises host bits', () => {
    expect(podCidrOf(node('a', { podCIDRs: ['fd00::/64', '10.244.3.7/24'] }))).toBe('10.244.3.0/24');
    expect(podCidrOf(node('a', { podCIDRs: ['fd00::/64'] }))).toBeUndefined();
    expect(podCidrOf(node('a'))).toBeUndefined();
  });

  it('reads the VTEP MAC from backend-data, lower-cased, and rejects garbage', () => {
    expect(parseBackendData('{"VNI":1,"VtepMAC":"AA:BB:CC:DD:EE:FF"}')).toEqual({ vni: 1, vtepMac: 'aa:bb:cc:dd:ee:ff' });
    expect(parseBackendData('{"VtepMAC":"aa:bb"}')).toEqual({});
    expect(parseBackendData('not json')).toEqual({});
    expect(parseBackendData(undefined)).toEqual({});
  });

  it('has no address for a node without status or annotation', () => {
    expect(nodeNet(node('a', { podCIDR: '10.244.1.0/24' })).ip).toBeUndefined();
  });
});

describe('planByKey', () => {
  const key = (x: { k: string }) => x.k;
  const same = (a: { v: number }, b: { v: number }) => a.v === b.v;
  it('adds the missing, deletes the unwanted, keeps the equal', () => {
    const p = planByKey([{ k: 'a', v: 1 }, { k: 'b', v: 1 }], [{ k: 'b', v: 1 }, { k: 'c', v: 1 }], key, same);
    expect(p).toEqual({ add: [{ k: 'a', v: 1 }], del: [{ k: 'c', v: 1 }] });
  });
  it('replaces a changed object by deleting the old and adding the new', () => {
    expect(planByKey([{ k: 'a', v: 2 }], [{ k: 'a', v: 1 }], key, same)).toEqual({ add: [{ k: 'a', v: 2 }], del: [{ k: 'a', v: 1 }] });
  });
  it('deletes duplicates of an observed key but keeps one that matches', () => {
    expect(planByKey([{ k: 'a', v: 1 }], [{ k: 'a', v: 3 }, { k: 'a', v: 1 }, { k: 'a', v: 1 }], key, same))
      .toEqual({ add: [], del: [{ k: 'a', v: 3 }, { k: 'a', v: 1 }] });
  });
  it('is empty when desired equals observed', () => {
    expect(planByKey([{ k: 'a', v: 1 }], [{ k: 'a', v: 1 }], key, same)).toEqual({ add: [], del: [] });
  });
});

describe('planRoutes', () => {
  const P = 199;
  const obs = (r: Partial<ObservedRoute> & { dst: string }): ObservedRoute => ({ type: 'unicast', protocol: P, table: 254, ...r });
  it('owns only gateway and blackhole routes of our protocol in the main table', () => {
    expect(isOwnedRoute(obs({ dst: '10.244.1.0/24', gateway: '192.168.1.2' }), P)).toBe(true);
    expect(isOwnedRoute(obs({ dst: '10.244.0.0/24', type: 'blackhole' }), P)).toBe(true);
    // the CNI plugin's per-pod route: same protocol, no gateway
    expect(isOwnedRoute(obs({ dst: '10.244.0.5/32', dev: 'cali1234' }), P)).toBe(false);
    expect(isOwnedRoute(obs({ dst: '10.244.1.0/24', gateway: '192.168.1.2', protocol: 4 }), P)).toBe(false);
    expect(isOwnedRoute(obs({ dst: '10.244.1.0/24', gateway: '192.168.1.2', table: 100 }), P)).toBe(false);
  });
  it('leaves routes of other programs alone and replaces a route whose gateway changed', () => {
    const p = planRoutes(
      [{ dst: '10.244.1.0/24', type: 'unicast', gateway: '192.168.1.3' }, { dst: '10.244.2.0/24', type: 'unicast', gateway: '192.168.1.4' }],
      [
        obs({ dst: '10.244.1.0/24', gateway: '192.168.1.2', dev: 'eth0' }),
        obs({ dst: '10.244.2.0/24', gateway: '192.168.1.4', dev: 'eth0' }),
        obs({ dst: '10.244.9.0/24', gateway: '192.168.1.9', dev: 'eth0' }),
        obs({ dst: '0.0.0.0/0', gateway: '192.168.1.1', protocol: 3 }),
        obs({ dst: '10.244.0.7/32', dev: 'cali0' }),
      ],
      P,
    );
    expect(p.add.map(routeText)).toEqual(['10.244.1.0/24 via 192.168.1.3']);
    expect(p.del.map(routeText)).toEqual(['10.244.1.0/24 via 192.168.1.2 dev eth0', '10.244.9.0/24 via 192.168.1.9 dev eth0']);
  });
  it('treats a device or onlink difference as a change when the desired route names them', () => {
    const want = [{ dst: '10.244.1.0/24', type: 'unicast' as const, gateway: '10.244.1.0', dev: 'k8ts.1', onlink: true }];
    expect(planRoutes(want, [obs({ dst: '10.244.1.0/24', gateway: '10.244.1.0', dev: 'k8ts.1', onlink: true })], P)).toEqual({ add: [], del: [] });
    expect(planRoutes(want, [obs({ dst: '10.244.1.0/24', gateway: '10.244.1.0', dev: 'eth0', onlink: true })], P).add).toHaveLength(1);
    expect(planRoutes(want, [obs({ dst: '10.244.1.0/24', gateway: '10.244.1.0', dev: 'k8ts.1' })], P).add).toHaveLength(1);
  });
  it('replaces a blackhole with a unicast route to the same prefix', () => {
    const p = planRoutes([{ dst: '10.244.1.0/24', type: 'unicast', gateway: '192.168.1.3' }], [obs({ dst: '10.244.1.0/24', type: 'blackhole' })], P);
    expect(p.del.map(routeText)).toEqual(['blackhole 10.244.1.0/24']);
    expect(p.add.map(routeText)).toEqual(['10.244.1.0/24 via 192.168.1.3']);
  });
});

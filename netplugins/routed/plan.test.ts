import type { Node } from 'kubernetes-types/core/v1.js';
import { ANNOTATIONS } from '../common/plan-nodes.js';
import { routeText, type ObservedRoute } from '../common/plan-routes.js';
import { desiredRouted, planRouted, routedAnnotations } from './plan.js';

const P = 199;
const node = (name: string, ip?: string, podCIDR?: string): Node => ({
  metadata: { name },
  spec: podCIDR ? { podCIDR } : {},
  status: ip ? { addresses: [{ type: 'InternalIP', address: ip }] } : {},
});
const self = { nodeName: 'n1', nodeIP: '192.168.50.1', podCidr: '10.244.1.0/24' };
const nodes = [node('n1', '192.168.50.1', '10.244.1.0/24'), node('n3', '192.168.50.3', '10.244.3.0/24'), node('n2', '192.168.50.2', '10.244.2.0/24')];
const obs = (r: Partial<ObservedRoute> & { dst: string }): ObservedRoute => ({ type: 'unicast', protocol: P, table: 254, ...r });

describe('desiredRouted', () => {
  it('blackholes our own block and routes every other block via its node, in node-name order', () => {
    expect(desiredRouted(self, nodes).routes.map(routeText)).toEqual([
      'blackhole 10.244.1.0/24',
      '10.244.2.0/24 via 192.168.50.2',
      '10.244.3.0/24 via 192.168.50.3',
    ]);
  });

  it('skips nodes without a block or an address, and a block claimed twice', () => {
    const d = desiredRouted(self, [...nodes, node('n4', '192.168.50.4'), node('n5', undefined, '10.244.5.0/24'), node('n6', '192.168.50.6', '10.244.2.0/24'), node('n7', '192.168.50.1', '10.244.7.0/24')]);
    expect(d.routes).toHaveLength(3);
    expect(d.skipped.map((s) => s.node)).toEqual(['n4', 'n5', 'n6', 'n7']);
    expect(d.skipped[2]!.reason).toMatch(/already routed/);
  });

  it('uses the published public-ip over the InternalIP', () => {
    const n2: Node = { ...node('n2', '192.168.50.2', '10.244.2.0/24'), metadata: { name: 'n2', annotations: { [ANNOTATIONS.publicIP]: '192.168.50.22' } } };
    expect(desiredRouted(self, [n2]).routes.map(routeText)).toContain('10.244.2.0/24 via 192.168.50.22');
  });

  it('leaves peer routes to BGP in BGP mode, still listing the peers', () => {
    const d = desiredRouted({ ...self, bgp: true }, nodes);
    expect(d.routes.map(routeText)).toEqual(['blackhole 10.244.1.0/24']);
    expect(d.peers).toEqual([{ name: 'n2', ip: '192.168.50.2', podCidr: '10.244.2.0/24' }, { name: 'n3', ip: '192.168.50.3', podCidr: '10.244.3.0/24' }]);
  });

  it('never deletes the routes BIRD installed (protocol bird)', () => {
    const have = [obs({ dst: '10.244.2.0/24', gateway: '192.168.50.2', protocol: 12 }), obs({ dst: '10.244.1.0/24', type: 'blackhole' })];
    expect(planRouted(desiredRouted({ ...self, bgp: true }, nodes), have, P)).toEqual({ add: [], del: [] });
  });

  it('publishes the backend type and the node address', () => {
    expect(routedAnnotations('192.168.50.1')).toEqual({ 'k8ts.io/backend-type': 'routed', 'k8ts.io/public-ip': '192.168.50.1' });
  });
});

describe('planRouted', () => {
  it('adds everything on an empty node', () => {
    const p = planRouted(desiredRouted(self, nodes), [], P);
    expect(p.add).toHaveLength(3);
    expect(p.del).toEqual([]);
  });

  it('is empty when the kernel matches, accepting the device the kernel chose', () => {
    const have = [
      obs({ dst: '10.244.1.0/24', type: 'blackhole' }),
      obs({ dst: '10.244.2.0/24', gateway: '192.168.50.2', dev: 'eth0' }),
      obs({ dst: '10.244.3.0/24', gateway: '192.168.50.3', dev: 'eth0' }),
      obs({ dst: '10.244.1.7/32', dev: 'cali0123456789a' }),
    ];
    expect(planRouted(desiredRouted(self, nodes), have, P)).toEqual({ add: [], del: [] });
  });

  it('removes the route of a node that went away, and re-adds it when it comes back', () => {
    const full = [
      obs({ dst: '10.244.1.0/24', type: 'blackhole' }),
      obs({ dst: '10.244.2.0/24', gateway: '192.168.50.2', dev: 'eth0' }),
      obs({ dst: '10.244.3.0/24', gateway: '192.168.50.3', dev: 'eth0' }),
    ];
    const gone = planRouted(desiredRouted(self, nodes.filter((n) => n.metadata!.name !== 'n3')), full, P);
    expect(gone).toEqual({ add: [], del: [full[2]] });
    const back = planRouted(desiredRouted(self, nodes), full.slice(0, 2), P);
    expect(back.add.map(routeText)).toEqual(['10.244.3.0/24 via 192.168.50.3']);
  });

  it('deletes vxlan-mode leftovers when a node switches to routed', () => {
    const have = [obs({ dst: '10.244.2.0/24', gateway: '10.244.2.0', dev: 'k8ts.1', onlink: true })];
    const p = planRouted(desiredRouted(self, nodes), have, P);
    expect(p.del).toEqual(have);
    expect(p.add.map(routeText)).toContain('10.244.2.0/24 via 192.168.50.2');
  });

  it('fixes our own block when it is routed somewhere instead of blackholed', () => {
    const p = planRouted(desiredRouted(self, nodes), [obs({ dst: '10.244.1.0/24', gateway: '192.168.50.9' })], P);
    expect(p.del.map(routeText)).toEqual(['10.244.1.0/24 via 192.168.50.9']);
    expect(p.add.map(routeText)).toContain('blackhole 10.244.1.0/24');
  });
});

// The calico-like routed mode, pure part: a blackhole route for this node's own pod block and a
// route to every other node's block via that node's underlay address (all nodes on one L2
// segment, as flannel's host-gw and calico without IPIP require). Per-pod `/32` routes are the CNI
// plugin's (routed mode); they win over the blackhole by longest-prefix match, so an address of
// our block with no pod behind it is dropped here instead of bouncing towards the default route.
//
// Design notes. Routes come from the Node objects, as flannel's host-gw does; calico distributes
// the same routes over BGP (BIRD), which only adds value across L2 segments. A peer whose address
// is not on one of our connected subnets would need a gateway we do not know: the kernel refuses
// such a route (ENETUNREACH) and the applier reports it, it is not guessed here.
import type { Node } from 'kubernetes-types/core/v1.js';
import { ANNOTATIONS, nodeNet } from '../common/plan-nodes.js';
import { planRoutes, type ObservedRoute, type RouteSpec } from '../common/plan-routes.js';
import type { Plan } from '../common/plan-nodes.js';

export interface RoutedSelf {
  readonly nodeName: string;
  readonly nodeIP: string;
  readonly podCidr: string;
  /** Peer routes come from BGP (BIRD, ./compile-bird.ts): we only want our blackhole. */
  readonly bgp?: boolean;
}

export interface RoutedDesired {
  readonly routes: readonly RouteSpec[];
  /** The other nodes taking part: BGP neighbours in BGP mode. */
  readonly peers: readonly { readonly name: string; readonly ip: string; readonly podCidr: string }[];
  readonly skipped: readonly { node: string; reason: string }[];
}

export function routedAnnotations(nodeIP: string): Record<string, string> {
  return { [ANNOTATIONS.backendType]: 'routed', [ANNOTATIONS.publicIP]: nodeIP };
}

export function desiredRouted(self: RoutedSelf, nodes: readonly Node[]): RoutedDesired {
  const routes: RouteSpec[] = [{ dst: self.podCidr, type: 'blackhole' }];
  const peers: { name: string; ip: string; podCidr: string }[] = [];
  const skipped: { node: string; reason: string }[] = [];
  const sorted = nodes.map(nodeNet).filter((n) => n.name !== self.nodeName).sort((a, b) => a.name.localeCompare(b.name));
  const seen = new Set<string>([self.podCidr]);
  for (const n of sorted) {
    if (!n.podCidr) { skipped.push({ node: n.name, reason: 'no podCIDR allocated yet' }); continue; }
    if (!n.ip) { skipped.push({ node: n.name, reason: 'no underlay address (k8ts.io/public-ip or InternalIP) yet' }); continue; }
    if (n.ip === self.nodeIP) { skipped.push({ node: n.name, reason: `underlay address ${n.ip} is also ours` }); continue; }
    if (seen.has(n.podCidr)) { skipped.push({ node: n.name, reason: `podCIDR ${n.podCidr} is already routed to another node` }); continue; }
    seen.add(n.podCidr);
    peers.push({ name: n.name, ip: n.ip, podCidr: n.podCidr });
    if (!self.bgp) routes.push({ dst: n.podCidr, type: 'unicast', gateway: n.ip });
  }
  return { routes, peers, skipped };
}

export function planRouted(want: RoutedDesired, observed: readonly ObservedRoute[], protocol: number): Plan<RouteSpec> {
  return planRoutes(want.routes, observed, protocol);
}

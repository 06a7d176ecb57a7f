// Pod and node connectivity without Services: upstream's "Networking Granular Checks: Pods".
// Every pod reaches every other pod by its IP, on the same node and across nodes, over TCP and
// UDP, without NAT (the server sees the client's own pod IP); nodes reach every pod.
import { expectThat, type Check } from '../check.js';
import { HTTP_PORT, UDP_PORT, type ConformanceCluster, type FixturePod } from '../cluster.js';

const granular = '[sig-network] Networking Granular Checks: Pods should function for';

/** Pairs of (client, server) on the same node, or on different nodes. */
function pairs(c: ConformanceCluster, sameNode: boolean): [FixturePod, FixturePod][] {
  const out: [FixturePod, FixturePod][] = [];
  for (const from of c.clients) for (const to of c.servers) if ((from.node === to.node) === sameNode) out.push([from, to]);
  return out;
}

async function podToPod(c: ConformanceCluster, sameNode: boolean, protocol: 'http' | 'udp'): Promise<void> {
  for (const [from, to] of pairs(c, sameNode)) {
    if (protocol === 'http') {
      expectThat(await c.http(from, to.ip, HTTP_PORT) === to.name, `http to ${to.name} (${to.ip}) from ${from.name} answered by someone else`);
      // No NAT between pods: the server sees the client's pod IP.
      const seen = await c.clientAddressSeen(from, to.ip, HTTP_PORT);
      expectThat(seen === from.ip, `${to.name} saw the connection from ${from.name} (${from.ip}) come from ${seen}: pod-to-pod traffic must not be NATed`);
    } else {
      const a = await c.udp(from, to.ip, UDP_PORT);
      expectThat(a.host === to.name, `udp to ${to.name} (${to.ip}) from ${from.name} answered by ${a.host}`);
      expectThat(a.client === from.ip, `${to.name} saw the datagram from ${from.name} (${from.ip}) come from ${a.client}: pod-to-pod traffic must not be NATed`);
    }
  }
}

async function nodeToPod(c: ConformanceCluster, protocol: 'http' | 'udp'): Promise<void> {
  for (const from of c.hosts) {
    for (const to of c.servers) {
      const answer = protocol === 'http' ? await c.http(from, to.ip, HTTP_PORT) : (await c.udp(from, to.ip, UDP_PORT)).host;
      expectThat(answer === to.name, `${protocol} to ${to.name} (${to.ip}) from node ${from.node} answered by ${answer}`);
    }
  }
}

export const networkingChecks: Check[] = [
  { name: 'pod-to-pod http, same node', area: 'network', upstream: `${granular} intra-pod communication: http [NodeConformance] [Conformance]`, run: c => podToPod(c, true, 'http') },
  { name: 'pod-to-pod udp, same node', area: 'network', upstream: `${granular} intra-pod communication: udp [NodeConformance] [Conformance]`, run: c => podToPod(c, true, 'udp') },
  { name: 'pod-to-pod http, other node', area: 'network', needs: { nodes: 2 }, upstream: `${granular} intra-pod communication: http [NodeConformance] [Conformance] (inter-node)`, run: c => podToPod(c, false, 'http') },
  { name: 'pod-to-pod udp, other node', area: 'network', needs: { nodes: 2 }, upstream: `${granular} intra-pod communication: udp [NodeConformance] [Conformance] (inter-node)`, run: c => podToPod(c, false, 'udp') },
  { name: 'node-to-pod http', area: 'network', upstream: `${granular} node-pod communication: http [LinuxOnly] [NodeConformance] [Conformance]`, run: c => nodeToPod(c, 'http') },
  { name: 'node-to-pod udp', area: 'network', upstream: `${granular} node-pod communication: udp [LinuxOnly] [NodeConformance] [Conformance]`, run: c => nodeToPod(c, 'udp') },
];

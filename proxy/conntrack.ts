// Which conntrack flows a sync leaves stale. Pure: from each changed service port's model before
// and after, the filters for the flows to delete once the new rules are in the kernel.
//
// Design notes. TCP needs nothing: a connection to a vanished endpoint fails and the client
// reconnects through the new rules. UDP has no connection to fail: a client that keeps sending
// from the same port keeps matching its conntrack entry, DNATed to the old endpoint, until the
// entry times out — DNS clients would time out for as long as they keep sending. Upstream
// kube-proxy deletes (a) flows to a service address DNATed to an endpoint that is no longer used
// for it, and (b) flows to a service address that had no endpoints and now has some (the traffic
// was rejected; its entries would keep it rejected). We do the same, for ClusterIPs, external and
// load-balancer IPs (through the endpoints external traffic uses) and NodePorts on this node.
import type { FlowFilter } from '../kernel/conntrack.js';
import { clusterEndpoints, externalEndpoints, type ServicePortModel } from './model.js';

const UDP = 17;

export function staleUdpFlows(
  changes: ReadonlyMap<string, ServicePortModel | undefined>,
  previous: ReadonlyMap<string, ServicePortModel | undefined>,
  nodeName: string,
  nodeIPs: readonly string[],
): FlowFilter[] {
  const out: FlowFilter[] = [];
  for (const [id, cur] of changes) {
    const prev = previous.get(id);
    if (!prev || prev.protocol !== 'UDP') continue;
    const targets = (sp: ServicePortModel | undefined, external: boolean): Set<string> =>
      new Set(sp && sp.protocol === 'UDP' ? (external ? externalEndpoints(sp, nodeName) : clusterEndpoints(sp, nodeName)).map((e) => `${e.ip}`) : []);
    const addrs = (sp: ServicePortModel, external: boolean): { ip: string; port: number }[] => external
      ? [...sp.externalIPs, ...sp.loadBalancerIPs].map((ip) => ({ ip, port: sp.port })).concat(sp.nodePort !== undefined ? nodeIPs.map((ip) => ({ ip, port: sp.nodePort! })) : [])
      : sp.clusterIPs.map((ip) => ({ ip, port: sp.port }));
    for (const external of [false, true]) {
      const before = targets(prev, external);
      const after = targets(cur, external);
      const gone = [...before].filter((ip) => !after.has(ip));
      for (const a of addrs(prev, external)) {
        for (const ep of gone) out.push({ proto: UDP, origDst: a.ip, origDstPort: a.port, replySrc: ep });
      }
      // Had no endpoints (traffic rejected), has some now: drop the flows of the rejected traffic.
      if (cur && before.size === 0 && after.size > 0) for (const a of addrs(cur, external)) out.push({ proto: UDP, origDst: a.ip, origDstPort: a.port });
    }
  }
  return out;
}

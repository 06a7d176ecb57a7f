// hostPorts of a pod as CNI port mappings (the `portMappings` capability the reference `portmap`
// plugin implements), as upstream's kubelet builds them for its CNI plugin: one mapping per
// container port with a hostPort, protocol lower-cased, hostIP kept when set. Pure.
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { PortMapping } from './cni.js';

export function podPortMappings(pod: Pod): PortMapping[] {
  if (pod.spec?.hostNetwork) return []; // the container's ports are the node's already
  const out: PortMapping[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort) continue;
      const protocol = (p.protocol ?? 'TCP').toLowerCase() as PortMapping['protocol'];
      out.push({ hostPort: p.hostPort, containerPort: p.containerPort, protocol, ...(p.hostIP ? { hostIP: p.hostIP } : {}) });
    }
  }
  return out;
}

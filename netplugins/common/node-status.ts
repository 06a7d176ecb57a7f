// What the network plugin writes to its own Node: the annotations peers read (VTEP MAC, underlay
// address, backend type) and the `NetworkUnavailable=False` condition once the pod network works
// on this node, as flannel and calico do.
//
// Design notes. The condition goes in with a strategic merge patch on `nodes/status`, which merges
// `status.conditions` by `type`, so the kubelet's own conditions are left as they are (a JSON merge
// patch would replace the whole list). Annotations use a JSON merge patch: only our keys change.
// Both writes are skipped when the Node already says the same, so a resync costs no API write.
import type { Node, NodeCondition } from 'kubernetes-types/core/v1.js';
import { resources, type ClusterClient } from '../../api/client/types.js';
import type { NetMode } from './plan-nodes.js';

export const NETWORK_UNAVAILABLE = 'NetworkUnavailable';

/** Upstream's reasons are `FlannelIsUp`, `CalicoIsUp`, `RouteCreated`; ours name the mode. */
export function networkReadyCondition(mode: NetMode, now: Date): NodeCondition {
  const t = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    type: NETWORK_UNAVAILABLE, status: 'False',
    reason: mode === 'vxlan' ? 'K8tsVxlanIsUp' : 'K8tsRoutedIsUp',
    message: `k8ts ${mode} network plugin is running on this node`,
    lastHeartbeatTime: t, lastTransitionTime: t,
  };
}

/**
 * Does the Node already report the network as up? Any reason will do: rewriting a condition only
 * to put our reason in would ping-pong with another writer (the agent posts one of its own).
 */
export function hasNetworkReady(node: Node | undefined): boolean {
  return node?.status?.conditions?.some((x) => x.type === NETWORK_UNAVAILABLE && x.status === 'False') === true;
}

export function annotationsMissing(node: Node | undefined, want: Record<string, string>): Record<string, string> | undefined {
  const have = node?.metadata?.annotations ?? {};
  const diff = Object.entries(want).filter(([k, v]) => have[k] !== v);
  return diff.length ? Object.fromEntries(diff) : undefined;
}

/** Merge-patches our annotations onto the Node when they differ; returns whether it wrote. */
export async function publishAnnotations(client: ClusterClient, node: Node | undefined, nodeName: string, want: Record<string, string>): Promise<boolean> {
  const diff = annotationsMissing(node, want);
  if (!diff) return false;
  await client.patch(resources.nodes, undefined, nodeName, 'merge', { metadata: { annotations: diff } });
  return true;
}

/** Sets `NetworkUnavailable=False` unless the Node already says so; returns whether it wrote. */
export async function markNetworkReady(client: ClusterClient, node: Node | undefined, nodeName: string, mode: NetMode, now = new Date()): Promise<boolean> {
  if (hasNetworkReady(node)) return false;
  await client.patch(resources.nodes, undefined, nodeName, 'strategic', { status: { conditions: [networkReadyCondition(mode, now)] } }, { subresource: 'status' });
  return true;
}

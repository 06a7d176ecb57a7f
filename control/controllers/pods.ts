// Pod predicates the workload controllers share, as upstream's `podutil`: active, ready,
// available (ready for minReadySeconds), and the order in which a ReplicaSet deletes surplus pods.
import type { Pod, PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';

export const isPodActive = (p: Pod) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed' && !p.metadata?.deletionTimestamp;

export function readyCondition(p: Pod) { return p.status?.conditions?.find(c => c.type === 'Ready'); }
export const isPodReady = (p: Pod) => readyCondition(p)?.status === 'True';

/** Ready for at least `minReadySeconds` at `nowMs`. */
export function isPodAvailable(p: Pod, minReadySeconds: number, nowMs: number): boolean {
  if (!isPodReady(p)) return false;
  if (minReadySeconds <= 0) return true;
  const t = readyCondition(p)?.lastTransitionTime;
  if (!t) return false;
  return Date.parse(t) + minReadySeconds * 1000 <= nowMs;
}

/** ms until a ready pod becomes available, or undefined. */
export function msUntilAvailable(p: Pod, minReadySeconds: number, nowMs: number): number | undefined {
  if (!isPodReady(p) || minReadySeconds <= 0) return undefined;
  const t = readyCondition(p)?.lastTransitionTime;
  if (!t) return undefined;
  const left = Date.parse(t) + minReadySeconds * 1000 - nowMs;
  return left > 0 ? left : undefined;
}

const phaseRank = (p: Pod) => (p.status?.phase === 'Unknown' ? 1 : p.status?.phase === 'Running' ? 2 : 0);
const restarts = (p: Pod) => (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0);

/**
 * Upstream's ActivePods ordering for deletion, first = delete first: unassigned before assigned,
 * Pending before Unknown before Running, not ready before ready, ready for less time first, more
 * restarts first, newer before older.
 */
export function deletionOrder(a: Pod, b: Pod): number {
  const na = a.spec?.nodeName ? 1 : 0, nb = b.spec?.nodeName ? 1 : 0;
  if (na !== nb) return na - nb;
  if (phaseRank(a) !== phaseRank(b)) return phaseRank(a) - phaseRank(b);
  const ra = isPodReady(a) ? 1 : 0, rb = isPodReady(b) ? 1 : 0;
  if (ra !== rb) return ra - rb;
  if (ra && rb) {
    const ta = readyCondition(a)?.lastTransitionTime ?? '', tb = readyCondition(b)?.lastTransitionTime ?? '';
    if (ta !== tb) return ta > tb ? -1 : 1; // ready more recently first
  }
  if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
  const ca = a.metadata?.creationTimestamp ?? '', cb = b.metadata?.creationTimestamp ?? '';
  if (ca !== cb) return ca > cb ? -1 : 1; // newer first
  return (b.metadata?.name ?? '').localeCompare(a.metadata?.name ?? '');
}

/** The pod a controller creates from its template. */
export function podFromTemplate(template: PodTemplateSpec | undefined, namespace: string, ownerName: string, ref: OwnerReference): Pod {
  const meta = template?.metadata ?? {};
  return {
    metadata: {
      generateName: `${ownerName}-`,
      namespace,
      ...(meta.labels ? { labels: { ...meta.labels } } : {}),
      ...(meta.annotations ? { annotations: { ...meta.annotations } } : {}),
      ...(meta.finalizers ? { finalizers: [...meta.finalizers] } : {}),
      ownerReferences: [ref],
    },
    spec: JSON.parse(JSON.stringify(template?.spec ?? { containers: [] })) as NonNullable<Pod['spec']>,
  };
}

// The `endpoints.kubernetes.io/last-change-trigger-time` annotation of EndpointSlices (and
// Endpoints): when the Pod or Service change that caused the write happened, so that a proxy can
// measure network programming latency from the change itself (kube-proxy's
// network_programming_duration, KEP "Network programming latency SLI"). As upstream's
// TriggerTimeTracker (pkg/controller/util/endpoint): per Service, the trigger times seen at its
// last sync; a sync reports the earliest trigger time that changed since — a Pod's Ready condition
// lastTransitionTime, or the Service's creationTimestamp — and, for a Service seen for the first
// time, its creationTimestamp (not the age of the pods it selects). Pure: the caller owns the
// clock, the store and the writes. Timestamps have the API's one-second resolution, as upstream.
import type { Pod, Service } from 'kubernetes-types/core/v1.js';

export const LAST_CHANGE_TRIGGER_TIME = 'endpoints.kubernetes.io/last-change-trigger-time';

interface ServiceState { readonly service: number; readonly pods: ReadonlyMap<string, number> }

const parse = (t: string | undefined): number | undefined => {
  const ms = t ? Date.parse(t) : NaN;
  return Number.isFinite(ms) ? ms : undefined;
};

/** A Pod's trigger time: its Ready condition's last transition (ms since the epoch). */
export function podTriggerTime(pod: Pod): number | undefined {
  return parse(pod.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime);
}

export class TriggerTimeTracker {
  private readonly states = new Map<string, ServiceState>();

  /**
   * The trigger time for a sync of Service `key` with the pods it selects now, or undefined when
   * nothing it tracks changed (the annotation is then left off, as upstream's zero time).
   */
  compute(key: string, service: Service, pods: readonly Pod[]): number | undefined {
    const prev = this.states.get(key);
    const created = parse(service.metadata?.creationTimestamp);
    let min: number | undefined;
    const pods2 = new Map<string, number>();
    for (const p of pods) {
      const t = podTriggerTime(p);
      if (t === undefined) continue;
      pods2.set(p.metadata?.name ?? '', t);
      if (t > (prev?.pods.get(p.metadata?.name ?? '') ?? -Infinity)) min = Math.min(min ?? t, t);
    }
    if (created !== undefined && created > (prev?.service ?? -Infinity)) min = Math.min(min ?? created, created);
    this.states.set(key, { service: created ?? prev?.service ?? -Infinity, pods: pods2 });
    // A Service seen for the first time: the change is its creation.
    return prev === undefined ? created : min;
  }

  /** Forgets a deleted Service. */
  delete(key: string): void { this.states.delete(key); }
}

/** The annotation's value: RFC 3339 in UTC (upstream formats with RFC3339Nano). */
export const formatTriggerTime = (ms: number): string => new Date(ms).toISOString();

/** `obj` with the annotation set to `ms`, or without it when undefined (upstream clears a stale one). */
export function withTriggerTime<T extends { metadata?: { annotations?: Record<string, string> } }>(obj: T, ms: number | undefined): T {
  const annotations = { ...(obj.metadata?.annotations ?? {}) };
  if (ms === undefined) {
    if (!(LAST_CHANGE_TRIGGER_TIME in annotations)) return obj;
    delete annotations[LAST_CHANGE_TRIGGER_TIME];
  } else annotations[LAST_CHANGE_TRIGGER_TIME] = formatTriggerTime(ms);
  const { annotations: _old, ...meta } = obj.metadata ?? {};
  return { ...obj, metadata: Object.keys(annotations).length ? { ...meta, annotations } : meta };
}

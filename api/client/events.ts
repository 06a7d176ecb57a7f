// Events, as `kubectl describe` shows them: one core/v1 Event per (object, reason, message), with
// repeats folded into `count` by a PATCH, as client-go's event correlator does in its simplest
// form. Writes are fire-and-forget and bounded: an event must never slow down or fail the
// component that records it, so when too many are in flight new ones are dropped (and counted).
import type { KubeObject } from '../object.js';
import { resources, type ClusterClient } from './types.js';

export interface EventRecorder {
  event(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

export const nullRecorder: EventRecorder = { event: () => undefined };

const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export class ApiEventRecorder implements EventRecorder {
  private inflight = 0;
  private readonly seen = new Map<string, { name: string; count: number }>();
  dropped = 0;

  constructor(private readonly client: ClusterClient, private readonly component: string, private readonly maxInflight = 16, private readonly now: () => Date = () => new Date()) {}

  event(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    if (this.inflight >= this.maxInflight) { this.dropped++; return; }
    const meta = obj.metadata ?? {};
    const namespace = meta.namespace || 'default';
    const key = `${meta.uid}/${reason}/${message}`;
    const t = rfc3339(this.now());
    const have = this.seen.get(key);
    this.inflight++;
    const done = () => { this.inflight--; };
    if (have) {
      have.count++;
      void this.client.patch(resources.events, namespace, have.name, 'merge', { count: have.count, lastTimestamp: t }).catch(() => this.seen.delete(key)).finally(done);
      return;
    }
    const name = `${meta.name ?? 'object'}.${(this.now().getTime() * 1000 + Math.floor(Math.random() * 1000)).toString(16)}`;
    if (this.seen.size > 4096) this.seen.clear();
    this.seen.set(key, { name, count: 1 });
    void this.client.create(resources.events, namespace, {
      metadata: { name, namespace },
      involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, namespace: meta.namespace, name: meta.name, uid: meta.uid, resourceVersion: meta.resourceVersion },
      reason, message, type, count: 1,
      source: { component: this.component },
      firstTimestamp: t, lastTimestamp: t,
      reportingComponent: this.component, reportingInstance: '',
    }).catch(() => this.seen.delete(key)).finally(done);
  }
}

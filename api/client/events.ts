// Events, as `kubectl describe` shows them: core/v1 Events written the way client-go's event
// recorder writes them. The decisions (which Event object, what count, whether to write at all)
// are event-correlator.ts's, pure; this file only performs them: a first occurrence is a create
// (name `<object>.<hex>`), a repeat a patch of count, lastTimestamp and message (a create again
// when the object is gone).
//
// Writes are fire-and-forget and bounded: an event must never slow down or fail the component
// that records it. At most `maxInflight` requests run at once and `maxQueued` more wait; beyond
// that new events are dropped (and counted). Writes of the same Event are serialized, so a patch
// never overtakes the create it patches. An apiserver that answers with an error gets no retry
// (as upstream: the same request would fail again); one that cannot be reached is tried again a
// few times after a pause.
import type { Event } from 'kubernetes-types/core/v1.js';
import { StatusError } from '../errors.js';
import type { KubeObject } from '../object.js';
import { EventCorrelator, objectReference, type CorrelatorOptions, type CorrelateResult } from './event-correlator.js';
import { isNotFound } from './rest.js';
import { Semaphore } from './semaphore.js';
import { resources, type ClusterClient } from './types.js';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  /** `fieldPath` names a part of the object, e.g. `spec.containers{web}` for a pod's container. */
  event(obj: KubeObject, type: EventType, reason: string, message: string, fieldPath?: string): void;
}

export const nullRecorder: EventRecorder = { event: () => undefined };

export interface RecorderOptions {
  /** source.host (and reportingInstance): the kubelet's node name. */
  host?: string;
  /** Events waiting for a free request slot; 0 (the default): drop when all slots are busy. */
  maxQueued?: number;
  /** Attempts for a write the apiserver never answered; default 3. */
  maxTries?: number;
  /** Pause before the first retry, doubling; default 1 s. */
  retryMs?: number;
  correlator?: Omit<CorrelatorOptions, 'now'>;
}

type Written = Extract<CorrelateResult, { skip: false }>;

export class ApiEventRecorder implements EventRecorder {
  private readonly correlator: EventCorrelator;
  private outstanding = 0;
  private readonly slots: Semaphore;
  /** The last write of each Event (by correlation key), for serializing the next one. */
  private readonly chains = new Map<string, Promise<void>>();
  private idle: (() => void)[] = [];
  dropped = 0;
  /** Events the spam filter held back. */
  filtered = 0;
  /** Writes given up on. */
  failed = 0;

  constructor(
    private readonly client: ClusterClient, private readonly component: string, private readonly maxInflight = 16,
    private readonly now: () => Date = () => new Date(), private readonly opts: RecorderOptions = {},
  ) {
    this.correlator = new EventCorrelator({ ...opts.correlator, now: () => this.now().getTime() });
    this.slots = new Semaphore(maxInflight);
  }

  event(obj: KubeObject, type: EventType, reason: string, message: string, fieldPath?: string): void {
    const source = { component: this.component, ...(this.opts.host ? { host: this.opts.host } : {}) };
    const ev = this.correlator.makeEvent(objectReference(obj, fieldPath), type, reason, message, source);
    ev.reportingComponent = this.component;
    ev.reportingInstance = this.opts.host ?? '';
    const r = this.correlator.correlate(ev);
    if (r.skip) { this.filtered++; return; }
    if (this.outstanding >= this.maxInflight + (this.opts.maxQueued ?? 0)) { this.dropped++; return; }
    this.outstanding++;
    const prev = this.chains.get(r.key) ?? Promise.resolve();
    const next = prev.then(() => this.write(r)).finally(() => {
      if (this.chains.get(r.key) === next) this.chains.delete(r.key);
      if (--this.outstanding === 0) for (const f of this.idle.splice(0)) f();
    });
    this.chains.set(r.key, next);
  }

  /** Resolves once every accepted event is written or given up (tests, orderly shutdown). */
  flush(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise(r => this.idle.push(r));
  }

  private async write(r: Written): Promise<void> {
    const tries = this.opts.maxTries ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        const written = await this.slots.run(() => this.send(r));
        this.correlator.updateState(r.key, written);
        return;
      } catch (err) {
        // The apiserver answered: the same request would be refused again.
        if (err instanceof StatusError || attempt >= tries) { this.failed++; return; }
      }
      const pause = (this.opts.retryMs ?? 1000) * 2 ** (attempt - 1);
      await new Promise(res => setTimeout(res, pause).unref());
    }
  }

  private async send(r: Written): Promise<Event> {
    const meta = r.event.metadata!;
    if (r.patch) {
      try {
        return await this.client.patch<Event & KubeObject>(resources.events, meta.namespace, meta.name!, 'merge', r.patch);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    const { resourceVersion: _rv, ...fresh } = meta;
    return this.client.create<Event & KubeObject>(resources.events, meta.namespace, { ...r.event, metadata: fresh } as Event & KubeObject);
  }
}

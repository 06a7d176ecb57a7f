// The pure core of event recording, after client-go's EventCorrelator (tools/record/events_cache.go):
// a new core/v1 Event goes through
//   1. the aggregator: once 10 events that differ only in their message arrive for the same
//      object, source, type and reason within 10 minutes, further ones become one event
//      "(combined from similar events): <latest message>";
//   2. the logger: an event equal to one seen before (same source, involved object incl. fieldPath,
//      type, reason and message) is the same Event object again, with count + 1 and a new
//      lastTimestamp — written as a patch of the existing object instead of a new one;
//   3. the spam filter: a token bucket per source and involved object (burst 25, one more every
//      5 minutes), so a crash-looping pod cannot flood the apiserver. As upstream, the count in
//      the cache grows even while writes are filtered, so the next write carries the true count.
// All three keep LRU caches of 4096 keys. No I/O and an injected clock: the writer
// (api/client/events.ts) turns a result into a create or a patch.
import type { Event, ObjectReference } from 'kubernetes-types/core/v1.js';

export interface EventSource { component: string; host?: string }

export interface CorrelatorOptions {
  now: () => number;
  maxEntries?: number;
  aggregateMaxEvents?: number;
  aggregateIntervalMs?: number;
  spamBurst?: number;
  /** Tokens per second; upstream 1/300. */
  spamQps?: number;
}

export type CorrelateResult =
  | { skip: true; key: string }
  | { skip: false; key: string; event: Event; patch?: { count: number; lastTimestamp: string; message: string } };

export const aggregatedPrefix = '(combined from similar events): ';

/** metav1.Time: RFC 3339 with whole seconds. */
export function apiTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The object reference of an event, as client-go's GetReference plus a field path. */
export function objectReference(obj: { apiVersion?: string; kind?: string; metadata?: { namespace?: string; name?: string; uid?: string; resourceVersion?: string } }, fieldPath?: string): ObjectReference {
  const m = obj.metadata ?? {};
  const ref: ObjectReference = {};
  if (obj.apiVersion) ref.apiVersion = obj.apiVersion;
  if (obj.kind) ref.kind = obj.kind;
  if (m.namespace) ref.namespace = m.namespace;
  if (m.name) ref.name = m.name;
  if (m.uid) ref.uid = m.uid;
  if (m.resourceVersion) ref.resourceVersion = m.resourceVersion;
  if (fieldPath) ref.fieldPath = fieldPath;
  return ref;
}

const sep = '\u0000';
const refParts = (r: ObjectReference) => [r.kind ?? '', r.namespace ?? '', r.name ?? '', r.uid ?? '', r.apiVersion ?? ''];

/** Upstream's getEventKey: everything that makes two events "the same event". */
export function eventKey(e: Event): string {
  const r = e.involvedObject;
  return [e.source?.component ?? '', e.source?.host ?? '', ...refParts(r), r.fieldPath ?? '', e.type ?? '', e.reason ?? '', e.message ?? ''].join(sep);
}

/** Upstream's EventAggregatorByReasonFunc: the key of similar events (the message left out). */
export function aggregateKey(e: Event): string {
  return [e.source?.component ?? '', e.source?.host ?? '', ...refParts(e.involvedObject), e.type ?? '', e.reason ?? '', e.reportingComponent ?? '', e.reportingInstance ?? ''].join(sep);
}

/** Upstream's getSpamKey: one token bucket per source and involved object (and type). */
export function spamKey(e: Event): string {
  return [e.source?.component ?? '', e.source?.host ?? '', ...refParts(e.involvedObject), e.type ?? ''].join(sep);
}

/** A Map that forgets its least recently used key beyond `max`. */
export class Lru<V> {
  private readonly m = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.m.get(k);
    if (v !== undefined) { this.m.delete(k); this.m.set(k, v); }
    return v;
  }
  set(k: string, v: V): void {
    this.m.delete(k);
    this.m.set(k, v);
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value!);
  }
  get size(): number { return this.m.size; }
}

/**
 * Event names as client-go makes them: `<object name>.<unix nanoseconds in hex>`. Milliseconds
 * are all the clock gives, so a sequence fills the sub-millisecond digits and keeps names unique.
 */
export class EventNamer {
  private last = 0n;
  name(objectName: string, ms: number): string {
    let ns = BigInt(Math.floor(ms)) * 1_000_000n;
    if (ns <= this.last) ns = this.last + 1n;
    this.last = ns;
    return `${objectName}.${ns.toString(16)}`;
  }
}

interface Observation { count: number; firstTimestamp: string; name: string; resourceVersion?: string }
interface Bucket { tokens: number; at: number }

export class EventCorrelator {
  private readonly logs: Lru<Observation>;
  private readonly aggregates: Lru<{ messages: Set<string>; lastMs: number }>;
  private readonly buckets: Lru<Bucket>;
  private readonly namer = new EventNamer();
  private readonly maxEvents: number;
  private readonly intervalMs: number;
  private readonly burst: number;
  private readonly qps: number;

  constructor(private readonly o: CorrelatorOptions) {
    const max = o.maxEntries ?? 4096;
    this.logs = new Lru(max);
    this.aggregates = new Lru(max);
    this.buckets = new Lru(max);
    this.maxEvents = o.aggregateMaxEvents ?? 10;
    this.intervalMs = o.aggregateIntervalMs ?? 600_000;
    this.burst = o.spamBurst ?? 25;
    this.qps = o.spamQps ?? 1 / 300;
  }

  /** A new Event (count 1, fresh name) for `ref`, as client-go's makeEvent. */
  makeEvent(ref: ObjectReference, type: string, reason: string, message: string, source: EventSource): Event {
    const ms = this.o.now();
    const t = apiTime(ms);
    return {
      apiVersion: 'v1', kind: 'Event',
      metadata: { name: this.namer.name(ref.name ?? 'object', ms), namespace: ref.namespace || 'default' },
      involvedObject: ref, reason, message, type, count: 1,
      source: { component: source.component, ...(source.host ? { host: source.host } : {}) },
      firstTimestamp: t, lastTimestamp: t,
    };
  }

  correlate(input: Event): CorrelateResult {
    const { event: aggregated, key } = this.aggregate(input);
    const observed = this.observe(aggregated, key);
    if (!this.allow(observed.event)) return { skip: true, key };
    return { skip: false, key, ...observed };
  }

  /** What the server returned: later patches go to its name and resourceVersion. */
  updateState(key: string, written: Event): void {
    const have = this.logs.get(key);
    if (!have) return;
    have.name = written.metadata?.name ?? have.name;
    if (written.metadata?.resourceVersion) have.resourceVersion = written.metadata.resourceVersion;
  }

  private aggregate(e: Event): { event: Event; key: string } {
    const ms = this.o.now();
    const akey = aggregateKey(e);
    let rec = this.aggregates.get(akey);
    if (!rec || ms - rec.lastMs > this.intervalMs) rec = { messages: new Set(), lastMs: ms };
    rec.messages.add(e.message ?? '');
    rec.lastMs = ms;
    this.aggregates.set(akey, rec);
    if (rec.messages.size < this.maxEvents) return { event: e, key: eventKey(e) };
    // Do not let the set grow past the threshold (upstream pops any one).
    rec.messages.delete(rec.messages.values().next().value!);
    const t = apiTime(ms);
    return {
      key: akey,
      event: {
        apiVersion: 'v1', kind: 'Event',
        metadata: { name: this.namer.name(e.involvedObject.name ?? 'object', ms), namespace: e.metadata?.namespace ?? 'default' },
        involvedObject: e.involvedObject, reason: e.reason ?? '', message: `${aggregatedPrefix}${e.message ?? ''}`,
        type: e.type ?? 'Normal', count: 1, source: e.source ?? {}, firstTimestamp: t, lastTimestamp: t,
      },
    };
  }

  private observe(e: Event, key: string): { event: Event; patch?: { count: number; lastTimestamp: string; message: string } } {
    const last = this.logs.get(key);
    if (!last || last.count <= 0) {
      this.logs.set(key, { count: e.count ?? 1, firstTimestamp: e.firstTimestamp ?? apiTime(this.o.now()), name: e.metadata!.name! });
      return { event: e };
    }
    const count = last.count + 1;
    const event: Event = {
      ...e, count, firstTimestamp: last.firstTimestamp,
      metadata: { ...e.metadata, name: last.name, ...(last.resourceVersion ? { resourceVersion: last.resourceVersion } : {}) },
    };
    this.logs.set(key, { ...last, count });
    return { event, patch: { count, lastTimestamp: event.lastTimestamp!, message: event.message ?? '' } };
  }

  /** A passive token bucket, as flowcontrol's TryAccept. */
  private allow(e: Event): boolean {
    const ms = this.o.now();
    const k = spamKey(e);
    const b = this.buckets.get(k) ?? { tokens: this.burst, at: ms };
    b.tokens = Math.min(this.burst, b.tokens + ((ms - b.at) / 1000) * this.qps);
    b.at = ms;
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    this.buckets.set(k, b);
    return ok;
  }
}

// Change tracking of Services and EndpointSlices, as upstream kube-proxy does it
// (pkg/proxy/servicechangetracker.go, endpointschangetracker.go). Pure: watch handlers feed it,
// the sync loop drains it.
//
// Design notes. Per Service key (`namespace/name`) the tracker keeps the FIRST `previous` state
// seen since the last sync and the LATEST `current` one; when they become equal again (an edit
// and its revert, a create and its delete) the pair is dropped, so a sync touches only Services
// whose state really differs from what was last programmed. EndpointSlices are tracked per
// Service too (a Service's endpoints are the union of its slices): the tracker owns the cache of
// slices by Service, and the pair is the list of that Service's slices before and after. Equality
// is judged on the fields the proxy reads (spec and load-balancer status; slice ports, endpoints
// and address type), not on resourceVersion, so status-only or label-only writes cost nothing.
// Rejected: keeping every event in a queue (a burst of writes to one object would be replayed
// one by one) and diffing full snapshots on each sync (O(all objects) per sync).
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface Change<T> { readonly previous: T | undefined; readonly current: T | undefined }

const svcKey = (s: Service): string => `${s.metadata?.namespace ?? 'default'}/${s.metadata?.name ?? ''}`;

/** What of a Service the proxy programs; two Services with the same fingerprint compile alike. */
const serviceFingerprint = (s: Service): string => JSON.stringify([s.spec ?? null, s.status?.loadBalancer?.ingress ?? null]);

function sameService(a: Service | undefined, b: Service | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false; // one exists, the other not: no need to serialize
  return serviceFingerprint(a) === serviceFingerprint(b);
}

export class ServiceChangeTracker {
  private readonly items = new Map<string, { previous: Service | undefined; current: Service | undefined }>();

  /** Records one watch event: `(undefined, s)` add, `(old, s)` update, `(s, undefined)` delete. Returns whether a change is pending for it. */
  update(previous: Service | undefined, current: Service | undefined): boolean {
    const obj = current ?? previous;
    if (!obj) return false;
    const key = svcKey(obj);
    let item = this.items.get(key);
    if (!item) {
      item = { previous, current };
      this.items.set(key, item);
    }
    item.current = current;
    if (sameService(item.previous, current)) {
      this.items.delete(key);
      return false;
    }
    return true;
  }

  get pending(): number { return this.items.size; }

  /** The pending changes by Service key; the tracker starts empty again. */
  checkout(): Map<string, Change<Service>> {
    const out = new Map<string, Change<Service>>();
    for (const [k, v] of this.items) out.set(k, { previous: v.previous, current: v.current });
    this.items.clear();
    return out;
  }
}

/** The Service key (`namespace/name`) a slice belongs to, if it names one. */
export function sliceServiceKey(s: EndpointSlice): string | undefined {
  const svc = s.metadata?.labels?.[SERVICE_NAME_LABEL];
  return svc ? `${s.metadata?.namespace ?? 'default'}/${svc}` : undefined;
}

const sliceFingerprint = (s: EndpointSlice): string => JSON.stringify([s.metadata?.name ?? '', s.addressType ?? null, s.ports ?? null, s.endpoints ?? null]);

/** Whether two lists of a Service's slices (sorted by name) program alike; cheap when objects are shared. */
function sameSlices(a: readonly EndpointSlice[], b: readonly EndpointSlice[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && sliceFingerprint(a[i]!) !== sliceFingerprint(b[i]!)) return false;
  return true;
}

export class EndpointSliceChangeTracker {
  /** Every known slice, by Service key then slice name. */
  private readonly bySvc = new Map<string, Map<string, EndpointSlice>>();
  private readonly items = new Map<string, { previous: EndpointSlice[] }>();

  /** The current slices of a Service, sorted by name. */
  slicesOf(key: string): EndpointSlice[] {
    const m = this.bySvc.get(key);
    if (!m) return [];
    return [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((e) => e[1]);
  }

  /** Records an added or updated slice (`removed` false) or a deleted one. Returns whether a change is pending for its Service. */
  update(slice: EndpointSlice, removed: boolean): boolean {
    const key = sliceServiceKey(slice);
    if (!key) return false;
    const name = slice.metadata?.name ?? '';
    let item = this.items.get(key);
    if (!item) {
      item = { previous: this.slicesOf(key) };
      this.items.set(key, item);
    }
    let m = this.bySvc.get(key);
    if (removed) {
      m?.delete(name);
      if (m && m.size === 0) this.bySvc.delete(key);
    } else {
      if (!m) this.bySvc.set(key, (m = new Map()));
      m.set(name, slice);
    }
    if (sameSlices(item.previous, this.slicesOf(key))) {
      this.items.delete(key);
      return false;
    }
    return true;
  }

  /** An informer update: a slice may move from one Service to another (its label changed). */
  replace(previous: EndpointSlice | undefined, current: EndpointSlice | undefined): boolean {
    let changed = false;
    if (previous && (!current || sliceServiceKey(previous) !== sliceServiceKey(current))) changed = this.update(previous, true) || changed;
    if (current) changed = this.update(current, false) || changed;
    return changed;
  }

  get pending(): number { return this.items.size; }

  /** The pending changes by Service key: that Service's slices before and now. */
  checkout(): Map<string, Change<EndpointSlice[]>> {
    const out = new Map<string, Change<EndpointSlice[]>>();
    for (const [k, v] of this.items) out.set(k, { previous: v.previous, current: this.slicesOf(k) });
    this.items.clear();
    return out;
  }
}

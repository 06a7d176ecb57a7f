// An in-memory `ClusterClient` for unit tests: a small but faithful store. Every write bumps one
// global resourceVersion; updates with a stale resourceVersion fail with 409 Conflict; the status
// subresource writes only status and the main resource never does; generation follows spec
// changes; deletion honours finalizers (setting deletionTimestamp) and records the propagation
// policy as upstream's `foregroundDeletion`/`orphan` finalizers; watches replay history from a
// resourceVersion and deliver events asynchronously, as a network would. `calls` records each
// write so tests can assert on what a reconciler did.
import { StatusError, errors, field } from '../errors.js';
import { deepCopy, isPlainObject, type KubeObject } from '../object.js';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch } from '../patch/index.js';
import { fieldsMatch, labelsMatch, parseFieldSelector, parseLabelSelector } from '../selectors.js';
import {
  type ObjectLike,
  keyOf,
  type ClusterClient, type DeleteOptions, type ListOptions, type ObjectList, type PatchOptions, type PatchType,
  type ResourceType, type WatchEvent, type WatchHandle, type WatchOptions, type WriteOptions,
} from './types.js';

interface HistoryEntry { rv: number; type: string; event: WatchEvent }
interface Watcher { type: string; namespace: string | undefined; opts: WatchOptions; onEvent: (e: WatchEvent) => void; stopped: boolean; resolve: () => void }

export interface FakeCall { verb: string; resource: string; namespace?: string | undefined; name?: string | undefined; subresource?: string | undefined; body?: unknown }

const typeKey = (t: ResourceType) => `${t.group}/${t.resource}`;

function fieldAttributes(obj: KubeObject): Record<string, string | undefined> {
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  const status = (obj.status ?? {}) as Record<string, unknown>;
  return {
    'metadata.name': obj.metadata?.name, 'metadata.namespace': obj.metadata?.namespace ?? '',
    'spec.nodeName': (spec.nodeName as string | undefined) ?? '', 'status.phase': (status.phase as string | undefined) ?? '',
    'spec.schedulerName': (spec.schedulerName as string | undefined) ?? '',
  };
}

export class FakeClusterClient implements ClusterClient {
  private rv = 1;
  private uid = 0;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly history: HistoryEntry[] = [];
  private readonly watchers = new Set<Watcher>();
  readonly calls: FakeCall[] = [];
  /** Errors to throw on the next matching call: `${verb} ${resource}` → error. */
  readonly failNext = new Map<string, StatusError>();
  now: () => Date = () => new Date();

  private bucket(t: ResourceType): Map<string, KubeObject> {
    let b = this.objects.get(typeKey(t));
    if (!b) this.objects.set(typeKey(t), b = new Map());
    return b;
  }

  private check(verb: string, t: ResourceType): void {
    const err = this.failNext.get(`${verb} ${t.resource}`);
    if (err) { this.failNext.delete(`${verb} ${t.resource}`); throw err; }
  }

  private emit(t: ResourceType, type: WatchEvent['type'], obj: KubeObject): void {
    const entry: HistoryEntry = { rv: this.rv, type: typeKey(t), event: { type, object: deepCopy(obj) } };
    this.history.push(entry);
    for (const w of this.watchers) this.deliver(w, entry);
  }

  private matches(w: { namespace: string | undefined; opts: { labelSelector?: string; fieldSelector?: string } }, obj: KubeObject): boolean {
    if (w.namespace && obj.metadata?.namespace !== w.namespace) return false;
    if (w.opts.labelSelector && !labelsMatch(parseLabelSelector(w.opts.labelSelector), obj.metadata?.labels)) return false;
    if (w.opts.fieldSelector && !fieldsMatch(parseFieldSelector(w.opts.fieldSelector), fieldAttributes(obj))) return false;
    return true;
  }

  private deliver(w: Watcher, entry: HistoryEntry): void {
    if (w.type !== entry.type || !this.matches(w, entry.event.object)) return;
    const ev = deepCopy(entry.event);
    queueMicrotask(() => { if (!w.stopped) w.onEvent(ev); });
  }

  /** Direct access for test set-up and assertions (a copy). */
  peek<T extends ObjectLike = KubeObject>(t: ResourceType, namespace: string | undefined, name: string): T | undefined {
    const o = this.bucket(t).get(namespace && t.namespaced ? `${namespace}/${name}` : name);
    return o ? deepCopy(o) as unknown as T : undefined;
  }

  all<T extends ObjectLike = KubeObject>(t: ResourceType, namespace?: string): T[] {
    return [...this.bucket(t).values()].filter(o => !namespace || o.metadata?.namespace === namespace).map(o => deepCopy(o) as unknown as T);
  }

  /** Drops history up to now, so watches from an older resourceVersion get 410 Gone. */
  compact(): void { this.history.length = 0; this.compactedAt = this.rv; }
  private compactedAt = 0;

  get resourceVersion(): string { return String(this.rv); }

  async get<T extends ObjectLike>(t: ResourceType, namespace: string | undefined, name: string): Promise<T> {
    this.check('get', t);
    const o = this.peek<T>(t, namespace, name);
    if (!o) throw errors.notFound(t.resource, t.group, name);
    return o;
  }

  /** Only `scale`, computed as the registry's scale mapping does for the apps kinds. */
  async getSubresource<T>(t: ResourceType, namespace: string | undefined, name: string, subresource: string): Promise<T> {
    this.check(`get/${subresource}`, t);
    const o = this.peek<KubeObject>(t, namespace, name);
    if (!o) throw errors.notFound(t.resource, t.group, name);
    if (subresource !== 'scale') throw new Error(`FakeClusterClient: GET ${t.resource}/${subresource} is not faked`);
    const spec = (o.spec ?? {}) as { replicas?: number; selector?: { matchLabels?: Record<string, string> } };
    const status = (o.status ?? {}) as { replicas?: number };
    const selector = Object.entries(spec.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
    return { kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name, namespace }, spec: { replicas: spec.replicas ?? 1 }, status: { replicas: status.replicas ?? 0, selector } } as T;
  }

  async list<T extends ObjectLike>(t: ResourceType, namespace: string | undefined, opts: ListOptions = {}): Promise<ObjectList<T>> {
    this.check('list', t);
    const items = this.all<T>(t, namespace).filter(o => this.matches({ namespace, opts }, o as unknown as KubeObject));
    return { metadata: { resourceVersion: String(this.rv) }, items };
  }

  watch<T extends ObjectLike>(t: ResourceType, namespace: string | undefined, opts: WatchOptions, onEvent: (e: WatchEvent<T>) => void): WatchHandle {
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
    const w: Watcher = { type: typeKey(t), namespace, opts, onEvent: onEvent as unknown as (e: WatchEvent) => void, stopped: false, resolve };
    const from = opts.resourceVersion ? Number(opts.resourceVersion) : 0;
    if (from && from < this.compactedAt) {
      queueMicrotask(() => reject(new StatusError(410, 'Expired', `too old resource version: ${from} (${this.compactedAt})`)));
      return { stop: () => undefined, done };
    }
    if (!from) {
      for (const o of this.all(t, namespace)) if (this.matches(w, o)) queueMicrotask(() => { if (!w.stopped) w.onEvent({ type: 'ADDED', object: o }); });
    } else {
      for (const e of this.history) if (e.rv > from) this.deliver(w, e);
    }
    this.watchers.add(w);
    return { stop: () => { if (!w.stopped) { w.stopped = true; this.watchers.delete(w); queueMicrotask(resolve); } }, done };
  }

  /** Ends every open watch cleanly, as a server-side timeout would. */
  closeWatches(): void {
    for (const w of [...this.watchers]) { w.stopped = true; this.watchers.delete(w); w.resolve(); }
  }

  get openWatches(): number { return this.watchers.size; }

  async create<T extends ObjectLike>(t: ResourceType, namespace: string | undefined, obj: T, opts: WriteOptions = {}): Promise<T> {
    this.check('create', t);
    const o = deepCopy(obj) as unknown as KubeObject;
    const meta = o.metadata ??= {};
    if (t.namespaced) meta.namespace = namespace ?? meta.namespace ?? 'default';
    if (!meta.name && meta.generateName) meta.name = meta.generateName + (++this.uid).toString(36).padStart(5, '0');
    if (!meta.name) throw errors.invalid(t.kind, t.group, '', [field.required('metadata.name', 'name or generateName is required')]);
    const key = keyOf(o);
    if (this.bucket(t).has(key)) throw errors.alreadyExists(t.resource, t.group, meta.name);
    this.calls.push({ verb: 'create', resource: t.resource, namespace: meta.namespace, name: meta.name, body: deepCopy(o) });
    if (opts.dryRun) return o as unknown as T;
    o.apiVersion = t.group ? `${t.group}/${t.version}` : t.version;
    o.kind = t.kind;
    meta.uid = `uid-${++this.uid}`;
    meta.resourceVersion = String(++this.rv);
    meta.creationTimestamp = this.now().toISOString().replace(/\.\d{3}Z$/, 'Z');
    if (o.spec !== undefined) meta.generation = 1;
    delete meta.deletionTimestamp;
    this.bucket(t).set(key, o);
    this.emit(t, 'ADDED', o);
    return deepCopy(o) as unknown as T;
  }

  private write(t: ResourceType, current: KubeObject, next: KubeObject, subresource: string | undefined): KubeObject {
    const o = deepCopy(next);
    const meta = (o.metadata ??= {}) as Record<string, unknown>;
    const cur = (current.metadata ?? {}) as Record<string, unknown>;
    // System fields are the server's.
    for (const f of ['uid', 'creationTimestamp', 'name', 'deletionTimestamp', 'generation', ...(t.namespaced ? ['namespace'] : [])]) {
      if (cur[f] === undefined) delete meta[f]; else meta[f] = cur[f];
    }
    if (subresource === 'status') {
      const kept = deepCopy(current);
      kept.status = o.status;
      return this.commit(t, current, kept);
    }
    if (current.status !== undefined || 'status' in o) o.status = current.status;
    if (o.status === undefined) delete o.status;
    if (JSON.stringify(o.spec) !== JSON.stringify(current.spec) && typeof meta.generation === 'number') meta.generation = meta.generation + 1;
    return this.commit(t, current, o);
  }

  private commit(t: ResourceType, current: KubeObject, o: KubeObject): KubeObject {
    const meta = o.metadata!;
    if (JSON.stringify({ ...o, metadata: { ...meta, resourceVersion: '' } }) === JSON.stringify({ ...current, metadata: { ...current.metadata, resourceVersion: '' } })) return deepCopy(current);
    const key = keyOf(o);
    if (meta.deletionTimestamp && !(meta.finalizers ?? []).length) {
      meta.resourceVersion = String(++this.rv);
      this.bucket(t).delete(key);
      this.emit(t, 'DELETED', o);
      return deepCopy(o);
    }
    meta.resourceVersion = String(++this.rv);
    this.bucket(t).set(key, o);
    this.emit(t, 'MODIFIED', o);
    return deepCopy(o);
  }

  async update<T extends ObjectLike>(t: ResourceType, obj: T, opts: WriteOptions & { subresource?: string } = {}): Promise<T> {
    this.check('update', t);
    const name = obj.metadata?.name ?? '';
    const current = this.bucket(t).get(keyOf(obj));
    if (!current) throw errors.notFound(t.resource, t.group, name);
    const rv = obj.metadata?.resourceVersion;
    if (rv && rv !== current.metadata?.resourceVersion) throw errors.conflict(t.resource, t.group, name, 'the object has been modified; please apply your changes to the latest version and try again');
    this.calls.push({ verb: 'update', resource: t.resource, namespace: obj.metadata?.namespace, name, subresource: opts.subresource, body: deepCopy(obj) });
    if (opts.dryRun) return obj;
    return this.write(t, current, obj as unknown as KubeObject, opts.subresource) as unknown as T;
  }

  async patch<T extends ObjectLike>(t: ResourceType, namespace: string | undefined, name: string, patchType: PatchType, patch: unknown, opts: PatchOptions = {}): Promise<T> {
    this.check('patch', t);
    const current = this.bucket(t).get(namespace && t.namespaced ? `${namespace}/${name}` : name);
    if (!current) throw errors.notFound(t.resource, t.group, name);
    const p = typeof patch === 'string' ? JSON.parse(patch) as unknown : patch;
    let next: KubeObject;
    switch (patchType) {
      case 'json': next = applyJsonPatch(current, p); break;
      case 'strategic': next = applyStrategicMergePatch(current, p, undefined, undefined); break;
      default: next = applyMergePatch(current, p); break;
    }
    const rv = isPlainObject(p) && isPlainObject(p.metadata) ? p.metadata.resourceVersion : undefined;
    if (typeof rv === 'string' && rv !== current.metadata?.resourceVersion) throw errors.conflict(t.resource, t.group, name, 'the object has been modified; please apply your changes to the latest version and try again');
    next.metadata = { ...next.metadata, resourceVersion: current.metadata?.resourceVersion ?? '' };
    this.calls.push({ verb: 'patch', resource: t.resource, namespace, name, subresource: opts.subresource, body: p });
    if (opts.dryRun) return next as unknown as T;
    return this.write(t, current, next, opts.subresource) as unknown as T;
  }

  async delete(t: ResourceType, namespace: string | undefined, name: string, opts: DeleteOptions = {}): Promise<KubeObject | undefined> {
    this.check('delete', t);
    const key = namespace && t.namespaced ? `${namespace}/${name}` : name;
    const current = this.bucket(t).get(key);
    if (!current) throw errors.notFound(t.resource, t.group, name);
    if (opts.preconditions?.uid && opts.preconditions.uid !== current.metadata?.uid) throw errors.conflict(t.resource, t.group, name, `Precondition failed: UID in precondition: ${opts.preconditions.uid}, UID in object meta: ${current.metadata?.uid}`);
    this.calls.push({ verb: 'delete', resource: t.resource, namespace, name, body: opts });
    const o = deepCopy(current);
    const meta = o.metadata!;
    const finalizers = [...(meta.finalizers ?? [])];
    if (opts.propagationPolicy === 'Foreground' && !finalizers.includes('foregroundDeletion')) finalizers.push('foregroundDeletion');
    if (opts.propagationPolicy === 'Orphan' && !finalizers.includes('orphan')) finalizers.push('orphan');
    if (finalizers.length) {
      if (meta.deletionTimestamp && finalizers.length === (meta.finalizers ?? []).length) return deepCopy(current);
      meta.finalizers = finalizers;
      meta.deletionTimestamp ??= this.now().toISOString().replace(/\.\d{3}Z$/, 'Z');
      meta.deletionGracePeriodSeconds ??= 0;
      return this.commit(t, current, o);
    }
    meta.resourceVersion = String(++this.rv);
    this.bucket(t).delete(key);
    this.emit(t, 'DELETED', o);
    return undefined;
  }

  async createSubresource(t: ResourceType, namespace: string | undefined, name: string, subresource: string, body: unknown): Promise<unknown> {
    this.check(`create/${subresource}`, t);
    const current = this.bucket(t).get(namespace ? `${namespace}/${name}` : name);
    if (!current) throw errors.notFound(t.resource, t.group, name);
    this.calls.push({ verb: 'create', resource: t.resource, namespace, name, subresource, body });
    if (t.resource === 'pods' && subresource === 'binding') {
      const target = (body as { target?: { name?: string } }).target;
      const spec = (current.spec ?? {}) as Record<string, unknown>;
      if (spec.nodeName) throw errors.conflict('pods', '', name, `pod ${name} is already assigned to node "${String(spec.nodeName)}"`);
      const o = deepCopy(current);
      (o.spec as Record<string, unknown>).nodeName = target?.name;
      const status = (o.status ??= {}) as { conditions?: { type: string; status: string }[] };
      status.conditions = [...(status.conditions ?? []).filter(c => c.type !== 'PodScheduled'), { type: 'PodScheduled', status: 'True' }];
      this.commit(t, current, o);
      return { kind: 'Status', status: 'Success', code: 201 };
    }
    throw errors.notFoundPath(`${t.resource}/${subresource}`);
  }

  /** Writes calls since the given index as short strings: `create pods`, `update deployments/status`. */
  verbs(since = 0): string[] {
    return this.calls.slice(since).map(c => `${c.verb} ${c.resource}${c.subresource ? `/${c.subresource}` : ''}`);
  }
}

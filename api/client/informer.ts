// An informer: list, then watch from the list's resourceVersion with bookmarks, keeping an indexed
// cache and calling add/update/delete handlers. A 410 Gone (on the watch request or as an ERROR
// event) means our resourceVersion was compacted away: re-list and diff the new list against the
// cache so handlers see exactly the changes they missed. Other failures reconnect with exponential
// back-off from the last resourceVersion seen. Like client-go's reflector + DeltaFIFO + indexer,
// minus the FIFO: handlers run synchronously in event order, which is what level-triggered
// controllers (which only enqueue keys) need.
import { StatusError } from '../errors.js';
import type { KubeObject } from '../object.js';
import { keyOf, type ObjectLike, type ClusterClient, type ResourceType, type WatchEvent, type WatchHandle } from './types.js';

export type IndexFunc<T> = (obj: T) => string[];

export interface InformerOptions<T> {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  indexers?: Record<string, IndexFunc<T>>;
  /** Back-off bounds for reconnecting after an error (ms). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Page size for the initial list. */
  pageSize?: number;
  onError?: (err: unknown) => void;
}

export interface InformerHandlers<T> {
  add?: (obj: T) => void;
  update?: (oldObj: T, newObj: T) => void;
  delete?: (obj: T) => void;
}

export class Informer<T extends ObjectLike = KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly indices = new Map<string, Map<string, Set<string>>>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private resourceVersion = '';
  private watchHandle: WatchHandle | undefined;
  private stopped = true;
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private backoffMs: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Counters for tests and metrics. */
  readonly stats = { lists: 0, watches: 0, errors: 0 };

  constructor(private readonly client: ClusterClient, readonly type: ResourceType, private readonly opts: InformerOptions<T> = {}) {
    this.backoffMs = opts.minBackoffMs ?? 200;
    for (const name of Object.keys(opts.indexers ?? {})) this.indices.set(name, new Map());
  }

  on(handlers: InformerHandlers<T>): this {
    this.handlers.push(handlers);
    // Late subscribers see the current cache as adds, as client-go does.
    if (this.synced && handlers.add) for (const obj of this.cache.values()) handlers.add(obj);
    return this;
  }

  get hasSynced(): boolean { return this.synced; }
  get lastResourceVersion(): string { return this.resourceVersion; }

  /** Starts the loop; resolves once the first list is in the cache. */
  start(): Promise<void> {
    if (this.stopped) {
      this.stopped = false;
      void this.relist();
    }
    return this.waitForSync();
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise(resolve => this.syncWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.watchHandle?.stop();
    this.watchHandle = undefined;
  }

  get(key: string): T | undefined { return this.cache.get(key); }
  getBy(namespace: string | undefined, name: string): T | undefined { return this.cache.get(namespace ? `${namespace}/${name}` : name); }
  list(): T[] { return [...this.cache.values()]; }
  keys(): string[] { return [...this.cache.keys()]; }
  get size(): number { return this.cache.size; }

  byIndex(index: string, value: string): T[] {
    const keys = this.indices.get(index)?.get(value);
    if (!keys) return [];
    const out: T[] = [];
    for (const k of keys) { const o = this.cache.get(k); if (o) out.push(o); }
    return out;
  }

  private index(key: string, obj: T | undefined, old: T | undefined): void {
    for (const [name, fn] of Object.entries(this.opts.indexers ?? {})) {
      const idx = this.indices.get(name)!;
      if (old) for (const v of fn(old)) { const s = idx.get(v); s?.delete(key); if (s && s.size === 0) idx.delete(v); }
      if (obj) for (const v of fn(obj)) { let s = idx.get(v); if (!s) idx.set(v, s = new Set()); s.add(key); }
    }
  }

  private upsert(obj: T): void {
    const key = keyOf(obj);
    const old = this.cache.get(key);
    this.cache.set(key, obj);
    this.index(key, obj, old);
    if (old) { for (const h of this.handlers) h.update?.(old, obj); } else { for (const h of this.handlers) h.add?.(obj); }
  }

  private remove(obj: T): void {
    const key = keyOf(obj);
    const old = this.cache.get(key);
    this.cache.delete(key);
    this.index(key, undefined, old);
    for (const h of this.handlers) h.delete?.(old ?? obj);
  }

  private fail(err: unknown): void {
    this.stats.errors++;
    this.opts.onError?.(err);
  }

  private schedule(fn: () => void, delay: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = undefined; if (!this.stopped) fn(); }, delay);
  }

  private backoff(fn: () => void): void {
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs ?? 30_000);
    this.schedule(fn, delay * (0.8 + Math.random() * 0.4));
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    this.stats.lists++;
    const fresh = new Map<string, T>();
    let rv = '';
    try {
      let cont: string | undefined;
      do {
        const page = await this.client.list<T>(this.type, this.opts.namespace, {
          ...(this.opts.labelSelector ? { labelSelector: this.opts.labelSelector } : {}),
          ...(this.opts.fieldSelector ? { fieldSelector: this.opts.fieldSelector } : {}),
          limit: this.opts.pageSize ?? 500,
          ...(cont ? { continue: cont } : {}),
        });
        for (const item of page.items) fresh.set(keyOf(item), item);
        rv = page.metadata.resourceVersion ?? rv;
        cont = page.metadata.continue || undefined;
      } while (cont);
    } catch (err) {
      this.fail(err);
      this.backoff(() => void this.relist());
      return;
    }
    if (this.stopped) return;
    // Replace: deletes for what vanished, adds/updates for the rest.
    for (const [key, old] of [...this.cache]) if (!fresh.has(key)) this.remove(old);
    for (const [key, obj] of fresh) {
      const old = this.cache.get(key);
      if (!old || old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.upsert(obj);
    }
    this.resourceVersion = rv;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    this.startWatch();
  }

  private startWatch(): void {
    if (this.stopped) return;
    this.stats.watches++;
    let gone = false;
    let errored = false;
    const handle = this.client.watch<T>(this.type, this.opts.namespace, {
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: true,
      // A server-side timeout makes the stream end now and then, which also proves it alive.
      timeoutSeconds: 300 + Math.floor(Math.random() * 300),
      ...(this.opts.labelSelector ? { labelSelector: this.opts.labelSelector } : {}),
      ...(this.opts.fieldSelector ? { fieldSelector: this.opts.fieldSelector } : {}),
    }, (ev: WatchEvent<T>) => {
      if (this.stopped || gone) return;
      switch (ev.type) {
        case 'ADDED': case 'MODIFIED': this.upsert(ev.object); break;
        case 'DELETED': this.remove(ev.object); break;
        case 'BOOKMARK': break;
        case 'ERROR': {
          const status = ev.object as unknown as { code?: number };
          if (status.code === 410) gone = true;
          else { errored = true; this.fail(new StatusError(status.code ?? 500, 'InternalError', `watch error: ${JSON.stringify(ev.object)}`)); }
          handle.stop();
          return;
        }
      }
      const rv = ev.object.metadata?.resourceVersion;
      if (rv) this.resourceVersion = rv;
      this.backoffMs = this.opts.minBackoffMs ?? 200;
    });
    this.watchHandle = handle;
    handle.done.then(
      () => {
        if (this.stopped || this.watchHandle !== handle) return;
        if (gone) this.schedule(() => void this.relist(), 0);
        else if (errored) this.backoff(() => this.startWatch());
        else this.schedule(() => this.startWatch(), 0);
      },
      err => {
        if (this.stopped || this.watchHandle !== handle) return;
        if (err instanceof StatusError && err.code === 410) { this.schedule(() => void this.relist(), 0); return; }
        this.fail(err);
        this.backoff(() => this.startWatch());
      },
    );
  }
}

/** Index pods (or anything) by namespace; the most common indexer. */
export const namespaceIndex = <T extends ObjectLike>(obj: T): string[] => [obj.metadata?.namespace ?? ''];

// The controller runtime: a rate-limited work queue of keys (namespace/name) and a `Controller`
// that drains it with bounded concurrency into `sync(key)`. As client-go's workqueue: a key is
// queued at most once (dedupe), never processed by two workers at once (a key added while it is
// being processed is re-queued when that sync ends), and a failing key comes back after an
// exponential per-item delay (5 ms doubling to 1000 s upstream; we cap lower) that resets on
// success. Syncs are level-triggered: handlers only enqueue keys, every sync recomputes from the
// informer caches, and a periodic resync re-queues every key to repair anything missed.
import type { MutableObjectMeta } from '../../api/object.js';
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import { keyOf, type ObjectLike } from '../../api/client/types.js';
import type { InformerHandlers } from '../../api/client/informer.js';

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: h => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface QueueOptions { baseDelayMs?: number; maxDelayMs?: number; clock?: Clock; /** The queue's name in metrics (the controller's). */ name?: string }

/**
 * The metrics of one named queue, as client-go's workqueue reports them (`workqueue_depth`,
 * `workqueue_adds_total`, `workqueue_retries_total`, `workqueue_work_duration_seconds`).
 */
export interface WorkqueueMetrics {
  added(): void;
  depth(n: number): void;
  retried(): void;
  worked(seconds: number): void;
}

/**
 * As client-go's `workqueue.SetProvider`: one provider per process, set by the component that
 * serves /metrics before its controllers start; until then queues report to nothing. Process-wide
 * because every controller builds its own queue and none of them should carry a registry around.
 */
export interface WorkqueueMetricsProvider { forQueue(name: string): WorkqueueMetrics }
const noMetrics: WorkqueueMetrics = { added() {}, depth() {}, retried() {}, worked() {} };
let metricsProvider: WorkqueueMetricsProvider = { forQueue: () => noMetrics };
export function setWorkqueueMetricsProvider(p: WorkqueueMetricsProvider): void { metricsProvider = p; }

export class WorkQueue {
  private readonly queue: string[] = [];
  private head = 0;
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; handle: unknown }>();
  private waiters: (() => void)[] = [];
  private shuttingDown = false;
  private readonly clock: Clock;
  readonly metrics: WorkqueueMetrics;

  constructor(private readonly opts: QueueOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.metrics = metricsProvider.forQueue(opts.name ?? 'unnamed');
  }

  get length(): number { return this.queue.length - this.head; }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.metrics.added();
    if (this.processing.has(key)) return; // re-queued by done()
    this.queue.push(key);
    this.metrics.depth(this.length);
    const w = this.waiters.shift();
    w?.();
  }

  /** Adds the key after `ms`; an earlier pending add for the key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) { this.add(key); return; }
    const at = this.clock.now() + ms;
    const have = this.delayed.get(key);
    if (have && have.at <= at) return;
    if (have) this.clock.clearTimeout(have.handle);
    const handle = this.clock.setTimeout(() => { this.delayed.delete(key); this.add(key); }, ms);
    this.delayed.set(key, { at, handle });
  }

  /** Re-queues a key after its per-item exponential back-off. */
  addRateLimited(key: string): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.metrics.retried();
    const delay = Math.min((this.opts.baseDelayMs ?? 5) * 2 ** n, this.opts.maxDelayMs ?? 300_000);
    this.addAfter(key, delay);
  }

  numRequeues(key: string): number { return this.failures.get(key) ?? 0; }
  forget(key: string): void { this.failures.delete(key); }

  /** The next key, or undefined once shut down. */
  async get(): Promise<string | undefined> {
    while (this.length === 0) {
      if (this.shuttingDown) return undefined;
      await new Promise<void>(r => this.waiters.push(r));
    }
    const key = this.queue[this.head++]!;
    if (this.head > 1024 && this.head * 2 > this.queue.length) { this.queue.splice(0, this.head); this.head = 0; }
    this.dirty.delete(key);
    this.processing.add(key);
    this.metrics.depth(this.length);
    return key;
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.queue.push(key);
      this.metrics.depth(this.length);
      this.waiters.shift()?.();
    }
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const d of this.delayed.values()) this.clock.clearTimeout(d.handle);
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w();
  }

  get isShuttingDown(): boolean { return this.shuttingDown; }
}

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined };

export interface ControllerOptions extends QueueOptions {
  name: string;
  workers?: number;
  /** Period of the full resync; 0 disables it. */
  resyncMs?: number;
  /** Keys to re-queue on resync. */
  resyncKeys?: () => string[];
  logger?: Logger;
}

/** Drains a queue into `sync(key)`; errors re-queue the key with back-off and are logged. */
export class Controller {
  readonly queue: WorkQueue;
  private running: Promise<void>[] = [];
  private resyncTimer: unknown;
  private readonly clock: Clock;
  readonly stats = { syncs: 0, errors: 0 };

  constructor(readonly opts: ControllerOptions, private readonly syncFn: (key: string) => Promise<void>) {
    this.queue = new WorkQueue(opts);
    this.clock = opts.clock ?? realClock;
  }

  enqueue(key: string): void { this.queue.add(key); }
  enqueueObject(obj: ObjectLike): void { this.queue.add(keyOf(obj)); }
  enqueueAfter(key: string, ms: number): void { this.queue.addAfter(key, ms); }

  start(): void {
    for (let i = 0; i < (this.opts.workers ?? 2); i++) this.running.push(this.worker());
    this.scheduleResync();
  }

  private scheduleResync(): void {
    const every = this.opts.resyncMs ?? 0;
    if (!every || !this.opts.resyncKeys) return;
    this.resyncTimer = this.clock.setTimeout(() => {
      if (this.queue.isShuttingDown) return;
      for (const k of this.opts.resyncKeys!()) this.queue.add(k);
      this.scheduleResync();
    }, every);
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const t0 = performance.now();
      try {
        this.stats.syncs++;
        await this.syncFn(key);
        this.queue.forget(key);
      } catch (err) {
        this.stats.errors++;
        // Optimistic-concurrency conflicts are routine (our cache was a step behind): retry quietly.
        const conflict = (err as { code?: number }).code === 409;
        if (conflict) this.opts.logger?.debug?.({ controller: this.opts.name, key }, `${this.opts.name}: conflict on "${key}", retrying`);
        else this.opts.logger?.warn({ err, controller: this.opts.name, key, requeues: this.queue.numRequeues(key) }, `${this.opts.name}: sync of "${key}" failed: ${(err as Error).message}`);
        this.queue.addRateLimited(key);
      } finally {
        this.queue.metrics.worked((performance.now() - t0) / 1000);
        this.queue.done(key);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.resyncTimer !== undefined) this.clock.clearTimeout(this.resyncTimer);
    this.queue.shutDown();
    await Promise.all(this.running);
    this.running = [];
  }
}

// ---- ownerReferences -------------------------------------------------------------------------

/** The owner reference with `controller: true`, if any. */
export function controllerRef(obj: ObjectLike): OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find(r => r.controller === true);
}

export function newControllerRef(owner: ObjectLike, apiVersion: string, kind: string): OwnerReference {
  return { apiVersion, kind, name: owner.metadata?.name ?? '', uid: owner.metadata?.uid ?? '', controller: true, blockOwnerDeletion: true };
}

/** True when `obj` is controlled by the object with this uid. */
export function isControlledBy(obj: ObjectLike, ownerUid: string | undefined): boolean {
  return ownerUid !== undefined && controllerRef(obj)?.uid === ownerUid;
}

/**
 * The metadata patch that adopts an orphan: adds our controller reference, with the object's uid
 * and resourceVersion as preconditions so we never adopt something that changed under us.
 */
export function adoptPatch(obj: ObjectLike, ref: OwnerReference): { metadata: Partial<MutableObjectMeta> } {
  const refs = [...(obj.metadata?.ownerReferences ?? []).filter(r => r.uid !== ref.uid), ref];
  return { metadata: { ownerReferences: refs, uid: obj.metadata?.uid ?? '', resourceVersion: obj.metadata?.resourceVersion ?? '' } };
}

/** The metadata patch that releases an object we control but no longer select. */
export function releasePatch(obj: ObjectLike, ownerUid: string): { metadata: Partial<MutableObjectMeta> } {
  const refs = (obj.metadata?.ownerReferences ?? []).filter(r => r.uid !== ownerUid);
  return { metadata: { ownerReferences: refs, uid: obj.metadata?.uid ?? '', resourceVersion: obj.metadata?.resourceVersion ?? '' } };
}

const expectationTimeoutMs = 5 * 60_000;

/**
 * Outstanding creates/deletes per owner key, as upstream's ControllerExpectations: an owner whose
 * own creates/deletes are not all seen in the informer yet is not synced again (its cache would
 * make it act twice); after 5 min they expire, so a lost event never wedges an owner.
 */
export class Expectations {
  private readonly m = new Map<string, { add: number; del: number; at: number }>();
  constructor(private readonly now: () => number) {}
  expect(key: string, add: number, del: number): void { this.m.set(key, { add, del, at: this.now() }); }
  observed(key: string, kind: 'add' | 'del'): void { const e = this.m.get(key); if (e) e[kind]--; }
  satisfied(key: string): boolean {
    const e = this.m.get(key);
    return !e || (e.add <= 0 && e.del <= 0) || this.now() - e.at > expectationTimeoutMs;
  }
  forget(key: string): void { this.m.delete(key); }
}

export interface WatchControlledOptions<T extends ObjectLike> {
  /** The owner kind whose controller references count (ReplicaSet, Job, DaemonSet…). */
  kind: string;
  controller: Controller;
  expectations: Expectations;
  /** The owner by key, from its informer. */
  owner: (key: string) => ObjectLike | undefined;
  /** An object without a controller reference: the owners that could adopt it. */
  onOrphan?: (obj: T) => void;
}

/**
 * Wires the informer of what an owner kind creates (pods) to its controller, as upstream's
 * add/update/deletePod handlers: an object whose controller reference names a live owner of
 * `kind` (same uid, so a recreated owner of the same name is not confused with the old one)
 * enqueues that owner, and its creation or deletion counts toward the owner's expectations; an
 * update that moves the controller reference enqueues the old owner too.
 */
export function watchControlled<T extends ObjectLike>(informer: { on(h: InformerHandlers<T>): unknown }, o: WatchControlledOptions<T>): void {
  const handle = (obj: T, event?: 'add' | 'del') => {
    const ref = controllerRef(obj);
    if (!ref) { o.onOrphan?.(obj); return; }
    if (ref.kind !== o.kind) return;
    const key = `${obj.metadata?.namespace}/${ref.name}`;
    if (o.owner(key)?.metadata?.uid !== ref.uid) return;
    if (event) o.expectations.observed(key, event);
    o.controller.enqueue(key);
  };
  informer.on({
    add: obj => handle(obj, 'add'),
    update: (old, obj) => { handle(obj); if (controllerRef(old)?.uid !== controllerRef(obj)?.uid) handle(old); },
    delete: obj => handle(obj, 'del'),
  });
}

/**
 * The owner side of `watchControlled`: an owner added or changed is synced; a deleted one's
 * expectations are dropped (its key syncs no more).
 */
export function watchOwners<T extends ObjectLike>(informer: { on(h: InformerHandlers<T>): unknown }, controller: { enqueueObject(o: T): void }, expectations: { forget(key: string): void }): void {
  informer.on({
    add: obj => controller.enqueueObject(obj),
    update: (_, obj) => controller.enqueueObject(obj),
    delete: obj => expectations.forget(keyOf(obj)),
  });
}

/** Sorts objects the way upstream's ReplicaSet controller picks pods to delete (first = delete first). */
export function byCreation<T extends ObjectLike>(a: T, b: T): number {
  const ta = a.metadata?.creationTimestamp ?? '';
  const tb = b.metadata?.creationTimestamp ?? '';
  return ta < tb ? -1 : ta > tb ? 1 : (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');
}

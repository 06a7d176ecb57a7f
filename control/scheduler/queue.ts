// The scheduling queue, as upstream's PriorityQueue in three parts: `active` (a heap by priority,
// then by when the pod was first queued), `backoff` (pods that failed, waiting 1 s doubling to
// 10 s per attempt) and `unschedulable` (pods nothing fits; they wait for a cluster event that
// might help — a node added or changed, a pod deleted — or at most 5 minutes). Pure: the clock is
// injected and nothing here performs I/O.
import type { PodInfo } from './nodeinfo.js';

export interface QueuedPod {
  info: PodInfo;
  attempts: number;
  firstQueued: number;
  queuedAt: number;
  backoffUntil: number;
  seq: number;
}

export interface QueueOptions {
  now?: () => number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  maxUnschedulableMs?: number;
}

class Heap<T> {
  private readonly a: T[] = [];
  constructor(private readonly less: (x: T, y: T) => boolean) {}
  get size(): number { return this.a.length; }
  peek(): T | undefined { return this.a[0]; }
  push(v: T): void {
    const a = this.a; a.push(v);
    let i = a.length - 1;
    while (i > 0) { const p = (i - 1) >> 1; if (!this.less(a[i]!, a[p]!)) break; [a[i], a[p]] = [a[p]!, a[i]!]; i = p; }
  }
  pop(): T | undefined {
    const a = this.a; if (a.length === 0) return undefined;
    const top = a[0]!; const last = a.pop()!;
    if (a.length) {
      a[0] = last; let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1; let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
        if (m === i) break; [a[i], a[m]] = [a[m]!, a[i]!]; i = m;
      }
    }
    return top;
  }
}

const priorityOf = (q: QueuedPod) => q.info.pod.spec?.priority ?? 0;

export class SchedulingQueue {
  private readonly active = new Heap<QueuedPod>((a, b) => priorityOf(a) !== priorityOf(b) ? priorityOf(a) > priorityOf(b) : a.firstQueued !== b.firstQueued ? a.firstQueued < b.firstQueued : a.seq < b.seq);
  private readonly backoff = new Heap<QueuedPod>((a, b) => a.backoffUntil < b.backoffUntil);
  /** Every pod the queue holds, by key; heaps may hold stale entries that `pop` skips. */
  private readonly pods = new Map<string, { q: QueuedPod; where: 'active' | 'backoff' | 'unschedulable' | 'inflight' }>();
  private seq = 0;
  private readonly now: () => number;
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly opts: QueueOptions = {}) {
    this.now = opts.now ?? (() => Date.now());
  }

  get length(): number { return this.pods.size; }
  counts(): Record<string, number> {
    const c: Record<string, number> = { active: 0, backoff: 0, unschedulable: 0, inflight: 0 };
    for (const e of this.pods.values()) c[e.where]!++;
    return c;
  }

  has(key: string): boolean { return this.pods.has(key); }

  /** A new or changed pending pod. A known pod keeps its place and attempts, with the new object. */
  add(info: PodInfo): void {
    const have = this.pods.get(info.key);
    if (have) {
      have.q.info = info;
      // A change to an unschedulable pod may make it schedulable: retry it (respecting back-off).
      if (have.where === 'unschedulable') this.moveOut(have.q);
      return;
    }
    const t = this.now();
    const q: QueuedPod = { info, attempts: 0, firstQueued: t, queuedAt: t, backoffUntil: 0, seq: this.seq++ };
    this.pods.set(info.key, { q, where: 'active' });
    this.active.push(q);
    this.wake();
  }

  delete(key: string): void { this.pods.delete(key); }

  private backoffMs(attempts: number): number {
    const base = this.opts.initialBackoffMs ?? 1000;
    return Math.min(base * 2 ** Math.max(0, attempts - 1), this.opts.maxBackoffMs ?? 10_000);
  }

  private moveOut(q: QueuedPod): void {
    const e = this.pods.get(q.info.key);
    if (!e) return;
    if (q.backoffUntil > this.now()) { e.where = 'backoff'; this.backoff.push(q); } else { e.where = 'active'; this.active.push(q); this.wake(); }
  }

  /** After a failed attempt: `unschedulable` when nothing fits, else back off (an error). */
  requeue(key: string, unschedulable: boolean): void {
    const e = this.pods.get(key);
    if (!e || e.where !== 'inflight') return;
    const q = e.q;
    q.attempts++;
    q.queuedAt = this.now();
    q.backoffUntil = q.queuedAt + this.backoffMs(q.attempts);
    if (unschedulable) e.where = 'unschedulable';
    else { e.where = 'backoff'; this.backoff.push(q); }
  }

  /** The pod was bound (or is gone): forget it. */
  done(key: string): void {
    const e = this.pods.get(key);
    if (e?.where === 'inflight') this.pods.delete(key);
  }

  /** A cluster event that may make unschedulable pods fit: move them all towards active. */
  moveAllToActiveOrBackoff(): void {
    for (const e of this.pods.values()) if (e.where === 'unschedulable') this.moveOut(e.q);
  }

  /** Moves due pods from backoff to active, and long-unschedulable ones out; returns ms until the next is due. */
  flush(): number | undefined {
    const t = this.now();
    for (;;) {
      const q = this.backoff.peek();
      if (!q || q.backoffUntil > t) break;
      this.backoff.pop();
      const e = this.pods.get(q.info.key);
      if (e?.q === q && e.where === 'backoff') { e.where = 'active'; this.active.push(q); this.wake(); }
    }
    const maxWait = this.opts.maxUnschedulableMs ?? 300_000;
    for (const e of this.pods.values()) if (e.where === 'unschedulable' && t - e.q.queuedAt >= maxWait) this.moveOut(e.q);
    const next = this.backoff.peek();
    return next ? Math.max(0, next.backoffUntil - t) : undefined;
  }

  /** The next pod to schedule, without waiting. */
  tryPop(): QueuedPod | undefined {
    for (;;) {
      const q = this.active.pop();
      if (!q) return undefined;
      const e = this.pods.get(q.info.key);
      if (e?.q !== q || e.where !== 'active') continue; // stale heap entry
      e.where = 'inflight';
      return q;
    }
  }

  /** Waits for the next pod; undefined once closed. */
  async pop(): Promise<QueuedPod | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      const q = this.tryPop();
      if (q) return q;
      await new Promise<void>(r => this.waiters.push(r));
    }
  }

  private wake(): void { this.waiters.shift()?.(); }

  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w();
  }
}

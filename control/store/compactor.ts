// Periodic compaction, for either backend. Like kube-apiserver (which compacts etcd every 5
// minutes), each tick compacts to the revision seen at the previous tick, so at least one interval
// of history stays watchable: a watcher that reconnects within the interval never sees Compacted.
// With `retainRevisions`, each tick instead keeps the last N revisions, for write-heavy tests and
// small disks.
import type { Store } from './store.js';

export interface AutoCompactionOptions {
  /** How often to compact (default 5 minutes, as upstream). */
  intervalMs?: number;
  /** Keep this many revisions instead of one interval of history. */
  retainRevisions?: number;
  /** Failures of a tick (the next tick tries again). */
  onError?: (err: unknown) => void;
}

export const DEFAULT_COMPACTION_INTERVAL_MS = 5 * 60 * 1000;

export class AutoCompactor {
  private previous: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly store: Store, private readonly options: AutoCompactionOptions = {}) {
    if (options.retainRevisions !== undefined && !(options.retainRevisions >= 0)) {
      throw new Error(`retainRevisions must be a non-negative number, got ${options.retainRevisions}`);
    }
  }

  start(): this {
    if (this.timer) return this;
    const every = this.options.intervalMs ?? DEFAULT_COMPACTION_INTERVAL_MS;
    const run = (): void => {
      if (this.running) return; // a slow compaction: skip rather than pile up
      this.running = this.tick().catch(err => this.options.onError?.(err)).finally(() => { this.running = undefined; });
    };
    this.timer = setInterval(run, every);
    this.timer.unref();
    run(); // remembers where the first interval starts
    return this;
  }

  /** One compaction step; resolves with the revision compacted to, or undefined if none was due. */
  async tick(): Promise<number | undefined> {
    const current = await this.store.currentRevision();
    const target = this.options.retainRevisions !== undefined ? current - this.options.retainRevisions : this.previous;
    this.previous = current;
    if (target === undefined || target <= 0) return undefined;
    if (target < await this.store.oldestRevision()) return undefined; // nothing new to forget
    await this.store.compact(target);
    return target;
  }

  /** Stops the timer and waits for a running compaction. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

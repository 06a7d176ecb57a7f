// A bounded-frequency runner, as upstream's BoundedFrequencyRunner (pkg/util/async): runs a sync
// function when asked, but never more often than every `minIntervalMs`, never two at a time, at
// least every `maxIntervalMs` (a periodic full resync that repairs drift), and after a failed run
// again after `retryIntervalMs`, doubled on each further failure up to `maxRetryIntervalMs`.
//
// Design notes. Requests that arrive while a run is due or in flight coalesce into one run (the
// sync is level-triggered: it reads the current state, so one run serves every request before
// it). A request within `minIntervalMs` of the previous run's start waits out the rest of the
// interval; upstream additionally allows a small burst, which a proxy with an O(changed) sync does
// not need. The clock is injected so the timing rules are unit-tested without sleeping.
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => { const t = setTimeout(fn, ms); t.unref?.(); return t; },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Why a run happens: asked for, the periodic resync, or a retry after a failed run. */
export type RunReason = 'requested' | 'periodic' | 'retry';

export interface RunnerOptions {
  readonly minIntervalMs: number;
  readonly maxIntervalMs: number;
  readonly retryIntervalMs: number;
  readonly maxRetryIntervalMs?: number;
  readonly clock?: Clock;
  /** Called with the error of a failed run (the runner itself schedules the retry). */
  readonly onError?: (err: unknown, attempt: number) => void;
}

export class BoundedFrequencyRunner {
  private readonly clock: Clock;
  private lastStart = -Infinity;
  private lastEnd = -Infinity;
  private timer: unknown;
  private timerAt = Infinity;
  private timerReason: RunReason = 'periodic';
  private running: Promise<void> | undefined;
  private requested = false;
  private failures = 0;
  private stopped = true;
  /** Counters, for tests and metrics. */
  readonly stats = { runs: 0, failures: 0 };

  constructor(private readonly fn: (reason: RunReason) => Promise<void>, private readonly opts: RunnerOptions) {
    if (!(opts.minIntervalMs >= 0) || !(opts.maxIntervalMs >= opts.minIntervalMs) || !(opts.retryIntervalMs > 0)) {
      throw new RangeError(`invalid runner intervals: min ${opts.minIntervalMs} ms, max ${opts.maxIntervalMs} ms, retry ${opts.retryIntervalMs} ms`);
    }
    this.clock = opts.clock ?? systemClock;
  }

  /** Starts the loop with a first run now. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.run();
  }

  /** Stops scheduling; resolves when a run in flight has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer();
    await this.running;
  }

  /** Asks for a run as soon as the minimum interval allows. */
  run(): void {
    if (this.stopped) return;
    this.requested = true;
    if (this.running) return; // re-checked when it ends
    // After a failure the retry timer is due: a request does not bypass the back-off.
    if (this.failures > 0) return;
    this.scheduleAt(Math.max(this.clock.now(), this.lastStart + this.opts.minIntervalMs), 'requested');
  }

  /** The promise of the run in flight, if any (tests). */
  get inFlight(): Promise<void> | undefined { return this.running; }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  /** Keeps the earliest of the scheduled run and this one. */
  private scheduleAt(at: number, reason: RunReason): void {
    if (this.stopped || at >= this.timerAt) return;
    this.cancelTimer();
    this.timerAt = at;
    this.timerReason = reason;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.tick(this.timerReason);
    }, Math.max(0, at - this.clock.now()));
  }

  private tick(reason: RunReason): void {
    if (this.stopped || this.running) return;
    const why: RunReason = this.requested && reason === 'periodic' ? 'requested' : reason;
    this.requested = false;
    this.lastStart = this.clock.now();
    this.stats.runs++;
    let ok = true;
    const p = (async () => {
      try {
        await this.fn(why);
      } catch (err) {
        ok = false;
        this.failures++;
        this.stats.failures++;
        this.opts.onError?.(err, this.failures);
      }
    })();
    this.running = p.then(() => {
      this.running = undefined;
      this.lastEnd = this.clock.now();
      if (ok) this.failures = 0;
      this.afterRun(ok);
    });
  }

  private afterRun(ok: boolean): void {
    if (this.stopped) return;
    const now = this.clock.now();
    this.scheduleAt(this.lastStart + this.opts.maxIntervalMs, 'periodic');
    if (!ok) {
      const backoff = Math.min(this.opts.retryIntervalMs * 2 ** (this.failures - 1), this.opts.maxRetryIntervalMs ?? this.opts.maxIntervalMs);
      this.scheduleAt(now + backoff, 'retry');
    }
    if (this.requested) {
      // Coalesced requests: after a failure, wait for the retry rather than hammer the kernel.
      if (ok) this.scheduleAt(Math.max(now, this.lastStart + this.opts.minIntervalMs), 'requested');
    }
  }

  /** When the last run ended (ms on the runner's clock). */
  get lastRunEnd(): number { return this.lastEnd; }
}

// What every backend's watch shares, so the Watch contract is implemented once: delivery to the
// consumer's handler (a handler that throws fails the watch instead of unwinding the backend's
// read loop), fail-once-then-close, an idempotent close, and the idle timer behind
// `progressIntervalMs`. A backend supplies how it releases its resources and how it gets progress
// (SQLite knows its own head revision; etcd has to ask the server).
//
// A base class rather than a delegate: both watches call emit/fail/close from many places, and a
// delegate would add a forwarding method for each without making anything clearer.
import { StoreError, type Watch, type WatchEvent, type WatchOptions } from './store.js';

export interface ProgressTimer {
  /** A counter that moves whenever the watch sees activity (events sent, responses received). */
  activity: () => number;
  /** Whether progress can be had now; while false, idle ticks keep accumulating. */
  ready: () => boolean;
  /** Called after a full `progressIntervalMs` without activity. */
  onIdle: () => void;
}

export abstract class BaseWatch implements Watch {
  closed = false;
  private progressTimer: NodeJS.Timeout | undefined;

  constructor(protected readonly options: WatchOptions) {}

  /** Starts the idle timer when `progressIntervalMs` asks for one; call once, from the constructor. */
  protected startProgressTimer(p: ProgressTimer): void {
    const every = this.options.progressIntervalMs ?? 0;
    if (every <= 0) return;
    // Check twice per interval; act after a full interval without activity.
    let idleTicks = 0;
    let seen = 0;
    this.progressTimer = setInterval(() => {
      const now = p.activity();
      if (now !== seen) { seen = now; idleTicks = 0; return; }
      if (++idleTicks < 2 || !p.ready()) return;
      idleTicks = 0;
      p.onIdle();
    }, Math.max(1, Math.floor(every / 2)));
    this.progressTimer.unref();
  }

  protected emit(event: WatchEvent): void {
    if (this.closed) return;
    try {
      this.options.onEvent(event);
    } catch (err) {
      this.fail(new StoreError('Unavailable', `The watch handler threw: ${err instanceof Error ? err.message : String(err)}`));
    }
  }

  fail(err: StoreError): void {
    if (this.closed) return;
    this.close();
    this.options.onError?.(err);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.progressTimer) clearInterval(this.progressTimer);
    this.release();
  }

  /** Frees what the backend holds for this watch; called once, by the first close(). */
  protected abstract release(): void;
}

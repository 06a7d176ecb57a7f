import { BoundedFrequencyRunner, type Clock, type RunReason } from './runner.js';

/** A manual clock: timers fire only when the test advances time. */
class FakeClock implements Clock {
  t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  now(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(h: unknown): void { this.timers = this.timers.filter((x) => x.id !== h); }
  /** Advances to `to`, firing due timers in order and letting their promises settle. */
  async advance(ms: number): Promise<void> {
    const to = this.t + ms;
    for (;;) {
      await flush();
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > to) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = to;
    await flush();
  }
}
const flush = async (): Promise<void> => { for (let i = 0; i < 10; i++) await Promise.resolve(); };

function setup(fail: (n: number) => boolean = () => false) {
  const clock = new FakeClock();
  const runs: { at: number; why: RunReason }[] = [];
  const r = new BoundedFrequencyRunner(async (why) => {
    runs.push({ at: clock.now(), why });
    if (fail(runs.length)) throw new Error('kernel refused');
  }, { minIntervalMs: 1000, maxIntervalMs: 30_000, retryIntervalMs: 500, maxRetryIntervalMs: 4000, clock });
  return { clock, runs, r };
}

test('the runner runs at once on start and then at most every min interval', async () => {
  const { clock, runs, r } = setup();
  r.start();
  await clock.advance(0);
  expect(runs).toEqual([{ at: 0, why: 'requested' }]);
  r.run(); r.run(); r.run();
  await clock.advance(999);
  expect(runs).toHaveLength(1);
  await clock.advance(1);
  expect(runs).toEqual([{ at: 0, why: 'requested' }, { at: 1000, why: 'requested' }]);
  await r.stop();
});

test('a request long after the previous run runs immediately', async () => {
  const { clock, runs, r } = setup();
  r.start();
  await clock.advance(5000);
  r.run();
  await clock.advance(0);
  expect(runs.map((x) => x.at)).toEqual([0, 5000]);
  await r.stop();
});

test('the runner resyncs every max interval without requests', async () => {
  const { clock, runs, r } = setup();
  r.start();
  await clock.advance(65_000);
  expect(runs).toEqual([{ at: 0, why: 'requested' }, { at: 30_000, why: 'periodic' }, { at: 60_000, why: 'periodic' }]);
  await r.stop();
});

test('a failed run is retried with a doubling back-off, and requests do not bypass it', async () => {
  const { clock, runs, r } = setup((n) => n <= 4);
  r.start();
  await clock.advance(0);
  r.run(); // during back-off: waits for the retry
  await clock.advance(20_000);
  // 0 fails → retry at 500 fails → 1500 fails → 3500 fails → 7500 succeeds (back-off 500, 1000, 2000, 4000)
  expect(runs.slice(0, 5)).toEqual([
    { at: 0, why: 'requested' }, { at: 500, why: 'retry' }, { at: 1500, why: 'retry' }, { at: 3500, why: 'retry' }, { at: 7500, why: 'retry' },
  ]);
  expect(runs).toHaveLength(5);
  expect(r.stats).toEqual({ runs: 5, failures: 4 });
  // Back to normal: a request runs after the min interval.
  r.run();
  await clock.advance(0);
  expect(runs.at(-1)).toEqual({ at: 20_000, why: 'requested' });
  await r.stop();
});

test('requests during a run coalesce into one run after it', async () => {
  const clock = new FakeClock();
  const runs: number[] = [];
  let release: () => void = () => {};
  const r = new BoundedFrequencyRunner(async () => {
    runs.push(clock.now());
    if (runs.length === 1) await new Promise<void>((res) => { release = res; });
  }, { minIntervalMs: 100, maxIntervalMs: 10_000, retryIntervalMs: 50, clock });
  r.start();
  await clock.advance(0);
  r.run(); r.run();
  await clock.advance(500);
  expect(runs).toEqual([0]); // still in flight
  release();
  await clock.advance(0);
  expect(runs).toEqual([0, 500]);
  await clock.advance(1000);
  expect(runs).toEqual([0, 500]);
  await r.stop();
});

test('stop cancels the schedule', async () => {
  const { clock, runs, r } = setup();
  r.start();
  await clock.advance(0);
  await r.stop();
  r.run();
  await clock.advance(100_000);
  expect(runs).toHaveLength(1);
});

test('invalid intervals are refused', () => {
  expect(() => new BoundedFrequencyRunner(async () => {}, { minIntervalMs: 10, maxIntervalMs: 5, retryIntervalMs: 1 })).toThrow(/invalid runner intervals/);
});

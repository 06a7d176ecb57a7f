// Waiting in tests: the one way to poll for a condition, so every wait fails the same way, naming
// what it waited for and what it last saw.

export interface PollOptions {
  /** Pause between probes (default 100 ms). */
  stepMs?: number;
  /** Appended to the timeout's message (a log tail, the last object seen …). */
  detail?: () => string;
}

/**
 * Polls `probe` until it returns something other than undefined (a thrown error counts as "not
 * yet" and is reported if it is the last thing seen), and fails after `timeoutMs`.
 */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, opts: PollOptions = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
      last = undefined;
    } catch (err) { last = err; }
    await new Promise(r => setTimeout(r, opts.stepMs ?? 100));
  }
  const detail = opts.detail?.();
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}${detail ? `\n${detail}` : ''}`);
}

/** Polls `check` until it holds (errors count as "not yet"); resolves with the milliseconds it took, or throws after `budgetMs`. */
export async function within(budgetMs: number, what: string, check: () => Promise<boolean>, stepMs = 20): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await check().catch(() => false)) return performance.now() - t0;
    if (performance.now() - t0 > budgetMs) throw new Error(`${what}: not within ${budgetMs} ms`);
    await new Promise(r => setTimeout(r, stepMs));
  }
}

// One way to bound concurrent work: the kubelet's parallel pod starts, the event recorder's
// in-flight writes.

/** A FIFO counting semaphore: at most `limit` calls of `run` are active at once, the rest wait in order. */
export class Semaphore {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>(r => this.queue.push(r));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.queue.shift();
      if (next) next(); else this.active--;
    }
  }
}

// The behaviour every Store backend must share, as one jest suite. A backend's test file calls
// `describeStoreContract` with a way to open a store; each test works under its own key prefix, so
// a backend may hand out the same underlying database (an etcd) to every test.
import { StoreError, type KeyValue, type Store, type Watch, type WatchEvent } from '../store.js';

export interface StoreFactory {
  /** A store for one test; the suite closes it. */
  open(): Promise<Store>;
  /** After the whole suite (remove temp dirs, stop servers). */
  cleanup?(): Promise<void>;
}

let counter = 0;
function uniquePrefix(): string {
  return `/contract/${process.pid}-${Date.now().toString(36)}-${counter++}/`;
}

export interface Recorder {
  events: WatchEvent[];
  errors: StoreError[];
  watch: Watch;
  /** Resolves once `pred(events)` holds; rejects after `timeoutMs` with what was seen. */
  until(pred: (events: WatchEvent[]) => boolean, timeoutMs?: number): Promise<void>;
}

export function record(store: Store, prefix: string, afterRevision: number, progressIntervalMs = 0): Recorder {
  const events: WatchEvent[] = [];
  const errors: StoreError[] = [];
  const watch = store.watch(prefix, { afterRevision, onEvent: e => events.push(e), onError: e => errors.push(e), progressIntervalMs });
  return {
    events, errors, watch,
    async until(pred, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!pred(events)) {
        if (errors.length > 0) throw new Error(`watch failed: ${errors[0]!.code} ${errors[0]!.message}`);
        if (Date.now() > deadline) throw new Error(`timed out; events so far: ${JSON.stringify(events)}`);
        await new Promise(r => setTimeout(r, 10));
      }
    },
  };
}

export function changes(events: WatchEvent[]): Array<[string, string, number]> {
  return events.flatMap(e => e.type === 'progress' ? [] : [[e.type, e.kv.key, e.kv.modRevision] as [string, string, number]]);
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err instanceof StoreError ? err.code : `not a StoreError: ${String(err)}`;
  }
}

/** Resolves with the error code of a watch from `afterRevision`, thrown at once or reported later. */
async function watchFailure(store: Store, prefix: string, afterRevision: number, timeoutMs = 5000): Promise<string> {
  return new Promise<string>(resolve => {
    let w: Watch | undefined;
    const timer = setTimeout(() => { w?.close(); resolve('no error'); }, timeoutMs);
    const done = (code: string): void => { clearTimeout(timer); w?.close(); resolve(code); };
    try {
      w = store.watch(prefix, { afterRevision, onEvent: () => undefined, onError: e => done(e.code) });
    } catch (err) {
      done(err instanceof StoreError ? err.code : String(err));
    }
  });
}

export function describeStoreContract(name: string, factory: StoreFactory): void {
  describe(`${name} (Store contract)`, () => {
    let store: Store;
    let p: string;
    const watches: Watch[] = [];
    const recordHere = (prefix: string, after: number, progressMs = 0): Recorder => {
      const r = record(store, prefix, after, progressMs);
      watches.push(r.watch);
      return r;
    };

    beforeEach(async () => {
      store = await factory.open();
      p = uniquePrefix();
    });
    afterEach(async () => {
      for (const w of watches.splice(0)) w.close();
      await store.close();
    });
    afterAll(async () => {
      await factory.cleanup?.();
    });

    it('creates a key once, stamping both revisions with the write revision', async () => {
      const before = await store.currentRevision();
      const kv = await store.create(`${p}a`, 'one');
      expect(kv.key).toBe(`${p}a`);
      expect(kv.value).toBe('one');
      expect(kv.modRevision).toBeGreaterThan(before);
      expect(kv.createRevision).toBe(kv.modRevision);
      expect(await store.currentRevision()).toBeGreaterThanOrEqual(kv.modRevision);
      expect(await store.get(`${p}a`)).toEqual(kv);
      expect(await store.get(`${p}missing`)).toBeUndefined();

      const err = await store.create(`${p}a`, 'two').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe('AlreadyExists');
      expect((await store.get(`${p}a`))?.value).toBe('one');
    });

    it('updates only when the modRevision still matches, and reports the current value on conflict', async () => {
      const created = await store.create(`${p}k`, 'v1');
      const updated = await store.update(`${p}k`, 'v2', created.modRevision);
      expect(updated.value).toBe('v2');
      expect(updated.createRevision).toBe(created.createRevision);
      expect(updated.modRevision).toBeGreaterThan(created.modRevision);

      const err = await store.update(`${p}k`, 'stale', created.modRevision).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe('Conflict');
      expect((err as StoreError).current).toEqual(updated);
      expect((await store.get(`${p}k`))?.value).toBe('v2');

      expect(await codeOf(store.update(`${p}nope`, 'x', updated.modRevision))).toBe('NotFound');
      expect(await codeOf(store.update(`${p}nope`, 'x', 0))).toBe('NotFound');
      expect(await store.get(`${p}nope`)).toBeUndefined();
    });

    it('deletes, returning the last value at the delete revision, and recreates with a new createRevision', async () => {
      const created = await store.create(`${p}d`, 'last');
      expect(await codeOf(store.delete(`${p}d`, created.modRevision + 1000))).toBe('Conflict');
      const deleted = await store.delete(`${p}d`, created.modRevision);
      expect(deleted.key).toBe(`${p}d`);
      expect(deleted.value).toBe('last');
      expect(deleted.createRevision).toBe(created.createRevision);
      expect(deleted.modRevision).toBeGreaterThan(created.modRevision);
      expect(await store.get(`${p}d`)).toBeUndefined();
      expect(await codeOf(store.delete(`${p}d`))).toBe('NotFound');

      const again = await store.create(`${p}d`, 'again');
      expect(again.createRevision).toBeGreaterThan(deleted.modRevision);
      const unconditional = await store.delete(`${p}d`);
      expect(unconditional.value).toBe('again');
    });

    it('lists keys under a prefix in key order, not those of a sibling prefix', async () => {
      for (const k of ['b', 'a', 'c/x', 'c']) await store.create(`${p}${k}`, k);
      await store.create(`${p.slice(0, -1)}-other/a`, 'sibling');
      await store.create(`${p.slice(0, -1)}a`, 'longer name');
      const all = await store.list(p);
      expect(all.items.map(i => i.key)).toEqual(['a', 'b', 'c', 'c/x'].map(k => `${p}${k}`));
      expect(all.items.map(i => i.value)).toEqual(['a', 'b', 'c', 'c/x']);
      expect(all.more).toBe(false);
      expect(all.revision).toBe(await store.currentRevision());
      expect(await store.count(p)).toBe(4);
      expect(await store.count(`${p}c`)).toBe(2);
      expect(await store.count(`${p}zzz`)).toBe(0);
    });

    it('pages a list with limit and after, telling whether more remain', async () => {
      const keys = Array.from({ length: 7 }, (_, i) => `${p}item-${i}`);
      for (const k of keys) await store.create(k, k);
      await store.delete(keys[3]!);
      const want = keys.filter((_, i) => i !== 3);
      const seen: string[] = [];
      let after: string | undefined;
      let pages = 0;
      let revision: number | undefined;
      for (;;) {
        const page = await store.list(p, { limit: 2, ...(after !== undefined ? { after } : {}), ...(revision !== undefined ? { revision } : {}) });
        revision ??= page.revision;
        expect(page.revision).toBe(revision);
        pages++;
        seen.push(...page.items.map(i => i.key));
        if (page.more) {
          expect(page.items).toHaveLength(2);
          expect(page.remaining).toBe(want.length - seen.length);
        }
        if (!page.more) break;
        after = page.items[page.items.length - 1]!.key;
        // Writes after the first page must not change what a paged list at its revision returns.
        await store.create(`${p}item-0-late-${pages}`, 'late');
      }
      expect(seen).toEqual(want);
      expect(pages).toBe(3);
    });

    it('lists the state at a past revision', async () => {
      const a = await store.create(`${p}a`, 'a1');
      const b = await store.create(`${p}b`, 'b1');
      const at = b.modRevision;
      await store.update(`${p}a`, 'a2', a.modRevision);
      await store.delete(`${p}b`);
      await store.create(`${p}c`, 'c1');
      const past = await store.list(p, { revision: at });
      expect(past.revision).toBe(at);
      expect(past.items).toEqual([a, b]);
      const now = await store.list(p);
      expect(now.items.map(i => [i.key, i.value])).toEqual([[`${p}a`, 'a2'], [`${p}c`, 'c1']]);
    });

    it('watches from a past revision: replays history then continues live, in order, without duplicates', async () => {
      const a = await store.create(`${p}a`, 'a1');
      const a2 = await store.update(`${p}a`, 'a2', a.modRevision);
      const b = await store.create(`${p}b`, 'b1');
      const del = await store.delete(`${p}a`);
      const w = recordHere(p, a.modRevision - 1);
      await w.until(ev => changes(ev).length >= 4);
      const c = await store.create(`${p}c`, 'c1');
      const b2 = await store.update(`${p}b`, 'b2', b.modRevision);
      await w.until(ev => changes(ev).length >= 6);
      await new Promise(r => setTimeout(r, 100)); // would reveal duplicates or stragglers
      expect(changes(w.events)).toEqual([
        ['put', `${p}a`, a.modRevision],
        ['put', `${p}a`, a2.modRevision],
        ['put', `${p}b`, b.modRevision],
        ['delete', `${p}a`, del.modRevision],
        ['put', `${p}c`, c.modRevision],
        ['put', `${p}b`, b2.modRevision],
      ]);
      const puts = w.events.filter(e => e.type !== 'progress') as Array<Extract<WatchEvent, { kv: KeyValue }>>;
      expect(puts[0]!.prev).toBeUndefined();
      expect(puts[1]!.kv.value).toBe('a2');
      expect(puts[1]!.prev).toMatchObject({ value: 'a1', modRevision: a.modRevision });
      expect(puts[3]!.prev).toMatchObject({ value: 'a2', modRevision: a2.modRevision });
      expect(puts[5]!.prev).toMatchObject({ value: 'b1', modRevision: b.modRevision });
      expect(w.errors).toEqual([]);
    });

    it('delivers every write of a burst that overlaps the replay exactly once', async () => {
      const first = await store.create(`${p}k0`, '0');
      for (let i = 1; i < 50; i++) await store.create(`${p}k${i}`, String(i));
      const w = recordHere(p, first.modRevision - 1);
      const writes: Array<Promise<KeyValue>> = [];
      for (let i = 50; i < 100; i++) writes.push(store.create(`${p}k${i}`, String(i)));
      await Promise.all(writes);
      await w.until(ev => changes(ev).length >= 100);
      await new Promise(r => setTimeout(r, 100));
      const revs = changes(w.events).map(c => c[2]);
      expect(revs).toHaveLength(100);
      expect([...revs].sort((x, y) => x - y)).toEqual(revs);
      expect(new Set(revs).size).toBe(100);
      expect(new Set(changes(w.events).map(c => c[1])).size).toBe(100);
    });

    it('does not deliver events for keys outside the watched prefix', async () => {
      const start = await store.currentRevision();
      const w = recordHere(`${p}in/`, start);
      await store.create(`${p}out/x`, 'x');
      await store.create(`${p}in-not/x`, 'x');
      const mine = await store.create(`${p}in/x`, 'x');
      await w.until(ev => changes(ev).length >= 1);
      await new Promise(r => setTimeout(r, 100));
      expect(changes(w.events)).toEqual([['put', `${p}in/x`, mine.modRevision]]);
    });

    it('sends progress events while idle, at a revision covering the last write', async () => {
      const kv = await store.create(`${p}x`, 'x');
      const w = recordHere(`${p}quiet/`, kv.modRevision, 200);
      await w.until(ev => ev.some(e => e.type === 'progress'), 5000);
      const progress = w.events.find(e => e.type === 'progress') as { type: 'progress'; revision: number };
      expect(progress.revision).toBeGreaterThanOrEqual(kv.modRevision);
      expect(changes(w.events)).toEqual([]);
    });

    it('compacts history: reads and watches below the compacted revision fail with Compacted', async () => {
      const a = await store.create(`${p}a`, 'a1');
      const a2 = await store.update(`${p}a`, 'a2', a.modRevision);
      const b = await store.create(`${p}b`, 'b1');
      await store.delete(`${p}b`);
      const c = await store.create(`${p}c`, 'c1');
      await store.compact(c.modRevision);
      expect(await store.oldestRevision()).toBe(c.modRevision + 1);

      expect(await codeOf(store.list(p, { revision: a2.modRevision }))).toBe('Compacted');
      expect(await watchFailure(store, p, a.modRevision)).toBe('Compacted');
      // The state at and after the compaction revision is whole.
      const atC = await store.list(p, { revision: c.modRevision });
      expect(atC.items.map(i => [i.key, i.value])).toEqual([[`${p}a`, 'a2'], [`${p}c`, 'c1']]);
      expect(await store.get(`${p}a`)).toEqual(a2);
      expect(await store.count(p)).toBe(2);
      const w = recordHere(p, await store.currentRevision());
      const d = await store.create(`${p}d`, 'd1');
      await w.until(ev => changes(ev).length >= 1);
      expect(changes(w.events)).toEqual([['put', `${p}d`, d.modRevision]]);
      expect(b.modRevision).toBeLessThan(c.modRevision);
    });

    it('reports its size', async () => {
      await store.create(`${p}x`, 'x'.repeat(1000));
      expect(await store.sizeBytes()).toBeGreaterThan(0);
    });
  });
}

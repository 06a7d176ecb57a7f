import { AutoCompactor } from './compactor.js';
import { SqliteStore } from './sqlite.js';

async function writes(store: SqliteStore, n: number): Promise<number> {
  let rev = 0;
  for (let i = 0; i < n; i++) {
    const cur = await store.get('/k');
    rev = (cur ? await store.update('/k', String(i), cur.modRevision) : await store.create('/k', String(i))).modRevision;
  }
  return rev;
}

describe('AutoCompactor', () => {
  let store: SqliteStore;
  beforeEach(() => { store = new SqliteStore({ path: ':memory:' }); });
  afterEach(async () => { await store.close(); });

  it('compacts to the revision seen one tick earlier, keeping one interval of history', async () => {
    const c = new AutoCompactor(store);
    await writes(store, 5);
    expect(await c.tick()).toBeUndefined(); // first tick only remembers revision 5
    await writes(store, 5);
    expect(await c.tick()).toBe(5);
    expect(await store.oldestRevision()).toBe(6);
    await expect(store.list('/', { revision: 4 })).rejects.toMatchObject({ code: 'Compacted' });
    expect((await store.list('/', { revision: 5 })).items[0]!.value).toBe('4');
    expect(await c.tick()).toBe(10);
    expect(await c.tick()).toBeUndefined(); // no writes since: nothing new to forget
  });

  it('keeps the last N revisions when asked to', async () => {
    const c = new AutoCompactor(store, { retainRevisions: 3 });
    await writes(store, 2);
    expect(await c.tick()).toBeUndefined();
    await writes(store, 8);
    expect(await c.tick()).toBe(7);
    expect(await store.oldestRevision()).toBe(8);
  });

  it('runs on its timer until stopped', async () => {
    await writes(store, 3);
    const errors: unknown[] = [];
    const c = new AutoCompactor(store, { intervalMs: 20, retainRevisions: 1, onError: e => errors.push(e) }).start();
    try {
      const deadline = Date.now() + 2000;
      while ((await store.oldestRevision()) !== 3 && Date.now() < deadline) await new Promise(r => setTimeout(r, 10));
      expect(await store.oldestRevision()).toBe(3);
    } finally {
      await c.stop();
    }
    expect(errors).toEqual([]);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from './sqlite.js';
import { StoreError } from './store.js';
import { describeStoreContract } from './testing/contract.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-sqlite-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describeStoreContract('SqliteStore', {
  open: async () => new SqliteStore({ path: join(tempDir(), 'db', 'state.db') }),
});

describe('SqliteStore on disk', () => {
  it('keeps data, revisions and the compaction mark across reopen', async () => {
    const path = join(tempDir(), 'state.db');
    const s1 = new SqliteStore({ path });
    const a = await s1.create('/r/a', '1');
    const a2 = await s1.update('/r/a', '2', a.modRevision);
    await s1.delete('/r/a');
    const b = await s1.create('/r/b', 'b');
    await s1.compact(b.modRevision); // removes every row of /r/a: the highest row id is b's
    const rev = await s1.currentRevision();
    await s1.close();

    const s2 = new SqliteStore({ path });
    try {
      expect(await s2.currentRevision()).toBe(rev);
      expect(await s2.oldestRevision()).toBe(b.modRevision + 1);
      expect(await s2.get('/r/b')).toEqual(b);
      expect(await s2.get('/r/a')).toBeUndefined();
      const c = await s2.create('/r/c', 'c');
      expect(c.modRevision).toBe(rev + 1);
      expect(a2.modRevision).toBeLessThan(c.modRevision);
    } finally {
      await s2.close();
    }
  });

  it('refuses a second store on the same file while the first is open, even before it writes', async () => {
    const path = join(tempDir(), 'state.db');
    const s0 = new SqliteStore({ path });
    await s0.create('/x', 'x');
    await s0.close();
    const s1 = new SqliteStore({ path });
    try {
      let err: unknown;
      try { new SqliteStore({ path, lockTimeoutMs: 0 }); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).message).toContain(path);
      expect((await s1.get('/x'))?.value).toBe('x');
    } finally {
      await s1.close();
    }
  });

  it('fails every operation with Closed after close, and ends open watches with Closed', async () => {
    const s = new SqliteStore({ path: ':memory:' });
    const errors: string[] = [];
    s.watch('/', { afterRevision: 0, onEvent: () => undefined, onError: e => errors.push(e.code) });
    await s.close();
    expect(errors).toEqual(['Closed']);
    await expect(s.get('/x')).rejects.toMatchObject({ code: 'Closed' });
    await expect(s.create('/x', 'x')).rejects.toMatchObject({ code: 'Closed' });
  });

  it('compaction removes superseded rows and tombstones but keeps every current value', async () => {
    const s = new SqliteStore({ path: ':memory:' });
    try {
      for (let i = 0; i < 20; i++) await s.create(`/k/${i}`, 'v0');
      for (let round = 1; round <= 5; round++) {
        for (let i = 0; i < 20; i++) {
          const cur = (await s.get(`/k/${i}`))!;
          await s.update(`/k/${i}`, `v${round}`, cur.modRevision);
        }
      }
      for (let i = 0; i < 10; i++) await s.delete(`/k/${i}`);
      const before = await s.list('/k/');
      await s.compact(await s.currentRevision());
      const after = await s.list('/k/');
      expect(after.items).toEqual(before.items);
      // Only the 10 live keys still have a row.
      const rows = (s as unknown as { db: { prepare(q: string): { get(): { n: number } } } }).db.prepare('SELECT COUNT(*) AS n FROM kv').get();
      expect(rows.n).toBe(10);
    } finally {
      await s.close();
    }
  });

  it('delivers events in revision order when a watch handler writes', async () => {
    const s = new SqliteStore({ path: ':memory:' });
    try {
      const seen: Record<string, number[]> = { w1: [], w2: [] };
      s.watch('/', { afterRevision: 0, onEvent: e => {
        if (e.type === 'progress') return;
        seen.w1!.push(e.kv.modRevision);
        if (e.kv.key === '/a') void s.create('/b', 'from handler');
      } });
      s.watch('/', { afterRevision: 0, onEvent: e => { if (e.type !== 'progress') seen.w2!.push(e.kv.modRevision); } });
      await s.create('/a', 'a');
      expect(seen.w1).toEqual([1, 2]);
      expect(seen.w2).toEqual([1, 2]);
    } finally {
      await s.close();
    }
  });
});

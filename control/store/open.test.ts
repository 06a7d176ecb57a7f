import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from './open.js';
import { SqliteStore } from './sqlite.js';

describe('openStore', () => {
  it('creates the SQLite file and its folder for the embedded store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-open-'));
    try {
      const store = await openStore({ kind: 'sqlite', path: join(dir, 'db', 'state.db') });
      try {
        expect(store).toBeInstanceOf(SqliteStore);
        await store.create('/x', 'y');
        expect(existsSync(join(dir, 'db', 'state.db'))).toBe(true);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses etcd over TLS with the endpoint named', async () => {
    await expect(openStore({ kind: 'etcd', endpoints: ['https://a:2379'] })).rejects.toThrow(/"https:\/\/a:2379".*etcd over TLS/);
  });
});

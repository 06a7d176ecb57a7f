import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, parseDatastoreEndpoint } from './open.js';
import { SqliteStore } from './sqlite.js';

describe('parseDatastoreEndpoint', () => {
  it('defaults to SQLite under the data dir when the endpoint is missing or empty', () => {
    expect(parseDatastoreEndpoint(undefined, '/var/lib/k8ts')).toEqual({ kind: 'sqlite', path: '/var/lib/k8ts/db/state.db' });
    expect(parseDatastoreEndpoint('  ', '/d')).toEqual({ kind: 'sqlite', path: '/d/db/state.db' });
  });

  it('reads one or several etcd members', () => {
    expect(parseDatastoreEndpoint('etcd://127.0.0.1:2379', '/d')).toEqual({ kind: 'etcd', endpoints: ['127.0.0.1:2379'] });
    expect(parseDatastoreEndpoint('etcd://a.example:2379,127.0.0.2:2379,[::1]:2379', '/d'))
      .toEqual({ kind: 'etcd', endpoints: ['a.example:2379', '127.0.0.2:2379', '[::1]:2379'] });
  });

  it('rejects other schemes, naming the value and the accepted forms', () => {
    expect(() => parseDatastoreEndpoint('mysql://root@tcp(127.0.0.1:3306)/k8s', '/d')).toThrow(/"mysql:\/\/root@tcp\(127.0.0.1:3306\)\/k8s".*etcd:\/\/host:port/);
    expect(() => parseDatastoreEndpoint('127.0.0.1:2379', '/d')).toThrow(/"127.0.0.1:2379"/);
  });

  it('rejects etcd members without a valid port', () => {
    expect(() => parseDatastoreEndpoint('etcd://127.0.0.1', '/d')).toThrow(/"127.0.0.1"/);
    expect(() => parseDatastoreEndpoint('etcd://127.0.0.1:2379,', '/d')).toThrow(/Invalid etcd member ""/);
    expect(() => parseDatastoreEndpoint('etcd://h:99999', '/d')).toThrow(/"h:99999"/);
  });
});

describe('openStore', () => {
  it('creates <dataDir>/db/state.db for the default store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-open-'));
    try {
      const store = await openStore(undefined, dir);
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
});

// Chooses the backend from `--datastore-endpoint`, as k3s does: nothing means the embedded SQLite
// file under the data dir, `etcd://host:port[,host:port...]` an etcd cluster.
import { join } from 'node:path';
import { EtcdStore } from './etcd.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

export type DatastoreConfig =
  | { kind: 'sqlite'; path: string }
  | { kind: 'etcd'; endpoints: string[] };

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

/** Parses the endpoint flag (pure, for tests and for error messages before anything is opened). */
export function parseDatastoreEndpoint(endpoint: string | undefined, dataDir: string): DatastoreConfig {
  const value = endpoint?.trim() ?? '';
  if (value === '') return { kind: 'sqlite', path: join(dataDir, 'db', 'state.db') };
  const accepted = 'accepted forms: empty (embedded SQLite in <data-dir>/db/state.db) or etcd://host:port[,host:port...]';
  if (!value.startsWith('etcd://')) throw new Error(`Unsupported datastore endpoint "${value}"; ${accepted}`);
  const hosts = value.slice('etcd://'.length).replace(/\/+$/, '').split(',').map(h => h.trim());
  for (const h of hosts) {
    const port = Number(h.slice(h.lastIndexOf(':') + 1));
    if (!HOST_PORT.test(h) || port < 1 || port > 65535) {
      throw new Error(`Invalid etcd member "${h}" in datastore endpoint "${value}"; ${accepted}`);
    }
  }
  return { kind: 'etcd', endpoints: hosts };
}

export async function openStore(datastoreEndpoint: string | undefined, dataDir: string): Promise<Store> {
  const config = parseDatastoreEndpoint(datastoreEndpoint, dataDir);
  if (config.kind === 'sqlite') return new SqliteStore({ path: config.path });
  const store = new EtcdStore({ endpoints: config.endpoints });
  try {
    await store.currentRevision(); // fail at startup, with the endpoint named, if etcd is not there
  } catch (err) {
    await store.close();
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`Cannot reach etcd at "${datastoreEndpoint}": ${reason}`);
  }
  return store;
}

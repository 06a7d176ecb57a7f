// Chooses the backend from `--datastore-endpoint`, as k3s does: nothing means the embedded SQLite
// file under the data dir, `etcd://host:port[,host:port...]` an etcd cluster.
import { EtcdStore } from './etcd.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

export type DatastoreConfig =
  | { kind: 'sqlite'; path: string }
  | { kind: 'etcd'; endpoints: string[] };

/**
 * Opens the store `--datastore-endpoint` chose (parsed and checked by the flag parser). An etcd
 * cluster must answer now, so a wrong endpoint fails at startup with the endpoint named.
 */
export async function openStore(config: DatastoreConfig): Promise<Store> {
  if (config.kind === 'sqlite') return new SqliteStore({ path: config.path });
  const shown = config.endpoints.join(',');
  if (config.endpoints.some(e => e.startsWith('https://'))) {
    throw new Error(`Cannot use etcd at "${shown}": etcd over TLS needs client certificates, which k8ts does not take yet; use etcd://host:port`);
  }
  const store = new EtcdStore({ endpoints: config.endpoints.map(e => e.replace(/^https?:\/\//, '')) });
  try {
    await store.currentRevision();
  } catch (err) {
    await store.close();
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`Cannot reach etcd at "${shown}": ${reason}`);
  }
  return store;
}

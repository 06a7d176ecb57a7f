// Write throughput of a Store: sequential single-key creates, then creates from 16 concurrent
// async writers. Run it with
//   node control/store/testing/run-ts.mjs control/store/testing/bench-store.ts [sqlite|etcd] [count]
// (etcd: starts a throwaway single-member etcd on loopback).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdStore } from '../etcd.js';
import { SqliteStore } from '../sqlite.js';
import type { Store } from '../store.js';
import { EtcdCluster } from './etcd-cluster.js';

const VALUE = JSON.stringify({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'x', namespace: 'default', uid: '6f1c9d2e-0000-4000-8000-000000000000' }, data: { k: 'v'.repeat(200) } });

async function rate(label: string, n: number, writers: number, store: Store): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: writers }, async () => {
    for (let i = next++; i < n; i = next++) await store.create(`/bench/${label}/${String(i).padStart(8, '0')}`, VALUE);
  }));
  const perSecond = n / ((performance.now() - t0) / 1000);
  console.log(`${label}: ${n} creates, ${writers} writer(s): ${Math.round(perSecond)} creates/s`);
  return perSecond;
}

async function timeReads(label: string, store: Store, prefix: string): Promise<void> {
  const time = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
    const t0 = performance.now();
    await fn();
    console.log(`${label}: ${what}: ${(performance.now() - t0).toFixed(1)} ms`);
  };
  const rev = await store.currentRevision();
  await time('list first page of 500', () => store.list(prefix, { limit: 500 }));
  await time('list page of 500 in the middle', () => store.list(prefix, { limit: 500, after: `${prefix}00025000` }));
  await time('list page of 500 at an older revision', () => store.list(prefix, { limit: 500, revision: rev - 100 }));
  await time('count', () => store.count(prefix));
  await time('get', () => store.get(`${prefix}00012345`));
}

async function main(): Promise<void> {
  const kind = process.argv[2] ?? 'sqlite';
  const n = Number(process.argv[3] ?? (kind === 'sqlite' ? 50_000 : 5_000));
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-bench-'));
    const store = new SqliteStore({ path: join(dir, 'state.db') });
    try {
      await rate('sqlite-seq', n, 1, store);
      await rate('sqlite-16', n, 16, store);
      await timeReads('sqlite', store, '/bench/sqlite-seq/');
      console.log(`sqlite size: ${Math.round((await store.sizeBytes()) / 1e6)} MB`);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  } else {
    const cluster = await EtcdCluster.start({ members: 1 });
    const store = new EtcdStore({ endpoints: cluster.endpoints });
    try {
      await rate('etcd-seq', n, 1, store);
      await rate('etcd-16', n, 16, store);
      await timeReads('etcd', store, '/bench/etcd-seq/');
    } finally {
      await store.close();
      await cluster.stop();
    }
  }
}

main().catch(err => {
  console.error(err);
  process.exitCode = 1;
});

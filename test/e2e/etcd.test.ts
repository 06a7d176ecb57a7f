// The HA backend for real: two `k8ts server` processes on one 3-member etcd cluster serve the
// same data (a write through one is read and watched through the other), and killing one etcd
// member in the middle of a write burst loses no acknowledged write.
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { EtcdCluster } from '../../control/store/testing/etcd-cluster.js';
import { TestServer } from './harness.js';

jest.setTimeout(240_000);

let etcd: EtcdCluster;
let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  etcd = await EtcdCluster.start({ members: 3 });
  a = new TestServer(['--datastore-endpoint', etcd.url]);
  await a.start();
  // The second server shares the cluster's CA (as servers of one cluster do), so one admin
  // credential works against both.
  const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-e2e-b-'));
  cpSync(join(a.dataDir, 'tls'), join(dataDir, 'tls'), { recursive: true });
  cpSync(join(a.dataDir, 'token'), join(dataDir, 'token'));
  b = new TestServer(['--datastore-endpoint', etcd.url], dataDir);
  await b.start();
});
afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await etcd?.stop();
});

interface Obj { metadata: { name: string; uid: string; resourceVersion: string }; data?: Record<string, string> }

describe('two servers on one etcd cluster', () => {
  it('serve the same objects and the same resourceVersions', async () => {
    expect((await a.request('POST', '/api/v1/namespaces', { metadata: { name: 'ha' } })).status).toBe(201);
    const created = (await a.request('POST', '/api/v1/namespaces/ha/configmaps', { metadata: { name: 'shared' }, data: { k: 'v' } })).body as Obj;
    const viaB = (await b.request('GET', '/api/v1/namespaces/ha/configmaps/shared')).body as Obj;
    expect(viaB.metadata.uid).toBe(created.metadata.uid);
    expect(viaB.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    // An update through B with A's stale version is refused: one store, one truth.
    expect((await b.request('PUT', '/api/v1/namespaces/ha/configmaps/shared', { ...created, data: { k: 'w' } })).status).toBe(200);
    expect((await a.request('PUT', '/api/v1/namespaces/ha/configmaps/shared', { ...created, data: { k: 'x' } })).status).toBe(409);
  });

  it('a watch through one server sees writes through the other', async () => {
    const list = (await b.request('GET', '/api/v1/namespaces/ha/configmaps')).body as { metadata: { resourceVersion: string } };
    const seen: string[] = [];
    const watching = b.kubectl(['get', 'configmaps', '-n', 'ha', '--watch-only', '-o', 'name', `--request-timeout=6s`], { timeoutMs: 20_000 });
    await new Promise(r => setTimeout(r, 1500));
    expect((await a.request('POST', '/api/v1/namespaces/ha/configmaps', { metadata: { name: 'from-a' }, data: {} })).status).toBe(201);
    const r = await watching;
    seen.push(...r.stdout.split('\n').filter(Boolean));
    expect(seen).toContain('configmap/from-a');
    expect(Number(list.metadata.resourceVersion)).toBeGreaterThan(0);
  });

  it('loses no acknowledged write when one etcd member of three is killed during writes', async () => {
    const acknowledged = new Set<string>();
    let stop = false;
    const writer = async (server: TestServer, w: number) => {
      for (let i = 0; !stop; i++) {
        const name = `burst-${w}-${i}`;
        try {
          const r = await server.request('POST', '/api/v1/namespaces/ha/configmaps', { metadata: { name }, data: { i: String(i) } });
          if (r.status === 201) acknowledged.add(name);
        } catch { /* a request cut by the failover is simply not acknowledged */ }
      }
    };
    const writers = [0, 1, 2, 3].map(w => writer(w % 2 === 0 ? a : b, w));
    await new Promise(r => setTimeout(r, 1500));
    await etcd.kill(0);
    await new Promise(r => setTimeout(r, 3000));
    stop = true;
    await Promise.all(writers);
    expect(acknowledged.size).toBeGreaterThan(20);
    const list = (await b.request('GET', '/api/v1/namespaces/ha/configmaps')).body as { items: Obj[] };
    const stored = new Set(list.items.map(i => i.metadata.name));
    expect([...acknowledged].filter(n => !stored.has(n))).toEqual([]);
  });
});

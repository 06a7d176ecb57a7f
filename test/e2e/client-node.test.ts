// @kubernetes/client-node against a real `k8ts server`: the typed API, an informer (list, then
// watch), bookmarks, and the informer's re-list when the server answers an expired
// resourceVersion with 410 Gone after compaction.
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { configmaps } from '../../control/registry/core/configmaps.js';
import { ResourceStorage } from '../../control/apiserver/storage.js';
import { SqliteStore } from '../../control/store/sqlite.js';
import { eventually, TestServer } from './harness.js';
import { jest } from '@jest/globals';

jest.setTimeout(180_000);

const server = new TestServer();
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;
const ns = 'informer';

beforeAll(async () => {
  await server.start();
  kc = new k8s.KubeConfig();
  kc.loadFromFile(server.kubeconfig);
  core = kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: ns } } });
});
afterAll(async () => { await server.stop(); });

describe('@kubernetes/client-node against k8ts', () => {
  it('creates, reads, lists with a selector and deletes through the typed API', async () => {
    const created = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'typed', labels: { app: 'x' } }, data: { a: '1' } } });
    expect(created.metadata?.uid).toBeTruthy();
    const read = await core.readNamespacedConfigMap({ namespace: ns, name: 'typed' });
    expect(read.data).toEqual({ a: '1' });
    const list = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'app=x' });
    expect(list.items.map(i => i.metadata?.name)).toEqual(['typed']);
    await core.deleteNamespacedConfigMap({ namespace: ns, name: 'typed' });
    await expect(core.readNamespacedConfigMap({ namespace: ns, name: 'typed' })).rejects.toMatchObject({ code: 404 });
  });

  it('delivers BOOKMARK events to a watch that allows them', async () => {
    const watch = new k8s.Watch(kc);
    const seen: string[] = [];
    const req = await watch.watch(`/api/v1/namespaces/${ns}/configmaps`, { allowWatchBookmarks: true }, (phase, obj: k8s.V1ConfigMap) => {
      seen.push(`${phase}:${obj.metadata?.resourceVersion ?? ''}`);
    }, () => undefined);
    try {
      await eventually('a bookmark', () => (seen.some(s => s.startsWith('BOOKMARK:') && s.length > 'BOOKMARK:'.length)) || undefined, 20_000);
    } finally {
      req.abort();
    }
  });

  it('keeps an informer in sync, and re-lists after a 410 once history was compacted', async () => {
    const informer = k8s.makeInformer(kc, `/api/v1/namespaces/${ns}/configmaps`, () => core.listNamespacedConfigMap({ namespace: ns })) as k8s.Informer<k8s.V1ConfigMap> & k8s.ObjectCache<k8s.V1ConfigMap>;
    const events: string[] = [];
    informer.on('add', o => events.push(`add ${o.metadata?.name}`));
    informer.on('update', o => events.push(`update ${o.metadata?.name}`));
    informer.on('delete', o => events.push(`delete ${o.metadata?.name}`));
    // client-node leaves restarting after a connection error to its user, as its docs show.
    let stopped = false;
    informer.on('error', () => { if (!stopped) setTimeout(() => { if (!stopped) void informer.start().catch(() => undefined); }, 300); });
    await informer.start();
    try {
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'a' }, data: { v: '1' } } });
      await eventually('the informer to see a', () => (events.includes('add a')) || undefined, 20_000);
      await core.patchNamespacedConfigMap({ namespace: ns, name: 'a', body: { data: { v: '2' } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
      await eventually('the informer to see a change to a', () => (events.includes('update a')) || undefined, 20_000);
      expect(informer.get('a', ns)?.data).toEqual({ v: '2' });

      // While the server is down, its store changes and forgets its history: the informer's
      // resourceVersion is now too old, so it gets 410 Gone and must re-list.
      await server.kill('SIGKILL');
      const store = new SqliteStore({ path: join(server.dataDir, 'db', 'state.db') });
      const storage = new ResourceStorage(configmaps, store);
      await storage.remove(ns, 'a');
      await storage.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b', namespace: ns, uid: 'offline-b', creationTimestamp: new Date().toISOString() }, data: { v: '3' } });
      await store.compact(await store.currentRevision());
      await store.close();
      await server.start();

      await eventually('the informer to re-list', () => (events.includes('delete a') && events.includes('add b')) || undefined, 30_000);
      expect(informer.list(ns).map(o => o.metadata?.name)).toEqual(['b']);
      expect(server.requestLog().some(e => e.path === `/api/v1/namespaces/${ns}/configmaps` && /resourceVersion=\d+/.test(e.query) && /watch=true/.test(e.query))).toBe(true);
    } finally {
      stopped = true;
      await informer.stop();
    }
  });
});

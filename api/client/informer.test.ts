import { FakeClusterClient } from './fake.js';
import { Informer } from './informer.js';
import { RestClusterClient, LineSplitter, type Transport } from './rest.js';
import { resources } from './types.js';
import type { KubeObject } from '../object.js';

const tick = () => new Promise(r => setTimeout(r, 5));
const pod = (name: string, labels: Record<string, string> = {}): KubeObject => ({ metadata: { name, namespace: 'default', labels }, spec: { containers: [] } });

describe('FakeClusterClient', () => {
  it('assigns resourceVersions and rejects a stale update with 409 Conflict', async () => {
    const c = new FakeClusterClient();
    const p = await c.create(resources.pods, 'default', pod('a'));
    const p2 = await c.update(resources.pods, { ...p, metadata: { ...p.metadata, labels: { x: '1' } } });
    expect(Number(p2.metadata!.resourceVersion)).toBeGreaterThan(Number(p.metadata!.resourceVersion));
    await expect(c.update(resources.pods, p)).rejects.toMatchObject({ code: 409, reason: 'Conflict' });
    await expect(c.create(resources.pods, 'default', pod('a'))).rejects.toMatchObject({ code: 409, reason: 'AlreadyExists' });
  });

  it('writes status only through the status subresource and bumps generation on spec change', async () => {
    const c = new FakeClusterClient();
    const d = await c.create<KubeObject>(resources.deployments, 'default', { metadata: { name: 'd' }, spec: { replicas: 1 } });
    const d2 = await c.update(resources.deployments, { ...d, spec: { replicas: 2 }, status: { replicas: 9 } });
    expect(d2.metadata!.generation).toBe(2);
    expect(d2.status).toBeUndefined();
    const d3 = await c.update(resources.deployments, { ...d2, status: { replicas: 2 } }, { subresource: 'status' });
    expect(d3.status).toEqual({ replicas: 2 });
    expect(d3.metadata!.generation).toBe(2);
  });

  it('keeps an object with finalizers until they are removed', async () => {
    const c = new FakeClusterClient();
    await c.create(resources.configmaps, 'default', { metadata: { name: 'c', finalizers: ['x'] } });
    const pending = await c.delete(resources.configmaps, 'default', 'c');
    expect(pending?.metadata?.deletionTimestamp).toBeDefined();
    await c.patch(resources.configmaps, 'default', 'c', 'merge', { metadata: { finalizers: null } });
    expect(c.peek(resources.configmaps, 'default', 'c')).toBeUndefined();
  });
});

describe('Informer', () => {
  it('lists, then follows watch events, with an index', async () => {
    const c = new FakeClusterClient();
    await c.create(resources.pods, 'default', pod('a', { app: 'x' }));
    const inf = new Informer(c, resources.pods, { indexers: { app: o => [o.metadata?.labels?.app ?? ''] } });
    const seen: string[] = [];
    inf.on({ add: o => seen.push(`add ${o.metadata!.name}`), update: (_, o) => seen.push(`update ${o.metadata!.name}`), delete: o => seen.push(`delete ${o.metadata!.name}`) });
    await inf.start();
    await c.create(resources.pods, 'default', pod('b', { app: 'x' }));
    await c.patch(resources.pods, 'default', 'a', 'merge', { metadata: { labels: { app: 'y' } } });
    await c.delete(resources.pods, 'default', 'b');
    await tick();
    expect(seen).toEqual(['add a', 'add b', 'update a', 'delete b']);
    expect(inf.byIndex('app', 'y').map(p => p.metadata!.name)).toEqual(['a']);
    expect(inf.byIndex('app', 'x')).toEqual([]);
    inf.stop();
  });

  it('re-lists after 410 Gone and reports only what it missed', async () => {
    const c = new FakeClusterClient();
    await c.create(resources.pods, 'default', pod('a'));
    await c.create(resources.pods, 'default', pod('b'));
    const inf = new Informer(c, resources.pods, { minBackoffMs: 1 });
    const seen: string[] = [];
    inf.on({ add: o => seen.push(`add ${o.metadata!.name}`), delete: o => seen.push(`delete ${o.metadata!.name}`), update: (_, o) => seen.push(`update ${o.metadata!.name}`) });
    await inf.start();
    inf.stop();
    await c.delete(resources.pods, 'default', 'a');
    await c.create(resources.pods, 'default', pod('c'));
    c.compact();
    seen.length = 0;
    await inf.start();
    for (let i = 0; i < 20 && seen.length < 2; i++) await tick();
    expect(seen.sort()).toEqual(['add c', 'delete a']);
    expect(inf.stats.lists).toBe(2);
    inf.stop();
  });

  it('reconnects after the watch stream ends', async () => {
    const c = new FakeClusterClient();
    const inf = new Informer(c, resources.pods);
    await inf.start();
    c.closeWatches();
    await tick();
    await c.create(resources.pods, 'default', pod('late'));
    await tick();
    expect(inf.getBy('default', 'late')).toBeDefined();
    expect(inf.stats.watches).toBe(2);
    inf.stop();
  });
});

describe('RestClusterClient', () => {
  it('builds paths and decodes Status errors', async () => {
    const calls: string[] = [];
    const t: Transport = {
      request: async (m, p) => { calls.push(`${m} ${p}`); return { status: 404, body: JSON.stringify({ kind: 'Status', code: 404, reason: 'NotFound', message: 'pods "x" not found' }) }; },
      stream: () => ({ stop: () => undefined, done: Promise.resolve({ status: 200, body: '' }) }),
    };
    const c = new RestClusterClient(t);
    await expect(c.get(resources.pods, 'ns', 'x')).rejects.toMatchObject({ code: 404, reason: 'NotFound', message: 'pods "x" not found' });
    await expect(c.list(resources.deployments, undefined, { labelSelector: 'a=b' })).rejects.toBeDefined();
    expect(calls).toEqual(['GET /api/v1/namespaces/ns/pods/x', 'GET /apis/apps/v1/deployments?labelSelector=a%3Db']);
  });

  it('splits watch lines across chunk boundaries', () => {
    const lines: string[] = [];
    const s = new LineSplitter(l => lines.push(l));
    s.push('{"a":'); s.push('1}\n{"b"'); s.push(':2}\n');
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
  });
});

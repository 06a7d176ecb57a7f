// Node lifecycle against a real `k8ts server` (its own controllers and scheduler, with a short
// --node-monitor-grace-period) and real kubectl: a node whose kubelet stops renewing its Lease goes
// NotReady/Unknown, gets the unreachable taints, its pods stop being Ready and are evicted after
// their toleration and replaced on the healthy node; when the kubelet returns the taints go.
// Kubelets are faked through the API (fake-kubelet.ts).
import { jest } from '@jest/globals';
import { TestServer, eventually } from './harness.js';
import { withFakeKubelets } from './fake-kubelet.js';

jest.setTimeout(180_000);

const server = new TestServer(['--node-monitor-grace-period', '3s', '--node-monitor-period', '500ms'], undefined, { controlPlane: true, logLevel: 'info' });
const kubelets = withFakeKubelets(server, ['node-a', 'node-b']);
const ns = 'default';

interface Obj {
  metadata: { name: string; uid?: string; deletionTimestamp?: string };
  spec?: { nodeName?: string; taints?: { key: string; effect: string; timeAdded?: string }[]; tolerations?: unknown[] };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}
const get = async (path: string) => { const r = await server.request('GET', path); return r.status === 200 ? r.body as Obj : undefined; };
const list = async (path: string) => ((await server.request('GET', path)).body as { items: Obj[] }).items;
const cond = (o: Obj | undefined, type: string) => o?.status?.conditions?.find(c => c.type === type);

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${ns}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 4}
      containers:
      - {name: c, image: nginx}
`;

describe('node lifecycle', () => {
  it('gives pods the default 300 s tolerations of the not-ready and unreachable taints', async () => {
    const r = await server.request('POST', `/api/v1/namespaces/${ns}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'plain' }, spec: { containers: [{ name: 'c', image: 'x' }] } });
    expect(r.status).toBe(201);
    expect((r.body as Obj).spec!.tolerations).toEqual([
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ]);
    await server.request('DELETE', `/api/v1/namespaces/${ns}/pods/plain`, { gracePeriodSeconds: 0 });
  });

  it('marks a silent node Unknown and tainted, evicts its pods after their toleration, and untaints it when it returns', async () => {
    expect((await server.kubectl(['apply', '-f', '-'], { input: deployment })).exitCode).toBe(0);
    expect((await server.kubectl(['rollout', 'status', 'deployment/web', '--timeout=60s'])).exitCode).toBe(0);
    const pods = await list(`/api/v1/namespaces/${ns}/pods?labelSelector=app%3Dweb`);
    expect(pods.map(p => p.spec!.nodeName).sort()).toEqual(['node-a', 'node-b']);
    const victim = pods.find(p => p.spec!.nodeName === 'node-b')!;
    // Stays healthy while the kubelets renew their leases, well past the grace period.
    await new Promise(r => setTimeout(r, 4000));
    expect(cond(await get('/api/v1/nodes/node-b'), 'Ready')!.status).toBe('True');

    const stoppedAt = Date.now();
    kubelets.stopNode('node-b');
    const node = await eventually('node-b Unknown', async () => { const n = await get('/api/v1/nodes/node-b'); return cond(n, 'Ready')?.status === 'Unknown' ? n : undefined; }, 20_000);
    const unknownAfter = Date.now() - stoppedAt;
    expect(cond(node, 'Ready')).toMatchObject({ reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' });
    const tainted = await eventually('unreachable taints', async () => { const n = await get('/api/v1/nodes/node-b'); return (n?.spec?.taints ?? []).length === 2 ? n : undefined; });
    expect(tainted.spec!.taints!.map(t => `${t.key}:${t.effect}`).sort()).toEqual(['node.kubernetes.io/unreachable:NoExecute', 'node.kubernetes.io/unreachable:NoSchedule']);
    const getNodes = await server.kubectl(['get', 'nodes']);
    expect(getNodes.stdout).toMatch(/node-b\s+NotReady/);
    const describe = await server.kubectl(['describe', 'node', 'node-b']);
    expect(describe.stdout).toMatch(/Taints:\s+node\.kubernetes\.io\/unreachable:NoExecute\n\s+node\.kubernetes\.io\/unreachable:NoSchedule/);
    // Its pod stops being Ready at once, and is evicted after its 4 s toleration.
    const notReady = await eventually('victim Ready=False', async () => { const p = await get(`/api/v1/namespaces/${ns}/pods/${victim.metadata.name}`); return cond(p, 'Ready')?.status === 'False' ? p : undefined; });
    expect(notReady.metadata.deletionTimestamp).toBeUndefined();
    const evicted = await eventually('victim evicted', async () => { const p = await get(`/api/v1/namespaces/${ns}/pods/${victim.metadata.name}`); return p?.metadata.deletionTimestamp ? p : undefined; }, 20_000);
    const evictedAfter = Date.now() - stoppedAt;
    expect(cond(evicted, 'DisruptionTarget')).toMatchObject({ status: 'True', reason: 'DeletionByTaintManager' });
    // The ReplicaSet replaces it on the healthy node.
    const replaced = await eventually('a replacement on node-a', async () => {
      const live = (await list(`/api/v1/namespaces/${ns}/pods?labelSelector=app%3Dweb`)).filter(p => !p.metadata.deletionTimestamp);
      return live.length === 2 && live.every(p => p.spec?.nodeName === 'node-a' && cond(p, 'Ready')?.status === 'True') ? live : undefined;
    });
    expect(replaced).toHaveLength(2);
    expect((await server.kubectl(['rollout', 'status', 'deployment/web', '--timeout=30s'])).exitCode).toBe(0);
    process.stdout.write(`node-b Unknown ${unknownAfter} ms after its kubelet stopped (grace 3 s), pod evicted after ${evictedAfter} ms (toleration 4 s)\n`);

    // The kubelet comes back: Ready again, taints gone, the evicted pod finishes terminating.
    await kubelets.startNode('node-b');
    await eventually('taints removed', async () => { const n = await get('/api/v1/nodes/node-b'); return cond(n, 'Ready')?.status === 'True' && (n?.spec?.taints ?? []).length === 0 ? true : undefined; });
    await eventually('evicted pod gone', async () => ((await get(`/api/v1/namespaces/${ns}/pods/${victim.metadata.name}`)) === undefined ? true : undefined));
    expect((await server.kubectl(['get', 'nodes'])).stdout).toMatch(/node-b\s+Ready/);
  });
});

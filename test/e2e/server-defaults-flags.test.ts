// Two `k8ts server` flags a user tunes, end to end through a real server and kubectl:
// - --default-not-ready-toleration-seconds / --default-unreachable-toleration-seconds (upstream's
//   DefaultTolerationSeconds admission): a new pod gets those, not 300; a pod with its own
//   toleration of a taint keeps it.
// - --terminated-pod-gc-threshold: with more terminated pods than the threshold, PodGC deletes the
//   oldest on its next pass (every 20 s, as upstream) and leaves running ones alone.
import { jest } from '@jest/globals';
import { TestServer, eventually } from './harness.js';

jest.setTimeout(120_000);

const server = new TestServer(['--default-not-ready-toleration-seconds=60', '--default-unreachable-toleration-seconds', '30', '--terminated-pod-gc-threshold=2'], undefined, { controllers: 'podgc', logLevel: 'info' });
beforeAll(async () => { await server.start(); });
afterAll(async () => { await server.stop(); });

interface Pod { metadata: { name: string }; spec: { tolerations?: { key?: string; effect?: string; tolerationSeconds?: number }[] } }
const pod = (name: string, tolerations?: unknown[]) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'busybox' }], ...(tolerations ? { tolerations } : {}) } });

describe('server flags', () => {
  it('--default-*-toleration-seconds set the tolerations admission adds to new pods', async () => {
    expect((await server.request('POST', '/api/v1/namespaces/default/pods', pod('plain'))).status).toBe(201);
    const out = await server.kubectl(['get', 'pod', 'plain', '-o', 'jsonpath={range .spec.tolerations[*]}{.key}={.tolerationSeconds}{"\\n"}{end}']);
    expect(out.stdout.trim().split('\n')).toEqual(['node.kubernetes.io/not-ready=60', 'node.kubernetes.io/unreachable=30']);
    const own = [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 }];
    const created = (await server.request('POST', '/api/v1/namespaces/default/pods', pod('own', own))).body as Pod;
    expect(created.spec.tolerations?.map(t => `${t.key}=${t.tolerationSeconds}`)).toEqual(['node.kubernetes.io/unreachable=5', 'node.kubernetes.io/not-ready=60']);
  });

  it('--terminated-pod-gc-threshold: the oldest terminated pods above it are deleted', async () => {
    const names = ['done-1', 'done-2', 'done-3', 'done-4'];
    for (const name of names) {
      expect((await server.request('POST', '/api/v1/namespaces/default/pods', pod(name))).status).toBe(201);
      const r = await server.raw('PATCH', `/api/v1/namespaces/default/pods/${name}/status`, { body: JSON.stringify({ status: { phase: name === 'done-2' ? 'Failed' : 'Succeeded' } }), headers: { 'Content-Type': 'application/merge-patch+json' } });
      expect(r.status).toBe(200);
      await new Promise(r2 => setTimeout(r2, 1100)); // creationTimestamps are whole seconds
    }
    const left = await eventually('PodGC to keep 2 terminated pods', async () => {
      const items = ((await server.request('GET', '/api/v1/namespaces/default/pods')).body as { items: Pod[] }).items.map(p => p.metadata.name).sort();
      return items.length === 4 ? items : undefined;
    }, 45_000);
    // The two oldest terminated pods went; the two pending pods of the first case stay.
    expect(left).toEqual(['done-3', 'done-4', 'own', 'plain']);
  });
});

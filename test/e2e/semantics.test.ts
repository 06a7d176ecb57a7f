// Upstream API semantics that no single kubectl command shows: ClusterIP and NodePort allocation
// (never twice, released on delete), graceful pod deletion, finalizers, generateName, the
// binding subresource, deletecollection, and the status/spec split.
import { jest } from '@jest/globals';
import { TestServer } from './harness.js';

jest.setTimeout(120_000);

const server = new TestServer();
beforeAll(async () => {
  await server.start();
  expect((await server.request('POST', '/api/v1/namespaces', { metadata: { name: 'sem' } })).status).toBe(201);
});
afterAll(async () => { await server.stop(); });

interface Svc { metadata: { name: string }; spec: { clusterIP: string; ports: { nodePort?: number }[] } }
interface Pod { metadata: { name: string; deletionTimestamp?: string; deletionGracePeriodSeconds?: number }; spec: { nodeName?: string }; status?: { phase?: string; conditions?: { type: string; status: string }[] } }
type Body = Record<string, unknown>;

const service = (name: string, spec: Body = {}) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { ports: [{ port: 80 }], selector: { app: name }, ...spec } });
const pod = (name: string, extra: Body = {}) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox' }], ...extra } });

describe('service address allocation', () => {
  it('hands out 40 distinct ClusterIPs and NodePorts to concurrent creates', async () => {
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => server.request('POST', '/api/v1/namespaces/sem/services', service(`s${i}`, { type: 'NodePort' }))));
    expect(results.map(r => r.status)).toEqual(Array(40).fill(201));
    const svcs = results.map(r => r.body as Svc);
    const ips = svcs.map(s => s.spec.clusterIP);
    const ports = svcs.map(s => s.spec.ports[0]!.nodePort);
    expect(new Set(ips).size).toBe(40);
    expect(new Set(ports).size).toBe(40);
    for (const ip of ips) expect(ip).toMatch(/^10\.43\.\d+\.\d+$/);
    expect(ips).not.toContain('10.43.0.1'); // the kubernetes Service's
    for (const p of ports) expect(p).toBeGreaterThanOrEqual(30000);
  });

  it('refuses a ClusterIP or NodePort that is taken, and frees them on delete', async () => {
    const a = (await server.request('POST', '/api/v1/namespaces/sem/services', service('taken-a', { type: 'NodePort', clusterIP: '10.43.200.7', ports: [{ port: 80, nodePort: 31999 }] }))).body as Svc;
    expect(a.spec.clusterIP).toBe('10.43.200.7');
    const ipClash = await server.request('POST', '/api/v1/namespaces/sem/services', service('taken-b', { clusterIP: '10.43.200.7' }));
    expect(ipClash.status).toBe(422);
    expect(JSON.stringify(ipClash.body)).toContain('provided IP is already allocated');
    const portClash = await server.request('POST', '/api/v1/namespaces/sem/services', service('taken-c', { type: 'NodePort', ports: [{ port: 80, nodePort: 31999 }] }));
    expect(portClash.status).toBe(422);
    expect(JSON.stringify(portClash.body)).toContain('spec.ports[0].nodePort');
    expect((await server.request('DELETE', '/api/v1/namespaces/sem/services/taken-a')).status).toBe(200);
    const reuse = await server.request('POST', '/api/v1/namespaces/sem/services', service('taken-d', { type: 'NodePort', clusterIP: '10.43.200.7', ports: [{ port: 80, nodePort: 31999 }] }));
    expect(reuse.status).toBe(201);
  });

  it('refuses a ClusterIP outside the service CIDR', async () => {
    const r = await server.request('POST', '/api/v1/namespaces/sem/services', service('outside', { clusterIP: '192.168.1.1' }));
    expect(r.status).toBe(422);
    expect(JSON.stringify(r.body)).toContain('not in the valid range');
  });

  it('gives a NodePort when the type changes from ClusterIP, and takes it back on the way back', async () => {
    const created = (await server.request('POST', '/api/v1/namespaces/sem/services', service('flip'))).body as Svc;
    expect(created.spec.ports[0]!.nodePort).toBeUndefined();
    const np = await server.raw('PATCH', '/api/v1/namespaces/sem/services/flip', { body: JSON.stringify({ spec: { type: 'NodePort' } }), headers: { 'Content-Type': 'application/merge-patch+json' } });
    expect(np.status).toBe(200);
    const port = (np.body as Svc).spec.ports[0]!.nodePort!;
    expect(port).toBeGreaterThanOrEqual(30000);
    const back = await server.raw('PATCH', '/api/v1/namespaces/sem/services/flip', { body: JSON.stringify({ spec: { type: 'ClusterIP', ports: [{ port: 80 }] } }), headers: { 'Content-Type': 'application/merge-patch+json' } });
    expect(back.status).toBe(200);
    expect((back.body as Svc).spec.ports[0]!.nodePort).toBeUndefined();
    const other = await server.request('POST', '/api/v1/namespaces/sem/services', service('takes-it', { type: 'NodePort', ports: [{ port: 80, nodePort: port }] }));
    expect(other.status).toBe(201);
  });
});

describe('pods', () => {
  it('an unscheduled pod is deleted at once; a bound one waits for its grace period', async () => {
    expect((await server.request('POST', '/api/v1/namespaces/sem/pods', pod('loose'))).status).toBe(201);
    expect((await server.request('DELETE', '/api/v1/namespaces/sem/pods/loose')).status).toBe(200);
    expect((await server.request('GET', '/api/v1/namespaces/sem/pods/loose')).status).toBe(404);

    expect((await server.request('POST', '/api/v1/namespaces/sem/pods', pod('bound', { nodeName: 'node-a', terminationGracePeriodSeconds: 20 }))).status).toBe(201);
    const pending = (await server.request('DELETE', '/api/v1/namespaces/sem/pods/bound')).body as Pod;
    expect(pending.metadata.deletionGracePeriodSeconds).toBe(20);
    expect(pending.metadata.deletionTimestamp).toBeTruthy();
    expect((await server.request('GET', '/api/v1/namespaces/sem/pods/bound')).status).toBe(200);
    // The kubelet's final delete, with grace 0, removes it.
    expect((await server.request('DELETE', '/api/v1/namespaces/sem/pods/bound', { gracePeriodSeconds: 0 })).status).toBe(200);
    expect((await server.request('GET', '/api/v1/namespaces/sem/pods/bound')).status).toBe(404);
  });

  it('binds a pod once through pods/binding and sets PodScheduled', async () => {
    expect((await server.request('POST', '/api/v1/namespaces/sem/pods', pod('to-bind'))).status).toBe(201);
    const bind = await server.request('POST', '/api/v1/namespaces/sem/pods/to-bind/binding', { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'to-bind' }, target: { kind: 'Node', name: 'node-b' } });
    expect(bind.status).toBe(201);
    const p = (await server.request('GET', '/api/v1/namespaces/sem/pods/to-bind')).body as Pod;
    expect(p.spec.nodeName).toBe('node-b');
    expect(p.status?.conditions).toContainEqual(expect.objectContaining({ type: 'PodScheduled', status: 'True' }));
    const again = await server.request('POST', '/api/v1/namespaces/sem/pods/to-bind/binding', { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'to-bind' }, target: { kind: 'Node', name: 'node-c' } });
    expect(again.status).toBe(409);
  });

  it('keeps status out of spec writes and spec out of status writes', async () => {
    const created = (await server.request('POST', '/api/v1/namespaces/sem/pods', pod('split'))).body as Pod & Body;
    expect(created.status?.phase).toBe('Pending');
    const viaMain = (await server.request('PUT', '/api/v1/namespaces/sem/pods/split', { ...created, status: { phase: 'Running' } })).body as Pod;
    expect(viaMain.status?.phase).toBe('Pending');
    const current = (await server.request('GET', '/api/v1/namespaces/sem/pods/split')).body as Pod & Body;
    const viaStatus = (await server.request('PUT', '/api/v1/namespaces/sem/pods/split/status', { ...current, spec: { ...current.spec, activeDeadlineSeconds: 5 }, status: { phase: 'Running' } })).body as Pod & { spec: { activeDeadlineSeconds?: number } };
    expect(viaStatus.status?.phase).toBe('Running');
    expect(viaStatus.spec.activeDeadlineSeconds).toBeUndefined();
  });
});

describe('metadata', () => {
  it('generateName makes unique names; finalizers hold an object until removed', async () => {
    const a = (await server.request('POST', '/api/v1/namespaces/sem/configmaps', { metadata: { generateName: 'gen-' } })).body as { metadata: { name: string } };
    const b = (await server.request('POST', '/api/v1/namespaces/sem/configmaps', { metadata: { generateName: 'gen-' } })).body as { metadata: { name: string } };
    expect(a.metadata.name).toMatch(/^gen-[a-z0-9]{5}$/);
    expect(a.metadata.name).not.toBe(b.metadata.name);

    expect((await server.request('POST', '/api/v1/namespaces/sem/configmaps', { metadata: { name: 'held', finalizers: ['example.com/hold'] } })).status).toBe(201);
    expect((await server.request('DELETE', '/api/v1/namespaces/sem/configmaps/held')).status).toBe(200);
    const held = (await server.request('GET', '/api/v1/namespaces/sem/configmaps/held')).body as { metadata: { deletionTimestamp?: string } };
    expect(held.metadata.deletionTimestamp).toBeTruthy();
    const release = await server.raw('PATCH', '/api/v1/namespaces/sem/configmaps/held', { body: JSON.stringify({ metadata: { finalizers: null } }), headers: { 'Content-Type': 'application/merge-patch+json' } });
    expect(release.status).toBe(200);
    expect((await server.request('GET', '/api/v1/namespaces/sem/configmaps/held')).status).toBe(404);
  });

  it('deletecollection removes what the selector picks and nothing else', async () => {
    for (const [name, tier] of [['dc-1', 'x'], ['dc-2', 'x'], ['dc-3', 'y']]) {
      expect((await server.request('POST', '/api/v1/namespaces/sem/configmaps', { metadata: { name, labels: { tier } } })).status).toBe(201);
    }
    expect((await server.request('DELETE', '/api/v1/namespaces/sem/configmaps?labelSelector=tier%3Dx')).status).toBe(200);
    const left = (await server.request('GET', '/api/v1/namespaces/sem/configmaps?labelSelector=tier')).body as { items: { metadata: { name: string } }[] };
    expect(left.items.map(i => i.metadata.name)).toEqual(['dc-3']);
  });

  it('paginates a list with limit and continue', async () => {
    const page1 = (await server.request('GET', '/api/v1/namespaces/sem/services?limit=15')).body as { items: unknown[]; metadata: { continue?: string; remainingItemCount?: number } };
    expect(page1.items).toHaveLength(15);
    expect(page1.metadata.continue).toBeTruthy();
    const page2 = (await server.request('GET', `/api/v1/namespaces/sem/services?limit=100&continue=${encodeURIComponent(page1.metadata.continue!)}`)).body as { items: unknown[]; metadata: { continue?: string } };
    expect(page2.metadata.continue).toBeUndefined();
    const all = (await server.request('GET', '/api/v1/namespaces/sem/services')).body as { items: unknown[] };
    expect(page1.items.length + page2.items.length).toBe(all.items.length);
  });
});

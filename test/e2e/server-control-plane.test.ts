// `k8ts server` runs its controllers and scheduler itself: a Deployment applied with kubectl gets
// a ReplicaSet and pods, Nodes get podCIDRs, and pods that fit nowhere say why.
import { jest } from '@jest/globals';
import { eventually, TestServer } from './harness.js';

jest.setTimeout(120_000);

const server = new TestServer([], undefined, { controlPlane: true });
beforeAll(async () => { await server.start(); });
afterAll(async () => { await server.stop(); });

describe('the control plane inside k8ts server', () => {
  it('reconciles a Deployment into a ReplicaSet and pods, and explains why they cannot be scheduled', async () => {
    const r = await server.kubectl(['create', 'deployment', 'web', '--image=busybox', '--replicas=2']);
    expect(r.exitCode).toBe(0);
    const pods = await eventually('two pods', async () => {
      const list = (await server.request('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb')).body as { items: { status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } }[] };
      return list.items.length === 2 ? list.items : undefined;
    });
    const rs = (await server.request('GET', '/apis/apps/v1/namespaces/default/replicasets')).body as { items: { metadata: { ownerReferences: { kind: string; name: string }[] } }[] };
    expect(rs.items).toHaveLength(1);
    expect(rs.items[0]!.metadata.ownerReferences[0]).toMatchObject({ kind: 'Deployment', name: 'web' });
    expect(pods).toHaveLength(2);
    const condition = await eventually('a PodScheduled condition', async () => {
      const list = (await server.request('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb')).body as { items: { status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } }[] };
      return list.items[0]?.status?.conditions?.find(c => c.type === 'PodScheduled');
    });
    expect(condition).toMatchObject({ status: 'False', reason: 'Unschedulable' });
    expect(condition.message).toBe('no nodes available to schedule pods'); // upstream's ErrNoNodesAvailable
  });

  it('gives a Node a podCIDR from the cluster CIDR', async () => {
    expect((await server.request('POST', '/api/v1/nodes', { metadata: { name: 'n1' } })).status).toBe(201);
    const cidr = await eventually('a podCIDR', async () => ((await server.request('GET', '/api/v1/nodes/n1')).body as { spec?: { podCIDR?: string } }).spec?.podCIDR);
    expect(cidr).toMatch(/^10\.42\.\d+\.0\/24$/);
  });
});

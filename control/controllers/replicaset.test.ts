import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { FakeClusterClient } from '../../api/client/fake.js';
import { resources } from '../../api/client/types.js';
import { fromMetaLabelSelector } from '../../api/selectors.js';
import { newContext } from './context.js';
import { planReplicas, ReplicaSetController, replicationControllerKind } from './replicaset.js';
import { deletionOrder } from './pods.js';

const tick = (ms = 10) => new Promise(r => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 2000): Promise<void> {
  for (let t = 0; t < ms && !cond(); t += 10) await tick();
  if (!cond()) throw new Error('condition not met');
}

const rs = (replicas: number, extra: Record<string, unknown> = {}): KubeObject => ({
  metadata: { name: 'web', namespace: 'default', uid: 'rs-uid' },
  spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } }, ...extra },
});
const pod = (name: string, labels: Record<string, string>, extra: Partial<Pod> = {}, owner?: string): Pod => ({
  metadata: { name, namespace: 'default', uid: name, labels, creationTimestamp: `2026-01-01T00:00:0${name.length % 10}Z`, ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: owner, controller: true }] } : {}) },
  spec: { containers: [] }, ...extra,
});

describe('planReplicas', () => {
  const sel = fromMetaLabelSelector({ matchLabels: { app: 'web' } });
  it('adopts matching orphans, releases owned pods that stopped matching, creates the rest', () => {
    const plan = planReplicas(rs(3), sel, [pod('a', { app: 'web' }), pod('b', { app: 'db' }, {}, 'rs-uid'), pod('c', { app: 'web' }, {}, 'other')]);
    expect(plan.adopt.map(p => p.metadata!.name)).toEqual(['a']);
    expect(plan.release.map(p => p.metadata!.name)).toEqual(['b']);
    expect(plan.create).toBe(2);
  });
  it('deletes unscheduled and not-ready pods before running ready ones', () => {
    const ready = { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } } as Partial<Pod>;
    const pods = [pod('run', { app: 'web' }, { ...ready, spec: { containers: [], nodeName: 'n' } }, 'rs-uid'), pod('pend', { app: 'web' }, {}, 'rs-uid'), pod('notready', { app: 'web' }, { status: { phase: 'Running' }, spec: { containers: [], nodeName: 'n' } }, 'rs-uid')];
    const plan = planReplicas(rs(1), sel, pods);
    expect(plan.delete.map(p => p.metadata!.name)).toEqual(['pend', 'notready']);
    expect([...pods].sort(deletionOrder)[2]!.metadata!.name).toBe('run');
  });
});

describe('ReplicaSetController', () => {
  it('creates pods, writes status, and scales down', async () => {
    const c = new FakeClusterClient();
    const ctx = newContext(c, { events: false });
    const ctl = new ReplicaSetController(ctx);
    await c.create(resources.replicasets, 'default', rs(3));
    await ctx.informers.start();
    ctl.start();
    await until(() => c.all(resources.pods).length === 3 && (c.peek<KubeObject>(resources.replicasets, 'default', 'web')!.status as { replicas?: number } | undefined)?.replicas === 3);
    const p = c.all<Pod>(resources.pods)[0]!;
    expect(p.metadata!.generateName).toBe('web-');
    expect(p.metadata!.ownerReferences![0]).toMatchObject({ kind: 'ReplicaSet', name: 'web', controller: true, blockOwnerDeletion: true });
    // Mark one ready through status, as a kubelet would.
    await c.patch(resources.pods, 'default', p.metadata!.name!, 'merge', { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }, { subresource: 'status' });
    await until(() => (c.peek<KubeObject>(resources.replicasets, 'default', 'web')!.status as { availableReplicas?: number }).availableReplicas === 1);
    await c.patch(resources.replicasets, 'default', 'web', 'merge', { spec: { replicas: 1 } });
    await until(() => c.all(resources.pods).length === 1);
    // The ready pod survives the scale-down.
    expect(c.all<Pod>(resources.pods)[0]!.metadata!.name).toBe(p.metadata!.name);
    await until(() => (c.peek<KubeObject>(resources.replicasets, 'default', 'web')!.status as { replicas?: number; observedGeneration?: number }).observedGeneration === 2);
    await ctl.stop(); ctx.informers.stop();
  });

  it('records a failed create as ReplicaFailure and retries with back-off', async () => {
    const c = new FakeClusterClient();
    const ctx = newContext(c, { events: false });
    const ctl = new ReplicaSetController(ctx);
    c.failNext.set('create pods', Object.assign(new Error('pods "x" is forbidden: exceeded quota'), { code: 403 }) as never);
    await c.create(resources.replicasets, 'default', rs(2));
    await ctx.informers.start();
    ctl.start();
    await until(() => c.calls.some(x => x.subresource === 'status' && JSON.stringify(x.body).includes('ReplicaFailure')));
    await until(() => c.all(resources.pods).length === 2);
    await until(() => !((c.peek<KubeObject>(resources.replicasets, 'default', 'web')!.status as { conditions?: { type: string }[] }).conditions ?? []).length);
    await ctl.stop(); ctx.informers.stop();
  });

  it('serves ReplicationControllers with a map selector', async () => {
    const c = new FakeClusterClient();
    const ctx = newContext(c, { events: false });
    const ctl = new ReplicaSetController(ctx, replicationControllerKind);
    await c.create(resources.replicationcontrollers, 'default', { metadata: { name: 'rc' }, spec: { replicas: 2, selector: { app: 'x' }, template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } });
    await ctx.informers.start();
    ctl.start();
    await until(() => c.all(resources.pods).length === 2);
    expect(c.all<Pod>(resources.pods)[0]!.metadata!.ownerReferences![0]).toMatchObject({ apiVersion: 'v1', kind: 'ReplicationController' });
    await ctl.stop(); ctx.informers.stop();
  });
});

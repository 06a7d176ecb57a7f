import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { PersistentVolumeClaim, Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { FakeClusterClient } from '../../api/client/fake.js';
import { resources } from '../../api/client/types.js';
import { newContext } from './context.js';
import { StatefulSetController, newStatefulSetPod, planStatefulSet, podRevision, type SetRevisions } from './statefulset.js';

const tick = (ms = 10) => new Promise(r => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  for (let t = 0; t < ms && !cond(); t += 10) await tick();
  if (!cond()) throw new Error('condition not met');
}

const template = (image: string) => ({ metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'c', image }] } });
const sts = (replicas: number, extra: Partial<NonNullable<StatefulSet['spec']>> = {}): StatefulSet => ({
  metadata: { name: 'db', namespace: 'default', uid: 'sts-uid', generation: 1 },
  spec: {
    replicas, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: template('postgres:16'),
    volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
    podManagementPolicy: 'OrderedReady', updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } }, ...extra,
  },
});
const revs: SetRevisions = { current: 'db-a', update: 'db-a', currentTemplate: template('postgres:16'), updateTemplate: template('postgres:16') };
const ready = (p: Pod): Pod => ({ ...p, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
const podAt = (set: StatefulSet, ordinal: number, rev = 'db-a', isReady = true) => {
  const p = newStatefulSetPod(set, template('postgres:16'), ordinal, rev);
  return isReady ? ready(p) : p;
};

describe('newStatefulSetPod', () => {
  it('gives the pod its stable name, hostname, subdomain, labels and claim volume', () => {
    const p = newStatefulSetPod(sts(3), template('postgres:16'), 2, 'db-a');
    expect(p.metadata).toMatchObject({ name: 'db-2', labels: { app: 'db', 'statefulset.kubernetes.io/pod-name': 'db-2', 'apps.kubernetes.io/pod-index': '2', 'controller-revision-hash': 'db-a' } });
    expect(p.spec).toMatchObject({ hostname: 'db-2', subdomain: 'db', volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-db-2' } }] });
  });
});

describe('planStatefulSet', () => {
  it('OrderedReady creates one pod at a time and waits for it to be ready', () => {
    const set = sts(3);
    expect(planStatefulSet(set, [], revs).create.map(c => c.ordinal)).toEqual([0]);
    expect(planStatefulSet(set, [podAt(set, 0, 'db-a', false)], revs).create).toEqual([]);
    expect(planStatefulSet(set, [podAt(set, 0)], revs).create.map(c => c.ordinal)).toEqual([1]);
  });
  it('Parallel creates every missing pod at once', () => {
    const set = sts(3, { podManagementPolicy: 'Parallel' });
    expect(planStatefulSet(set, [podAt(set, 1, 'db-a', false)], revs).create.map(c => c.ordinal)).toEqual([0, 2]);
  });
  it('scales down from the highest ordinal, one at a time', () => {
    const set = sts(1);
    const plan = planStatefulSet(set, [podAt(set, 0), podAt(set, 1), podAt(set, 2)], revs);
    expect(plan.delete.map(d => d.pod.metadata!.name)).toEqual(['db-2']);
  });
  it('rolls from the highest ordinal down to the partition', () => {
    const set = sts(3, { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } } });
    const r2: SetRevisions = { ...revs, update: 'db-b', updateTemplate: template('postgres:17') };
    const pods = [podAt(set, 0), podAt(set, 1), podAt(set, 2)];
    expect(planStatefulSet(set, pods, r2).delete.map(d => d.pod.metadata!.name)).toEqual(['db-2']);
    // db-2 recreated at the new revision and ready: db-1 next; db-0 stays (partition 1).
    const pods2 = [podAt(set, 0), podAt(set, 1), podAt(set, 2, 'db-b')];
    expect(planStatefulSet(set, pods2, r2).delete.map(d => d.pod.metadata!.name)).toEqual(['db-1']);
    const pods3 = [podAt(set, 0), podAt(set, 2, 'db-b')];
    const created = planStatefulSet(set, pods3, r2).create;
    expect(created).toMatchObject([{ ordinal: 1, revision: 'db-b' }]);
    expect(planStatefulSet(set, [podAt(set, 0), podAt(set, 1, 'db-b'), podAt(set, 2, 'db-b')], r2)).toEqual({ create: [], delete: [] });
    // Below the partition a missing pod comes back at the current revision.
    expect(planStatefulSet(set, [podAt(set, 1, 'db-b'), podAt(set, 2, 'db-b')], r2).create).toMatchObject([{ ordinal: 0, revision: 'db-a' }]);
  });
  it('OnDelete never deletes for an update', () => {
    const set = sts(2, { updateStrategy: { type: 'OnDelete' } });
    const r2: SetRevisions = { ...revs, update: 'db-b' };
    expect(planStatefulSet(set, [podAt(set, 0), podAt(set, 1)], r2)).toEqual({ create: [], delete: [] });
    expect(planStatefulSet(set, [podAt(set, 0)], r2).create).toMatchObject([{ ordinal: 1, revision: 'db-b' }]);
  });
});

describe('StatefulSetController', () => {
  it('creates claims and pods in order, writes revisions and status, keeps claims when pods go', async () => {
    const c = new FakeClusterClient();
    const ctx = newContext(c, { events: false });
    const ctl = new StatefulSetController(ctx);
    await c.create(resources.statefulsets, 'default', sts(2) as KubeObject);
    await ctx.informers.start();
    ctl.start();
    await until(() => c.all(resources.pods).length === 1);
    expect(c.peek<Pod>(resources.pods, 'default', 'db-0')).toBeDefined();
    expect(c.peek<PersistentVolumeClaim>(resources.persistentvolumeclaims, 'default', 'data-db-0')!.metadata!.labels).toEqual({ app: 'db' });
    const rev = c.all<KubeObject>(resources.controllerrevisions);
    expect(rev).toHaveLength(1);
    expect(podRevision(c.peek<Pod>(resources.pods, 'default', 'db-0')!)).toBe(rev[0]!.metadata!.name);
    await tick(100);
    expect(c.all(resources.pods)).toHaveLength(1); // waits for db-0 to be ready
    await c.patch(resources.pods, 'default', 'db-0', 'merge', { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }, { subresource: 'status' });
    await until(() => c.all(resources.pods).length === 2);
    await c.patch(resources.pods, 'default', 'db-1', 'merge', { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }, { subresource: 'status' });
    await until(() => (c.peek<StatefulSet>(resources.statefulsets, 'default', 'db')!.status?.readyReplicas ?? 0) === 2);
    expect(c.peek<StatefulSet>(resources.statefulsets, 'default', 'db')!.status).toMatchObject({ replicas: 2, readyReplicas: 2, currentReplicas: 2, updatedReplicas: 2, availableReplicas: 2, currentRevision: rev[0]!.metadata!.name, updateRevision: rev[0]!.metadata!.name, observedGeneration: 1 });
    // Deleting a pod: it comes back with the same name; its claim was never deleted.
    await c.delete(resources.pods, 'default', 'db-1');
    await until(() => Boolean(c.peek(resources.pods, 'default', 'db-1')));
    expect(c.all(resources.persistentvolumeclaims)).toHaveLength(2);
    await ctl.stop(); ctx.informers.stop();
  });

  it('hands the claims of scaled-down pods to the pods when whenScaled is Delete', async () => {
    const c = new FakeClusterClient();
    const ctx = newContext(c, { events: false });
    const ctl = new StatefulSetController(ctx);
    await c.create(resources.statefulsets, 'default', sts(2, { podManagementPolicy: 'Parallel', persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Delete' } }) as KubeObject);
    await ctx.informers.start();
    ctl.start();
    await until(() => c.all(resources.pods).length === 2 && c.all(resources.persistentvolumeclaims).length === 2);
    for (const n of ['db-0', 'db-1']) await c.patch(resources.pods, 'default', n, 'merge', { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }, { subresource: 'status' });
    const uid = c.peek<Pod>(resources.pods, 'default', 'db-1')!.metadata!.uid;
    await c.patch(resources.statefulsets, 'default', 'db', 'merge', { spec: { replicas: 1 } });
    await until(() => !c.peek(resources.pods, 'default', 'db-1'));
    expect(c.peek<PersistentVolumeClaim>(resources.persistentvolumeclaims, 'default', 'data-db-1')!.metadata!.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Pod', name: 'db-1', uid }]);
    expect(c.peek<PersistentVolumeClaim>(resources.persistentvolumeclaims, 'default', 'data-db-0')!.metadata!.ownerReferences ?? []).toEqual([]);
    await ctl.stop(); ctx.informers.stop();
  });
});

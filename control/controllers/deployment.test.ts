import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { FakeClusterClient } from '../../api/client/fake.js';
import { resources } from '../../api/client/types.js';
import { newContext } from './context.js';
import { DeploymentController, computeHash, planDeployment, resolveFenceposts, revisionAnnotation } from './deployment.js';
import { ReplicaSetController } from './replicaset.js';

const tick = (ms = 10) => new Promise(r => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 4000): Promise<void> {
  for (let t = 0; t < ms && !cond(); t += 10) await tick();
  if (!cond()) throw new Error('condition not met');
}

const deployment = (replicas: number, image: string, strategy?: Deployment['spec'] extends infer S ? S extends { strategy?: infer T } ? T : never : never): Deployment => ({
  metadata: { name: 'web', namespace: 'default', uid: 'd-uid', generation: 1 },
  spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image }] } }, ...(strategy ? { strategy } : {}) },
});
const rsOf = (d: Deployment, name: string, replicas: number, available: number, revision: string, template = d.spec!.template): ReplicaSet => ({
  metadata: { name, namespace: 'default', uid: name, creationTimestamp: `2026-01-01T00:00:0${revision}Z`, annotations: { [revisionAnnotation]: revision }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd-uid', controller: true }] },
  spec: { replicas, selector: { matchLabels: { app: 'web' } }, template },
  status: { replicas, availableReplicas: available, readyReplicas: available },
});

describe('planDeployment', () => {
  it('resolves maxSurge up and maxUnavailable down, and never both zero', () => {
    expect(resolveFenceposts(deployment(10, 'a'))).toEqual({ maxSurge: 3, maxUnavailable: 2 });
    expect(resolveFenceposts(deployment(1, 'a', { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '10%' } }))).toEqual({ maxSurge: 0, maxUnavailable: 1 });
  });

  it('creates the first ReplicaSet at full size with revision 1 and the hash label', () => {
    const d = deployment(3, 'nginx:1');
    const plan = planDeployment(d, [], Date.now());
    const hash = computeHash(d.spec!.template);
    expect(plan.create!.metadata!.name).toBe(`web-${hash}`);
    expect(plan.create!.spec!.replicas).toBe(3);
    expect(plan.create!.metadata!.annotations![revisionAnnotation]).toBe('1');
    expect(plan.create!.spec!.selector!.matchLabels).toEqual({ app: 'web', 'pod-template-hash': hash });
    expect(plan.status.conditions!.find(c => c.type === 'Progressing')!.reason).toBe('NewReplicaSetCreated');
  });

  it('surges the new ReplicaSet and keeps old pods within maxUnavailable', () => {
    const d = deployment(4, 'nginx:2');
    const old = rsOf(d, 'web-old', 4, 4, '1', { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } });
    const plan = planDeployment(d, [old], Date.now());
    expect(plan.create!.spec!.replicas).toBe(1); // 25% of 4 surge
    expect(plan.create!.metadata!.annotations![revisionAnnotation]).toBe('2');
    // 4 old available + 0 new: minAvailable 3 → one old pod may go.
    expect(plan.update.find(r => r.metadata!.name === 'web-old')!.spec!.replicas).toBe(3);
  });

  it('Recreate scales old ReplicaSets to zero before the new one grows', () => {
    const d = deployment(2, 'nginx:2', { type: 'Recreate' });
    const old = rsOf(d, 'web-old', 2, 2, '1', { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } });
    const plan = planDeployment(d, [old], Date.now());
    expect(plan.create!.spec!.replicas).toBe(0);
    expect(plan.update.find(r => r.metadata!.name === 'web-old')!.spec!.replicas).toBe(0);
  });

  it('keeps only revisionHistoryLimit scaled-down ReplicaSets, once the rollout is complete or while paused', () => {
    const complete = { replicas: 1, updatedReplicas: 1, availableReplicas: 1, observedGeneration: 1 };
    const d: Deployment = { ...deployment(1, 'nginx:9'), spec: { ...deployment(1, 'nginx:9').spec!, revisionHistoryLimit: 1 }, status: complete };
    const old = (i: number) => ({ ...rsOf(d, `web-${i}`, 0, 0, String(i), { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: `nginx:${i}` }] } }), status: { replicas: 0 } });
    const cur = rsOf(d, 'web-cur', 1, 1, '4');
    expect(planDeployment(d, [old(1), old(2), old(3), cur], Date.now()).delete.map(r => r.metadata!.name)).toEqual(['web-1', 'web-2']);
    // In the middle of a rollout (status not yet complete) nothing goes; paused, it does (upstream's cleanupDeployment).
    const rolling: Deployment = { ...d, status: { ...complete, availableReplicas: 0 } };
    expect(planDeployment(rolling, [old(1), old(2), old(3), cur], Date.now()).delete).toEqual([]);
    const paused: Deployment = { ...rolling, spec: { ...rolling.spec!, paused: true } };
    expect(planDeployment(paused, [old(1), old(2), old(3), cur], Date.now()).delete.map(r => r.metadata!.name)).toEqual(['web-1', 'web-2']);
  });
});

describe('planDeployment over time', () => {
  const oldTemplate = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } };

  it('spreads a scale-up in the middle of a rollout over the active ReplicaSets by size', () => {
    const d = deployment(20, 'nginx:2');
    const old = rsOf(d, 'web-old', 6, 6, '1', oldTemplate);
    const cur = rsOf(d, 'web-new', 5, 2, '2');
    for (const rs of [old, cur]) rs.metadata!.annotations!['deployment.kubernetes.io/desired-replicas'] = '10';
    const plan = planDeployment(d, [old, cur], Date.now());
    const after = (n: string) => plan.update.find(r => r.metadata!.name === n)?.spec!.replicas;
    // allowed = 20 + maxSurge 5 = 25, spread over 6 and 5.
    expect(after('web-old')! + after('web-new')!).toBe(25);
    expect(after('web-old')!).toBeGreaterThan(6);
    expect(after('web-new')!).toBeGreaterThan(5);
  });

  it('reports ProgressDeadlineExceeded when nothing moved for progressDeadlineSeconds', () => {
    const d = deployment(2, 'nginx:2');
    d.spec!.progressDeadlineSeconds = 60;
    const cur = rsOf(d, 'web-new', 2, 0, '1');
    cur.metadata!.annotations!['deployment.kubernetes.io/desired-replicas'] = '2';
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    d.status = { replicas: 2, updatedReplicas: 2, conditions: [{ type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', lastUpdateTime: '2026-01-01T00:00:00Z', lastTransitionTime: '2026-01-01T00:00:00Z' }] };
    const early = planDeployment(d, [cur], t0 + 30_000);
    expect(early.status.conditions!.find(c => c.type === 'Progressing')!.reason).toBe('ReplicaSetUpdated');
    expect(early.requeueAfterMs).toBeGreaterThan(29_000);
    const late = planDeployment(d, [cur], t0 + 61_000);
    expect(late.status.conditions!.find(c => c.type === 'Progressing')).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-new" has timed out progressing.' });
  });

  it('pausing stops the rollout but not scaling', () => {
    const d = deployment(3, 'nginx:2');
    d.spec!.paused = true;
    const old = rsOf(d, 'web-old', 2, 2, '1', oldTemplate);
    const plan = planDeployment(d, [old], Date.now());
    expect(plan.create).toBeUndefined();
    expect(plan.update.find(r => r.metadata!.name === 'web-old')!.spec!.replicas).toBe(3);
    expect(plan.status.conditions!.find(c => c.type === 'Progressing')!.reason).toBe('DeploymentPaused');
  });
});

describe('DeploymentController with the ReplicaSet controller', () => {
  it('rolls out a new image while pods become ready', async () => {
    const c = new FakeClusterClient();
    const ctx = newContext(c, { events: false });
    const dc = new DeploymentController(ctx);
    const rc = new ReplicaSetController(ctx);
    await c.create(resources.deployments, 'default', deployment(3, 'nginx:1') as KubeObject);
    await ctx.informers.start();
    dc.start(); rc.start();
    // A fake kubelet: every pod becomes Ready.
    let kubelet = true;
    void (async () => {
      while (kubelet) {
        for (const p of c.all<Pod>(resources.pods)) {
          if (p.status?.conditions?.some(x => x.type === 'Ready')) continue;
          await c.patch(resources.pods, 'default', p.metadata!.name!, 'merge', { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString() }] } }, { subresource: 'status' }).catch(() => undefined);
        }
        await tick(5);
      }
    })();
    const dep = () => c.peek<Deployment>(resources.deployments, 'default', 'web')!;
    await until(() => dep().status?.availableReplicas === 3 && dep().status?.conditions?.some(x => x.reason === 'NewReplicaSetAvailable') === true);
    expect(dep().metadata!.annotations![revisionAnnotation]).toBe('1');
    let maxPods = 0;
    const watcher = setInterval(() => { maxPods = Math.max(maxPods, c.all(resources.pods).length); }, 1);
    await c.patch(resources.deployments, 'default', 'web', 'merge', { spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx:2' }] } } } });
    await until(() => {
      const s = dep().status;
      return dep().metadata!.annotations![revisionAnnotation] === '2' && s?.updatedReplicas === 3 && s.availableReplicas === 3 && s.replicas === 3 && s.observedGeneration === dep().metadata!.generation;
    });
    clearInterval(watcher);
    const rses = c.all<ReplicaSet>(resources.replicasets);
    expect(rses).toHaveLength(2);
    expect(rses.map(r => r.spec!.replicas).sort()).toEqual([0, 3]);
    expect(maxPods).toBeLessThanOrEqual(3 + 1); // maxSurge 25% of 3 rounds up to 1
    kubelet = false;
    await dc.stop(); await rc.stop(); ctx.informers.stop();
  });
});

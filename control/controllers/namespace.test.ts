import type { Namespace } from 'kubernetes-types/core/v1.js';
import { FakeClusterClient } from '../../api/client/fake.js';
import { resources } from '../../api/client/types.js';
import { newContext } from './context.js';
import { NamespaceController, deletionConditions, namespacedDeletable } from './namespace.js';
import { controllerEnabled } from './index.js';

const tick = (ms = 10) => new Promise(r => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  for (let t = 0; t < ms && !cond(); t += 10) await tick();
  if (!cond()) throw new Error('condition not met');
}

describe('namespace controller', () => {
  it('keeps namespaced, listable, deletable top-level resources from discovery', () => {
    const types = namespacedDeletable([
      { group: '', version: 'v1', resources: [
        { name: 'pods', namespaced: true, kind: 'Pod', verbs: ['list', 'delete', 'get'] },
        { name: 'pods/log', namespaced: true, kind: 'Pod', verbs: ['get'] },
        { name: 'nodes', namespaced: false, kind: 'Node', verbs: ['list', 'delete'] },
        { name: 'bindings', namespaced: true, kind: 'Binding', verbs: ['create'] },
      ] },
      { group: 'apps', version: 'v1', resources: [{ name: 'deployments', namespaced: true, kind: 'Deployment', verbs: ['list', 'delete'] }] },
    ]);
    expect(types.map(t => `${t.resource}.${t.group}`)).toEqual(['pods.', 'deployments.apps']);
  });

  it('can run alone, selected as kube-controller-manager --controllers selects', () => {
    expect(controllerEnabled('namespace', ['namespace'])).toBe(true);
    expect(controllerEnabled('job', ['namespace'])).toBe(false);
    expect(controllerEnabled('job', ['*'])).toBe(true);
    expect(controllerEnabled('job', ['*', '-job'])).toBe(false);
    expect(controllerEnabled('job')).toBe(true);
  });

  it('reports remaining content and finalizers as upstream conditions', () => {
    const c = deletionConditions([], { remaining: new Map([['pods', 2]]), finalizers: new Map([['example.com/hold', 1]]), failures: [] }, '2026-01-01T00:00:00Z');
    expect(c.find(x => x.type === 'NamespaceContentRemaining')).toMatchObject({ status: 'True', reason: 'SomeResourcesRemain', message: 'Some resources are remaining: pods has 2 resource instances' });
    expect(c.find(x => x.type === 'NamespaceFinalizersRemaining')).toMatchObject({ status: 'True', reason: 'SomeFinalizersRemain' });
    expect(c.find(x => x.type === 'NamespaceDeletionDiscoveryFailure')).toMatchObject({ status: 'False', reason: 'ResourcesDiscovered' });
  });

  it('deletes the content of a terminating namespace, waits for held objects, then finalizes it', async () => {
    const c = new FakeClusterClient();
    const ctx = newContext(c, { events: false });
    const ctl = new NamespaceController(ctx, undefined, 20);
    // A metadata finalizer keeps the fake's namespace around after /finalize, so we can inspect it.
    await c.create(resources.namespaces, undefined, { metadata: { name: 'doomed', finalizers: ['test/keep'] }, spec: { finalizers: ['kubernetes'] } });
    await c.create(resources.configmaps, 'doomed', { metadata: { name: 'a' } });
    await c.create(resources.configmaps, 'doomed', { metadata: { name: 'held', finalizers: ['example.com/hold'] } });
    await c.create(resources.configmaps, 'other', { metadata: { name: 'b' } });
    await ctx.informers.start();
    ctl.start();
    await c.delete(resources.namespaces, undefined, 'doomed');
    await until(() => c.all(resources.configmaps, 'doomed').length === 1);
    await until(() => (c.peek<Namespace>(resources.namespaces, undefined, 'doomed')!.status?.conditions ?? []).some(x => x.type === 'NamespaceContentRemaining' && x.status === 'True'));
    expect(c.peek<Namespace>(resources.namespaces, undefined, 'doomed')!.spec!.finalizers).toEqual(['kubernetes']);
    await c.patch(resources.configmaps, 'doomed', 'held', 'merge', { metadata: { finalizers: null } });
    await until(() => (c.peek<Namespace>(resources.namespaces, undefined, 'doomed')!.spec!.finalizers ?? []).length === 0);
    expect(c.all(resources.configmaps, 'other')).toHaveLength(1);
    await ctl.stop(); ctx.informers.stop();
  });
});

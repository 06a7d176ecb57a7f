import type { ControllerRevision, DaemonSet } from 'kubernetes-types/apps/v1.js';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { FakeClusterClient } from '../../api/client/fake.js';
import { resources } from '../../api/client/types.js';
import { newContext } from './context.js';
import { DaemonSetController, daemonPod, nodeShouldRunDaemonPod, planDaemonSet, revisionHashLabel, targetNode } from './daemonset.js';

const tick = (ms = 10) => new Promise(r => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  for (let t = 0; t < ms && !cond(); t += 10) await tick();
  if (!cond()) throw new Error('condition not met');
}

const T0 = Date.parse('2026-01-01T00:00:00Z');
const node = (name: string, labels: Record<string, string> = {}, taints: NonNullable<Node['spec']>['taints'] = []): Node => ({ metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } }, spec: { taints } });
const ds = (spec: Partial<NonNullable<DaemonSet['spec']>> = {}): DaemonSet => ({
  metadata: { name: 'agent', namespace: 'kube-system', uid: 'ds-uid', generation: 1 },
  spec: {
    selector: { matchLabels: { app: 'agent' } },
    template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'c', image: 'agent:1' }] } },
    updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
    ...spec,
  },
});
let n = 0;
const podOn = (nodeName: string, hash: string, ready = true, extra: Partial<Pod['metadata']> = {}): Pod => ({
  metadata: { name: `agent-${n++}`, namespace: 'kube-system', uid: `p${n}`, creationTimestamp: '2026-01-01T00:00:00Z', labels: { app: 'agent', [revisionHashLabel]: hash }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'ds-uid', controller: true }], ...extra },
  spec: { nodeName, containers: [] },
  status: { phase: 'Running', ...(ready ? { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2025-12-31T00:00:00Z' }] } : {}) },
});

describe('nodeShouldRunDaemonPod', () => {
  it('honours nodeSelector, required node affinity and taints, with the daemon default tolerations', () => {
    expect(nodeShouldRunDaemonPod(node('a'), ds())).toEqual({ shouldRun: true, shouldContinueRunning: true });
    const sel = ds(); sel.spec!.template.spec!.nodeSelector = { disk: 'ssd' };
    expect(nodeShouldRunDaemonPod(node('a'), sel).shouldRun).toBe(false);
    expect(nodeShouldRunDaemonPod(node('a', { disk: 'ssd' }), sel).shouldRun).toBe(true);
    const aff = ds(); aff.spec!.template.spec!.affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1'] }] }] } } };
    expect(nodeShouldRunDaemonPod(node('a', { zone: 'z2' }), aff).shouldRun).toBe(false);
    expect(nodeShouldRunDaemonPod(node('a', { zone: 'z1' }), aff).shouldRun).toBe(true);
    // A NoSchedule taint keeps new pods off but lets the existing one run; NoExecute evicts it.
    expect(nodeShouldRunDaemonPod(node('a', {}, [{ key: 'gpu', effect: 'NoSchedule' }]), ds())).toEqual({ shouldRun: false, shouldContinueRunning: true });
    expect(nodeShouldRunDaemonPod(node('a', {}, [{ key: 'gpu', effect: 'NoExecute' }]), ds())).toEqual({ shouldRun: false, shouldContinueRunning: false });
    // Not-ready, unreachable and unschedulable nodes still run daemons.
    expect(nodeShouldRunDaemonPod(node('a', {}, [{ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }]), ds()).shouldRun).toBe(true);
    const tol = ds(); tol.spec!.template.spec!.tolerations = [{ key: 'gpu', operator: 'Exists' }];
    expect(nodeShouldRunDaemonPod(node('a', {}, [{ key: 'gpu', effect: 'NoExecute' }]), tol).shouldRun).toBe(true);
  });

  it('pins each pod to its node with a metadata.name matchFields affinity and adds the tolerations', () => {
    const p = daemonPod(ds(), 'node-7', 'h1');
    expect(p.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution).toEqual({ nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-7'] }] }] });
    expect(p.spec!.nodeName).toBeUndefined();
    expect(targetNode(p)).toBe('node-7');
    expect(p.metadata!.labels).toMatchObject({ app: 'agent', 'controller-revision-hash': 'h1', 'pod-template-generation': '1' });
    expect(p.spec!.tolerations!.map(t => `${t.key}:${t.effect}`)).toEqual(['node.kubernetes.io/not-ready:NoExecute', 'node.kubernetes.io/unreachable:NoExecute', 'node.kubernetes.io/disk-pressure:NoSchedule', 'node.kubernetes.io/memory-pressure:NoSchedule', 'node.kubernetes.io/pid-pressure:NoSchedule', 'node.kubernetes.io/unschedulable:NoSchedule']);
  });
});

describe('planDaemonSet', () => {
  it('creates a pod on every eligible node, deletes misscheduled and duplicate ones, and reports status', () => {
    const sel = ds(); sel.spec!.template.spec!.nodeSelector = { role: 'w' };
    const nodes = [node('a', { role: 'w' }), node('b', { role: 'w' }), node('c')];
    const onA = podOn('a', 'h'), dupA = podOn('a', 'h', true, { creationTimestamp: '2026-01-01T00:01:00Z' }), onC = podOn('c', 'h'), onGone = podOn('gone', 'h');
    const p = planDaemonSet(sel, nodes, [onA, dupA, onC, onGone], 'h', T0);
    expect(p.create).toEqual(['b']);
    expect(p.delete.map(x => x.metadata!.name).sort()).toEqual([dupA, onC, onGone].map(x => x.metadata!.name).sort());
    expect(p.status).toEqual({ desiredNumberScheduled: 2, currentNumberScheduled: 1, numberMisscheduled: 1, numberReady: 1, updatedNumberScheduled: 1, numberAvailable: 1, numberUnavailable: 1, observedGeneration: 1 });
  });

  it('rolls out a new template at most maxUnavailable nodes at a time, unavailable old pods first', () => {
    const nodes = ['a', 'b', 'c', 'd'].map(x => node(x));
    const old = [podOn('a', 'old'), podOn('b', 'old'), podOn('c', 'old', false), podOn('d', 'old')];
    const p = planDaemonSet(ds(), nodes, old, 'new', T0);
    // c is unavailable anyway, so replacing it costs nothing (as upstream): one available one goes too.
    expect(p.delete.map(x => x.spec!.nodeName)).toEqual(['c', 'a']);
    const p2 = planDaemonSet(ds(), nodes, [old[0]!, old[1]!, podOn('c', 'new'), old[3]!], 'new', T0);
    expect(p2.delete).toHaveLength(1);
    const wide = ds({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '50%' } } });
    expect(planDaemonSet(wide, nodes, [old[0]!, old[1]!, podOn('c', 'new'), old[3]!], 'new', T0).delete).toHaveLength(2);
    // A node still waiting for its new pod counts as unavailable.
    expect(planDaemonSet(ds(), nodes, [old[0]!, old[1]!, old[3]!], 'new', T0).delete).toHaveLength(0);
    expect(planDaemonSet(ds({ updateStrategy: { type: 'OnDelete' } }), nodes, old, 'new', T0).delete).toHaveLength(0);
  });

  it('with maxSurge starts new pods beside old ones and deletes an old pod once its new one is available', () => {
    const nodes = ['a', 'b', 'c'].map(x => node(x));
    const surge = ds({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } });
    const old = [podOn('a', 'old'), podOn('b', 'old'), podOn('c', 'old')];
    const p = planDaemonSet(surge, nodes, old, 'new', T0);
    expect(p.create).toEqual(['a']);
    expect(p.delete).toEqual([]);
    // The new pod on a is not ready: it uses up the surge, and the old one stays.
    const starting = podOn('a', 'new', false, { creationTimestamp: '2026-01-01T00:05:00Z' });
    const p2 = planDaemonSet(surge, nodes, [...old, starting], 'new', T0);
    expect(p2.create).toEqual([]);
    expect(p2.delete).toEqual([]);
    // Ready and available: the old pod on a goes, and the next node may surge.
    const up = podOn('a', 'new', true, { creationTimestamp: '2026-01-01T00:05:00Z' });
    const p3 = planDaemonSet(surge, nodes, [...old, up], 'new', T0);
    expect(p3.delete).toEqual([old[0]]);
    expect(p3.create).toEqual(['b']);
  });

  it('hands failed daemon pods to the shell for a backed-off delete', () => {
    const failed = { ...podOn('a', 'h'), status: { phase: 'Failed' } };
    const p = planDaemonSet(ds(), [node('a')], [failed], 'h', T0);
    expect(p.failed.map(f => f.node)).toEqual(['a']);
    expect(p.create).toEqual([]);
  });
});

describe('DaemonSetController', () => {
  it('follows nodes joining and leaving, and records ControllerRevisions', async () => {
    const c = new FakeClusterClient();
    const ctx = newContext(c, { events: false });
    const ctl = new DaemonSetController(ctx);
    await c.create(resources.nodes, undefined, node('a'));
    await c.create(resources.daemonsets, 'kube-system', ds());
    await ctx.informers.start();
    ctl.start();
    await until(() => c.all(resources.pods).length === 1);
    const revs = c.all<ControllerRevision>(resources.controllerrevisions);
    expect(revs).toHaveLength(1);
    expect(revs[0]!.revision).toBe(1);
    expect(revs[0]!.data).toMatchObject({ spec: { template: { $patch: 'replace' } } });
    expect(c.all<Pod>(resources.pods)[0]!.metadata!.labels![revisionHashLabel]).toBe(revs[0]!.metadata!.labels![revisionHashLabel]);
    await c.create(resources.nodes, undefined, node('b'));
    await until(() => c.all<Pod>(resources.pods).map(targetNode).sort().join() === 'a,b');
    await c.delete(resources.nodes, undefined, 'a');
    await until(() => c.all<Pod>(resources.pods).map(targetNode).join() === 'b');
    await until(() => c.peek<DaemonSet>(resources.daemonsets, 'kube-system', 'agent')!.status?.desiredNumberScheduled === 1);
    await ctl.stop(); ctx.informers.stop();
  });
});

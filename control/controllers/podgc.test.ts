import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { FakeClusterClient } from '../../api/client/fake.js';
import { resources } from '../../api/client/types.js';
import { newContext } from './context.js';
import { PodGCController, planPodGC, planTerminatedPodGC } from './podgc.js';

const pod = (name: string, nodeName?: string, extra: Partial<NonNullable<Pod['metadata']>> = {}): Pod => ({
  metadata: { name, namespace: 'default', uid: `uid-${name}`, ...extra },
  spec: { containers: [], ...(nodeName ? { nodeName } : {}) },
  status: { phase: 'Running' },
});

describe('planPodGC', () => {
  it('quarantines a missing node before confirming it, and forgets one that is back', () => {
    const pods = [pod('a', 'gone'), pod('b', 'gone'), pod('c', 'here'), pod('d')];
    const p1 = planPodGC(pods, new Set(['here']), new Map(), 1000, 40_000);
    expect([...p1.missingSince]).toEqual([['gone', 1000]]);
    expect(p1.confirm).toEqual([]);
    const p2 = planPodGC(pods, new Set(['here']), p1.missingSince, 41_000, 40_000);
    expect(p2.confirm).toEqual(['gone']);
    expect(planPodGC(pods, new Set(['here', 'gone']), p1.missingSince, 41_000, 40_000).missingSince.size).toBe(0);
  });

  it('lists pods deleted while bound to no node', () => {
    const pods = [pod('pending'), pod('deleted', undefined, { deletionTimestamp: '2026-01-01T00:00:00Z' }), pod('bound', 'n', { deletionTimestamp: '2026-01-01T00:00:00Z' })];
    expect(planPodGC(pods, new Set(['n']), new Map(), 0, 40_000).unscheduledTerminating.map(p => p.metadata!.name)).toEqual(['deleted']);
  });
});

describe('PodGCController', () => {
  it('force-deletes the pods of a node that is gone, after its quarantine, marking them Failed first', async () => {
    const c = new FakeClusterClient();
    const ctx = newContext(c, { events: false });
    const gc = new PodGCController(ctx, { periodMs: 1_000_000, quarantineMs: 0 });
    const node: Node = { metadata: { name: 'here' } };
    await c.create(resources.nodes, undefined, node);
    await c.create(resources.pods, 'default', pod('orphan', 'gone'));
    await c.create(resources.pods, 'default', pod('kept', 'here'));
    const patches: unknown[] = [];
    const patch = c.patch.bind(c);
    c.patch = (async (...args: Parameters<typeof c.patch>) => { patches.push(args[4]); return patch(...args); }) as typeof c.patch;
    await ctx.informers.start();
    await gc.gc(); // first seen missing
    await gc.gc(); // past the (zero) quarantine: confirmed and collected
    expect(c.peek(resources.pods, 'default', 'orphan')).toBeUndefined();
    expect(c.peek(resources.pods, 'default', 'kept')).toBeDefined();
    expect(JSON.stringify(patches)).toContain('DeletionByPodGC');
    gc.stop(); ctx.informers.stop();
  });
});

describe('terminated-pod GC (--terminated-pod-gc-threshold)', () => {
  const done = (name: string, created: string, phase: 'Succeeded' | 'Failed' | 'Running' = 'Succeeded', reason?: string): Pod => ({
    metadata: { name, namespace: 'default', uid: `uid-${name}`, creationTimestamp: created },
    spec: { containers: [], nodeName: 'n' },
    status: { phase, ...(reason ? { reason } : {}) },
  });

  it('picks the excess over the threshold: evicted pods first, then the oldest, names breaking ties', () => {
    const pods = [
      done('new', '2026-01-01T00:00:05Z'), done('old', '2026-01-01T00:00:01Z', 'Failed'),
      done('b-same', '2026-01-01T00:00:02Z'), done('a-same', '2026-01-01T00:00:02Z'),
      done('evicted', '2026-01-01T00:00:09Z', 'Failed', 'Evicted'),
      done('running', '2026-01-01T00:00:00Z', 'Running'),
    ];
    expect(planTerminatedPodGC(pods, 2).map(p => p.metadata!.name)).toEqual(['evicted', 'old', 'a-same']);
    expect(planTerminatedPodGC(pods, 5)).toEqual([]); // 5 terminated: not above the threshold
    expect(planTerminatedPodGC(pods, 4).map(p => p.metadata!.name)).toEqual(['evicted']);
  });

  it('is off at 0, as upstream', () => {
    expect(planTerminatedPodGC([done('a', '2026-01-01T00:00:00Z')], 0)).toEqual([]);
  });

  it('force-deletes the oldest terminated pods until the threshold is met, leaving running pods alone', async () => {
    const c = new FakeClusterClient();
    const ctx = newContext(c, { events: false });
    const gc = new PodGCController(ctx, { periodMs: 1_000_000, terminatedPodThreshold: 3 });
    await c.create(resources.nodes, undefined, { metadata: { name: 'n' } });
    // The server stamps creationTimestamp: create job-5 first and job-0 last, a minute apart, so
    // age and name order disagree.
    let t = Date.parse('2026-01-01T00:00:00Z');
    c.now = () => new Date(t);
    await c.create(resources.pods, 'default', done('server', '', 'Running'));
    for (let i = 5; i >= 0; i--) { t += 60_000; await c.create(resources.pods, 'default', done(`job-${i}`, '', i % 2 ? 'Failed' : 'Succeeded')); }
    await ctx.informers.start();
    const since = c.calls.length;
    await gc.gc();
    const left = c.all<Pod>(resources.pods).map(p => p.metadata!.name).sort();
    expect(left).toEqual(['job-0', 'job-1', 'job-2', 'server']);
    const deletes = c.calls.slice(since).filter(x => x.verb === 'delete');
    expect(deletes.map(x => x.name).sort()).toEqual(['job-3', 'job-4', 'job-5']);
    expect(deletes.every(x => (x.body as { gracePeriodSeconds?: number }).gracePeriodSeconds === 0)).toBe(true);
    // Terminated pods are deleted as they are: no status patch first.
    expect(c.calls.slice(since).some(x => x.verb === 'patch')).toBe(false);
    await gc.gc(); // at the threshold now: nothing more
    expect(c.all(resources.pods)).toHaveLength(4);
    gc.stop(); ctx.informers.stop();
  });
});

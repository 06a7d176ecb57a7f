import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { FakeClusterClient } from '../../api/client/fake.js';
import { resources } from '../../api/client/types.js';
import { newContext } from './context.js';
import { PodGCController, planPodGC } from './podgc.js';

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

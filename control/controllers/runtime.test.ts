import { Controller, WorkQueue, adoptPatch, controllerRef, newControllerRef, releasePatch } from './runtime.js';

const tick = (ms = 5) => new Promise(r => setTimeout(r, ms));

describe('WorkQueue', () => {
  it('dedupes keys and never hands one key to two workers', async () => {
    const q = new WorkQueue();
    q.add('a'); q.add('a'); q.add('b');
    expect(q.length).toBe(2);
    const k = await q.get();
    expect(k).toBe('a');
    q.add('a'); // while processing: held back
    expect(await q.get()).toBe('b');
    expect(q.length).toBe(0);
    q.done('a');
    expect(await q.get()).toBe('a');
  });

  it('backs off exponentially per item and forgets on success', () => {
    const timers: number[] = [];
    const q = new WorkQueue({ baseDelayMs: 10, clock: { now: () => 0, setTimeout: (_f, ms) => { timers.push(ms); return ms; }, clearTimeout: () => undefined } });
    q.addRateLimited('x'); q.addRateLimited('x'); q.addRateLimited('x');
    expect(q.numRequeues('x')).toBe(3);
    q.forget('x');
    expect(q.numRequeues('x')).toBe(0);
    expect(timers[0]).toBe(10);
  });
});

describe('Controller', () => {
  it('retries a failing key and keeps serving the others', async () => {
    const seen: string[] = [];
    let failures = 2;
    const c = new Controller({ name: 't', workers: 2, baseDelayMs: 1 }, async key => {
      seen.push(key);
      if (key === 'bad' && failures-- > 0) throw new Error('boom');
    });
    c.start();
    c.enqueue('bad'); c.enqueue('good');
    await tick(50);
    await c.stop();
    expect(seen.filter(k => k === 'bad')).toHaveLength(3);
    expect(seen.filter(k => k === 'good')).toHaveLength(1);
    expect(c.stats.errors).toBe(2);
  });
});

describe('ownerReferences', () => {
  it('adopts with preconditions and releases', () => {
    const owner = { metadata: { name: 'rs', uid: 'u1' } };
    const ref = newControllerRef(owner, 'apps/v1', 'ReplicaSet');
    const pod = { metadata: { name: 'p', uid: 'pu', resourceVersion: '7' } };
    const adopted = adoptPatch(pod, ref);
    expect(adopted.metadata).toMatchObject({ uid: 'pu', resourceVersion: '7', ownerReferences: [ref] });
    expect(controllerRef({ metadata: { ownerReferences: [ref] } })?.uid).toBe('u1');
    expect(releasePatch({ metadata: { ...pod.metadata, ownerReferences: [ref] } }, 'u1').metadata.ownerReferences).toEqual([]);
  });
});

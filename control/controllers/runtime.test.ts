import type { Pod } from 'kubernetes-types/core/v1.js';
import type { InformerHandlers } from '../../api/client/informer.js';
import type { ObjectLike } from '../../api/client/types.js';
import { Controller, Expectations, WorkQueue, adoptPatch, controllerRef, newControllerRef, releasePatch, watchControlled } from './runtime.js';

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

describe('watchControlled', () => {
  const owner = (name: string, uid: string): ObjectLike => ({ metadata: { namespace: 'ns', name, uid } });
  const pod = (name: string, ref?: { kind: string; name: string; uid: string }): Pod => ({
    metadata: { namespace: 'ns', name, ...(ref ? { ownerReferences: [{ apiVersion: 'v1', ...ref, controller: true }] } : {}) },
  });
  function setup() {
    let h: InformerHandlers<Pod> = {};
    const owners = new Map([['ns/a', owner('a', 'uid-a')], ['ns/b', owner('b', 'uid-b')]]);
    const enqueued: string[] = [];
    const orphans: string[] = [];
    const controller = { enqueue: (k: string) => enqueued.push(k) } as unknown as Controller;
    const expectations = new Expectations(() => 0);
    watchControlled<Pod>({ on: x => { h = x; } }, {
      kind: 'Job', controller, expectations, owner: k => owners.get(k), onOrphan: p => orphans.push(p.metadata!.name!),
    });
    return { h, enqueued, orphans, expectations };
  }

  it('enqueues the live owner named by the controller reference and counts its creates and deletes', () => {
    const { h, enqueued, expectations } = setup();
    expectations.expect('ns/a', 1, 1);
    h.add!(pod('p1', { kind: 'Job', name: 'a', uid: 'uid-a' }));
    expect(expectations.satisfied('ns/a')).toBe(false);
    h.delete!(pod('p2', { kind: 'Job', name: 'a', uid: 'uid-a' }));
    expect(expectations.satisfied('ns/a')).toBe(true);
    expect(enqueued).toEqual(['ns/a', 'ns/a']);
  });

  it('ignores other kinds and a stale owner uid (an owner recreated under the same name)', () => {
    const { h, enqueued, expectations } = setup();
    expectations.expect('ns/a', 1, 0);
    h.add!(pod('p1', { kind: 'DaemonSet', name: 'a', uid: 'uid-a' }));
    h.add!(pod('p2', { kind: 'Job', name: 'a', uid: 'old-uid' }));
    expect(enqueued).toEqual([]);
    expect(expectations.satisfied('ns/a')).toBe(false);
  });

  it('on an update that moves the controller reference, enqueues both owners; orphans go to onOrphan', () => {
    const { h, enqueued, orphans, expectations } = setup();
    expectations.expect('ns/a', 1, 0);
    h.update!(pod('p1', { kind: 'Job', name: 'a', uid: 'uid-a' }), pod('p1', { kind: 'Job', name: 'b', uid: 'uid-b' }));
    expect(enqueued).toEqual(['ns/b', 'ns/a']);
    expect(expectations.satisfied('ns/a')).toBe(false); // an update is neither a create nor a delete
    h.update!(pod('p2'), pod('p2', { kind: 'Job', name: 'a', uid: 'uid-a' }));
    expect(orphans).toEqual(['p2']);
    h.add!(pod('p3'));
    expect(orphans).toEqual(['p2', 'p3']);
  });
});

import type { Event } from 'kubernetes-types/core/v1.js';
import { errors } from '../errors.js';
import type { KubeObject } from '../object.js';
import { ApiEventRecorder } from './events.js';
import { FakeClusterClient } from './fake.js';
import { resources } from './types.js';

const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'default', name: 'web', uid: 'u1' } } as KubeObject;

describe('ApiEventRecorder', () => {
  it('creates an event once and patches its count for each repeat, in order', async () => {
    const client = new FakeClusterClient();
    const rec = new ApiEventRecorder(client, 'kubelet', 4, undefined, { host: 'node-a', maxQueued: 100 });
    for (let i = 0; i < 3; i++) rec.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container web in pod web_default(u1)', 'spec.containers{web}');
    rec.event(pod, 'Normal', 'Started', 'Started container web', 'spec.containers{web}');
    await rec.flush();
    const events = client.all<Event & KubeObject>(resources.events, 'default');
    expect(events).toHaveLength(2);
    const backoff = events.find(e => e.reason === 'BackOff')!;
    expect(backoff).toMatchObject({
      count: 3, type: 'Warning', source: { component: 'kubelet', host: 'node-a' }, reportingComponent: 'kubelet', reportingInstance: 'node-a',
      involvedObject: { kind: 'Pod', name: 'web', namespace: 'default', uid: 'u1', fieldPath: 'spec.containers{web}' },
    });
    expect(backoff.metadata!.name).toMatch(/^web\.[0-9a-f]+$/);
    // The repeats wait for the create they patch; the other event is written beside them.
    const backoffCalls = client.calls.filter(c => c.name === backoff.metadata!.name || (c.body as Event | undefined)?.reason === 'BackOff');
    expect(backoffCalls.map(c => c.verb)).toEqual(['create', 'patch', 'patch']);
  });

  it('creates the event again when the one it would patch is gone', async () => {
    const client = new FakeClusterClient();
    const rec = new ApiEventRecorder(client, 'kubelet', 4);
    rec.event(pod, 'Normal', 'Pulled', 'Container image "x" already present on machine');
    await rec.flush();
    const [first] = client.all<Event & KubeObject>(resources.events);
    await client.delete(resources.events, 'default', first!.metadata!.name!);
    rec.event(pod, 'Normal', 'Pulled', 'Container image "x" already present on machine');
    await rec.flush();
    const [again] = client.all<Event & KubeObject>(resources.events);
    expect(again).toMatchObject({ count: 2, metadata: { name: first!.metadata!.name } });
  });

  it('drops events beyond its in-flight and queue limits, and never throws at the caller', async () => {
    const client = new FakeClusterClient();
    const rec = new ApiEventRecorder(client, 'kubelet', 1, undefined, { maxQueued: 2 });
    for (let i = 0; i < 10; i++) rec.event(pod, 'Normal', 'Created', `Created container c${i}`);
    await rec.flush();
    expect(client.all(resources.events)).toHaveLength(3);
    expect(rec.dropped).toBe(7);
  });

  it('an apiserver that refuses an event is not asked again for it', async () => {
    const client = new FakeClusterClient();
    client.failNext.set('create events', errors.forbidden('events is forbidden'));
    const rec = new ApiEventRecorder(client, 'kubelet', 4);
    rec.event(pod, 'Normal', 'Created', 'Created container web');
    await rec.flush();
    expect(rec.failed).toBe(1);
    expect(client.calls.filter(c => c.verb === 'create')).toHaveLength(0);
  });

  it('an apiserver that cannot be reached is tried again after a pause', async () => {
    const client = new FakeClusterClient();
    const create = client.create.bind(client);
    let calls = 0;
    client.create = (async (...args: Parameters<typeof create>) => {
      if (++calls === 1) throw new Error('connect ECONNREFUSED');
      return create(...args);
    }) as typeof client.create;
    const rec = new ApiEventRecorder(client, 'kubelet', 4, undefined, { retryMs: 5 });
    rec.event(pod, 'Normal', 'Created', 'Created container web');
    await rec.flush();
    expect(calls).toBe(2);
    expect(client.all(resources.events)).toHaveLength(1);
  });
});

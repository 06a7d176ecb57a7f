import type { Event } from 'kubernetes-types/core/v1.js';
import { aggregatedPrefix, EventCorrelator, EventNamer, eventKey, Lru, objectReference, spamKey } from './event-correlator.js';

const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'default', name: 'web', uid: 'u1', resourceVersion: '7' } };
const kubelet = { component: 'kubelet', host: 'node-a' };

function setup(opts: Partial<ConstructorParameters<typeof EventCorrelator>[0]> = {}) {
  let t = Date.parse('2026-01-02T03:04:05Z');
  const c = new EventCorrelator({ now: () => t, ...opts });
  const ev = (reason: string, message: string, fieldPath?: string, type = 'Normal') => c.makeEvent(objectReference(pod, fieldPath), type, reason, message, kubelet);
  return { c, ev, advance: (ms: number) => { t += ms; } };
}

describe('EventCorrelator', () => {
  it('makes a new event as client-go does: <name>.<unix nanoseconds in hex>, count 1, the pod namespace, the source host', () => {
    const { c, ev } = setup();
    const r = c.correlate(ev('Created', 'Created container web', 'spec.containers{web}'));
    expect(r.skip).toBe(false);
    if (r.skip) return;
    expect(r.patch).toBeUndefined();
    expect(r.event.metadata).toEqual({ name: `web.${(BigInt(Date.parse('2026-01-02T03:04:05Z')) * 1_000_000n).toString(16)}`, namespace: 'default' });
    expect(r.event).toMatchObject({
      count: 1, type: 'Normal', reason: 'Created', message: 'Created container web',
      source: { component: 'kubelet', host: 'node-a' }, firstTimestamp: '2026-01-02T03:04:05Z', lastTimestamp: '2026-01-02T03:04:05Z',
      involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'web', uid: 'u1', resourceVersion: '7', fieldPath: 'spec.containers{web}' },
    });
  });

  it('a repeated event patches the first one: same name, count + 1, new lastTimestamp, first timestamp kept', () => {
    const { c, ev, advance } = setup();
    const first = c.correlate(ev('BackOff', 'Back-off restarting failed container web in pod web_default(u1)', 'spec.containers{web}', 'Warning'));
    advance(12_000);
    const second = c.correlate(ev('BackOff', 'Back-off restarting failed container web in pod web_default(u1)', 'spec.containers{web}', 'Warning'));
    advance(20_000);
    const third = c.correlate(ev('BackOff', 'Back-off restarting failed container web in pod web_default(u1)', 'spec.containers{web}', 'Warning'));
    if (first.skip || second.skip || third.skip) throw new Error('nothing should be filtered');
    expect(second.event.metadata!.name).toBe(first.event.metadata!.name);
    expect(third.event.metadata!.name).toBe(first.event.metadata!.name);
    expect(third.key).toBe(first.key);
    expect(second.patch).toEqual({ count: 2, lastTimestamp: '2026-01-02T03:04:17Z', message: 'Back-off restarting failed container web in pod web_default(u1)' });
    expect(third.patch).toMatchObject({ count: 3, lastTimestamp: '2026-01-02T03:04:37Z' });
    expect(third.event.firstTimestamp).toBe('2026-01-02T03:04:05Z');
  });

  it('patches go to the name and resourceVersion the server returned', () => {
    const { c, ev } = setup();
    const first = c.correlate(ev('Pulled', 'Container image "x" already present on machine'));
    if (first.skip) throw new Error('filtered');
    c.updateState(first.key, { ...first.event, metadata: { ...first.event.metadata, name: 'server-name', resourceVersion: '42' } } as Event);
    const again = c.correlate(ev('Pulled', 'Container image "x" already present on machine'));
    if (again.skip) throw new Error('filtered');
    expect(again.event.metadata).toMatchObject({ name: 'server-name', resourceVersion: '42' });
  });

  it('events that differ in message, field path, reason or type are different events', () => {
    const { c, ev } = setup();
    const keys = [
      ev('Started', 'Started container a', 'spec.containers{a}'), ev('Started', 'Started container b', 'spec.containers{b}'),
      ev('Started', 'Started container a', 'spec.initContainers{a}'), ev('Created', 'Started container a', 'spec.containers{a}'),
      ev('Started', 'Started container a', 'spec.containers{a}', 'Warning'),
    ].map(e => c.correlate(e)).map(r => r.key);
    expect(new Set(keys).size).toBe(5);
  });

  it('ten messages of one reason within 10 minutes become one "combined from similar events" event', () => {
    const { c, ev, advance } = setup();
    const results = [];
    for (let i = 0; i < 12; i++) { results.push(c.correlate(ev('Unhealthy', `Readiness probe failed: attempt ${i}`, 'spec.containers{web}', 'Warning'))); advance(1000); }
    const written = results.map(r => (r.skip ? undefined : r));
    expect(written.slice(0, 9).every(r => r && !r.event.message!.startsWith(aggregatedPrefix))).toBe(true);
    expect(written[9]!.event.message).toBe(`${aggregatedPrefix}Readiness probe failed: attempt 9`);
    expect(written[9]!.patch).toBeUndefined();
    // Later ones update the combined event with the latest message.
    expect(written[11]!.event.metadata!.name).toBe(written[9]!.event.metadata!.name);
    expect(written[11]!.patch).toEqual({ count: 3, lastTimestamp: '2026-01-02T03:04:16Z', message: `${aggregatedPrefix}Readiness probe failed: attempt 11` });
  });

  it('similar events more than 10 minutes apart are not combined', () => {
    const { c, ev, advance } = setup();
    for (let i = 0; i < 9; i++) c.correlate(ev('Unhealthy', `m${i}`));
    advance(600_001);
    const r = c.correlate(ev('Unhealthy', 'm9'));
    expect(!r.skip && r.event.message).toBe('m9');
  });

  it('the spam filter lets 25 events of one object through, then one every 5 minutes, counting the held-back ones', () => {
    const { c, ev, advance } = setup();
    const outcomes = Array.from({ length: 30 }, () => c.correlate(ev('BackOff', 'Back-off restarting failed container', 'spec.containers{web}', 'Warning')));
    expect(outcomes.filter(r => !r.skip)).toHaveLength(25);
    expect(outcomes.slice(25).every(r => r.skip)).toBe(true);
    // Other objects have buckets of their own.
    const other = c.makeEvent(objectReference({ ...pod, metadata: { ...pod.metadata, name: 'db', uid: 'u2' } }), 'Warning', 'BackOff', 'x', kubelet);
    expect(c.correlate(other).skip).toBe(false);
    advance(299_000);
    expect(c.correlate(ev('BackOff', 'Back-off restarting failed container', 'spec.containers{web}', 'Warning')).skip).toBe(true);
    advance(2_000);
    const after = c.correlate(ev('BackOff', 'Back-off restarting failed container', 'spec.containers{web}', 'Warning'));
    if (after.skip) throw new Error('a token should have come back after 5 minutes');
    expect(after.patch!.count).toBe(32);
  });

  it('the spam key is per object and type, not per field path or reason', () => {
    const { ev } = setup();
    expect(spamKey(ev('Pulled', 'a', 'spec.containers{a}'))).toBe(spamKey(ev('Started', 'b', 'spec.containers{b}')));
    expect(spamKey(ev('Pulled', 'a'))).not.toBe(spamKey(ev('Pulled', 'a', undefined, 'Warning')));
    expect(eventKey(ev('Pulled', 'a', 'spec.containers{a}'))).not.toBe(eventKey(ev('Pulled', 'a', 'spec.containers{b}')));
  });

  it('a node event goes to the default namespace', () => {
    const { c } = setup();
    const e = c.makeEvent({ kind: 'Node', name: 'node-a', uid: 'node-a' }, 'Normal', 'Starting', 'Starting kubelet.', kubelet);
    expect(e.metadata!.namespace).toBe('default');
  });
});

describe('Lru and EventNamer', () => {
  it('Lru forgets the least recently used key', () => {
    const l = new Lru<number>(2);
    l.set('a', 1); l.set('b', 2); l.get('a'); l.set('c', 3);
    expect([l.get('a'), l.get('b'), l.get('c')]).toEqual([1, undefined, 3]);
  });

  it('EventNamer never repeats a name within one millisecond', () => {
    const n = new EventNamer();
    const a = n.name('p', 1000), b = n.name('p', 1000), c = n.name('p', 999);
    expect(new Set([a, b, c]).size).toBe(3);
    expect(a).toBe(`p.${(1000n * 1_000_000n).toString(16)}`);
  });
});

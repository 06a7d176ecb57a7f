import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import { LAST_CHANGE_TRIGGER_TIME, TriggerTimeTracker, withTriggerTime } from './trigger-time.js';

const svc = (created: string): Service => ({ metadata: { name: 'web', namespace: 'ns', creationTimestamp: created } });
const pod = (name: string, readySince?: string): Pod => ({
  metadata: { name, namespace: 'ns' },
  status: readySince ? { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: readySince }] } : {},
});
const ms = (t: string) => Date.parse(t);

describe('TriggerTimeTracker', () => {
  it('gives a new Service its creation time, not the age of the pods it selects', () => {
    const t = new TriggerTimeTracker();
    expect(t.compute('ns/web', svc('2026-01-01T00:10:00Z'), [pod('a', '2026-01-01T00:00:00Z')])).toBe(ms('2026-01-01T00:10:00Z'));
  });

  it('then gives the earliest Ready transition among the pods that changed, and nothing when none did', () => {
    const t = new TriggerTimeTracker();
    const s = svc('2026-01-01T00:00:00Z');
    t.compute('ns/web', s, [pod('a', '2026-01-01T00:01:00Z')]);
    expect(t.compute('ns/web', s, [pod('a', '2026-01-01T00:01:00Z')])).toBeUndefined();
    expect(t.compute('ns/web', s, [pod('a', '2026-01-01T00:01:00Z'), pod('b', '2026-01-01T00:03:00Z'), pod('c', '2026-01-01T00:02:00Z')])).toBe(ms('2026-01-01T00:02:00Z'));
    expect(t.compute('ns/web', s, [pod('a', '2026-01-01T00:05:00Z'), pod('b', '2026-01-01T00:03:00Z'), pod('c', '2026-01-01T00:02:00Z')])).toBe(ms('2026-01-01T00:05:00Z'));
    expect(t.compute('ns/web', s, [pod('a', '2026-01-01T00:05:00Z'), pod('b')])).toBeUndefined(); // no Ready condition: no trigger
  });

  it('starts over for a Service that was deleted and created again', () => {
    const t = new TriggerTimeTracker();
    t.compute('ns/web', svc('2026-01-01T00:00:00Z'), []);
    t.delete('ns/web');
    expect(t.compute('ns/web', svc('2026-01-01T01:00:00Z'), [pod('a', '2026-01-01T00:30:00Z')])).toBe(ms('2026-01-01T01:00:00Z'));
  });
});

describe('withTriggerTime', () => {
  it('sets the annotation in RFC 3339 UTC, and clears a stale one when there is no trigger', () => {
    const set = withTriggerTime({ metadata: { name: 's', annotations: { keep: '1' } } }, ms('2026-01-01T00:00:01Z'));
    expect(set.metadata.annotations).toEqual({ keep: '1', [LAST_CHANGE_TRIGGER_TIME]: '2026-01-01T00:00:01.000Z' });
    expect(withTriggerTime(set, undefined).metadata.annotations).toEqual({ keep: '1' });
    expect(withTriggerTime({ metadata: { name: 's', annotations: { [LAST_CHANGE_TRIGGER_TIME]: 'x' } } }, undefined).metadata).toEqual({ name: 's' });
  });
});

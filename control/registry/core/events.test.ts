import type { Event } from 'kubernetes-types/core/v1.js';
import type { FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import type { RegistryContext } from '../types.js';
import { eventRow, events } from './events.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date() };
const msgs = (errs: FieldError[]) => errs.map(e => e.message());
const now = new Date('2024-01-01T00:10:00Z');

function ev(extra: Partial<Event> = {}): Event {
  return {
    metadata: { name: 'web.17a', namespace: 'default', creationTimestamp: '2024-01-01T00:00:00Z' },
    involvedObject: { kind: 'Pod', name: 'web', namespace: 'default', uid: 'u1', apiVersion: 'v1', fieldPath: 'spec.containers{app}' },
    reason: 'Pulled', message: 'Successfully pulled image "nginx"  ', type: 'Normal',
    source: { component: 'kubelet', host: 'n1' },
    firstTimestamp: '2024-01-01T00:00:00Z', lastTimestamp: '2024-01-01T00:08:00Z', count: 3,
    ...extra,
  } as Event;
}
const obj = (e: Event) => e as unknown as KubeObject;

describe('events', () => {
  it('accepts a kubelet event', () => {
    expect(events.validate(obj(ev()), ctx)).toEqual([]);
  });

  it('requires the involved object namespace to match', () => {
    expect(msgs(events.validate(obj(ev({ involvedObject: { kind: 'Pod', name: 'x', namespace: 'other' } })), ctx))).toEqual([
      'involvedObject.namespace: Invalid value: "other": does not match event.namespace',
    ]);
    const clusterScoped = ev({ involvedObject: { kind: 'Node', name: 'n1' } });
    expect(events.validate(obj(clusterScoped), ctx)).toEqual([]);
  });

  it('checks the reporting fields of new-style events', () => {
    const e = ev({ eventTime: '2024-01-01T00:00:00.000000Z' });
    expect(msgs(events.validate(obj(e), ctx))).toEqual([
      'reportingController: Required value',
      expect.stringMatching(/^reportingController: Invalid value: "": name part must be non-empty/),
      expect.stringMatching(/^reportingController: Invalid value: "": name part must consist of/),
      'reportingInstance: Required value',
      'action: Required value',
    ]);
  });

  it('checks reason and lengths of new-style events', () => {
    const e = ev({ eventTime: '2024-01-01T00:00:00.000000Z', reportingComponent: 'kubelet', reportingInstance: 'x'.repeat(129), action: 'Pull', reason: '' });
    expect(msgs(events.validate(obj(e), ctx))).toEqual([
      'reportingInstance: Invalid value: "": can have at most 128 characters',
      'reason: Required value',
    ]);
  });

  it('validates updates with the legacy rules only', () => {
    const old = ev();
    (old.metadata as Record<string, unknown>)['resourceVersion'] = '1';
    const upd = { ...old, count: 4, lastTimestamp: '2024-01-01T00:09:00Z' } as Event;
    expect(events.validateUpdate(obj(upd), obj(old), ctx)).toEqual([]);
  });

  it('prints LAST SEEN TYPE REASON OBJECT MESSAGE with the wide columns after', () => {
    expect(events.tableColumns.map(c => [c.name, c.priority])).toEqual([
      ['Last Seen', 0], ['Type', 0], ['Reason', 0], ['Object', 0], ['Subobject', 1], ['Source', 1], ['Message', 0],
      ['First Seen', 1], ['Count', 1], ['Name', 1],
    ]);
    expect(eventRow(ev(), now)).toEqual(['2m', 'Normal', 'Pulled', 'pod/web', 'spec.containers{app}', 'kubelet, n1', 'Successfully pulled image "nginx"', '10m', 3, 'web.17a']);
  });

  it('uses eventTime and series for new-style events', () => {
    const e = ev({ firstTimestamp: undefined as never, lastTimestamp: undefined as never, count: 0, eventTime: '2024-01-01T00:05:00.000000Z', series: { count: 7, lastObservedTime: '2024-01-01T00:09:00.000000Z' }, source: {}, reportingComponent: 'ctrl', reportingInstance: 'i1' });
    delete (e as unknown as Record<string, unknown>)['firstTimestamp'];
    delete (e as unknown as Record<string, unknown>)['lastTimestamp'];
    const row = eventRow(e, now);
    expect([row[0], row[5], row[7], row[8]]).toEqual(['60s', 'ctrl, i1', '5m', 7]);
    expect(eventRow(ev({ count: 0 }), now)[8]).toBe(1);
  });

  it('exposes the involved object and source as field selectors', () => {
    expect(events.fieldSelectorAttributes!(obj(ev()))).toEqual({
      'involvedObject.kind': 'Pod', 'involvedObject.namespace': 'default', 'involvedObject.name': 'web', 'involvedObject.uid': 'u1',
      'involvedObject.apiVersion': 'v1', 'involvedObject.resourceVersion': '', 'involvedObject.fieldPath': 'spec.containers{app}',
      reason: 'Pulled', reportingComponent: '', source: 'kubelet', type: 'Normal',
    });
  });
});

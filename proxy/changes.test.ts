import { EndpointSliceChangeTracker, ServiceChangeTracker } from './changes.js';
import { endpoint, service, slice } from './fixtures.js';
import { buildServiceModel } from './model.js';
import { ServicePortMap } from './servicemap.js';

describe('ServiceChangeTracker', () => {
  test('keeps the first previous and the latest current state per service', () => {
    const t = new ServiceChangeTracker();
    const a = service('web', '10.96.0.10');
    const b = service('web', '10.96.0.11');
    const c = service('web', '10.96.0.12');
    t.update(a, b);
    t.update(b, c);
    expect(t.checkout()).toEqual(new Map([['default/web', { previous: a, current: c }]]));
    expect(t.pending).toBe(0);
  });

  test('drops the pair when the service is back to its previous state', () => {
    const t = new ServiceChangeTracker();
    const a = service('web', '10.96.0.10');
    const b = service('web', '10.96.0.11');
    expect(t.update(a, b)).toBe(true);
    expect(t.update(b, { ...a, metadata: { ...a.metadata, resourceVersion: '9' } })).toBe(false);
    expect(t.pending).toBe(0);
    t.update(undefined, a); // created …
    t.update(a, undefined); // … and deleted before a sync
    expect(t.pending).toBe(0);
  });

  test('ignores writes that change nothing the proxy reads', () => {
    const t = new ServiceChangeTracker();
    const a = service('web', '10.96.0.10');
    expect(t.update(a, { ...a, metadata: { ...a.metadata, labels: { x: 'y' } } })).toBe(false);
  });
});

describe('EndpointSliceChangeTracker', () => {
  test('tracks slices per service, previous and current', () => {
    const t = new EndpointSliceChangeTracker();
    const s1 = slice('web', [endpoint('10.128.0.1')]);
    const s2 = slice('web', [endpoint('10.128.0.2')], 8080, 'web-2');
    t.update(s1, false);
    t.update(s2, false);
    const c = t.checkout();
    expect([...c.keys()]).toEqual(['default/web']);
    expect(c.get('default/web')).toEqual({ previous: [], current: [s1, s2] });
    const s1b = slice('web', [endpoint('10.128.0.3')]);
    t.replace(s1, s1b);
    expect(t.checkout().get('default/web')).toEqual({ previous: [s1, s2], current: [s1b, s2] });
  });

  test('drops the pair when the endpoints are back where they were', () => {
    const t = new EndpointSliceChangeTracker();
    const s1 = slice('web', [endpoint('10.128.0.1')]);
    t.update(s1, false);
    t.checkout();
    t.replace(s1, slice('web', [endpoint('10.128.0.9')]));
    t.replace(undefined, s1);
    expect(t.pending).toBe(0);
    t.update(s1, true);
    t.update(s1, false);
    expect(t.pending).toBe(0);
  });

  test('a slice relabelled to another service changes both', () => {
    const t = new EndpointSliceChangeTracker();
    const s1 = slice('web', [endpoint('10.128.0.1')]);
    t.update(s1, false);
    t.checkout();
    const moved = { ...s1, metadata: { ...s1.metadata, labels: { 'kubernetes.io/service-name': 'api' } } };
    t.replace(s1, moved);
    expect([...t.checkout().keys()].sort()).toEqual(['default/api', 'default/web']);
    expect(t.slicesOf('default/web')).toEqual([]);
  });
});

describe('ServicePortMap', () => {
  test('applies changes for changed services only and reports the changed ports', () => {
    const st = new ServiceChangeTracker();
    const et = new EndpointSliceChangeTracker();
    const m = new ServicePortMap();
    const web = service('web', '10.96.0.10');
    const api = service('api', '10.96.0.20');
    st.update(undefined, web); st.update(undefined, api);
    et.update(slice('web', [endpoint('10.128.0.1')]), false);
    const first = m.apply(st.checkout(), et.checkout(), (k) => et.slicesOf(k));
    expect([...first.keys()].sort()).toEqual(['default/api:http/TCP', 'default/web:http/TCP']);
    const apiPort = first.get('default/api:http/TCP');

    et.update(slice('web', [endpoint('10.128.0.1'), endpoint('10.128.0.2')]), false);
    const second = m.apply(st.checkout(), et.checkout(), (k) => et.slicesOf(k));
    expect([...second.keys()]).toEqual(['default/web:http/TCP']);
    expect(second.get('default/web:http/TCP')!.endpoints).toHaveLength(2);
    expect(m.all().find((p) => p.id === 'default/api:http/TCP')).toBe(apiPort); // untouched object

    st.update(web, undefined);
    const third = m.apply(st.checkout(), et.checkout(), (k) => et.slicesOf(k));
    expect(third).toEqual(new Map([['default/web:http/TCP', undefined]]));
    expect(m.size).toBe(1);
  });

  test('the incrementally kept model equals a from-scratch build', () => {
    const st = new ServiceChangeTracker();
    const et = new EndpointSliceChangeTracker();
    const m = new ServicePortMap();
    const svcs = Array.from({ length: 6 }, (_, i) => service(`s${i}`, `10.96.0.${i + 1}`));
    let slices = svcs.map((_, i) => slice(`s${i}`, [endpoint(`10.128.${i}.1`)]));
    svcs.forEach((s) => st.update(undefined, s));
    slices.forEach((s) => et.update(s, false));
    m.apply(st.checkout(), et.checkout(), (k) => et.slicesOf(k));
    const next = slices.map((s, i) => (i % 2 ? slice(`s${i}`, [endpoint(`10.128.${i}.1`), endpoint(`10.128.${i}.2`)]) : s));
    next.forEach((s, i) => et.replace(slices[i], s));
    slices = next;
    st.update(svcs[3], undefined);
    m.apply(st.checkout(), et.checkout(), (k) => et.slicesOf(k));
    expect(m.all()).toEqual(buildServiceModel(svcs.filter((_, i) => i !== 3), slices));
  });
});

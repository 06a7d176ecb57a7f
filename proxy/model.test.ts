import { buildServiceModel, clusterEndpoints, externalEndpoints, isIPv4 } from './model.js';
import { endpoint, service, slice } from './fixtures.js';

describe('buildServiceModel', () => {
  test('joins a service port with the endpoints of its slices, deduplicated and sorted', () => {
    const m = buildServiceModel(
      [service('web', '10.96.0.10')],
      [slice('web', [endpoint('10.128.0.2'), endpoint('10.128.0.1')]), slice('web', [endpoint('10.128.0.2')], 8080, 'web-2')],
    );
    expect(m).toHaveLength(1);
    expect(m[0]).toMatchObject({ id: 'default/web:http/TCP', port: 80, protocol: 'TCP', clusterIPs: ['10.96.0.10'] });
    expect(m[0]!.endpoints.map((e) => `${e.ip}:${e.port}`)).toEqual(['10.128.0.1:8080', '10.128.0.2:8080']);
  });

  test('leaves headless and ExternalName services out', () => {
    const m = buildServiceModel(
      [service('headless', 'None'), { metadata: { name: 'ext' }, spec: { type: 'ExternalName', externalName: 'example.com' } }],
      [],
    );
    expect(m).toEqual([]);
  });

  test('matches slice ports by name and protocol', () => {
    const s = slice('web', [endpoint('10.128.0.1')]);
    const other = { ...s, ports: [{ name: 'metrics', port: 9090, protocol: 'TCP' as const }] };
    expect(buildServiceModel([service('web', '10.96.0.10')], [other])[0]!.endpoints).toEqual([]);
  });

  test('keeps NodePort, external IPs, load-balancer IPs, affinity and traffic policies', () => {
    const svc = service('lb', '10.96.0.11', {
      type: 'LoadBalancer', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }], externalIPs: ['192.0.2.1'],
      sessionAffinity: 'ClientIP', externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Local',
    });
    const withStatus = { ...svc, status: { loadBalancer: { ingress: [{ ip: '198.51.100.7' }] } } };
    expect(buildServiceModel([withStatus], [])[0]).toMatchObject({
      nodePort: 30080, externalIPs: ['192.0.2.1'], loadBalancerIPs: ['198.51.100.7'], affinityTimeoutSeconds: 10800,
      externalTrafficLocal: true, internalTrafficLocal: true,
    });
  });
});

describe('endpoint selection', () => {
  const svcModel = (eps: ReturnType<typeof endpoint>[], spec = {}) =>
    buildServiceModel([service('web', '10.96.0.10', spec)], [slice('web', eps)])[0]!;

  test('uses ready endpoints only while any is ready', () => {
    const m = svcModel([endpoint('10.128.0.1'), endpoint('10.128.0.2', { ready: false, serving: true, terminating: true })]);
    expect(clusterEndpoints(m, 'n1').map((e) => e.ip)).toEqual(['10.128.0.1']);
  });

  test('falls back to serving terminating endpoints when none is ready', () => {
    const m = svcModel([endpoint('10.128.0.1', { ready: false, serving: false, terminating: true }), endpoint('10.128.0.2', { ready: false, serving: true, terminating: true })]);
    expect(clusterEndpoints(m, 'n1').map((e) => e.ip)).toEqual(['10.128.0.2']);
  });

  test('treats a missing ready condition as ready', () => {
    expect(clusterEndpoints(svcModel([{ addresses: ['10.128.0.1'] }]), 'n1')).toHaveLength(1);
  });

  test('internalTrafficPolicy Local keeps only this node\'s endpoints for cluster traffic', () => {
    const m = svcModel([endpoint('10.128.0.1', { ready: true }, 'n1'), endpoint('10.128.0.2', { ready: true }, 'n2')], { internalTrafficPolicy: 'Local' });
    expect(clusterEndpoints(m, 'n1').map((e) => e.ip)).toEqual(['10.128.0.1']);
    expect(externalEndpoints(m, 'n1')).toHaveLength(2);
  });
});

test('isIPv4 accepts dotted quads with octets up to 255 and nothing else', () => {
  for (const ok of ['0.0.0.0', '10.96.0.1', '255.255.255.255', '01.02.03.004']) expect(isIPv4(ok)).toBe(true);
  for (const bad of ['', '256.1.1.1', '1.2.3', '1.2.3.4.5', '1..2.3', '.1.2.3', '1.2.3.', '1.2.3.2555', '1.2.3.4 ', 'a.b.c.d', '::1', '1.2.3.-4']) expect(isIPv4(bad)).toBe(false);
});

import { readFileSync } from 'node:fs';
import { renderNft } from '../../kernel/nftables/render.js';
import { endpoint, service, slice } from '../fixtures.js';
import { buildServiceModel } from '../model.js';
import { compileIpvs } from './compile.js';
import { renderIpvsadm } from './render.js';

const ctx = { nodeName: 'n1', nodeIPs: ['192.168.1.10'], serviceCIDR: '10.96.0.0/12', clusterCIDR: '10.244.0.0/16' };
const compile = (svcs: Parameters<typeof buildServiceModel>[0], slices: Parameters<typeof buildServiceModel>[1], opts = {}) =>
  compileIpvs({ ...ctx, services: buildServiceModel(svcs, slices) }, opts);
const elements = (st: ReturnType<typeof compileIpvs>, set: string) => st.ruleset.fragments.flatMap((f) => (f.elements[set] ?? []).map((e) => e.key.join(' ')));

test('compileIpvs makes a round-robin virtual server per ClusterIP:port with weight-1 real servers', () => {
  const st = compile([service('web', '10.96.0.10')], [slice('web', [endpoint('10.244.1.2'), endpoint('10.244.2.3')])]);
  expect([...st.services.entries()]).toEqual([[
    'TCP 10.96.0.10:80',
    {
      vs: { address: '10.96.0.10', protocol: 'TCP', port: 80, scheduler: 'rr', flags: 0, timeout: 0 },
      dests: [{ address: '10.244.1.2', port: 8080, weight: 1 }, { address: '10.244.2.3', port: 8080, weight: 1 }],
    },
  ]]);
  expect(st.bindAddrs).toEqual(['10.96.0.10']);
});

test('compileIpvs binds ClusterIPs, externalIPs and LB IPs but not node IPs; NodePorts go on every node IP', () => {
  const svc = { ...service('web', '10.96.0.10', { type: 'LoadBalancer', externalIPs: ['203.0.113.7'], ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }] }), status: { loadBalancer: { ingress: [{ ip: '198.51.100.1' }] } } };
  const st = compile([svc], [slice('web', [endpoint('10.244.1.2')])]);
  expect([...st.services.keys()]).toEqual(['TCP 10.96.0.10:80', 'TCP 203.0.113.7:80', 'TCP 198.51.100.1:80', 'TCP 192.168.1.10:30080']);
  expect(st.bindAddrs).toEqual(['10.96.0.10', '198.51.100.1', '203.0.113.7']);
  expect(elements(st, 'cluster-services')).toEqual(['10.96.0.10 6 80']);
  expect(elements(st, 'external-services')).toEqual(['203.0.113.7 6 80', '198.51.100.1 6 80', '192.168.1.10 6 30080']);
});

test('compileIpvs turns ClientIP affinity into persistence with the affinity timeout', () => {
  const st = compile([service('s', '10.96.0.10', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } })], [slice('s', [endpoint('10.244.1.2')])]);
  expect(st.services.get('TCP 10.96.0.10:80')!.vs).toMatchObject({ flags: 1, timeout: 600 });
});

test('compileIpvs uses the configured scheduler', () => {
  const st = compile([service('s', '10.96.0.10')], [slice('s', [endpoint('10.244.1.2')])], { scheduler: 'lc' });
  expect(st.services.get('TCP 10.96.0.10:80')!.vs.scheduler).toBe('lc');
});

test('compileIpvs keeps a virtual server with no real servers for a Service without endpoints (IPVS answers port unreachable)', () => {
  const st = compile([service('empty', '10.96.0.30')], []);
  expect(st.services.get('TCP 10.96.0.30:80')!.dests).toEqual([]);
});

test('compileIpvs applies traffic policies: Local external traffic keeps the client address and uses local endpoints', () => {
  const svc = service('web', '10.96.0.10', { type: 'NodePort', externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }] });
  const st = compile([svc], [slice('web', [endpoint('10.244.1.2', { ready: true }, 'n1'), endpoint('10.244.2.3', { ready: true }, 'n2')])]);
  expect(st.services.get('TCP 192.168.1.10:30080')!.dests.map((d) => d.address)).toEqual(['10.244.1.2']);
  expect(st.services.get('TCP 10.96.0.10:80')!.dests.map((d) => d.address)).toEqual(['10.244.1.2']);
  expect(elements(st, 'external-services')).toEqual([]);
});

test('compileIpvs uses terminating endpoints only when no ready one remains', () => {
  const term = { ready: false, serving: true, terminating: true };
  const st = compile([service('a', '10.96.0.1'), service('b', '10.96.0.2')], [
    slice('a', [endpoint('10.244.1.2'), endpoint('10.244.1.3', term)]),
    slice('b', [endpoint('10.244.1.4', term)]),
  ]);
  expect(st.services.get('TCP 10.96.0.1:80')!.dests.map((d) => d.address)).toEqual(['10.244.1.2']);
  expect(st.services.get('TCP 10.96.0.2:80')!.dests.map((d) => d.address)).toEqual(['10.244.1.4']);
});

test('compileIpvs skips a service port whose virtual server an earlier one owns, without breaking the others', () => {
  const st = compile([service('a', '10.96.0.1'), service('b', '10.96.0.1'), service('c', '10.96.0.3')], [slice('a', [endpoint('10.244.1.2')])]);
  expect(st.conflicts).toEqual(['default/b:http/TCP']);
  expect([...st.services.keys()]).toEqual(['TCP 10.96.0.1:80', 'TCP 10.96.0.3:80']);
  expect(st.services.get('TCP 10.96.0.1:80')!.dests).toHaveLength(1);
});

test('compileIpvs renders the masquerade and filter table (golden)', () => {
  const st = compile([service('web', '10.96.0.10')], [slice('web', [endpoint('10.244.1.2', { ready: true }, 'n1')])]);
  // The golden text is valid `nft -c -f` input (checked when it was written).
  expect(renderNft(st.ruleset)).toBe(readFileSync(new URL('./testdata/golden.nft', import.meta.url), 'utf8'));
});

test('renderIpvsadm prints the state as ipvsadm-save -n does', () => {
  const st = compile([service('s', '10.96.0.10', { sessionAffinity: 'ClientIP' })], [slice('s', [endpoint('10.244.1.2')])]);
  expect(renderIpvsadm(st)).toBe('-A -t 10.96.0.10:80 -s rr -p 10800\n-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1\n');
});

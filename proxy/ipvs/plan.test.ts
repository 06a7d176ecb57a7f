import { describeOp } from '../../kernel/ipvs/encode.js';
import type { VirtualServerState } from './compile.js';
import { planIpvs, terminatingKey } from './plan.js';
import { compileIpvs } from './compile.js';
import { endpoint, service, slice } from '../fixtures.js';
import { buildServiceModel } from '../model.js';

const vs = (address: string, port = 80, extra: Partial<VirtualServerState['vs']> = {}) => ({ address, protocol: 'TCP' as const, port, scheduler: 'rr', flags: 0, timeout: 0, ...extra });
const dest = (address: string, weight = 1) => ({ address, port: 8080, weight });
const state = (...l: VirtualServerState[]) => new Map(l.map((s) => [`${s.vs.protocol} ${s.vs.address}:${s.vs.port}`, s]));
const text = (p: ReturnType<typeof planIpvs>) => p.ops.map(describeOp);

test('planIpvs creates a new virtual server before its real servers, and binds its address first', () => {
  const p = planIpvs({ services: state({ vs: vs('10.96.0.1'), dests: [dest('10.244.1.2'), dest('10.244.1.3')] }), bindAddrs: ['10.96.0.1'] }, { services: new Map(), boundAddrs: [] });
  expect(p.bind).toEqual(['10.96.0.1']);
  expect(text(p)).toEqual([
    'add service TCP 10.96.0.1:80',
    'add real server 10.244.1.2:8080 to TCP 10.96.0.1:80',
    'add real server 10.244.1.3:8080 to TCP 10.96.0.1:80',
  ]);
});

test('planIpvs does nothing when the kernel already matches', () => {
  const s = { vs: vs('10.96.0.1'), dests: [dest('10.244.1.2')] };
  const p = planIpvs({ services: state(s), bindAddrs: ['10.96.0.1'] }, { services: state({ vs: vs('10.96.0.1'), dests: [dest('10.244.1.2')] }), boundAddrs: ['10.96.0.1'] });
  expect(p).toEqual({ bind: [], ops: [], unbind: [], terminate: [], revive: [] });
});

test('planIpvs adds new real servers before retiring old ones, so the service is never empty', () => {
  const have = state({ vs: vs('10.96.0.1'), dests: [dest('10.244.1.2'), dest('10.244.1.3')] });
  const want = state({ vs: vs('10.96.0.1'), dests: [dest('10.244.1.3', 2), dest('10.244.1.9')] });
  const p = planIpvs({ services: want, bindAddrs: ['10.96.0.1'] }, { services: have, boundAddrs: ['10.96.0.1'] });
  expect(text(p)).toEqual([
    'update real server 10.244.1.3:8080 of TCP 10.96.0.1:80',
    'add real server 10.244.1.9:8080 to TCP 10.96.0.1:80',
    'update real server 10.244.1.2:8080 of TCP 10.96.0.1:80', // weight 0: graceful termination
  ]);
  expect(p.ops[2]).toMatchObject({ op: 'updateDest', dest: { address: '10.244.1.2', weight: 0 } });
  expect(p.terminate).toEqual([{ service: vs('10.96.0.1'), dest: { address: '10.244.1.2', port: 8080 } }]);
});

test('planIpvs deletes a UDP or SCTP real server at once (no graceful termination, as upstream)', () => {
  for (const protocol of ['UDP', 'SCTP'] as const) {
    const have = state({ vs: vs('10.96.0.10', 53, { protocol }), dests: [dest('10.244.1.2'), dest('10.244.1.3')] });
    const want = state({ vs: vs('10.96.0.10', 53, { protocol }), dests: [dest('10.244.1.3')] });
    const p = planIpvs({ services: want, bindAddrs: [] }, { services: have, boundAddrs: [] });
    expect(text(p)).toEqual([`delete real server 10.244.1.2:8080 from ${protocol} 10.96.0.10:53`]);
    expect(p.terminate).toEqual([]);
  }
});

test('planIpvs gives a terminating real server its weight back when it is wanted again, instead of adding it', () => {
  const have = state({ vs: vs('10.96.0.1'), dests: [dest('10.244.1.3')] }); // the last sync's want: 10.244.1.2 was retired
  const want = state({ vs: vs('10.96.0.1'), dests: [dest('10.244.1.2'), dest('10.244.1.3')] });
  const p = planIpvs({ services: want, bindAddrs: [] }, { services: have, boundAddrs: [] }, [], new Set([terminatingKey(vs('10.96.0.1'), dest('10.244.1.2'))]));
  expect(text(p)).toEqual(['update real server 10.244.1.2:8080 of TCP 10.96.0.1:80']);
  expect(p.ops[0]).toMatchObject({ dest: { weight: 1 } });
  expect(p.revive).toEqual([{ service: vs('10.96.0.1'), dest: dest('10.244.1.2') }]);
});

test('planIpvs from a kernel dump keeps a real server already at weight 0 terminating, without another op', () => {
  const have = state({ vs: vs('10.96.0.1'), dests: [dest('10.244.1.2', 0), dest('10.244.1.3')] });
  const want = state({ vs: vs('10.96.0.1'), dests: [dest('10.244.1.3')] });
  const p = planIpvs({ services: want, bindAddrs: [] }, { services: have, boundAddrs: [] });
  expect(p.ops).toEqual([]);
  expect(p.terminate.map((t) => t.dest.address)).toEqual(['10.244.1.2']);
});

test('planIpvs updates a virtual server whose affinity or scheduler changed', () => {
  const have = state({ vs: vs('10.96.0.1'), dests: [] });
  const want = state({ vs: vs('10.96.0.1', 80, { flags: 1, timeout: 600 }), dests: [] });
  expect(text(planIpvs({ services: want, bindAddrs: [] }, { services: have, boundAddrs: [] }))).toEqual(['update service TCP 10.96.0.1:80']);
});

test('planIpvs deletes our stale virtual servers last and unbinds their addresses after, but never touches others', () => {
  const have = state(
    { vs: vs('10.96.0.1'), dests: [dest('10.244.1.2')] },
    { vs: vs('10.96.0.2'), dests: [dest('10.244.1.3')] }, // ours: its address is on kube-ipvs0
    { vs: vs('192.168.1.10', 30080), dests: [] }, // ours: a NodePort on a node IP
    { vs: vs('172.16.0.5', 443), dests: [dest('172.16.0.6')] }, // someone else's (keepalived)
  );
  const want = state({ vs: vs('10.96.0.1'), dests: [dest('10.244.1.2'), dest('10.244.1.4')] });
  const p = planIpvs({ services: want, bindAddrs: ['10.96.0.1'] }, { services: have, boundAddrs: ['10.96.0.1', '10.96.0.2'] }, ['192.168.1.10']);
  expect(text(p)).toEqual([
    'add real server 10.244.1.4:8080 to TCP 10.96.0.1:80',
    'delete service TCP 10.96.0.2:80',
    'delete service TCP 192.168.1.10:30080',
  ]);
  expect(p.unbind).toEqual(['10.96.0.2']);
  expect(p.bind).toEqual([]);
});

test('a one-service change plans only that service when unchanged ports keep their model objects', () => {
  const sm = buildServiceModel([service('a', '10.96.0.1'), service('b', '10.96.0.2')], [slice('a', [endpoint('10.244.1.2')]), slice('b', [endpoint('10.244.1.3')])]);
  const ctx = { nodeName: 'n1', nodeIPs: [], services: sm };
  const first = compileIpvs(ctx);
  const changed = buildServiceModel([service('b', '10.96.0.2')], [slice('b', [endpoint('10.244.1.4')])]);
  const second = compileIpvs({ ...ctx, services: [sm[0]!, ...changed] });
  expect(second.services.get('TCP 10.96.0.1:80')).toBe(first.services.get('TCP 10.96.0.1:80'));
  expect(second.ruleset.fragments[0]).toBe(first.ruleset.fragments[0]);
  expect(text(planIpvs(second, { services: first.services, boundAddrs: first.bindAddrs }))).toEqual([
    'add real server 10.244.1.4:8080 to TCP 10.96.0.2:80',
    'update real server 10.244.1.3:8080 of TCP 10.96.0.2:80', // weight 0 until drained
  ]);
});

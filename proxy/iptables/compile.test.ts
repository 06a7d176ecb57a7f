import { readFileSync } from 'node:fs';
import { parseIptablesSave } from '../../kernel/iptables/restore.js';
import { endpoint, service, slice } from '../fixtures.js';
import { buildServiceModel, type ServicePortModel } from '../model.js';
import { compileIptables, hash16, IptablesCompiler, type NodeContext } from './compile.js';
import { diffIptablesAgainstKernel } from './diff.js';
import { planCleanup, planFull, planPartial } from './plan.js';

const golden = readFileSync(new URL('./testdata/golden.iptables', import.meta.url), 'utf8');
const ctx: NodeContext = { nodeName: 'n1', nodeIPs: ['192.168.1.10'], serviceCIDR: '10.96.0.0/12', clusterCIDR: '10.244.0.0/16' };

function fixture(): ServicePortModel[] {
  return buildServiceModel(
    [
      service('web', '10.96.0.10', { type: 'NodePort', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }], sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }),
      service('api', '10.96.0.20', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', externalIPs: ['192.0.2.7'], ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30081 }] }),
      service('empty', '10.96.0.30', { type: 'NodePort', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30082 }] }),
    ],
    [
      slice('web', [endpoint('10.244.0.1'), endpoint('10.244.0.2'), endpoint('10.244.1.3')]),
      slice('api', [endpoint('10.244.0.4', { ready: true }, 'n1'), endpoint('10.244.1.5', { ready: true }, 'n2')]),
    ],
  );
}
const compile = (services: readonly ServicePortModel[]) => compileIptables({ ...ctx, services });
const empty = new Map();

test('compileIptables renders upstream kube-proxy\'s layout (golden iptables-restore input)', () => {
  expect(planFull(compile(fixture()), empty)).toBe(golden);
});

test('chain names are upstream\'s: base32(sha256(service port name + protocol)), first 16 characters', () => {
  // Values from a real cluster's iptables-save (kubernetes and kube-dns services).
  expect(hash16('default/kubernetes:httpstcp')).toBe('NPX46M4PTMTKRN6Y');
  expect(hash16('kube-system/kube-dns:dnsudp')).toBe('TCOU7JCQXEZGVUNU');
});

test('endpoints get probabilities 1/n, 1/(n-1), …, and the last one none', () => {
  const eps = ['1', '2', '3', '4'].map((i) => endpoint(`10.244.0.${i}`));
  const rs = compile(buildServiceModel([service('s', '10.96.0.1')], [slice('s', eps)]));
  const chains = [...rs.fragments.values()][0]!.chains;
  const svc = [...chains.entries()].find(([c]) => c.startsWith('KUBE-SVC-'))![1].split('\n');
  expect(svc.filter((r) => r.includes(' -> ')).map((r) => /--probability (\S+)/.exec(r)?.[1] ?? 'none')).toEqual(['0.2500000000', '0.3333333333', '0.5000000000', 'none']);
});

test('a service with only terminating endpoints uses the serving ones; with none, traffic is rejected in filter', () => {
  const rs = compile(buildServiceModel([service('s', '10.96.0.1')], [slice('s', [endpoint('10.244.0.1', { ready: false, serving: true, terminating: true })])]));
  expect([...rs.fragments.values()][0]!.shared.map((r) => `${r.table} ${r.chain}`)).toEqual(['nat KUBE-SERVICES']);
  const none = compile(buildServiceModel([service('s', '10.96.0.1')], [slice('s', [endpoint('10.244.0.1', { ready: false, serving: false, terminating: true })])]));
  expect([...none.fragments.values()][0]!.shared).toEqual([{ table: 'filter', chain: 'KUBE-SERVICES', rule: '-m comment --comment "default/s:http has no endpoints" -m tcp -p tcp -d 10.96.0.1/32 --dport 80 -j REJECT' }]);
});

test('internalTrafficPolicy Local with no local endpoint drops instead of rejecting', () => {
  const rs = compile(buildServiceModel([service('s', '10.96.0.1', { internalTrafficPolicy: 'Local' })], [slice('s', [endpoint('10.244.1.1', { ready: true }, 'n2')])]));
  expect([...rs.fragments.values()][0]!.shared[0]!.rule).toBe('-m comment --comment "default/s:http has no local endpoints" -m tcp -p tcp -d 10.96.0.1/32 --dport 80 -j DROP');
});

test('a service conflicting with an earlier one (same address, protocol and port) is left out', () => {
  const rs = compile(buildServiceModel([service('a', '10.96.0.1'), service('b', '10.96.0.1')], [slice('a', [endpoint('10.244.0.1')]), slice('b', [endpoint('10.244.0.2')])]));
  expect([...rs.fragments.keys()]).toEqual(['default/a:http/TCP']);
});

test('a partial sync after an endpoint goes away rewrites that service chain and deletes the stale endpoint chain only', () => {
  const before = compile(fixture());
  const after = compile(fixture().map((sp) => (sp.name === 'web' ? { ...sp, endpoints: sp.endpoints.slice(0, 2) } : sp)));
  const text = planPartial(before, after)!;
  const lines = text.trim().split('\n');
  expect(lines[0]).toBe('*nat');
  expect(lines.filter((l) => l.startsWith(':'))).toHaveLength(2); // KUBE-SVC-… rewritten, the gone KUBE-SEP-… flushed
  expect(lines.filter((l) => l.startsWith('-X '))).toHaveLength(1);
  expect(lines.filter((l) => / (KUBE-SERVICES|KUBE-NODEPORTS) /.test(l))).toEqual([]);
  expect(lines.at(-1)).toBe('COMMIT');
});

test('a partial sync adding a service inserts its rule before the nodeports rule; removing it deletes rule and chains', () => {
  const before = compile(fixture());
  const extra = buildServiceModel([service('new', '10.96.0.40')], [slice('new', [endpoint('10.244.0.9')])]);
  const after = compile([...fixture(), ...extra]);
  const add = planPartial(before, after)!;
  expect(add).toContain('-I KUBE-SERVICES 1 -m comment --comment "default/new:http cluster IP" -m tcp -p tcp -d 10.96.0.40/32 --dport 80 -j KUBE-SVC-');
  expect(add.split('\n').filter((l) => l.startsWith(':'))).toHaveLength(2);
  const del = planPartial(after, compile(fixture()))!;
  expect(del).toContain('-D KUBE-SERVICES -m comment --comment "default/new:http cluster IP"');
  expect(del.split('\n').filter((l) => l.startsWith('-X '))).toHaveLength(2);
  expect(planPartial(after, after)).toBe('');
});

test('a service whose endpoints all go away moves from a nat jump to a filter reject', () => {
  const one = buildServiceModel([service('s', '10.96.0.1')], [slice('s', [endpoint('10.244.0.1')])]);
  const none = buildServiceModel([service('s', '10.96.0.1')], []);
  const text = planPartial(compile(one), compile(none))!;
  expect(text).toMatch(/^\*filter\n-I KUBE-SERVICES 1 -m comment --comment "default\/s:http has no endpoints" .* -j REJECT\nCOMMIT\n\*nat\n/);
  expect(text).toContain('-D KUBE-SERVICES -m comment --comment "default/s:http cluster IP"');
});

test('a change of node addresses needs a full sync', () => {
  const a = compile(fixture());
  const b = compileIptables({ ...ctx, nodeIPs: ['192.168.1.11'], services: fixture() });
  expect(planPartial(a, b)).toBeUndefined();
});

test('planFull keeps existing jump rules, and deletes stale per-service chains only', () => {
  const saved = parseIptablesSave([
    '*nat', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]', ':OTHER - [0:0]', ':KUBE-SERVICES - [0:0]',
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES', 'COMMIT', '',
  ].join('\n'));
  const text = planFull(compile(fixture()), saved);
  expect(text).not.toContain('-I PREROUTING');
  expect(text).toContain('-I OUTPUT 1 -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
  expect(text).toContain(':KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]');
  expect(text).toContain('-X KUBE-SVC-AAAAAAAAAAAAAAAA');
  expect(text).not.toContain('OTHER');
});

test('planCleanup removes our jumps and chains and leaves other rules alone', () => {
  const saved = parseIptablesSave([
    '*filter', ':INPUT ACCEPT [0:0]', ':KUBE-FORWARD - [0:0]', ':MINE - [0:0]',
    '-A INPUT -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD', '-A INPUT -j MINE', '-A KUBE-FORWARD -j ACCEPT', 'COMMIT',
    '*nat', ':POSTROUTING ACCEPT [0:0]', ':KUBE-POSTROUTING - [0:0]', ':KUBE-SEP-AAAAAAAAAAAAAAAA - [0:0]', '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING', 'COMMIT', '',
  ].join('\n'));
  expect(planCleanup(saved)).toBe([
    '*filter', ':KUBE-FORWARD - [0:0]', '-D INPUT -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD', '-X KUBE-FORWARD', 'COMMIT',
    '*nat', ':KUBE-POSTROUTING - [0:0]', ':KUBE-SEP-AAAAAAAAAAAAAAAA - [0:0]', '-D POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING', '-X KUBE-POSTROUTING', '-X KUBE-SEP-AAAAAAAAAAAAAAAA', 'COMMIT', '',
  ].join('\n'));
});

test('IptablesCompiler fed with changes gives what compileIptables gives, conflicts included', () => {
  const c = new IptablesCompiler();
  const all = fixture();
  const byId = (xs: ServicePortModel[]) => new Map(xs.map((x) => [x.id, x]));
  const key = (rs: ReturnType<typeof compile>) => [...rs.fragments.keys()].sort().join(',');
  expect(planFull(c.update(ctx, byId(all)), empty)).toBe(golden);
  // z conflicts with web; it is shut out while web lives and let in when web goes.
  const [b] = buildServiceModel([service('z', '10.96.0.10')], [slice('z', [endpoint('10.244.0.9')])]);
  const r1 = c.update(ctx, new Map([[b!.id, b]]));
  expect(key(r1)).toBe(key(compile([...all, b!])));
  expect(r1.fragments.has(b!.id)).toBe(false);
  const web = all.find((s) => s.name === 'web')!;
  const r2 = c.update(ctx, new Map([[web.id, undefined]]));
  expect(r2.fragments.has(b!.id)).toBe(true);
  expect(key(r2)).toBe(key(compile([...all.filter((s) => s !== web), b!])));
  // An unchanged port keeps its fragment object: the planner skips it by identity.
  const api = all.find((s) => s.name === 'api')!;
  expect(r2.fragments.get(api.id)).toBe(r1.fragments.get(api.id));
});

test('above 1 000 endpoints the per-endpoint comments are left out, as upstream\'s large-cluster mode does', () => {
  const many = (n: number) => buildServiceModel(
    Array.from({ length: n }, (_, i) => service(`s${i}`, `10.96.${i >> 8}.${i & 255}`)),
    Array.from({ length: n }, (_, i) => slice(`s${i}`, Array.from({ length: 10 }, (_, j) => endpoint(`10.244.${i}.${j + 1}`)))),
  );
  const small = planFull(compile(many(100)), empty);
  const large = planFull(compile(many(101)), empty);
  expect(small).toMatch(/-A KUBE-SEP-\S+ -m comment --comment default\/s0:http -s 10\.244\.0\.1\/32 -j KUBE-MARK-MASQ/);
  expect(large).toMatch(/-A KUBE-SEP-\S+ -s 10\.244\.0\.1\/32 -j KUBE-MARK-MASQ/);
  expect(large).not.toContain(' -> ');
  expect(large).toContain('-m comment --comment "default/s0:http cluster IP"');
  // The incremental compiler crosses the threshold as a from-scratch compile does.
  const c = new IptablesCompiler();
  const all = many(101);
  expect(planFull(c.update(ctx, new Map(all.slice(0, 100).map((x) => [x.id, x]))), empty)).toBe(planFull(compile(all.slice(0, 100)), empty));
  expect(planFull(c.update(ctx, new Map([[all[100]!.id, all[100]]])), empty)).toBe(large);
});

test('diffIptablesAgainstKernel names missing, stale and resized chains and missing jumps', () => {
  const want = compile(fixture());
  const synced = parseIptablesSave(planFull(want, empty).replace(/^-I (\S+) 1 /gm, '-A $1 '));
  expect(diffIptablesAgainstKernel(want, synced)).toEqual([]);
  const web = [...want.fragments.values()].find((f) => f.id === 'default/web:http/TCP')!;
  const [svc] = [...web.chains.keys()];
  const drifted = parseIptablesSave(planFull(want, empty).replace(/^-I (\S+) 1 /gm, '-A $1 ').replace(new RegExp(`^-A ${svc} .*\\n`, 'm'), '')
    .replace(/^-A PREROUTING .*\n/m, '').replace(/^(\*filter\n)/m, '$1:KUBE-SEP-AAAAAAAAAAAAAAAA - [0:0]\n').replace(/^(\*nat\n)/m, '$1:KUBE-SEP-AAAAAAAAAAAAAAAA - [0:0]\n'));
  expect(diffIptablesAgainstKernel(want, drifted)).toEqual([`~ chain nat ${svc}: 6 rules in the kernel, 7 wanted`, '- chain nat KUBE-SEP-AAAAAAAAAAAAAAAA', '+ jump nat PREROUTING -> KUBE-SERVICES']);
  expect(diffIptablesAgainstKernel(want, new Map())[0]).toBe('+ chain filter KUBE-SERVICES (2 rules)');
});

describe('externalTrafficPolicy on a NodePort, followed rule by rule for one packet', () => {
  const inCidr = (ip: string, cidr: string): boolean => {
    const [net, bits] = cidr.split('/');
    const n = (a: string) => a.split('.').reduce((x, o) => x * 256 + Number(o), 0);
    const size = 2 ** (32 - Number(bits ?? 32));
    return Math.floor(n(ip) / size) === Math.floor(n(net!) / size);
  };
  // The nat-table walk of a new connection: the masquerade mark it picks up and the DNAT it ends in.
  // Matches understood: -s/! -s, -d, --dport, addrtype --src-type LOCAL; a statistic match is taken.
  const walk = (rs: ReturnType<typeof compile>, pkt: { src: string; dport: number; local: boolean }) => {
    const nat = new Map<string, string[]>();
    for (const f of rs.fragments.values()) for (const [c, block] of f.chains) nat.set(c, block.split('\n').map((l) => l.replace(`-A ${c} `, '')));
    nat.set('KUBE-NODEPORTS', [...rs.fragments.values()].flatMap((f) => f.shared.filter((s) => s.table === 'nat' && s.chain === 'KUBE-NODEPORTS').map((s) => s.rule)));
    const matches = (r: string): boolean => {
      const s = /(!?) ?-s (\S+)/.exec(r.replace(/--src-type/g, ''));
      if (s && inCidr(pkt.src, s[2]!) === (s[1] === '!')) return false;
      if (/-d \S+/.test(r)) return false; // addressed to the node, not a ClusterIP or endpoint
      const dport = /--dport (\d+)/.exec(r);
      if (dport && Number(dport[1]) !== pkt.dport) return false;
      return !(r.includes('--src-type LOCAL') && !pkt.local);
    };
    let masq = false;
    const run = (chain: string, depth = 0): string | undefined => {
      for (const r of nat.get(chain) ?? []) {
        if (!matches(r)) continue;
        const dnat = /--to-destination (\S+)/.exec(r);
        if (dnat) return dnat[1];
        const target = /-j (\S+)$/.exec(r)?.[1];
        if (target === 'KUBE-MARK-MASQ') { masq = true; continue; }
        if (target && depth < 6) return run(target, depth + 1);
      }
      return undefined;
    };
    const to = run('KUBE-NODEPORTS');
    return { to, masq };
  };
  const model = (policy: 'Local' | 'Cluster') => buildServiceModel(
    [service('web', '10.96.0.10', { type: 'NodePort', externalTrafficPolicy: policy, ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }] })],
    [slice('web', [endpoint('10.244.1.5', { ready: true }, 'n1'), endpoint('10.244.2.5', { ready: true }, 'n2')])],
  );

  test('Local: a client on another node reaches this node\'s endpoint and keeps its address', () => {
    expect(walk(compile(model('Local')), { src: '172.30.1.12', dport: 30080, local: false })).toEqual({ to: '10.244.1.5:8080', masq: false });
  });

  test('Local: the node itself is masqueraded (upstream: LOCAL traffic may go to any endpoint)', () => {
    expect(walk(compile(model('Local')), { src: '192.168.1.10', dport: 30080, local: true }).masq).toBe(true);
  });

  describe('on a node with no endpoint of its own (upstream: the short circuit stays, external clients are dropped)', () => {
    const onN3 = () => compileIptables({ ...ctx, nodeName: 'n3', nodeIPs: ['192.168.1.13'], services: model('Local') });
    const eps = ['10.244.1.5:8080', '10.244.2.5:8080'];

    test('an external client is not DNATed, and filter drops it', () => {
      const rs = onN3();
      expect(walk(rs, { src: '172.30.1.12', dport: 30080, local: false })).toEqual({ to: undefined, masq: false });
      const filter = [...rs.fragments.values()].flatMap((f) => f.shared.filter((x) => x.table === 'filter').map((x) => x.rule));
      expect(filter).toEqual(['-m comment --comment "default/web:http has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30080 -j DROP']);
    });

    test('a pod reaches an endpoint on another node and keeps its address', () => {
      const r = walk(onN3(), { src: '10.244.3.7', dport: 30080, local: false });
      expect(eps).toContain(r.to);
      expect(r.masq).toBe(false);
    });

    test('the node itself reaches an endpoint on another node, masqueraded', () => {
      const r = walk(onN3(), { src: '192.168.1.13', dport: 30080, local: true });
      expect(eps).toContain(r.to);
      expect(r.masq).toBe(true);
    });
  });

  test('Cluster: a client from outside is masqueraded', () => {
    expect(walk(compile(model('Cluster')), { src: '172.30.1.12', dport: 30080, local: false })).toMatchObject({ masq: true });
  });
});

import { readFileSync } from 'node:fs';
import { planRulesetChanges } from '../../kernel/nftables/plan.js';
import { renderNft } from '../../kernel/nftables/render.js';
import { endpoint, service, slice } from '../fixtures.js';
import { buildServiceModel, type ServicePortModel } from '../model.js';
import { compileServices, IncrementalCompiler, setSize } from './compile.js';

const golden = readFileSync(new URL('./testdata/golden.nft', import.meta.url), 'utf8');

function fixture(): ServicePortModel[] {
  return buildServiceModel(
    [
      service('web', '10.96.0.10', { type: 'NodePort', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }] }),
      service('api', '10.96.0.20'),
      service('empty', '10.96.0.30'),
    ],
    [slice('web', [endpoint('10.128.0.1'), endpoint('10.128.0.2')]), slice('api', [{ addresses: ['10.128.0.3'] }])],
  );
}
const compile = (services: readonly ServicePortModel[]) =>
  compileServices({ services, nodeName: 'n1', nodeIPs: ['192.168.1.10'], serviceCIDR: '10.96.0.0/12', clusterCIDR: '10.244.0.0/16' });
const elementsOf = (rs: ReturnType<typeof compile>, set: string) => rs.fragments.flatMap((f) => f.elements[set] ?? []);

test('compileServices renders the expected ruleset (golden)', () => {
  expect(renderNft(compile(fixture()))).toBe(golden);
});

test('compileServices rejects traffic to a ClusterIP with no endpoints', () => {
  const rs = compile(fixture());
  expect(elementsOf(rs, 'no-endpoint-services')).toEqual([{ key: ['10.96.0.30', 6, 80], data: { code: 'goto', chain: 'reject-service' } }]);
  expect(elementsOf(rs, 'service-ips').map((e) => e.key[0])).not.toContain('10.96.0.30');
});

test('compileServices shares one load-balancing chain per endpoint count', () => {
  const services = buildServiceModel(
    [service('a', '10.96.0.1'), service('b', '10.96.0.2')],
    [slice('a', [endpoint('10.128.0.1'), endpoint('10.128.0.2')]), slice('b', [endpoint('10.128.0.3'), endpoint('10.128.0.4')])],
  );
  const rs = compile(services);
  expect(rs.chains.filter((c) => c.name.startsWith('lb-')).map((c) => c.name)).toEqual(['lb-2']);
  expect(elementsOf(rs, 'eps-2')).toHaveLength(4);
});

test('a service conflicting with an earlier one is skipped and the others keep working', () => {
  const services = buildServiceModel(
    [service('a', '10.96.0.1'), service('b', '10.96.0.1'), service('c', '10.96.0.3')],
    [slice('a', [endpoint('10.128.0.1')]), slice('b', [endpoint('10.128.0.2')]), slice('c', [endpoint('10.128.0.3')])],
  );
  const rs = compile(services);
  expect(rs.fragments.map((f) => f.id)).toEqual(['default/a:http/TCP', 'default/c:http/TCP']);
});

test('unchanged service ports compile to the very same fragment objects', () => {
  const services = fixture();
  const first = compile(services);
  const second = compile([...services]);
  second.fragments.forEach((f, i) => expect(f).toBe(first.fragments[i]));
});

test('incremental compiles give what a from-scratch compile gives', () => {
  const all = buildServiceModel(
    Array.from({ length: 12 }, (_, i) => service(`s${i}`, `10.96.0.${i % 10 + 1}`)), // s10, s11 clash with s0, s1
    Array.from({ length: 12 }, (_, i) => slice(`s${i}`, Array.from({ length: i % 4 }, (_, j) => endpoint(`10.128.${i}.${j + 1}`)))),
  );
  const steps: ServicePortModel[][] = [all.slice(0, 5), all.slice(0, 8), all.slice(2, 8), all, all.slice(3), all.slice(0, 3), all.slice(0, 10)];
  for (const step of steps) {
    const incremental = renderNft(compile(step));
    // A structurally equal copy of the input has no memoized state to lean on.
    const scratch = renderNft(compile(step.map((s) => ({ ...s }))));
    expect(incremental).toBe(scratch);
  }
});

describe('IncrementalCompiler', () => {
  const ctx = { nodeName: 'n1', nodeIPs: ['192.168.1.10'], serviceCIDR: '10.96.0.0/12', clusterCIDR: '10.244.0.0/16' };
  // Fragment order is the compiler's own (insertion order): compare the rendered lines as sets.
  const lines = (rs: ReturnType<typeof compile>): string[] => renderNft(rs).split('\n').map((l) => l.trim().replace(/,$/, '')).sort();
  const diff = (before: readonly ServicePortModel[], after: readonly ServicePortModel[]): Map<string, ServicePortModel | undefined> => {
    const out = new Map<string, ServicePortModel | undefined>();
    const b = new Map(before.map((s) => [s.id, s]));
    for (const s of after) { if (b.get(s.id) !== s) out.set(s.id, s); b.delete(s.id); }
    for (const id of b.keys()) out.set(id, undefined);
    return out;
  };

  test('fed changes, it gives what a from-scratch compile gives, conflicts included', () => {
    const all = buildServiceModel(
      Array.from({ length: 12 }, (_, i) => service(`s${i}`, `10.96.0.${i % 10 + 1}`)), // s10, s11 clash with s0, s1
      Array.from({ length: 12 }, (_, i) => slice(`s${i}`, Array.from({ length: i % 4 }, (_, j) => endpoint(`10.128.${i}.${j + 1}`)))),
    );
    const steps: ServicePortModel[][] = [all.slice(0, 5), all.slice(0, 8), all.slice(2, 8), all, all.slice(3), all.slice(0, 3), all.slice(0, 10), all.filter((s) => !s.id.includes('/s1:'))];
    const inc = new IncrementalCompiler();
    let prev: ServicePortModel[] = [];
    for (const step of steps) {
      const got = inc.update(ctx, diff(prev, step));
      prev = step;
      expect(lines(got)).toEqual(lines(compile(step.map((s) => ({ ...s })))));
    }
  });

  test('an unchanged port keeps its fragment object and its place', () => {
    const m = fixture();
    const inc = new IncrementalCompiler();
    const first = inc.update(ctx, diff([], m));
    const changed = buildServiceModel([service('api', '10.96.0.20')], [slice('api', [endpoint('10.128.0.3'), endpoint('10.128.0.4')])])[0]!;
    const second = inc.update(ctx, new Map([[changed.id, changed]]));
    expect(second.fragments.map((f) => f.id)).toEqual(first.fragments.map((f) => f.id));
    second.fragments.forEach((f, i) => (f.id === changed.id ? expect(f).not.toBe(first.fragments[i]) : expect(f).toBe(first.fragments[i])));
  });

  test('a change of the node context recompiles every port', () => {
    const inc = new IncrementalCompiler();
    inc.update(ctx, diff([], fixture()));
    const rs = inc.update({ ...ctx, nodeIPs: ['192.168.1.11'] }, new Map());
    expect(renderNft(rs)).toContain('192.168.1.11 . tcp . 30080 : goto ext-2');
    expect(renderNft(rs)).not.toContain('192.168.1.10');
  });
});

test('a hairpin element two services share stays until neither wants it (planned from the compiler\'s counts)', () => {
  const both = buildServiceModel([service('a', '10.96.0.1'), service('b', '10.96.0.2')], [slice('a', [endpoint('10.128.0.1')]), slice('b', [endpoint('10.128.0.1')])]);
  const inc = new IncrementalCompiler();
  const ctx = { nodeName: 'n1', nodeIPs: [] };
  const have = inc.update(ctx, new Map(both.map((s) => [s.id, s])));
  const one = inc.update(ctx, new Map([[both[0]!.id, undefined]]));
  expect(one.sharedRefs).toBeDefined();
  const dels = planRulesetChanges(have, one).filter((o) => o.op === 'delElements').map((o) => (o.op === 'delElements' ? o.set.name : ''));
  expect(dels).not.toContain('hairpin');
  const none = inc.update(ctx, new Map([[both[1]!.id, undefined]]));
  const dels2 = planRulesetChanges(one, none).filter((o) => o.op === 'delElements').map((o) => (o.op === 'delElements' ? o.set.name : ''));
  expect(dels2).toContain('hairpin');
});

test('compileServices sends ClientIP-affinity services through an affinity chain per endpoint count and timeout', () => {
  const services = buildServiceModel(
    [service('sticky', '10.96.0.5', { type: 'NodePort', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }], sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } })],
    [slice('sticky', [endpoint('10.128.0.1'), endpoint('10.128.0.2')])],
  );
  const rs = compile(services);
  const text = renderNft(rs);
  expect(text).toContain('10.96.0.5 . tcp . 80 : goto aff-2-60');
  expect(text).toContain('192.168.1.10 . tcp . 30080 : goto ext-aff-2-60');
  expect(rs.chains.find((c) => c.name === 'aff-2-60')?.rules.map((r) => r.text)).toEqual([
    'ip saddr != 10.244.0.0/16 meta mark set meta mark | 0x00004000',
    // A client seen before goes to the endpoint whose set holds it, and its timeout restarts…
    'ip saddr . ip daddr . meta l4proto . th dport @affinity-0 update @affinity-0 { ip saddr . ip daddr . meta l4proto . th dport timeout 60s } dnat ip to ip daddr . meta l4proto . th dport . numgen inc mod 1 map @eps-2',
    'ip saddr . ip daddr . meta l4proto . th dport @affinity-1 update @affinity-1 { ip saddr . ip daddr . meta l4proto . th dport timeout 60s } dnat ip to ip daddr . meta l4proto . th dport . numgen inc mod 1 offset 1 map @eps-2',
    // …a new one is given an endpoint at random, which remembers it.
    'numgen random mod 2 vmap @aff-2-60-pick',
  ]);
  expect(rs.sets.find((s) => s.name === 'aff-2-60-pick')?.elements).toEqual([{ key: [0], data: { code: 'goto', chain: 'aff-2-60-new-0' } }, { key: [1], data: { code: 'goto', chain: 'aff-2-60-new-1' } }]);
  expect(rs.chains.find((c) => c.name === 'aff-2-60-new-1')?.rules.map((r) => r.text)).toEqual([
    'add @affinity-1 { ip saddr . ip daddr . meta l4proto . th dport timeout 60s } dnat ip to ip daddr . meta l4proto . th dport . numgen inc mod 1 offset 1 map @eps-2',
  ]);
  expect(rs.chains.find((c) => c.name === 'ext-aff-2-60')?.rules.map((r) => r.text)).toEqual(['meta mark set meta mark | 0x00004000', 'goto aff-2-60']);
  for (const k of [0, 1]) expect(rs.sets.find((s) => s.name === `affinity-${k}`)).toMatchObject({ dynamic: true, key: ['ipv4_addr', 'ipv4_addr', 'inet_proto', 'inet_service'] });
  expect(rs.sets.some((s) => s.name === 'affinity-2')).toBe(false);
  expect(rs.chains.some((c) => c.name === 'lb-2')).toBe(false);
  expect(rs.sets.some((s) => s.name === 'eps-2')).toBe(true);
});

describe('externalTrafficPolicy', () => {
  // The rules an external packet runs through, from its service-ips element to the DNAT: what
  // the kernel would do to a NodePort packet from another node.
  const path = (rs: ReturnType<typeof compile>, addr: string, port: number): string[] => {
    const el = elementsOf(rs, 'service-ips').find((e) => e.key[0] === addr && e.key[2] === port);
    const out: string[] = [];
    let chain = el?.data && typeof el.data === 'object' && 'chain' in el.data ? el.data.chain : undefined;
    for (let hops = 0; chain !== undefined && hops < 5; hops++) {
      const rules = rs.chains.find((c) => c.name === chain)?.rules ?? [];
      out.push(`chain ${chain}`, ...rules.map((r) => r.text));
      chain = rules.map((r) => /^goto (\S+)$/.exec(r.text)?.[1]).find((c) => c !== undefined);
    }
    return out;
  };
  const nodePortService = (policy: 'Local' | 'Cluster', extra: Record<string, unknown> = {}) => buildServiceModel(
    [service('web', '10.96.0.10', { type: 'NodePort', externalTrafficPolicy: policy, ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }], ...extra })],
    [slice('web', [endpoint('10.244.1.5', { ready: true }, 'n1'), endpoint('10.244.2.5', { ready: true }, 'n2')])],
  );
  const marks = (rules: readonly string[]) => rules.filter((r) => r.includes('meta mark set'));

  test('Local: the NodePort reaches this node\'s endpoint with no masquerade mark (the client address is kept)', () => {
    const rs = compile(nodePortService('Local'));
    const p = path(rs, '192.168.1.10', 30080);
    expect(p).toEqual(['chain local-1', 'dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 1 map @local-eps-1']);
    expect(elementsOf(rs, 'local-eps-1').filter((e) => e.key[0] === '192.168.1.10')).toEqual([{ key: ['192.168.1.10', 6, 30080, 0], data: ['10.244.1.5', 8080] }]);
    // The ClusterIP still spreads over every endpoint, masquerading clients from outside the pod network.
    expect(marks(path(rs, '10.96.0.10', 80))).toEqual(['ip saddr != 10.244.0.0/16 meta mark set meta mark | 0x00004000']);
  });

  test('Cluster: the NodePort marks for masquerade and spreads over every endpoint', () => {
    const rs = compile(nodePortService('Cluster'));
    const p = path(rs, '192.168.1.10', 30080);
    expect(p[0]).toBe('chain ext-2');
    expect(marks(p)).toContain('meta mark set meta mark | 0x00004000');
  });

  test('Local with ClientIP affinity: remembered per client, still without masquerade', () => {
    const rs = compile(nodePortService('Local', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 30 } } }));
    const p = path(rs, '192.168.1.10', 30080);
    expect(p[0]).toBe('chain local-aff-1-30');
    expect(marks(p)).toEqual([]);
    expect(p.some((r) => r.includes('@affinity'))).toBe(true);
    expect(rs.chains.some((c) => c.name === 'aff-1-30')).toBe(false);
    expect(rs.sets.some((s) => s.name === 'affinity-0')).toBe(true);
  });

  test('Local with no endpoint on this node rejects the NodePort', () => {
    const rs = compileServices({ services: nodePortService('Local'), nodeName: 'n3', nodeIPs: ['192.168.1.13'], clusterCIDR: '10.244.0.0/16' });
    expect(elementsOf(rs, 'no-endpoint-services').map((e) => e.key)).toEqual([['192.168.1.13', 6, 30080]]);
  });

  test('the incremental compiler agrees when a service switches policy', () => {
    const inc = new IncrementalCompiler();
    const ctx = { nodeName: 'n1', nodeIPs: ['192.168.1.10'], serviceCIDR: '10.96.0.0/12', clusterCIDR: '10.244.0.0/16' };
    const [cluster] = nodePortService('Cluster');
    const [local] = nodePortService('Local');
    inc.update(ctx, new Map([[cluster!.id, cluster]]));
    const rs = inc.update(ctx, new Map([[local!.id, local]]));
    const text = renderNft(rs);
    expect(text).toContain('192.168.1.10 . tcp . 30080 : goto local-1');
    // ext-2 stays, for the node's own traffic only (see the short-circuit tests below).
    expect(elementsOf(rs, 'service-ips').map((e) => (e.data as { chain: string }).chain)).not.toContain('ext-2');
    expect(text).toBe(renderNft(compile([{ ...local! }])));
  });
});

describe('externalTrafficPolicy=Local reached from pods and from the node itself', () => {
  // Walks a packet through the compiled table as the kernel would: the services chain's dispatch
  // rules in order (the source decides which apply), then the gotos down to the DNAT, whose map
  // gives the endpoints it picks from. A pod is any source in the cluster CIDR; `node` is one of
  // the node's own addresses (what `fib saddr type local` matches).
  type From = 'external' | 'pod' | 'node';
  const CIDR = '10.244.0.0/16';
  interface Walk { verdict: 'dnat' | 'reject' | 'none'; chains: string[]; masquerade: boolean; endpoints: string[] }
  const walk = (rs: ReturnType<typeof compile>, from: From, addr: string, port: number): Walk => {
    const els = (set: string) => elementsOf(rs, set).filter((e) => e.key[0] === addr && e.key[2] === port);
    const services = rs.chains.find((c) => c.name === 'services')!.rules.map((r) => r.text);
    let chain: string | undefined;
    for (const r of services) {
      const m = /^(ip saddr (\S+) |fib saddr type local )?ip daddr \. meta l4proto \. th dport vmap @(\S+)$/.exec(r);
      if (!m) throw new Error(`unexpected rule in services: ${r}`);
      const applies = m[1] === undefined || (m[2] !== undefined ? from === 'pod' && m[2] === CIDR : from === 'node');
      const hit = applies ? els(m[3]!)[0] : undefined;
      if (hit) { chain = (hit.data as { chain: string }).chain; break; }
    }
    const out: Walk = { verdict: 'none', chains: [], masquerade: false, endpoints: [] };
    for (let hops = 0; chain !== undefined && hops < 5; hops++) {
      out.chains.push(chain);
      let next: string | undefined;
      for (const r of rs.chains.find((c) => c.name === chain)?.rules.map((x) => x.text) ?? []) {
        if (r === 'meta mark set meta mark | 0x00004000') out.masquerade = true;
        if (r === `ip saddr != ${CIDR} meta mark set meta mark | 0x00004000` && from !== 'pod') out.masquerade = true;
        const g = /^goto (\S+)$/.exec(r);
        if (g) { next = g[1]; break; }
        // A new ClientIP-affinity client: one of the `-new-K` chains at random, each DNATing to
        // endpoint K of the same map, so the choice set is that map's endpoints.
        const pick = /^numgen random mod \d+ vmap @(\S+)$/.exec(r);
        const firstNew = pick ? (rs.sets.find((x) => x.name === pick[1])?.elements[0]?.data as { chain: string } | undefined)?.chain : undefined;
        const rule = firstNew ? rs.chains.find((c) => c.name === firstNew)?.rules[0]?.text ?? r : r;
        const d = /^(?:dnat|add @affinity-\d+ .*\bdnat) .* map @(eps-\d+|local-eps-\d+)/.exec(rule);
        if (d) {
          out.verdict = 'dnat';
          out.endpoints = els(d[1]!).map((e) => `${(e.data as string[])[0]}`);
          break;
        }
      }
      chain = next;
    }
    // Not DNATed: the filter hooks reject what no-endpoint-services lists.
    if (out.verdict === 'none' && els('no-endpoint-services').length) out.verdict = 'reject';
    return out;
  };
  const local = (extra: Record<string, unknown> = {}, eps = [endpoint('10.244.1.5', { ready: true }, 'n1'), endpoint('10.244.2.5', { ready: true }, 'n2')]) => buildServiceModel(
    [service('web', '10.96.0.10', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', externalIPs: ['203.0.113.7'], ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }], ...extra })],
    [slice('web', eps)],
  );
  const on = (node: string, services: readonly ServicePortModel[], clusterCIDR: string | null = CIDR) =>
    compileServices({ services, nodeName: node, nodeIPs: ['192.168.1.13'], serviceCIDR: '10.96.0.0/12', ...(clusterCIDR ? { clusterCIDR } : {}) });

  test('on a node with no endpoint of its own, external clients are rejected but pods and the node reach every endpoint', () => {
    const rs = on('n3', local());
    for (const [addr, port] of [['192.168.1.13', 30080], ['203.0.113.7', 80]] as const) {
      expect(walk(rs, 'external', addr, port)).toEqual({ verdict: 'reject', chains: [], masquerade: false, endpoints: [] });
      // A pod keeps its address (upstream: "pod traffic for external destinations" → KUBE-SVC).
      expect(walk(rs, 'pod', addr, port)).toEqual({ verdict: 'dnat', chains: ['lb-2'], masquerade: false, endpoints: ['10.244.1.5', '10.244.2.5'] });
      // The node's own traffic is masqueraded ("masquerade LOCAL traffic", then "route LOCAL traffic").
      expect(walk(rs, 'node', addr, port)).toEqual({ verdict: 'dnat', chains: ['ext-2', 'lb-2'], masquerade: true, endpoints: ['10.244.1.5', '10.244.2.5'] });
    }
  });

  test('on a node with an endpoint, external clients get only it, unmasqueraded; pods and the node still get every endpoint', () => {
    const rs = on('n1', local());
    expect(walk(rs, 'external', '192.168.1.13', 30080)).toEqual({ verdict: 'dnat', chains: ['local-1'], masquerade: false, endpoints: ['10.244.1.5'] });
    expect(walk(rs, 'pod', '192.168.1.13', 30080).endpoints).toEqual(['10.244.1.5', '10.244.2.5']);
    expect(walk(rs, 'node', '192.168.1.13', 30080)).toMatchObject({ masquerade: true, endpoints: ['10.244.1.5', '10.244.2.5'] });
    // The ClusterIP is unchanged by the policy.
    expect(walk(rs, 'pod', '10.96.0.10', 80)).toEqual({ verdict: 'dnat', chains: ['lb-2'], masquerade: false, endpoints: ['10.244.1.5', '10.244.2.5'] });
  });

  test('as many local endpoints as cluster ones, but other ones: each kind of client gets its own', () => {
    // Here the only local endpoint is terminating (used since no local one is ready); the cluster
    // has one ready endpoint elsewhere. Both lists have one entry, under the same external key.
    const rs = on('n1', local({}, [endpoint('10.244.1.5', { ready: false, serving: true, terminating: true }, 'n1'), endpoint('10.244.2.5', { ready: true }, 'n2')]));
    expect(walk(rs, 'external', '192.168.1.13', 30080).endpoints).toEqual(['10.244.1.5']);
    expect(walk(rs, 'pod', '192.168.1.13', 30080).endpoints).toEqual(['10.244.2.5']);
    expect(walk(rs, 'node', '192.168.1.13', 30080).endpoints).toEqual(['10.244.2.5']);
  });

  test('with ClientIP affinity, pods and the node go through the cluster-wide affinity chains', () => {
    const rs = on('n3', local({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 30 } } }));
    expect(walk(rs, 'pod', '192.168.1.13', 30080)).toEqual({ verdict: 'dnat', chains: ['aff-2-30'], masquerade: false, endpoints: ['10.244.1.5', '10.244.2.5'] });
    expect(walk(rs, 'node', '192.168.1.13', 30080)).toEqual({ verdict: 'dnat', chains: ['ext-aff-2-30', 'aff-2-30'], masquerade: true, endpoints: ['10.244.1.5', '10.244.2.5'] });
    expect(walk(rs, 'external', '192.168.1.13', 30080).verdict).toBe('reject');
  });

  test('without a cluster CIDR only the node\'s own traffic is short-circuited (a pod cannot be told apart)', () => {
    const rs = on('n3', local(), null);
    expect(rs.chains.find((c) => c.name === 'services')!.rules.map((r) => r.text)).toEqual([
      'fib saddr type local ip daddr . meta l4proto . th dport vmap @external-from-node',
      'ip daddr . meta l4proto . th dport vmap @service-ips',
    ]);
    expect(walk(rs, 'pod', '192.168.1.13', 30080).verdict).toBe('reject');
    expect(walk(rs, 'node', '192.168.1.13', 30080).endpoints).toEqual(['10.244.1.5', '10.244.2.5']);
  });

  test('the short-circuit rules and maps exist only while a Local service has endpoints, and the incremental compiler agrees', () => {
    expect(renderNft(on('n3', local({ externalTrafficPolicy: 'Cluster' })))).not.toContain('external-from');
    expect(renderNft(on('n3', local({}, [])))).not.toContain('external-from');
    const inc = new IncrementalCompiler();
    const ctx = { nodeName: 'n3', nodeIPs: ['192.168.1.13'], serviceCIDR: '10.96.0.0/12', clusterCIDR: CIDR };
    const steps = [local({ externalTrafficPolicy: 'Cluster' }), local(), local({}, []), local()];
    for (const [sp] of steps) {
      const text = renderNft(inc.update(ctx, new Map([[sp!.id, sp]])));
      expect(text).toBe(renderNft(on('n3', [{ ...sp! }])));
    }
  });
});

test('set sizes are a power of two at least twice the elements, and change only when outgrown or far too big', () => {
  expect(setSize(undefined, 0)).toBe(1024);
  expect(setSize(undefined, 100_000)).toBe(262_144);
  expect(setSize(1024, 512)).toBe(1024);
  expect(setSize(1024, 1025)).toBe(4096);
  expect(setSize(262_144, 131_072)).toBe(262_144); // below half: kept (no flapping at a boundary)
  expect(setSize(262_144, 16_384)).toBe(262_144);
  expect(setSize(262_144, 16_383)).toBe(32_768);
});

test('the incremental compiler sizes every set but the dynamic one, and keeps the size while the elements fit', () => {
  const inc = new IncrementalCompiler();
  const ctx = { nodeName: 'n1', nodeIPs: [] };
  const two = buildServiceModel([service('a', '10.96.0.1'), service('b', '10.96.0.2', { sessionAffinity: 'ClientIP' })], [slice('a', [endpoint('10.128.0.1')]), slice('b', [endpoint('10.128.0.2')])]);
  const rs = inc.update(ctx, new Map(two.map((s) => [s.id, s])));
  expect(rs.sets.filter((s) => !s.dynamic).every((s) => s.size === 1024)).toBe(true);
  expect(rs.sets.find((s) => s.dynamic)?.size).toBeUndefined();
  const many = buildServiceModel(Array.from({ length: 1100 }, (_, i) => service(`m${i}`, `10.96.${1 + (i >> 8)}.${i & 255}`)), []);
  const grown = inc.update(ctx, new Map(many.map((s) => [s.id, s])));
  expect(grown.sets.find((s) => s.name === 'no-endpoint-services')?.size).toBe(4096); // 1 100 > 1 024: outgrown
  expect(grown.sets.find((s) => s.name === 'service-ips')?.size).toBe(1024);
});

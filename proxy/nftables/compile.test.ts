import { readFileSync } from 'node:fs';
import { planRulesetChanges } from '../../kernel/nftables/plan.js';
import { renderNft } from '../../kernel/nftables/render.js';
import { endpoint, service, slice } from '../fixtures.js';
import { buildServiceModel, type ServicePortModel } from '../model.js';
import { compileServices, IncrementalCompiler } from './compile.js';

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
    'dnat ip to ip saddr . ip daddr . meta l4proto . th dport map @affinity (update timeout 60s)',
    'dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @eps-2 (add @affinity { ip saddr . ip daddr . meta l4proto . th dport timeout 60s : endpoint })',
  ]);
  expect(rs.chains.find((c) => c.name === 'ext-aff-2-60')?.rules.map((r) => r.text)).toEqual(['meta mark set meta mark | 0x00004000', 'goto aff-2-60']);
  expect(rs.sets.find((s) => s.name === 'affinity')).toMatchObject({ dynamic: true, key: ['ipv4_addr', 'ipv4_addr', 'inet_proto', 'inet_service'] });
  expect(rs.chains.some((c) => c.name === 'lb-2')).toBe(false);
  expect(rs.sets.some((s) => s.name === 'eps-2')).toBe(true);
});

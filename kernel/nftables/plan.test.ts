import { compileServices } from '../../proxy/nftables/compile.js';
import { buildServiceModel, type ServicePortModel } from '../../proxy/model.js';
import { endpoint, service, slice } from '../../proxy/fixtures.js';
import { planFullSync, planResync, planRulesetChanges } from './plan.js';
import type { Op } from './types.js';

const model = (n: number, eps: (i: number) => number = () => 2): ServicePortModel[] => buildServiceModel(
  Array.from({ length: n }, (_, i) => service(`s${i}`, `10.96.0.${i + 1}`)),
  Array.from({ length: n }, (_, i) => slice(`s${i}`, Array.from({ length: eps(i) }, (_, j) => endpoint(`10.128.${i}.${j + 1}`)))),
);
const compile = (services: readonly ServicePortModel[]) => compileServices({ services, nodeName: 'n1', nodeIPs: [] });
const summary = (ops: readonly Op[]): string[] => ops.map((o) => {
  switch (o.op) {
    case 'addElements': case 'delElements': return `${o.op} ${o.set.name} ${o.elements.map((e) => e.key.join(' ')).join(', ')}`;
    case 'addSet': return `addSet ${o.set.name}`;
    case 'addChain': return `addChain ${o.chain.name}`;
    case 'addRule': return `addRule ${o.chain}`;
    case 'delSet': case 'delChain': case 'flushChain': return `${o.op} ${o.name}`;
    default: return o.op;
  }
});

test('a full sync replaces the table and creates objects before their users', () => {
  const ops = summary(planFullSync(compile(model(2))));
  expect(ops.slice(0, 3)).toEqual(['addTable', 'delTable', 'addTable']);
  const firstRule = ops.findIndex((o) => o.startsWith('addRule'));
  const lastObject = Math.max(ops.lastIndexOf('addSet eps-2'), ops.lastIndexOf('addChain lb-2'));
  expect(lastObject).toBeLessThan(firstRule);
  expect(ops.findIndex((o) => o.startsWith('addElements'))).toBeGreaterThan(ops.lastIndexOf('addRule services'));
});

test('without a previous ruleset the plan is a full sync', () => {
  const want = compile(model(1));
  expect(planRulesetChanges(undefined, want)).toEqual(planFullSync(want));
});

test('adding one service sends only its elements', () => {
  const m = model(3);
  const have = compile(m.slice(0, 2));
  const want = compile(m);
  expect(summary(planRulesetChanges(have, want))).toEqual([
    'addElements service-ips 10.96.0.3 6 80',
    'addElements eps-2 10.96.0.3 6 80 0, 10.96.0.3 6 80 1',
    'addElements hairpin 10.128.2.1 10.128.2.1, 10.128.2.2 10.128.2.2',
    'addElements cluster-ips 10.96.0.3',
  ]);
});

test('an unchanged ruleset plans nothing', () => {
  const m = model(3);
  expect(planRulesetChanges(compile(m), compile(m))).toEqual([]);
});

test('a service whose endpoint count changes moves to the new chain, which is created first', () => {
  const before = model(2);
  const after = model(2, (i) => (i === 1 ? 3 : 2));
  const ops = summary(planRulesetChanges(compile(before), compile([before[0]!, after[1]!])));
  expect(ops).toEqual([
    'addSet eps-3',
    'addChain lb-3',
    'delElements service-ips 10.96.0.2 6 80',
    'delElements eps-2 10.96.0.2 6 80 0, 10.96.0.2 6 80 1',
    'addRule lb-3',
    'addElements service-ips 10.96.0.2 6 80',
    'addElements hairpin 10.128.1.3 10.128.1.3',
    'addElements eps-3 10.96.0.2 6 80 0, 10.96.0.2 6 80 1, 10.96.0.2 6 80 2',
  ]);
});

test('removing the last service of an endpoint count tears its chain and map down after the verdicts', () => {
  const m = model(2, (i) => i + 1);
  const ops = summary(planRulesetChanges(compile(m), compile([m[0]!])));
  // eps-2's elements go with the set itself.
  expect(ops).toEqual([
    'delElements service-ips 10.96.0.2 6 80',
    'delElements hairpin 10.128.1.1 10.128.1.1, 10.128.1.2 10.128.1.2',
    'delElements cluster-ips 10.96.0.2',
    'flushChain lb-2',
    'delSet eps-2',
    'delChain lb-2',
  ]);
});

test('a map that goes away with the chains its verdicts name is deleted before them (else EBUSY)', () => {
  // The last externalTrafficPolicy=Local service takes the external-from-* maps with it, and their
  // elements are the only references left to ext-1 and lb-1.
  const local = buildServiceModel(
    [service('web', '10.96.0.20', { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }] })],
    [slice('web', [endpoint('10.42.1.5', { ready: true }, 'n2')])],
  );
  const ctx = { nodeName: 'n1', nodeIPs: ['192.168.1.1'], clusterCIDR: '10.42.0.0/16' };
  const ops = summary(planRulesetChanges(compileServices({ ...ctx, services: local }), compileServices({ ...ctx, services: [] })));
  for (const chain of ['ext-1', 'lb-1']) {
    expect(ops).toContain(`delChain ${chain}`);
    for (const map of ['external-from-node', 'external-from-pods']) expect(ops.indexOf(`delSet ${map}`)).toBeLessThan(ops.indexOf(`delChain ${chain}`));
  }
});

test('a hairpin element another service still uses is not deleted', () => {
  const shared = buildServiceModel(
    [service('a', '10.96.0.1'), service('b', '10.96.0.2')],
    [slice('a', [endpoint('10.128.0.1')]), slice('b', [endpoint('10.128.0.1')])],
  );
  const ops = summary(planRulesetChanges(compile(shared), compile([shared[0]!])));
  expect(ops.some((o) => o.startsWith('delElements hairpin'))).toBe(false);
  expect(ops).toContain('delElements service-ips 10.96.0.2 6 80');
});

test('removing a service from the middle sends only its elements', () => {
  const m = model(5);
  const have = compile(m);
  const want = compile([...m.slice(0, 2), ...m.slice(3)]);
  const ops = summary(planRulesetChanges(have, want));
  expect(ops.every((o) => o.startsWith('delElements'))).toBe(true);
  expect(ops.join('\n')).toContain('10.96.0.3');
  expect(ops.join('\n')).not.toMatch(/10\.96\.0\.[1245]\b/);
});

test('a resync keeps dynamic sets and re-creates everything else in one transaction', () => {
  const plain = compile(model(2));
  expect(planResync(plain, plain)).toEqual(planFullSync(plain));
  const withAff = { ...plain, sets: [...plain.sets, { name: 'affinity-0', key: ['ipv4_addr'] as const, dynamic: true, elements: [] }] };
  const ops = summary(planResync(withAff, withAff));
  expect(ops).not.toContain('delTable');
  expect(ops).not.toContain('delSet affinity-0');
  expect(ops).toContain('delSet service-ips');
  expect(ops.indexOf('flushChain services')).toBeLessThan(ops.indexOf('delSet service-ips'));
  expect(ops.filter((o) => o === 'addSet affinity-0')).toHaveLength(1);
});

test('a set whose declared size changes re-creates the table (the size is a hard limit in the kernel)', () => {
  const have = compile(model(1));
  const bigger = { ...have, sets: have.sets.map((s) => (s.name === 'service-ips' ? { ...s, size: (s.size ?? 0) * 2 } : s)) };
  expect(planRulesetChanges(have, bigger)).toEqual(planFullSync(bigger));
});

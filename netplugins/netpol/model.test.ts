// The reference model against cases of upstream's netpol e2e suite (test/e2e/network/netpol),
// written out by hand on upstream's layout: namespaces x, y, z with pods a, b, c each, every pod
// serving TCP and UDP on 80 and 81 under the port names serve-<port>-<proto>.
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import { connectionAllowed, expectedGrids, gridDiff, podKey, type ModelPod, type ModelState, type Protocol } from './model.js';

const nsNames = ['x', 'y', 'z'];
const podNames = ['a', 'b', 'c'];
const pods: ModelPod[] = nsNames.flatMap((ns, i) => podNames.map((name, j) => ({
  namespace: ns, name, ip: `10.42.${j}.${10 + i}`, labels: { pod: name },
  ports: [80, 81].flatMap(port => (['TCP', 'UDP'] as const).map(protocol => ({ name: `serve-${port}-${protocol.toLowerCase()}`, containerPort: port, protocol }))),
})));
const namespaces = nsNames.map(name => ({ name, labels: { ns: name } }));
const pod = (key: string): ModelPod => pods.find(p => podKey(p) === key)!;
const policy = (namespace: string, name: string, spec: NonNullable<NetworkPolicy['spec']>): NetworkPolicy => ({ metadata: { namespace, name }, spec });
const state = (...policies: NetworkPolicy[]): ModelState => ({ namespaces, policies });

/** The keys of every (client → server) pair the model allows on port/proto, self excluded. */
function allowedPairs(s: ModelState, port = 80, proto: Protocol = 'TCP'): string[] {
  const out: string[] = [];
  for (const c of pods) for (const sv of pods) if (c !== sv && connectionAllowed(s, c, sv, port, proto)) out.push(`${podKey(c)}>${podKey(sv)}`);
  return out;
}
/** Pairs into `server` that are allowed. */
const into = (s: ModelState, server: string, port = 80, proto: Protocol = 'TCP') => allowedPairs(s, port, proto).filter(k => k.endsWith(`>${server}`)).map(k => k.split('>')[0]);
const from = (s: ModelState, client: string, port = 80, proto: Protocol = 'TCP') => allowedPairs(s, port, proto).filter(k => k.startsWith(`${client}>`)).map(k => k.split('>')[1]);
const others = (key: string) => pods.map(podKey).filter(k => k !== key);

describe('connectionAllowed (upstream netpol cases)', () => {
  it('with no policy everything is allowed', () => {
    expect(allowedPairs(state())).toHaveLength(72);
  });

  it('a pod reaching itself is allowed even under default deny (AllowLoopback)', () => {
    const s = state(policy('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }));
    expect(connectionAllowed(s, pod('x/a'), pod('x/a'), 80, 'TCP')).toBe(true);
  });

  it('should support a default-deny-ingress policy', () => {
    const s = state(policy('x', 'deny-ingress', { podSelector: {} }));
    for (const p of ['x/a', 'x/b', 'x/c']) expect(into(s, p)).toEqual([]);
    // Egress of x is untouched: x reaches y and z.
    expect(from(s, 'x/a')).toEqual(['y/a', 'y/b', 'y/c', 'z/a', 'z/b', 'z/c']);
  });

  it('should support a default-deny-all policy', () => {
    const s = state(policy('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }));
    for (const p of ['x/a', 'x/b', 'x/c']) { expect(into(s, p)).toEqual([]); expect(from(s, p)).toEqual([]); }
    expect(into(s, 'y/a')).toEqual(['y/b', 'y/c', 'z/a', 'z/b', 'z/c']);
  });

  it('should enforce policy to allow traffic from pods within server namespace based on PodSelector', () => {
    const s = state(policy('x', 'allow-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] }));
    expect(into(s, 'x/a')).toEqual(['x/b']);
    expect(into(s, 'x/b')).toEqual(others('x/b'));
  });

  it('should enforce policy based on NamespaceSelector with MatchExpressions', () => {
    const s = state(policy('x', 'allow-ns-y', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'In', values: ['y'] }] } }] }] }));
    expect(into(s, 'x/a')).toEqual(['y/a', 'y/b', 'y/c']);
  });

  it('should enforce policy based on PodSelector and NamespaceSelector (one peer: AND)', () => {
    const s = state(policy('x', 'and', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } }] }] }));
    expect(into(s, 'x/a')).toEqual(['y/b']);
  });

  it('should enforce policy based on PodSelector or NamespaceSelector (two peers: OR)', () => {
    const s = state(policy('x', 'or', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }, { podSelector: { matchLabels: { pod: 'b' } } }] }] }));
    expect(into(s, 'x/a')).toEqual(['x/b', 'y/a', 'y/b', 'y/c']);
  });

  it('uses kubernetes.io/metadata.name for a namespace without labels of its own', () => {
    const s: ModelState = { namespaces: [], policies: [policy('x', 'by-name', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'z' } } }] }] })] };
    expect(into(s, 'x/c')).toEqual(['z/a', 'z/b', 'z/c']);
  });

  it('should enforce policy based on Ports, numbered and named', () => {
    const s = state(policy('x', 'port-81', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ port: 81 }] }] }));
    expect(into(s, 'x/a', 80)).toEqual([]);
    expect(into(s, 'x/a', 81)).toEqual(others('x/a'));
    expect(into(s, 'x/a', 81, 'UDP')).toEqual([]); // protocol defaults to TCP
    const named = state(policy('x', 'named', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ port: 'serve-80-udp', protocol: 'UDP' }] }] }));
    expect(into(named, 'x/a', 80, 'UDP')).toEqual(others('x/a'));
    expect(into(named, 'x/a', 80, 'TCP')).toEqual([]);
    expect(into(named, 'x/a', 81, 'UDP')).toEqual([]);
  });

  it('a named port no pod defines allows nothing, and never disturbs other policies', () => {
    const s = state(
      policy('x', 'nobody', { podSelector: {}, ingress: [{ ports: [{ port: 'serve-99-tcp' }] }] }),
      policy('x', 'from-y', { podSelector: { matchLabels: { pod: 'c' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] }),
    );
    expect(into(s, 'x/a')).toEqual([]);
    expect(into(s, 'x/c')).toEqual(['y/a', 'y/b', 'y/c']);
  });

  it('should enforce ingress policy allowing any port traffic to a server on a specific protocol', () => {
    const s = state(policy('x', 'udp-only', { podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP' }] }] }));
    expect(into(s, 'x/b', 81, 'UDP')).toEqual(others('x/b'));
    expect(into(s, 'x/b', 81, 'TCP')).toEqual([]);
  });

  it('should support allow-all and be additive with default deny', () => {
    const s = state(policy('x', 'deny', { podSelector: {} }), policy('x', 'allow-all', { podSelector: { matchLabels: { pod: 'c' } }, ingress: [{}] }));
    expect(into(s, 'x/c')).toEqual(others('x/c'));
    expect(into(s, 'x/a')).toEqual([]);
  });

  it('endPort ranges include both ends', () => {
    const s = state(policy('x', 'range', { podSelector: {}, ingress: [{ ports: [{ port: 79, endPort: 80 }] }] }));
    expect(into(s, 'x/a', 80)).toEqual(others('x/a'));
    expect(into(s, 'x/a', 81)).toEqual([]);
  });

  it('should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector', () => {
    const s = state(policy('x', 'egress', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'a' } } }] }] }));
    expect(from(s, 'x/a')).toEqual(['y/a']);
    expect(into(s, 'x/a')).toEqual(others('x/a')); // ingress unaffected
  });

  it('egress with a named port resolves the name on the destination pod', () => {
    const s = state(policy('x', 'egress-named', { podSelector: { matchLabels: { pod: 'a' } }, egress: [{ ports: [{ port: 'serve-81-udp', protocol: 'UDP' }] }] }));
    expect(from(s, 'x/a', 81, 'UDP')).toEqual(others('x/a'));
    expect(from(s, 'x/a', 80, 'UDP')).toEqual([]);
    // `egress` given without policyTypes: Ingress is implied too, with no rules — default deny.
    expect(into(s, 'x/a')).toEqual([]);
  });

  it('should enforce except clause while egress access to server in CIDR block', () => {
    const s = state(policy('x', 'cidr', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.42.1.0/24', except: [`${pod('y/b').ip}/32`] } }] }] }));
    expect(from(s, 'x/a')).toEqual(['x/b', 'z/b']);
  });

  it('both sides must allow: egress allowed, ingress denied is denied', () => {
    const s = state(
      policy('x', 'egress-to-y', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] }),
      policy('y', 'deny', { podSelector: { matchLabels: { pod: 'b' } } }),
    );
    expect(from(s, 'x/a')).toEqual(['y/a', 'y/c']);
  });
});

describe('expectedGrids and gridDiff', () => {
  it('print nothing when the grids agree and mark the cells that differ', () => {
    const s = state(policy('x', 'deny', { podSelector: { matchLabels: { pod: 'a' } } }));
    const grid = expectedGrids(s, pods, [{ port: 80, proto: 'TCP' }]).get('TCP/80')!;
    expect(gridDiff(grid, grid)).toBe('');
    const observed = new Map([...grid].map(([c, row]) => [c, new Map(row)]));
    observed.get('y/b')!.set('x/a', true);
    const diff = gridDiff(grid, observed);
    expect(diff.split('\n')[0]).toMatch(/^from\\to\s+x\/a\s+x\/b/);
    expect(diff.split('\n').find(l => l.startsWith('y/b'))).toMatch(/^y\/b\s+\.\*/);
    expect(diff.split('\n').find(l => l.startsWith('x/b'))).toMatch(/^x\/b\s+X /);
  });
});

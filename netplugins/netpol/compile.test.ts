import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import { renderNft } from '../../kernel/nftables/render.js';
import { compileNetworkPolicies, policyTypes, type NetpolState, type PodInfo } from './compile.js';

const pod = (namespace: string, name: string, ip: string, labels: Record<string, string> = {}, ports: PodInfo['ports'] = []): PodInfo => ({ namespace, name, ip, labels, ports });
const policy = (namespace: string, name: string, spec: NonNullable<NetworkPolicy['spec']>): NetworkPolicy => ({ metadata: { namespace, name }, spec });
const state = (over: Partial<NetpolState>): NetpolState => ({
  pods: [pod('prod', 'web', '10.42.0.2', { app: 'web' }, [{ name: 'http', containerPort: 8080 }]), pod('prod', 'db', '10.42.0.3', { app: 'db' }), pod('dev', 'tool', '10.42.1.2', { role: 'tool' })],
  namespaces: [{ name: 'prod', labels: { env: 'prod' } }, { name: 'dev', labels: { env: 'dev' } }],
  policies: [],
  ...over,
});
type Compiled = ReturnType<typeof compileNetworkPolicies>['ruleset'];
/** Peer sets are named s-<hash>, named-port sets n-<hash>: the n-th of a kind, in compile order. */
const setOf = (rs: Compiled, prefix: 's-' | 'n-', n = 0) => rs.sets.filter(s => s.name.startsWith(prefix))[n];

describe('compileNetworkPolicies', () => {
  it('leaves pods that no policy selects out of the maps: they stay open', () => {
    const { ruleset } = compileNetworkPolicies(state({}));
    expect(ruleset.sets.find(s => s.name === 'ingress-pods')!.elements).toEqual([]);
    expect(ruleset.chains.map(c => c.name)).toEqual(['forward', 'input', 'output']);
  });

  it('judges what the IPVS proxy forwards on output, and input only after IPVS has taken its packets', () => {
    const { ruleset } = compileNetworkPolicies(state({}));
    const chain = (name: string) => ruleset.chains.find(c => c.name === name)!;
    // IPVS DNATs at LOCAL_IN priority 98 and sends the packet on through LOCAL_OUT.
    expect(chain('input').base).toEqual({ type: 'filter', hook: 'input', priority: 99 });
    expect(chain('output').base).toEqual({ type: 'filter', hook: 'output', priority: 0 });
    // The node's own traffic first (never policed), then the same dispatch as forward.
    expect(chain('output').rules.map(r => r.text)).toEqual(['fib saddr type local accept', ...chain('forward').rules.map(r => r.text)]);
  });

  it('default-deny ingress: every selected pod gets a chain that drops without an allow', () => {
    const { ruleset } = compileNetworkPolicies(state({ policies: [policy('prod', 'deny', { podSelector: {}, policyTypes: ['Ingress'] })] }));
    const ingress = ruleset.sets.find(s => s.name === 'ingress-pods')!;
    expect(ingress.elements.map(e => e.key[0]).sort()).toEqual(['10.42.0.2', '10.42.0.3']);
    const text = renderNft(ruleset);
    expect(text).toMatch(/meta mark & 0x00010000 == 0 drop/);
    expect(ruleset.sets.find(s => s.name === 'egress-pods')!.elements).toEqual([]);
  });

  it('namespaceSelector with podSelector picks pods in matching namespaces only', () => {
    const { ruleset } = compileNetworkPolicies(state({
      policies: [policy('prod', 'from-tools', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { env: 'dev' } }, podSelector: { matchLabels: { role: 'tool' } } }] }] })],
    }));
    expect(setOf(ruleset, 's-')!.elements).toEqual([{ key: ['10.42.1.2'] }]);
    expect(ruleset.sets.find(s => s.name === 'ingress-pods')!.elements.map(e => e.key[0])).toEqual(['10.42.0.2']);
  });

  it('a podSelector alone picks peers in the policy namespace; namespaceSelector {} picks all', () => {
    const own = compileNetworkPolicies(state({ policies: [policy('prod', 'p', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })] }));
    expect(setOf(own.ruleset, 's-')!.elements.map(e => e.key[0])).toEqual(['10.42.0.2', '10.42.0.3']);
    const all = compileNetworkPolicies(state({ policies: [policy('prod', 'p', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {} }] }] })] }));
    expect(setOf(all.ruleset, 's-')!.elements).toHaveLength(3);
  });

  it('resolves named ports on the selected pods and reports a port nobody defines', () => {
    const { ruleset, problems } = compileNetworkPolicies(state({
      policies: [policy('prod', 'named', { podSelector: {}, ingress: [{ ports: [{ port: 'http' }, { port: 'metrics' }] }] })],
    }));
    expect(setOf(ruleset, 'n-', 0)!.elements).toEqual([{ key: ['10.42.0.2', 6, 8080] }]);
    expect(setOf(ruleset, 'n-', 1)!.elements).toEqual([]);
    expect(problems).toEqual([{ namespace: 'prod', name: 'named', message: 'named port "metrics" (TCP) is defined by none of the pods the policy selects' }]);
  });

  it('ipBlock with except returns early for the excepted range', () => {
    const text = renderNft(compileNetworkPolicies(state({
      policies: [policy('prod', 'cidr', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.42.1.0/24'] } }], ports: [{ protocol: 'UDP', port: 53, endPort: 54 }] }] })],
    })).ruleset);
    expect(text).toContain('ip saddr 10.42.1.0/24 return');
    expect(text).toContain('ip saddr 10.0.0.0/8 meta mark set meta mark | 0x00010000 return');
    expect(text).toMatch(/meta l4proto udp th dport 53-54 jump b-/);
  });

  it('SCTP ports match protocol 132, numbered, as a range and named', () => {
    // This kernel has no SCTP sockets (CONFIG_IP_SCTP unset), so SCTP is proven here and by
    // loading the rules, not with traffic.
    const { ruleset, problems } = compileNetworkPolicies(state({
      pods: [pod('prod', 'sig', '10.42.0.9', { app: 'sig' }, [{ name: 'diameter', containerPort: 3868, protocol: 'SCTP' }])],
      policies: [policy('prod', 'sctp', { podSelector: {}, ingress: [{ ports: [{ protocol: 'SCTP', port: 9000, endPort: 9010 }, { protocol: 'SCTP', port: 'diameter' }] }] })],
    }));
    expect(problems).toEqual([]);
    expect(renderNft(ruleset)).toMatch(/meta l4proto sctp th dport 9000-9010 /);
    expect(setOf(ruleset, 'n-')!.elements).toEqual([{ key: ['10.42.0.9', 132, 3868] }]);
    // A TCP port of the same name does not stand in for the SCTP one.
    const tcpOnly = compileNetworkPolicies(state({
      pods: [pod('prod', 'sig', '10.42.0.9', {}, [{ name: 'diameter', containerPort: 3868 }])],
      policies: [policy('prod', 'sctp', { podSelector: {}, ingress: [{ ports: [{ protocol: 'SCTP', port: 'diameter' }] }] })],
    }));
    expect(tcpOnly.problems).toHaveLength(1);
  });

  it('egress rules and policyTypes defaulting as upstream', () => {
    expect(policyTypes(policy('a', 'b', { podSelector: {} }))).toEqual({ ingress: true, egress: false });
    expect(policyTypes(policy('a', 'b', { podSelector: {}, egress: [{}] }))).toEqual({ ingress: true, egress: true });
    expect(policyTypes(policy('a', 'b', { podSelector: {}, policyTypes: ['Egress'] }))).toEqual({ ingress: false, egress: true });
    const { ruleset } = compileNetworkPolicies(state({ policies: [policy('prod', 'eg', { podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: { matchLabels: { app: 'web' } } }] }] })] }));
    expect(ruleset.sets.find(s => s.name === 'egress-pods')!.elements.map(e => e.key[0])).toEqual(['10.42.0.3']);
    expect(renderNft(ruleset)).toMatch(/ip daddr @s-\w+ meta mark set/);
  });

  it('host-network pods and pods without an IP are neither policed nor peers', () => {
    const s = state({ policies: [policy('prod', 'deny', { podSelector: {} })] });
    const pods = [...s.pods, { ...pod('prod', 'host', '192.0.2.1'), hostNetwork: true }, { ...pod('prod', 'pending', ''), ip: undefined } as unknown as PodInfo];
    const { ruleset } = compileNetworkPolicies({ ...s, pods });
    expect(ruleset.sets.find(s2 => s2.name === 'ingress-pods')!.elements.map(e => e.key[0]).sort()).toEqual(['10.42.0.2', '10.42.0.3']);
  });

  it('policies naming the same peers share one set', () => {
    const from = [{ namespaceSelector: { matchLabels: { env: 'dev' } } }];
    const { ruleset } = compileNetworkPolicies(state({ policies: [
      policy('prod', 'a', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from }] }),
      policy('prod', 'b', { podSelector: { matchLabels: { app: 'db' } }, ingress: [{ from }] }),
    ] }));
    expect(ruleset.sets.filter(s => s.name.startsWith('s-'))).toHaveLength(1);
  });

  it('is deterministic: the same state gives the same ruleset', () => {
    const s = state({ policies: [policy('prod', 'a', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] }), policy('dev', 'b', { podSelector: {} })] });
    expect(renderNft(compileNetworkPolicies(s).ruleset)).toBe(renderNft(compileNetworkPolicies({ ...s, policies: [...s.policies].reverse() }).ruleset));
  });
});

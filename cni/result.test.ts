import { parseConfig } from './config.js';
import { planCandidates } from './ipam.js';
import { bridgeMac, buildResult, expectedFromPrev, hostVethName, planCheck, type Observed } from './result.js';

const bridgeConf = parseConfig(JSON.stringify({ cniVersion: '1.1.0', name: 'k8ts', type: 'k8ts-cni', mtu: 1450, ipam: { podCIDR: '10.244.1.0/24' } }), 'ADD');
const routedConf = parseConfig(JSON.stringify({ cniVersion: '1.0.0', name: 'k8ts', type: 'k8ts-cni', mode: 'routed', ipam: { podCIDR: '10.244.1.0/24' }, dns: { nameservers: ['10.96.0.10'] } }), 'ADD');
const outcome = {
  hostVeth: { name: 'k8ts0123456789a', mac: 'ee:ee:ee:ee:ee:ee' },
  pod: { name: 'eth0', mac: '02:00:00:00:00:01', mtu: 1450, sandbox: '/run/netns/p' },
  ip: '10.244.1.7',
};

describe('results', () => {
  test('bridge mode: bridge, host veth and pod interface; address with the pod CIDR prefix; default via the gateway', () => {
    expect(buildResult(bridgeConf, { ...outcome, bridge: { name: 'cni0', mac: '02:aa:00:00:00:01' } })).toEqual({
      cniVersion: '1.1.0',
      interfaces: [{ name: 'cni0', mac: '02:aa:00:00:00:01' }, { name: 'k8ts0123456789a', mac: 'ee:ee:ee:ee:ee:ee' }, { name: 'eth0', mac: '02:00:00:00:00:01', mtu: 1450, sandbox: '/run/netns/p' }],
      ips: [{ address: '10.244.1.7/24', gateway: '10.244.1.1', interface: 2 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.244.1.1' }],
    });
  });

  test('routed mode: /32 with 169.254.1.1 as gateway, the config version and DNS', () => {
    const r = buildResult(routedConf, outcome);
    expect(r.cniVersion).toBe('1.0.0');
    expect(r.ips).toEqual([{ address: '10.244.1.7/32', gateway: '169.254.1.1', interface: 1 }]);
    expect(r.routes).toEqual([{ dst: '0.0.0.0/0', gw: '169.254.1.1' }]);
    expect(r.dns).toEqual({ nameservers: ['10.96.0.10'] });
  });

  test('a prevResult is kept and ours appended, interface indexes shifted', () => {
    const conf = { ...routedConf, prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'lo', sandbox: '/run/netns/p' }], ips: [{ address: '127.0.0.1/8', interface: 0 }] } };
    const r = buildResult(conf, outcome);
    expect(r.interfaces!.map((i) => i.name)).toEqual(['lo', 'k8ts0123456789a', 'eth0']);
    expect(r.ips).toEqual([{ address: '127.0.0.1/8', interface: 0 }, { address: '10.244.1.7/32', gateway: '169.254.1.1', interface: 2 }]);
  });

  test('host veth names are stable, distinct per attachment and fit IFNAMSIZ; the bridge MAC is stable and local', () => {
    expect(hostVethName('c1', 'eth0')).toBe(hostVethName('c1', 'eth0'));
    expect(hostVethName('c1', 'eth0')).not.toBe(hostVethName('c1', 'eth1'));
    expect(hostVethName('c1', 'eth0')).toMatch(/^k8ts[0-9a-f]{11}$/);
    expect(bridgeMac('k8ts', 'cni0')).toMatch(/^02(:[0-9a-f]{2}){5}$/);
    expect(bridgeMac('k8ts', 'cni0')).toBe(bridgeMac('k8ts', 'cni0'));
  });
});

describe('CHECK', () => {
  const prev = buildResult(routedConf, outcome);
  const exp = expectedFromPrev(prev, 'eth0', '/run/netns/p')!;
  const good: Observed = {
    podIf: { mac: '02:00:00:00:00:01', up: true, mtu: 1450 }, podAddrs: ['10.244.1.7/32'], podDefaultVia: '169.254.1.1',
    hostVeth: { mac: 'ee:ee:ee:ee:ee:ee', up: true }, hostRouteToPod: true, allocated: '10.244.1.7',
  };

  test('passes when everything ADD made is there', () => {
    expect(exp).toMatchObject({ address: '10.244.1.7/32', gateway: '169.254.1.1', hostVeth: { name: 'k8ts0123456789a' } });
    expect(planCheck(routedConf, exp, good)).toEqual([]);
  });

  test('names each missing piece', () => {
    expect(planCheck(routedConf, exp, { ...good, podIf: undefined } as unknown as Observed)).toEqual(['interface eth0 is missing in the container']);
    expect(planCheck(routedConf, exp, { ...good, podAddrs: [], hostRouteToPod: false, allocated: undefined } as unknown as Observed)).toEqual([
      'address 10.244.1.7/32 is missing on eth0', 'host route 10.244.1.7/32 to the pod is missing', 'IPAM holds nothing for this attachment, expected 10.244.1.7',
    ]);
    expect(planCheck(bridgeConf, exp, { ...good, hostVeth: { mac: 'x', up: true, master: 'other', hairpin: false } })).toEqual([
      'host veth is not a port of cni0', 'hairpin mode is off on the host veth',
    ]);
  });

  test('in bridge mode the host veth is told from a bridge whose name shares its prefix (the agent\'s k8ts0)', () => {
    const b = buildResult(bridgeConf, { ...outcome, bridge: { name: 'k8ts0', mac: '02:aa:00:00:00:01' } });
    expect(expectedFromPrev(b, 'eth0', '/run/netns/p')?.hostVeth?.name).toBe('k8ts0123456789a');
  });

  test('prevResult without our interface has nothing to check', () => {
    expect(expectedFromPrev(prev, 'eth1', '/run/netns/p')).toBeUndefined();
    expect(expectedFromPrev({ cniVersion: '1.0.0' }, 'eth0', '/run/netns/p')).toBeUndefined();
  });
});

describe('IPAM candidates', () => {
  const range = { subnet: '10.0.0.0/29', rangeStart: '10.0.0.1', rangeEnd: '10.0.0.6', gateway: '10.0.0.1' };
  test('skip the gateway and used addresses, round-robin after the last reservation, wrapping', () => {
    expect(planCandidates(range, new Set())).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
    expect(planCandidates(range, new Set(['10.0.0.5']), '10.0.0.4')).toEqual(['10.0.0.6', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
    expect(planCandidates(range, new Set(), '10.0.0.6')).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
    expect(planCandidates(range, new Set(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']))).toEqual([]);
  });
});

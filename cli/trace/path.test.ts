// computePath over snapshots read from a real 2-node VXLAN lab (testdata/, captured with
// readSnapshot): node 1 (172.30.1.11, pods 10.42.0.0/24) holds the client 10.42.0.2; node 2
// (172.30.1.12) the two web pods 10.42.1.2 and 10.42.1.3 behind Service web (ClusterIP
// 10.43.54.253:80 → 8080, NodePort 32083). The *-netpol-* snapshots add a NetworkPolicy selecting
// the web pods for ingress with no rule (deny all). Routed hops and the affinity fallback are
// checked on fixtures derived from them.
import { readFileSync } from 'node:fs';
import { confirm } from './cli.js';
import { computePath, lookupRoute, renderPath, resolveHop, type Flow, type Snapshot } from './path.js';
import { parseRuleText, parseTrace } from './probe.js';

const load = (f: string): Snapshot => JSON.parse(readFileSync(new URL(`testdata/${f}`, import.meta.url), 'utf8')) as Snapshot;
const n1 = load('vxlan-n1.json');
const n2 = load('vxlan-n2.json');
const peers = new Map([['172.30.1.12', n2]]);
const toClusterIP: Flow = { saddr: '10.42.0.2', daddr: '10.43.54.253', proto: 'tcp', dport: 80, sport: 40000 };
const WEB = ['10.42.1.2', '10.42.1.3'];
const VTEP_MAC_N2 = '1e:00:34:8e:35:16';

describe('computePath', () => {
  it('names the proxy chains a ClusterIP packet matches and gives both endpoints at 50%', () => {
    const t = computePath(n1, toClusterIP, peers);
    expect(t.iif).toBe('k8ts0');
    expect(t.prerouting.hits.map(h => `${h.table} ${h.chain}: ${h.effect}`)).toEqual([
      'k8ts-proxy nat-prerouting: jump services',
      'k8ts-proxy services: @service-ips → goto lb-2',
      'k8ts-proxy lb-2: dnat to 10.42.1.2:8080 | 10.42.1.3:8080',
    ]);
    expect(t.dnat).toMatchObject({ table: 'k8ts-proxy', chain: 'lb-2', rule: expect.stringContaining('numgen random mod 2 map @eps-2') });
    expect(t.dnat!.choices).toEqual(WEB.map(ip => ({ ip, port: 8080, probability: 0.5 })));
    expect(t.unknown).toEqual([]);
  });

  it('leaves for a pod on another node by the VXLAN device, its neighbour entry and the FDB entry of the remote VTEP', () => {
    const t = computePath(n1, toClusterIP, peers);
    expect(t.endpoints).toHaveLength(2);
    for (const e of t.endpoints) {
      expect(e.hop).toMatchObject({ kind: 'vxlan', dev: 'k8ts.1', via: '10.42.1.0', vxlan: { vni: 1, port: 8472, neighMac: VTEP_MAC_N2, vtep: '172.30.1.12', underlayDev: 'eth0' } });
      expect(e.forward.verdict).toBe('accept');
      { expect(e.postrouting?.hook).toBe('postrouting'); expect(e.postrouting!.masquerade).toBeUndefined(); } // pod to pod keeps its source
      expect(e.egress).toMatchObject({ verdict: 'allowed', node: 'trdev-n1' });
      expect(e.ingress).toMatchObject({ verdict: 'allowed', node: 'trdev-n2' });
    }
  });

  it('says when the FDB entry of the next hop is missing (the packet would be dropped)', () => {
    const hop = resolveHop({ ...n1, fdb: [] }, '10.42.1.2');
    expect(hop.kind).toBe('vxlan');
    expect(hop.vxlan?.vtep).toBeUndefined();
    expect(hop.text).toContain('dst (none)');
  });

  it('takes a NodePort on the node\'s own address through ext-2 to lb-2, marked and masqueraded', () => {
    const t = computePath(n1, { ...toClusterIP, daddr: '172.30.1.11', dport: 32083 }, peers);
    expect(t.prerouting.hits.map(h => `${h.chain}: ${h.effect}`)).toEqual([
      'nat-prerouting: jump services', 'services: @service-ips → goto ext-2', 'ext-2: mark set 0x4000', 'ext-2: goto lb-2',
      'lb-2: dnat to 10.42.1.2:8080 | 10.42.1.3:8080',
    ]);
    for (const e of t.endpoints) expect(e.postrouting?.masquerade).toMatchObject({ table: 'k8ts-proxy', chain: 'masquerading' });
  });

  it('sends traffic to a node address no rule DNATs to the input hook', () => {
    const t = computePath(n1, { ...toClusterIP, daddr: '172.30.1.11', dport: 22 }, peers);
    expect(t.dnat).toBeUndefined();
    expect(t.input?.verdict).toBe('accept');
    expect(t.endpoints).toEqual([]);
  });

  it('delivers a Service whose endpoint is this node\'s own address (host-network DNS) through input, not forward', () => {
    const t = computePath(n1, { ...toClusterIP, daddr: '10.43.0.10', proto: 'udp', dport: 53 }, peers);
    expect(t.dnat?.choices).toEqual([{ ip: '172.30.1.11', port: 53, probability: 1 }]);
    expect(t.endpoints[0]).toMatchObject({ hop: { kind: 'host' }, forward: { hook: 'input', verdict: 'accept' }, ingress: { verdict: 'allowed' } });
    expect(t.endpoints[0]!.postrouting).toBeUndefined();
  });

  it('routes a pod IP straight, without DNAT', () => {
    const t = computePath(n1, { ...toClusterIP, daddr: '10.42.1.3', dport: 8080 }, peers);
    expect(t.dnat).toBeUndefined();
    expect(t.endpoints.map(e => [e.endpoint.ip, e.hop.kind])).toEqual([['10.42.1.3', 'vxlan']]);
  });

  it('rejects a ClusterIP port the service lacks in filter-forward (reject-service)', () => {
    const t = computePath(n1, { ...toClusterIP, dport: 81 }, peers);
    expect(t.dnat).toBeUndefined();
    expect(t.endpoints[0]!.forward.verdict).toBe('reject');
    expect(t.endpoints[0]!.forward.hits.map(h => `${h.chain}: ${h.effect}`)).toEqual(expect.arrayContaining(['filter-forward: goto reject-service', 'reject-service: reject']));
  });

  it('finds the deny-all NetworkPolicy of the web pods: ingress denied by their in- chain, egress of the client allowed', () => {
    const p1 = load('vxlan-netpol-n1.json'), p2 = load('vxlan-netpol-n2.json');
    const t = computePath(p1, toClusterIP, new Map([['172.30.1.12', p2]]));
    for (const e of t.endpoints) {
      expect(e.forward.verdict).toBe('drop');
      expect(e.egress.verdict).toBe('allowed');
      expect(e.ingress).toMatchObject({ verdict: 'denied', text: expect.stringMatching(/chain in-[0-9a-f]+ \[\d+\]: no policy/) });
    }
  });

  it('reads a ClientIP-affinity chain by its layout: any endpoint for a new client, the one whose set holds a known client', () => {
    const aff: Snapshot = JSON.parse(JSON.stringify(n1)) as Snapshot;
    const svcIps = aff.nft.sets.find(s => s.table === 'k8ts-proxy' && s.name === 'service-ips')!;
    svcIps.elem!.push([{ concat: ['10.43.54.253', 'tcp', 81] }, { goto: { target: 'aff-2-60' } }]);
    aff.nft.chains.push({ family: 'ip', table: 'k8ts-proxy', name: 'aff-2-60' });
    const eps2 = aff.nft.sets.find(s => s.table === 'k8ts-proxy' && s.name === 'eps-2')!;
    eps2.elem!.push([{ concat: ['10.43.54.253', 'tcp', 81, 0] }, { concat: ['10.42.1.2', 8080] }], [{ concat: ['10.43.54.253', 'tcp', 81, 1] }, { concat: ['10.42.1.3', 8080] }]);
    const flow = { ...toClusterIP, dport: 81 };
    const fresh = computePath(aff, flow);
    expect(fresh.dnat).toMatchObject({ chain: 'aff-2-60', affinity: { map: 'affinity-K', timeoutS: 60 } });
    expect(fresh.dnat!.choices.map(c => c.probability)).toEqual([0.5, 0.5]);
    // The client is in the set of endpoint 1 (as `nft -j` prints a dynamic set's element).
    aff.nft.sets.push({ family: 'ip', table: 'k8ts-proxy', name: 'affinity-0', elem: [] });
    aff.nft.sets.push({ family: 'ip', table: 'k8ts-proxy', name: 'affinity-1', elem: [{ elem: { val: { concat: ['10.42.0.2', '10.43.54.253', 'tcp', 81] }, timeout: 60, expires: 57 } }] });
    const pinned = computePath(aff, flow);
    expect(pinned.dnat!.choices).toEqual([{ ip: '10.42.1.3', port: 8080, probability: 1 }]);
    expect(pinned.dnat!.affinity).toMatchObject({ map: 'affinity-1', pinned: { ip: '10.42.1.3', port: 8080, probability: 1 } });
  });

  it('renders numbered steps naming the rules by table, chain and handle', () => {
    const text = renderPath(computePath(n1, toClusterIP, peers), n1.ruleText);
    expect(text).toMatch(/^tcp 10\.42\.0\.2:40000 → 10\.43\.54\.253:80, from node trdev-n1 \(in by k8ts0\)\n/);
    expect(text).toMatch(/k8ts-proxy services \[\d+\] ip daddr \. meta l4proto \. th dport vmap @service-ips {2}→ @service-ips → goto lb-2/);
    expect(text).toContain('      10.42.1.2:8080  p=50%');
    expect(text).toContain(`fdb ${VTEP_MAC_N2} dst 172.30.1.12 (VNI 1, UDP 8472) → underlay dev eth0`);
  });
});

describe('computePath over iptables-nft rules (proxy mode iptables: upstream\'s KUBE-* layout)', () => {
  // Same lab layout; Service web is 10.43.62.107:80, NodePort 31782; the VTEP MAC of node 2 differs.
  const ipt = load('iptables-n1.json');
  it('follows KUBE-SERVICES → KUBE-SVC → KUBE-SEP, weighting the statistic branches into the choice set', () => {
    const t = computePath(ipt, { ...toClusterIP, daddr: '10.43.62.107' });
    expect(t.prerouting.hits.map(h => h.chain)).toEqual(['PREROUTING', 'KUBE-SERVICES', expect.stringMatching(/^KUBE-SVC-/), expect.stringMatching(/^KUBE-SEP-/)]);
    expect(t.dnat!.choices.sort((a, b) => a.ip.localeCompare(b.ip))).toEqual(WEB.map(ip => ({ ip, port: 8080, probability: 0.5 })));
    expect(t.dnat!.rule).toMatch(/^-A KUBE-SEP-\S+ -p tcp .* -j DNAT --to-destination 10\.42\.1\.[23]:8080$/);
    expect(t.unknown).toEqual([]);
    for (const e of t.endpoints) expect(e.hop).toMatchObject({ kind: 'vxlan', vxlan: { vtep: '172.30.1.12' } });
  });
  it('takes a NodePort through addrtype LOCAL, KUBE-NODEPORTS and KUBE-EXT (marked), and masquerades it in KUBE-POSTROUTING', () => {
    const t = computePath(ipt, { ...toClusterIP, daddr: '172.30.1.11', dport: 31782 });
    expect(t.prerouting.hits.map(h => h.chain)).toEqual(expect.arrayContaining(['KUBE-NODEPORTS', 'KUBE-MARK-MASQ']));
    expect(t.prerouting.packet.mark).toBe(0x4000);
    expect(t.dnat!.choices.map(c => c.ip).sort()).toEqual(WEB);
    for (const e of t.endpoints) expect(e.postrouting?.masquerade).toMatchObject({ table: 'nat', chain: 'KUBE-POSTROUTING' });
    // A port no service has: no DNAT.
    expect(computePath(ipt, { ...toClusterIP, daddr: '172.30.1.11', dport: 31999 }).dnat).toBeUndefined();
  });
});

describe('computePath with IPVS virtual servers (proxy mode ipvs)', () => {
  // The vxlan node with an IPVS virtual server on a VIP bound to kube-ipvs0, outside the nftables
  // proxy's service CIDR (whose filter-input drops unallocated addresses there).
  const withIpvs = (scheduler: string, flags = 0): Snapshot => ({
    ...n1,
    addrs: [...n1.addrs, { dev: 'kube-ipvs0', index: 99, address: '192.0.2.7', prefix: 32 }],
    ipvs: [{ service: { address: '192.0.2.7', protocol: 'TCP', port: 80, scheduler, flags, timeout: flags ? 10800 : 0 }, dests: [{ address: '10.42.1.2', port: 8080, weight: 3 }, { address: '10.42.1.3', port: 8080, weight: 1 }, { address: '10.42.1.4', port: 8080, weight: 0 }] }],
  });
  const flow = { ...toClusterIP, daddr: '192.0.2.7' };
  it('crosses input, then picks real servers by weight (wrr), skipping weight 0, and leaves through output', () => {
    const t = computePath(withIpvs('wrr'), flow, peers);
    expect(t.input?.hook).toBe('input');
    expect(t.dnat).toMatchObject({ table: 'ipvs', chain: 'TCP 192.0.2.7:80' });
    expect(t.dnat!.choices).toEqual([{ ip: '10.42.1.2', port: 8080, probability: 0.75 }, { ip: '10.42.1.3', port: 8080, probability: 0.25 }]);
    expect(t.endpoints.map(e => [e.forward.hook, e.hop.kind])).toEqual([['output', 'vxlan'], ['output', 'vxlan']]);
    expect(renderPath(t, n1.ruleText)).toContain('10.42.1.2:8080  p=75%');
  });
  it('reports persistence as ClientIP affinity', () => {
    expect(computePath(withIpvs('rr', 1), flow, peers).dnat?.affinity).toEqual({ map: 'ipvs persistence', timeoutS: 10800 });
  });
  it('does not run output\'s nat chains after IPVS: the connection got its destination binding in prerouting', () => {
    const s = withIpvs('rr');
    const natOutput = s.nft.chains.filter(c => c.hook === 'output' && c.type === 'nat').map(c => `${c.table}/${c.name}`);
    expect(natOutput.length).toBeGreaterThan(0); // the fixture has some, or this proves nothing
    for (const e of computePath(s, flow, peers).endpoints) {
      expect(e.forward.chains.map(c => `${c.table}/${c.chain}`).filter(c => natOutput.includes(c))).toEqual([]);
    }
  });
});

describe('routes', () => {
  const routes = [
    { dst: 'default', via: '172.30.1.1', dev: 'eth0' },
    { dst: '172.30.1.0/24', dev: 'eth0' },
    { dst: '10.42.1.0/24', via: '172.30.1.12', dev: 'eth0', protocol: 107 },
    { dst: '10.42.0.0/24', type: 'blackhole' as const },
    { dst: '10.42.0.5/32', dev: 'cali0123456789a', scope: 'link' as const },
  ];
  it('picks the longest prefix', () => {
    expect(lookupRoute(routes, '10.42.1.9')?.via).toBe('172.30.1.12');
    expect(lookupRoute(routes, '10.42.0.5')?.dev).toBe('cali0123456789a');
    expect(lookupRoute(routes, '8.8.8.8')?.dst).toBe('default');
  });
  it('gives a routed next hop, a local pod, and a blackholed address', () => {
    const s: Snapshot = { ...n1, routes, links: n1.links.filter(l => l.kind !== 'vxlan') };
    expect(resolveHop(s, '10.42.1.9')).toMatchObject({ kind: 'routed', via: '172.30.1.12', dev: 'eth0' });
    expect(resolveHop(s, '10.42.0.5')).toMatchObject({ kind: 'local', dev: 'cali0123456789a' });
    expect(resolveHop(s, '10.42.0.6')).toMatchObject({ kind: 'unreachable' });
  });
});

describe('nft text', () => {
  it('indexes rule text by table, chain and handle, skipping set bodies and chain headers', () => {
    const text = `table ip t { # handle 4
\tmap m { # handle 1
\t\ttype ipv4_addr : verdict
\t}
\tchain c { # handle 3
\t\ttype filter hook forward priority filter; policy accept;
\t\tct state established,related accept # handle 5
\t}
}
table ip u { # handle 5
\tchain c { # handle 1
\t\tjump d # handle 2
\t}
}
`;
    expect(parseRuleText(text)).toEqual({ 't c 5': 'ct state established,related accept', 'u c 2': 'jump d' });
  });

  it('parses nft monitor trace output and confirms the DNAT it saw', () => {
    const events = parseTrace(readFileSync(new URL('testdata/monitor-trace-nodeport.txt', import.meta.url), 'utf8'));
    expect(events.find(e => e.table === 'k8ts-proxy' && e.chain === 'services')).toMatchObject({ kind: 'rule', verdict: 'goto ext-2' });
    expect(events.find(e => e.chain === 'filter-forward' && e.kind === 'packet')).toMatchObject({ saddr: '10.42.0.2', daddr: '10.42.1.3', dport: 8080 });
    expect(events.find(e => e.chain === 'filter-forward' && e.kind === 'policy')?.verdict).toBe('accept');
    const path = computePath(n1, { saddr: '10.42.0.2', daddr: '172.30.1.11', proto: 'tcp', dport: 32083, sport: 40089 }, peers);
    const table = events[0]!.table;
    const c = confirm(path, { table, events, outcome: 'connected' });
    expect(c).toMatchObject({ dnatSeen: true, seenDaddr: '10.42.1.3', outcome: 'connected' });
    expect(c.chains).toEqual(['k8ts-proxy/nat-prerouting', 'k8ts-proxy/services', 'k8ts-proxy/ext-2', 'k8ts-proxy/lb-2', 'k8ts-proxy/filter-forward', 'k8ts-netpol/forward', 'k8ts-proxy/nat-postrouting', 'k8ts-proxy/masquerading']);
    expect(c.droppedBy).toBeUndefined();
    // A packet never rewritten to an endpoint is not a confirmation.
    expect(confirm(path, { table, events: events.filter(e => e.kind !== 'packet' || e.daddr === '172.30.1.11'), outcome: 'timeout' }).dnatSeen).toBe(false);
  });
});

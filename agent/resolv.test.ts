import type { Pod } from 'kubernetes-types/core/v1.js';
import { compilePodDns, mergeDnsOptions, missingClusterDNS, parseResolvConf, podDnsType, renderResolvConf } from './resolv.js';

const host = parseResolvConf('# generated\nnameserver 192.168.1.1\nnameserver 8.8.8.8 ; second\nsearch corp.example. lab.example\noptions edns0 timeout:2\n');
const cluster = { clusterDNS: ['10.43.0.10'], clusterDomain: 'cluster.local' };
const pod = (spec: Partial<NonNullable<Pod['spec']>> = {}): Pod => ({ metadata: { name: 'p', namespace: 'team' }, spec: { containers: [], ...spec } });

describe('parseResolvConf', () => {
  it('reads nameservers, the search list without trailing dots, and options', () => {
    expect(host).toEqual({ nameservers: ['192.168.1.1', '8.8.8.8'], searches: ['corp.example', 'lab.example'], options: ['edns0', 'timeout:2'] });
  });
});

describe('podDnsType', () => {
  it('follows dnsPolicy and hostNetwork as upstream', () => {
    expect(podDnsType(pod(), cluster)).toBe('cluster');
    expect(podDnsType(pod({ hostNetwork: true }), cluster)).toBe('host');
    expect(podDnsType(pod({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }), cluster)).toBe('cluster');
    expect(podDnsType(pod({ dnsPolicy: 'Default' }), cluster)).toBe('host');
    expect(podDnsType(pod({ dnsPolicy: 'None' }), cluster)).toBe('none');
  });
  it('falls back to the node resolver when no cluster DNS is configured', () => {
    expect(podDnsType(pod(), { clusterDNS: [], clusterDomain: 'cluster.local' })).toBe('host');
  });
});

describe('compilePodDns', () => {
  it('ClusterFirst: the cluster DNS, cluster search domains before the node ones, ndots:5', () => {
    expect(renderResolvConf(compilePodDns(pod(), cluster, host))).toBe(
      'search team.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\nnameserver 10.43.0.10\noptions ndots:5\n');
  });
  it('Default: the node resolver as is', () => {
    expect(compilePodDns(pod({ dnsPolicy: 'Default' }), cluster, host)).toEqual(host);
  });
  it('None with dnsConfig: exactly the dnsConfig', () => {
    const cfg = compilePodDns(pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['1.1.1.1'], searches: ['x.example.'], options: [{ name: 'ndots', value: '2' }, { name: 'rotate' }] } }), cluster, host);
    expect(renderResolvConf(cfg)).toBe('search x.example\nnameserver 1.1.1.1\noptions ndots:2 rotate\n');
  });
  it('merges dnsConfig: servers and searches appended without duplicates, options overridden by name', () => {
    const cfg = compilePodDns(pod({ dnsConfig: { nameservers: ['10.43.0.10', '9.9.9.9'], searches: ['cluster.local', 'extra.example'], options: [{ name: 'ndots', value: '1' }, { name: 'edns0' }] } }), cluster, host);
    expect(cfg.nameservers).toEqual(['10.43.0.10', '9.9.9.9']);
    expect(cfg.searches).toEqual(['team.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example', 'lab.example', 'extra.example']);
    expect(cfg.options).toEqual(['ndots:1', 'edns0']);
  });
  it('keeps at most 3 nameservers and 32 search domains', () => {
    const many = compilePodDns(pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['1.1.1.1', '2.2.2.2', '3.3.3.3', '4.4.4.4'], searches: Array.from({ length: 40 }, (_, i) => `d${i}.example`) } }), cluster, host);
    expect(many.nameservers).toEqual(['1.1.1.1', '2.2.2.2', '3.3.3.3']);
    expect(many.searches).toHaveLength(32);
  });
  it('without a cluster domain adds no cluster search domains', () => {
    expect(compilePodDns(pod(), { clusterDNS: ['10.43.0.10'], clusterDomain: '' }, host).searches).toEqual(['corp.example', 'lab.example']);
  });
});

describe('mergeDnsOptions', () => {
  it('lets later options win by name and keeps first-seen order', () => {
    expect(mergeDnsOptions(['ndots:5', 'edns0'], [{ name: 'ndots', value: '3' }, { name: 'single-request' }])).toEqual(['ndots:3', 'edns0', 'single-request']);
  });
});

describe('missingClusterDNS', () => {
  it('is true for pods that want the cluster resolver on a kubelet without one', () => {
    const none = { clusterDNS: [], clusterDomain: 'cluster.local' };
    expect(missingClusterDNS(pod(), none)).toBe(true);
    expect(missingClusterDNS(pod({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }), none)).toBe(true);
    expect(missingClusterDNS(pod({ hostNetwork: true }), none)).toBe(false);
    expect(missingClusterDNS(pod({ dnsPolicy: 'Default' }), none)).toBe(false);
    expect(missingClusterDNS(pod({ dnsPolicy: 'None' }), none)).toBe(false);
    expect(missingClusterDNS(pod(), cluster)).toBe(false);
  });
});

import { describe, expect, test } from '@jest/globals';
import { ago, collectStatus, parsePromText, parseSystemctlShow, renderStatus, syncsFromMetrics, type StatusSources } from './status.js';

const sources = (over: Partial<StatusSources> = {}): StatusSources => ({
  unit: () => ({ name: 'k8ts-agent.service', state: 'active', pid: 4242 }),
  config: () => ({ file: '/etc/k8ts/config.yaml', values: { server: 'https://10.0.0.1:6443', 'token-file': '/etc/k8ts/token', network: 'vxlan', 'proxy-mode': 'ipvs' } }),
  node: async () => ({ name: 'a1', ready: 'True', server: 'https://10.0.0.1:6443', reason: 'KubeletReady', heartbeat: '2026-11-27T01:59:00Z', leaseRenewed: '2026-11-27T01:59:56Z' }),
  nftables: async () => undefined,
  ipvs: async () => ({ services: 3, dests: 5 }),
  syncs: async () => ({ address: '127.0.0.1:10249', proxy: '2026-11-27T01:59:58Z', netplugins: { vxlan: '2026-11-27T01:59:59Z', netpol: '2026-11-27T01:50:00Z' } }),
  now: () => Date.parse('2026-11-27T02:00:00Z'),
  ...over,
});

describe('k8ts status', () => {
  test('shows the unit, the role and modes from config.yaml, the node and the kernel\'s proxy state', async () => {
    expect(renderStatus(await collectStatus(sources()))).toBe(
      'service   k8ts-agent.service active (pid 4242)\n' +
      'config    /etc/k8ts/config.yaml: agent of https://10.0.0.1:6443, network vxlan, proxy ipvs\n' +
      'node      a1 Ready=True (KubeletReady), API https://10.0.0.1:6443\n' +
      'heartbeat lease renewed 4s ago, status posted 60s ago\n' +
      'nftables  no table ip k8ts-proxy\n' +
      'ipvs      3 virtual servers, 5 real servers\n' +
      'synced    proxy 2s ago, vxlan 1s ago, netpol 10m ago (127.0.0.1:10249)\n');
  });

  test('a source that fails is reported in its line and the others are still read', async () => {
    const out = renderStatus(await collectStatus(sources({
      node: async () => { throw new Error('connect ECONNREFUSED 10.0.0.1:6443'); },
      nftables: async () => ({ table: 'k8ts-proxy', chains: 12, rules: 40, elements: 7 }),
      config: () => { throw new Error('config file "/etc/k8ts/config.yaml" is not valid YAML'); },
    })));
    expect(out).toContain('node      API unreachable: connect ECONNREFUSED 10.0.0.1:6443\n');
    expect(out).toContain('config    unreadable: config file "/etc/k8ts/config.yaml" is not valid YAML\n');
    expect(out).toContain('nftables  table ip k8ts-proxy: 12 chains, 40 rules, 7 set/map elements\n');
    expect(out).toContain('ipvs      3 virtual servers');
  });

  test('nothing installed: the defaults, and no API asked', async () => {
    const out = renderStatus(await collectStatus(sources({ unit: () => undefined, config: () => undefined, node: async () => undefined, ipvs: async () => undefined, syncs: async () => undefined })));
    expect(out).toBe(
      'service   no k8ts unit installed (or systemd is not running)\n' +
      'config    none (/etc/k8ts/config.yaml is missing): the defaults\n' +
      'node      no kubeconfig and no server in the config: the API was not asked\n' +
      'nftables  no table ip k8ts-proxy\n' +
      'ipvs      not in this kernel\n' +
      'synced    unknown: no node network metrics endpoint answered (no agent or proxy running here?)\n');
  });

  test('a server with the kube-proxy disabled says so', async () => {
    const out = renderStatus(await collectStatus(sources({ config: () => ({ file: '/c.yaml', values: { 'disable-kube-proxy': true } }) })));
    expect(out).toContain('config    /c.yaml: server, network bridge-local, proxy disabled\n');
  });

  test('reads systemctl show by key, in whatever order systemd prints the properties', () => {
    expect(parseSystemctlShow('MainPID=812\nLoadState=loaded\nActiveState=active\n')).toEqual({ MainPID: '812', LoadState: 'loaded', ActiveState: 'active' });
    expect(parseSystemctlShow('')).toEqual({});
  });
});

describe('last syncs', () => {
  test('read from the node network metrics: the proxy\'s last sync and each netplugin\'s, an unset gauge meaning never', () => {
    const text = [
      '# HELP kubeproxy_sync_proxy_rules_last_timestamp_seconds The last time proxy rules were successfully synced',
      '# TYPE kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge',
      'kubeproxy_sync_proxy_rules_last_timestamp_seconds 1795744800.5',
      'k8ts_netplugin_sync_last_timestamp_seconds{plugin="routed"} 1795744790',
      'k8ts_netplugin_sync_duration_seconds_bucket{le="0.001",plugin="routed"} 1',
      '',
    ].join('\n');
    expect(syncsFromMetrics('127.0.0.1:10249', text)).toEqual({ address: '127.0.0.1:10249', proxy: '2026-11-27T02:00:00.500Z', netplugins: { routed: '2026-11-27T01:59:50.000Z' } });
    expect(syncsFromMetrics('a', 'kubeproxy_sync_proxy_rules_last_timestamp_seconds 0\n')).toEqual({ address: 'a', netplugins: {} });
    expect(parsePromText('x{a="1"} 2\n# x 3\ny 4 1700000000\n')).toEqual(new Map([['x{a="1"}', 2], ['y', 4]]));
  });

  test('a metrics endpoint that fails is reported in its line; times read as seconds, minutes or hours ago', async () => {
    const out = renderStatus(await collectStatus(sources({ syncs: async () => { throw new Error('HTTP 500 from http://127.0.0.1:10249/metrics'); } })));
    expect(out).toContain('synced    unknown: HTTP 500 from http://127.0.0.1:10249/metrics\n');
    expect(ago('2026-11-27T00:00:00Z', '2026-11-27T03:00:00Z')).toBe('3h ago');
    expect(ago(undefined, '2026-11-27T03:00:00Z')).toBe('never');
    const noProxy = renderStatus(await collectStatus(sources({ syncs: async () => ({ address: '127.0.0.1:10249', netplugins: {} }), node: async () => ({ name: 'a1', ready: 'Unknown', server: 's' }) })));
    expect(noProxy).toContain('synced    proxy not running (127.0.0.1:10249)\n');
    expect(noProxy).toContain('heartbeat lease renewed never, status posted never\n');
  });
});

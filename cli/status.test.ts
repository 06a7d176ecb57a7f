import { describe, expect, test } from '@jest/globals';
import { collectStatus, parseSystemctlShow, renderStatus, type StatusSources } from './status.js';

const sources = (over: Partial<StatusSources> = {}): StatusSources => ({
  unit: () => ({ name: 'k8ts-agent.service', state: 'active', pid: 4242 }),
  config: () => ({ file: '/etc/k8ts/config.yaml', values: { server: 'https://10.0.0.1:6443', 'token-file': '/etc/k8ts/token', network: 'vxlan', 'proxy-mode': 'ipvs' } }),
  node: async () => ({ name: 'a1', ready: 'True', server: 'https://10.0.0.1:6443', reason: 'KubeletReady' }),
  nftables: async () => undefined,
  ipvs: async () => ({ services: 3, dests: 5 }),
  ...over,
});

describe('k8ts status', () => {
  test('shows the unit, the role and modes from config.yaml, the node and the kernel\'s proxy state', async () => {
    expect(renderStatus(await collectStatus(sources()))).toBe(
      'service   k8ts-agent.service active (pid 4242)\n' +
      'config    /etc/k8ts/config.yaml: agent of https://10.0.0.1:6443, network vxlan, proxy ipvs\n' +
      'node      a1 Ready=True (KubeletReady), API https://10.0.0.1:6443\n' +
      'nftables  no table ip k8ts-proxy\n' +
      'ipvs      3 virtual servers, 5 real servers\n');
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
    const out = renderStatus(await collectStatus(sources({ unit: () => undefined, config: () => undefined, node: async () => undefined, ipvs: async () => undefined })));
    expect(out).toBe(
      'service   no k8ts unit installed (or systemd is not running)\n' +
      'config    none (/etc/k8ts/config.yaml is missing): the defaults\n' +
      'node      no kubeconfig and no server in the config: the API was not asked\n' +
      'nftables  no table ip k8ts-proxy\n' +
      'ipvs      not in this kernel\n');
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

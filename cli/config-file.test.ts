import { describe, expect, test } from '@jest/globals';
import { argvToConfig, ConfigFileError, configToArgv, loadConfigArgs, mergeArgv, parseConfigFile, takeConfigFlag } from './config-file.js';
import { parseServerFlags } from './server-flags.js';
import { parseAgentArgs } from '../agent/cli.js';

const files = (map: Record<string, string>) => ({ readFile: (p: string) => map[p] });

describe('config file', () => {
  test('turns keys into flags: scalars, booleans and lists', () => {
    const values = parseConfigFile('https-port: 7443\ndisable-agent: true\ndisable-scheduler: false\ntls-san: [a.example, 10.0.0.1]\ncni-bin-dir: [/opt/cni/bin, /usr/lib/cni]\n', 'f');
    expect(configToArgv(values)).toEqual([
      '--https-port=7443', '--disable-agent', '--disable-scheduler=false', '--tls-san=a.example,10.0.0.1', '--cni-bin-dir=/opt/cni/bin:/usr/lib/cni',
    ]);
  });

  test('an empty file sets nothing', () => {
    expect(parseConfigFile('', 'f')).toEqual({});
    expect(parseConfigFile('# only a comment\n', 'f')).toEqual({});
  });

  test('rejects what is not a mapping of flag names to scalars, naming the file and key', () => {
    expect(() => parseConfigFile('- a\n- b\n', '/etc/k8ts/config.yaml')).toThrow('config file "/etc/k8ts/config.yaml" must be a mapping');
    expect(() => parseConfigFile('--data-dir: /x\n', 'f')).toThrow('"--data-dir" is not a flag name');
    expect(() => parseConfigFile('node-labels: {a: b}\n', 'f')).toThrow('the value of "node-labels" must be');
    expect(() => parseConfigFile('config: /x\n', 'f')).toThrow(ConfigFileError);
    expect(() => parseConfigFile('a: [\n', 'f')).toThrow('is not valid YAML');
  });

  test('the command line wins over the file, flag by flag', () => {
    expect(mergeArgv(['--https-port=7443', '--data-dir=/d', '--disable-agent'], ['--https-port', '8443', '--disable-agent=false'])).toEqual([
      '--data-dir=/d', '--https-port', '8443', '--disable-agent=false',
    ]);
  });

  test('--config is taken off the arguments in both spellings', () => {
    expect(takeConfigFlag(['--config', 'a.yaml', '--x'])).toEqual({ file: 'a.yaml', rest: ['--x'] });
    expect(takeConfigFlag(['--config=b.yaml'])).toEqual({ file: 'b.yaml', rest: [] });
    expect(() => takeConfigFlag(['--config'])).toThrow('flag --config needs a file');
  });

  test('the default file is optional, an explicit one is not', () => {
    expect(loadConfigArgs(['--https-port=1'], {}, files({}))).toEqual(['--https-port=1']);
    expect(() => loadConfigArgs(['--config', '/nope.yaml'], {}, files({}))).toThrow('config file "/nope.yaml" does not exist');
    expect(() => loadConfigArgs([], { K8TS_CONFIG_FILE: '/env.yaml' }, files({}))).toThrow('"/env.yaml" does not exist');
    expect(loadConfigArgs([], {}, files({ '/etc/k8ts/config.yaml': 'https-port: 9443\n' }))).toEqual(['--https-port=9443']);
    expect(loadConfigArgs([], { K8TS_CONFIG_FILE: '/env.yaml' }, files({ '/env.yaml': 'data-dir: /e\n' }))).toEqual(['--data-dir=/e']);
  });

  test('every server flag can be set in the file, and flags override it', () => {
    const file = [
      'data-dir: /srv/k8ts', 'bind-address: 127.0.0.1', 'https-port: 7443', 'datastore-endpoint: sqlite:///srv/db', 'cluster-cidr: 10.50.0.0/16',
      'service-cidr: 10.60.0.0/16', 'service-node-port-range: 31000-31999', 'token: secret1', 'write-kubeconfig: /srv/kc', 'disable-agent: true',
      'cluster-dns: 10.60.0.53', 'cluster-domain: example.local', 'disable-controller-manager: true', 'disable-scheduler: true',
      'tls-san: [a.example, b.example]', 'node-name: n1', 'log-format: json',
    ].join('\n');
    const config = parseServerFlags(loadConfigArgs(['--config', '/c.yaml', '--https-port', '8443'], {}, files({ '/c.yaml': file })));
    expect(config).toMatchObject({
      dataDir: '/srv/k8ts', bindAddress: '127.0.0.1', httpsPort: 8443, datastore: { kind: 'sqlite', path: '/srv/db' },
      serviceNodePortRange: { base: 31000, size: 1000 }, token: 'secret1', writeKubeconfig: '/srv/kc', disableAgent: true,
      clusterDns: '10.60.0.53', clusterDomain: 'example.local', disableControllerManager: true, disableScheduler: true,
      tlsSans: ['a.example', 'b.example'], nodeName: 'n1', logFormat: 'json',
    });
  });

  test('agent flags from the file, with the command line winning', () => {
    const file = 'server: https://10.0.0.1:6443\ntoken: t1\nnode-name: a1\nnode-labels: [zone=a, disk=ssd]\ncni-bin-dir: [/x, /y]\nkubelet-port: 10251\n';
    const opts = parseAgentArgs(loadConfigArgs(['--node-name', 'a2'], {}, files({ '/etc/k8ts/config.yaml': file })));
    expect(opts).toMatchObject({
      server: 'https://10.0.0.1:6443', token: 't1', nodeName: 'a2', nodeLabels: { zone: 'a', disk: 'ssd' }, cniBinDirs: ['/x', '/y'], kubeletPort: 10251,
    });
  });

  test('an agent\'s network and kube-proxy modes come from the file: the proxy runs in the agent unless disabled', () => {
    const base = 'server: https://10.0.0.1:6443\ntoken: t1\n';
    const read = (extra: string, argv: string[] = []) => parseAgentArgs(loadConfigArgs(argv, {}, files({ '/etc/k8ts/config.yaml': base + extra })));
    // k3s' default: every agent runs kube-proxy (nftables here, upstream's newest mode).
    expect(read('').proxy).toEqual({});
    expect(read('network: vxlan\nproxy-mode: ipvs\nipvs-scheduler: wrr\nservice-cidr: 10.43.0.0/16\n')).toMatchObject({
      network: 'vxlan', proxy: { mode: 'ipvs', ipvsScheduler: 'wrr', serviceCIDR: '10.43.0.0/16' },
    });
    expect(read('proxy-mode: ipvs\n', ['--proxy-mode', 'iptables']).proxy).toEqual({ mode: 'iptables' });
    expect(read('disable-kube-proxy: true\ndisable-network-policy: true\n')).toMatchObject({ disableNetworkPolicy: true });
    expect(read('disable-kube-proxy: true\n').proxy).toBeUndefined();
    expect(read('disable-kube-proxy: false\n').proxy).toEqual({});
    expect(() => read('proxy-mode: userspace\n')).toThrow('invalid value "userspace" for --proxy-mode');
    expect(() => read('network: host-gw\n')).toThrow('host-gw');
    expect(() => read('ipvs-scheduler: wrr\n')).toThrow('--ipvs-scheduler needs --proxy-mode ipvs');
    expect(() => read('disable-kube-proxy: true\nproxy-mode: ipvs\n')).toThrow('contradict');
  });

  test('install turns flags back into file values', () => {
    expect(argvToConfig(['--network', 'vxlan', '--disable-agent', '--tls-san=a', '--tls-san', 'b', '--x=false'])).toEqual({
      network: 'vxlan', 'disable-agent': true, 'tls-san': ['a', 'b'], x: false,
    });
    expect(() => argvToConfig(['positional'])).toThrow('unexpected argument "positional"');
    // Round trip: what install writes, the command reads back as the same flags.
    expect(configToArgv(argvToConfig(['--node-ip', '10.0.0.2', '--disable-agent']))).toEqual(['--node-ip=10.0.0.2', '--disable-agent']);
  });
});

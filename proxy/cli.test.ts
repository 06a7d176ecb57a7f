import { parseProxyFlags } from './cli.js';

test('parseProxyFlags reads every flag, in both spellings', () => {
  expect(parseProxyFlags(['--kubeconfig', '/k', '--proxy-mode', 'iptables', '--log-format=json', '--node-name=n2', '--cluster-cidr', '10.244.0.0/16', '--service-cidr=10.96.0.0/12', '--netns', 'lab', '--min-sync-period', '250', '--sync-period=60000', '--dry-run', '--cleanup'], 'host')).toEqual({
    kubeconfig: '/k', mode: 'iptables', logFormat: 'json', nodeName: 'n2', clusterCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/12', netns: 'lab', minSyncMs: 250, maxSyncMs: 60_000, dryRun: true, cleanup: true, metricsBindAddress: '127.0.0.1:10249',
  });
});

test('parseProxyFlags defaults the node name to the host name, a short min interval and upstream\'s sync period', () => {
  expect(parseProxyFlags(['--kubeconfig', '/k'], 'host')).toEqual({ kubeconfig: '/k', mode: 'nftables', logFormat: 'text', nodeName: 'host', minSyncMs: 10, maxSyncMs: 30_000, dryRun: false, cleanup: false, metricsBindAddress: '127.0.0.1:10249' });
});

test('parseProxyFlags names the bad flag or value', () => {
  expect(() => parseProxyFlags([], 'h')).toThrow('--kubeconfig is required');
  expect(() => parseProxyFlags(['--kubeconfig', '/k', '--bogus'], 'h')).toThrow('unknown flag "--bogus"');
  expect(() => parseProxyFlags(['--kubeconfig', '/k', '--cluster-cidr', '10.244.0.0'], 'h')).toThrow('invalid value "10.244.0.0" for --cluster-cidr');
  expect(() => parseProxyFlags(['--kubeconfig', '/k', '--sync-period', 'soon'], 'h')).toThrow('invalid value "soon" for --sync-period');
  expect(() => parseProxyFlags(['--kubeconfig'], 'h')).toThrow('flag --kubeconfig needs a value');
  expect(() => parseProxyFlags(['--kubeconfig', '/k', '--proxy-mode', 'userspace'], 'h')).toThrow('invalid value "userspace" for --proxy-mode: want one of nftables, iptables, ipvs');
  expect(parseProxyFlags(['--kubeconfig', '/k', '--proxy-mode', 'ipvs'], 'h').mode).toBe('ipvs');
});

test('--ipvs-scheduler takes upstream\'s scheduler names, in ipvs mode only', () => {
  expect(parseProxyFlags(['--kubeconfig', '/k', '--proxy-mode', 'ipvs', '--ipvs-scheduler', 'wrr'], 'h').ipvsScheduler).toBe('wrr');
  expect(parseProxyFlags(['--kubeconfig', '/k', '--proxy-mode=ipvs', '--ipvs-scheduler=sh'], 'h').ipvsScheduler).toBe('sh');
  expect(parseProxyFlags(['--kubeconfig', '/k', '--proxy-mode', 'ipvs'], 'h').ipvsScheduler).toBeUndefined();
  expect(() => parseProxyFlags(['--kubeconfig', '/k', '--proxy-mode', 'ipvs', '--ipvs-scheduler', 'random'], 'h')).toThrow('invalid value "random" for --ipvs-scheduler: want one of rr, wrr, lc');
  expect(() => parseProxyFlags(['--kubeconfig', '/k', '--ipvs-scheduler', 'lc'], 'h')).toThrow('--ipvs-scheduler needs --proxy-mode ipvs');
});

test('--metrics-bind-address takes HOST:PORT as upstream (port 0: no metrics server) and names a bad value', () => {
  expect(parseProxyFlags(['--kubeconfig', '/k', '--metrics-bind-address', '0.0.0.0:9100'], 'h').metricsBindAddress).toBe('0.0.0.0:9100');
  expect(parseProxyFlags(['--kubeconfig', '/k', '--metrics-bind-address=127.0.0.1:0'], 'h').metricsBindAddress).toBe('127.0.0.1:0');
  expect(() => parseProxyFlags(['--kubeconfig', '/k', '--metrics-bind-address', '10249'], 'h')).toThrow('invalid bind address "10249"');
  expect(() => parseProxyFlags(['--kubeconfig', '/k', '--metrics-bind-address', '127.0.0.1:70000'], 'h')).toThrow('invalid bind address "127.0.0.1:70000"');
});

import { formatCidr } from '../api/cidr.js';
import { FlagError, parseDurationMs, parseServerFlags, serverUsage } from './server-flags.js';

const errorOf = (argv: string[], env: Record<string, string> = {}): string => {
  try { parseServerFlags(argv, env); } catch (err) {
    expect(err).toBeInstanceOf(FlagError);
    return (err as Error).message;
  }
  throw new Error('expected a FlagError');
};

describe('parseServerFlags', () => {
  it('applies k3s-like defaults', () => {
    const c = parseServerFlags([]);
    expect(c).toMatchObject({
      dataDir: '/var/lib/k8ts', bindAddress: '0.0.0.0', httpsPort: 6443, datastoreEndpoint: '',
      datastore: { kind: 'sqlite', path: '/var/lib/k8ts/db/state.db' },
      serviceNodePortRange: { base: 30000, size: 2768 }, writeKubeconfig: '/var/lib/k8ts/kubeconfig.yaml',
      disableAgent: false, disableControllerManager: false, disableScheduler: false, tlsSans: [], logFormat: 'text', help: false,
    });
    expect(c.clusterCidrs.map(formatCidr)).toEqual(['10.42.0.0/16']);
    expect(c.serviceCidrs.map(formatCidr)).toEqual(['10.43.0.0/16']);
    expect(c.token).toBeUndefined();
    expect(c.nodeName).toBeUndefined();
  });

  it('reads both --flag value and --flag=value', () => {
    const c = parseServerFlags([
      '--data-dir', '/tmp/k', '--https-port=7443', '--bind-address', '127.0.0.1', '--token=s3cret',
      '--disable-agent', '--tls-san', 'api.example.com', '--tls-san=10.0.0.5,k8s.local', '--node-name', 'node-1',
      '--log-format=json', '--cluster-cidr', '10.52.0.0/16,fd00:52::/56', '--service-cidr=10.53.0.0/16',
      '--service-node-port-range', '31000+99',
    ]);
    expect(c).toMatchObject({
      dataDir: '/tmp/k', httpsPort: 7443, bindAddress: '127.0.0.1', token: 's3cret', disableAgent: true,
      tlsSans: ['api.example.com', '10.0.0.5', 'k8s.local'], nodeName: 'node-1', logFormat: 'json',
      datastore: { kind: 'sqlite', path: '/tmp/k/db/state.db' }, writeKubeconfig: '/tmp/k/kubeconfig.yaml',
      serviceNodePortRange: { base: 31000, size: 100 },
    });
    expect(c.clusterCidrs.map(formatCidr)).toEqual(['10.52.0.0/16', 'fd00:52::/56']);
  });

  it('reads datastore endpoints', () => {
    expect(parseServerFlags(['--datastore-endpoint', 'etcd://10.0.0.1:2379,10.0.0.2:2379']).datastore)
      .toEqual({ kind: 'etcd', endpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'] });
    expect(parseServerFlags(['--datastore-endpoint=https://a:2379,https://b:2379']).datastore)
      .toEqual({ kind: 'etcd', endpoints: ['https://a:2379', 'https://b:2379'] });
    expect(parseServerFlags(['--datastore-endpoint=sqlite:///srv/state.db']).datastore)
      .toEqual({ kind: 'sqlite', path: '/srv/state.db' });
  });

  it('takes secrets from the environment, flags winning', () => {
    expect(parseServerFlags([], { K8TS_TOKEN: 'fromenv' }).token).toBe('fromenv');
    expect(parseServerFlags(['--token', 'flag'], { K8TS_TOKEN: 'fromenv' }).token).toBe('flag');
  });

  it('answers --help and -h even with other flags', () => {
    expect(parseServerFlags(['-h']).help).toBe(true);
    expect(parseServerFlags(['--https-port', 'bad', '--help']).help).toBe(true);
    expect(serverUsage()).toContain('--service-node-port-range value');
  });

  it('puts the cluster DNS at the 10th address of the service CIDR unless told otherwise', () => {
    expect(parseServerFlags([])).toMatchObject({ clusterDns: '10.43.0.10', clusterDomain: 'cluster.local' });
    expect(parseServerFlags(['--service-cidr', '10.96.0.0/12'])).toMatchObject({ clusterDns: '10.96.0.10' });
    expect(parseServerFlags(['--cluster-dns', '10.43.0.53', '--cluster-domain', 'k8s.example'])).toMatchObject({ clusterDns: '10.43.0.53', clusterDomain: 'k8s.example' });
  });

  it.each([
    [['--bogus'], 'unknown flag --bogus (see --help)'],
    [['-x'], 'unknown flag -x (see --help)'],
    [['extra'], 'unexpected argument "extra": k8ts server takes only flags (see --help)'],
    [['--data-dir'], 'flag --data-dir needs a value'],
    [['--data-dir', '--disable-agent'], 'flag --data-dir needs a value'],
    [['--https-port', 'abc'], 'invalid value "abc" for flag --https-port: not a port number'],
    [['--https-port=70000'], 'invalid value "70000" for flag --https-port: port must be between 1 and 65535'],
    [['--https-port=0'], 'invalid value "0" for flag --https-port: port must be between 1 and 65535'],
    [['--cluster-dns', '10.99.0.10'], 'invalid value "10.99.0.10" for flag --cluster-dns: must be an IP in the service CIDR 10.43.0.0/16'],
    [['--cluster-domain', 'Not_A_Domain'], 'invalid value "Not_A_Domain" for flag --cluster-domain: not a DNS domain'],
    [['--bind-address', 'localhost'], 'invalid value "localhost" for flag --bind-address: not an IP address'],
    [['--cluster-cidr', '10.42.0.0'], 'invalid value "10.42.0.0" for flag --cluster-cidr: invalid CIDR address: 10.42.0.0'],
    [['--cluster-cidr', '10.42.1.0/16'], 'invalid value "10.42.1.0/16" for flag --cluster-cidr: 10.42.1.0/16 has host bits set; did you mean 10.42.0.0/16?'],
    [['--cluster-cidr', '10.42.0.0/16,10.44.0.0/16'], 'invalid value "10.42.0.0/16,10.44.0.0/16" for flag --cluster-cidr: a dual-stack value needs one IPv4 and one IPv6 block'],
    [['--service-cidr', '10.0.0.0/8'], 'invalid value "10.0.0.0/8" for flag --service-cidr: too large; the prefix must be at least /12 for IPv4'],
    [['--service-cidr', '10.42.0.0/24'], '--service-cidr 10.42.0.0/24 overlaps --cluster-cidr 10.42.0.0/16'],
    [['--service-node-port-range', '32767-30000'], 'invalid value "32767-30000" for flag --service-node-port-range: the end of the range is before its start'],
    [['--service-node-port-range', '30000:32767'], 'invalid value "30000:32767" for flag --service-node-port-range: expected a range like 30000-32767'],
    [['--service-node-port-range', '65000+1000'], 'invalid value "65000+1000" for flag --service-node-port-range: port must be between 1 and 65535'],
    [['--datastore-endpoint', 'mysql://x'], 'invalid value "mysql://x" for flag --datastore-endpoint: unsupported datastore "mysql" (use sqlite or etcd)'],
    [['--datastore-endpoint', 'etcd://h'], 'invalid value "etcd://h" for flag --datastore-endpoint: "h" is not HOST:PORT'],
    [['--datastore-endpoint', 'etcd://h:99999'], 'invalid value "99999" for flag --datastore-endpoint: port must be between 1 and 65535'],
    [['--log-format', 'xml'], 'invalid value "xml" for flag --log-format: must be json or text'],
    [['--node-name', 'Node_1'], 'invalid value "Node_1" for flag --node-name: a lowercase RFC 1123 subdomain'],
    [['--tls-san', 'bad host'], 'invalid value "bad host" for flag --tls-san: not a hostname or IP address'],
    [['--disable-agent=maybe'], 'invalid value "maybe" for flag --disable-agent: must be true or false'],
    [['--data-dir', '/a', '--data-dir', '/b'], 'flag --data-dir given more than once'],
    [['--token='], 'invalid value for flag --token: must be non-empty and contain no whitespace'],
  ])('rejects %j', (argv, message) => {
    expect(errorOf(argv)).toContain(message);
  });
});

describe('autoscaling and metrics flags', () => {
  it('reads Go durations', () => {
    expect([parseDurationMs('500ms'), parseDurationMs('15s'), parseDurationMs('5m'), parseDurationMs('1m30s'), parseDurationMs('1h')]).toEqual([500, 15_000, 300_000, 90_000, 3_600_000]);
    expect([parseDurationMs('15'), parseDurationMs('s'), parseDurationMs('-1s'), parseDurationMs('1d')]).toEqual([undefined, undefined, undefined, undefined]);
  });
  it('takes the HPA timing and tolerance and the metric resolution as upstream spells them', () => {
    const c = parseServerFlags(['--horizontal-pod-autoscaler-sync-period=2s', '--horizontal-pod-autoscaler-downscale-stabilization', '30s', '--horizontal-pod-autoscaler-tolerance=0.2', '--metric-resolution=1s']);
    expect([c.hpaSyncPeriodMs, c.hpaDownscaleStabilizationMs, c.hpaTolerance, c.metricResolutionMs]).toEqual([2000, 30_000, 0.2, 1000]);
    expect(() => parseServerFlags(['--horizontal-pod-autoscaler-tolerance=2'])).toThrow('invalid value "2" for flag --horizontal-pod-autoscaler-tolerance: expected a number in [0, 1)');
    expect(() => parseServerFlags(['--metric-resolution=fast'])).toThrow('invalid value "fast" for flag --metric-resolution');
  });
});

describe('admission and pod GC flags', () => {
  it('takes the default toleration seconds and the terminated-pod GC threshold as whole numbers', () => {
    const c = parseServerFlags(['--default-not-ready-toleration-seconds=60', '--default-unreachable-toleration-seconds', '0', '--terminated-pod-gc-threshold=10']);
    expect([c.defaultNotReadyTolerationSeconds, c.defaultUnreachableTolerationSeconds, c.terminatedPodGCThreshold]).toEqual([60, 0, 10]);
    const d = parseServerFlags([]); // the admission's 300 s and the controller's 12 500
    expect([d.defaultNotReadyTolerationSeconds, d.defaultUnreachableTolerationSeconds, d.terminatedPodGCThreshold]).toEqual([undefined, undefined, undefined]);
    expect(() => parseServerFlags(['--default-not-ready-toleration-seconds=5m'])).toThrow('invalid value "5m" for flag --default-not-ready-toleration-seconds: expected a whole number, 0 or more');
    expect(() => parseServerFlags(['--terminated-pod-gc-threshold=-1'])).toThrow('invalid value "-1" for flag --terminated-pod-gc-threshold: expected a whole number, 0 or more');
    expect(() => parseServerFlags(['--terminated-pod-gc-threshold=1.5'])).toThrow('invalid value "1.5" for flag --terminated-pod-gc-threshold');
  });
});

describe('node lifecycle flags', () => {
  it('takes --node-monitor-grace-period and --node-monitor-period as durations', () => {
    const c = parseServerFlags(['--node-monitor-grace-period', '3s', '--node-monitor-period=500ms']);
    expect([c.nodeMonitorGracePeriodMs, c.nodeMonitorPeriodMs]).toEqual([3000, 500]);
    expect(parseServerFlags([]).nodeMonitorGracePeriodMs).toBeUndefined(); // the controller's 40 s default
    expect(() => parseServerFlags(['--node-monitor-grace-period=soon'])).toThrow('invalid value "soon" for flag --node-monitor-grace-period');
  });
});

describe("the server's own agent: pod network flags", () => {
  it('passes the network mode and the CNI and pod folders through, and rejects unknown modes', () => {
    const c = parseServerFlags(['--network', 'vxlan', '--cni-conf-dir', '/c', '--cni-bin-dir', '/a:/b', '--pod-log-dir', '/l', '--netns-prefix', 'p-']);
    expect([c.network, c.cniConfDir, c.cniBinDirs, c.podLogDir, c.netnsPrefix]).toEqual(['vxlan', '/c', ['/a', '/b'], '/l', 'p-']);
    expect(parseServerFlags([]).network).toBeUndefined(); // the agent's default: bridge-local
    expect(() => parseServerFlags(['--network', 'host-gw'])).toThrow('invalid value "host-gw" for flag --network');
    expect(parseServerFlags(['--proxy-mode', 'iptables']).proxyMode).toBe('iptables');
    expect(parseServerFlags(['--proxy-mode', 'ipvs']).proxyMode).toBe('ipvs');
    expect(() => parseServerFlags(['--proxy-mode', 'userspace'])).toThrow('invalid value "userspace" for flag --proxy-mode');
    expect(parseServerFlags(['--proxy-metrics-bind-address', '0.0.0.0:10249']).proxyMetricsBindAddress).toBe('0.0.0.0:10249');
    expect(() => parseServerFlags(['--proxy-metrics-bind-address', ':10249'])).toThrow('flag --proxy-metrics-bind-address: invalid bind address ":10249"');
  });
});

// `k8ts server` flags, spelled as k3s users know them. Pure: argv (and optionally the environment)
// in, a typed config or a `FlagError` out; reading files, resolving relative paths and printing
// usage are the caller's job, so every rule here is unit-tested.
//
// Design notes: a hand-written table rather than a flag library, because the set is small, we want
// k3s' exact spellings (`--flag value` and `--flag=value`, repeatable or comma-separated lists),
// and error messages that name the flag and quote the value. Environment variables (K8TS_TOKEN,
// K8TS_DATASTORE_ENDPOINT, K8TS_NODE_NAME, as K3S_* in k3s) keep secrets off the command line;
// flags win over them.
import { type Cidr, cidrContains, cidrsOverlap, formatCidr, formatIP, nthIP, parseCidr, parseIP, CidrError } from '../api/cidr.js';
import { isDNS1123Subdomain } from '../api/validation/names.js';

import type { DatastoreConfig } from '../control/store/open.js';
import { parseBindAddress } from '../proxy/metrics-server.js';

export type Datastore = DatastoreConfig;

export interface PortRange { base: number; size: number } // ports base … base+size-1, as upstream

export interface ServerConfig {
  dataDir: string;
  bindAddress: string;
  httpsPort: number;
  /** The flag as given ('' = embedded SQLite). */
  datastoreEndpoint: string;
  datastore: Datastore;
  /** One block per IP family; the first is the primary. */
  clusterCidrs: Cidr[];
  serviceCidrs: Cidr[];
  serviceNodePortRange: PortRange;
  token?: string;
  writeKubeconfig: string;
  disableAgent: boolean;
  /** k3s' --disable-controller-manager / --disable-scheduler: run those elsewhere (or not at all). */
  disableControllerManager: boolean;
  disableScheduler: boolean;
  /** kube-controller-manager's --controllers: which controllers run (`*`, `name`, `-name`). */
  controllers: string[];
  /** kube-controller-manager's --node-monitor-grace-period and --node-monitor-period, in ms. */
  nodeMonitorGracePeriodMs?: number;
  nodeMonitorPeriodMs?: number;
  /** kube-controller-manager's --horizontal-pod-autoscaler-sync-period and -downscale-stabilization (ms), -tolerance. */
  hpaSyncPeriodMs?: number;
  hpaDownscaleStabilizationMs?: number;
  hpaTolerance?: number;
  /** kube-apiserver's --default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds (300). */
  defaultNotReadyTolerationSeconds?: number;
  defaultUnreachableTolerationSeconds?: number;
  /** kube-controller-manager's --terminated-pod-gc-threshold (12500; 0 disables). */
  terminatedPodGCThreshold?: number;
  /** metrics-server's --metric-resolution: how often kubelets are scraped for metrics.k8s.io (ms). */
  metricResolutionMs?: number;
  tlsSans: string[];
  /** The cluster DNS Service IP (kubelet's --cluster-dns) and zone (--cluster-domain). */
  clusterDns: string;
  clusterDomain: string;
  nodeName?: string;
  /** The server's own agent: pod network mode (agent/network.ts) and where its CNI and pod files go. */
  network?: string;
  cniConfDir?: string;
  cniBinDirs?: string[];
  podLogDir?: string;
  netnsPrefix?: string;
  /** The server node's kube-proxy mode (upstream's --proxy-mode); default nftables. */
  proxyMode?: 'nftables' | 'iptables' | 'ipvs';
  /** The node network's metrics address (kube-proxy's --metrics-bind-address); default 127.0.0.1:10249. */
  proxyMetricsBindAddress?: string;
  logFormat: 'json' | 'text';
  help: boolean;
}

/** A Go-style duration (`500ms`, `15s`, `5m`, `1h`, `1m30s`) in ms; undefined when it is not one. */
export function parseDurationMs(text: string): number | undefined {
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, n, u] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(n) * unit[u!]!;
  return total;
}

export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

export const serverDefaults = {
  dataDir: '/var/lib/k8ts',
  bindAddress: '0.0.0.0',
  httpsPort: 6443,
  clusterCidr: '10.42.0.0/16',
  serviceCidr: '10.43.0.0/16',
  serviceNodePortRange: '30000-32767',
  logFormat: 'text',
} as const;

type Kind = 'string' | 'bool' | 'list';
interface FlagSpec { name: string; kind: Kind; help: string; alias?: string; env?: string }

const flags: readonly FlagSpec[] = [
  { name: 'data-dir', kind: 'string', help: `folder for state (default ${serverDefaults.dataDir})` },
  { name: 'bind-address', kind: 'string', help: `address the apiserver listens on (default ${serverDefaults.bindAddress})` },
  { name: 'https-port', kind: 'string', help: `apiserver port (default ${serverDefaults.httpsPort})` },
  { name: 'datastore-endpoint', kind: 'string', env: 'K8TS_DATASTORE_ENDPOINT', help: "'' for embedded SQLite at <data-dir>/db/state.db, sqlite://PATH, or etcd://HOST:PORT[,HOST:PORT]" },
  { name: 'cluster-cidr', kind: 'string', help: `pod network, one block per family, comma-separated (default ${serverDefaults.clusterCidr})` },
  { name: 'service-cidr', kind: 'string', help: `service network (default ${serverDefaults.serviceCidr})` },
  { name: 'service-node-port-range', kind: 'string', help: `NodePort range (default ${serverDefaults.serviceNodePortRange})` },
  { name: 'token', kind: 'string', env: 'K8TS_TOKEN', help: 'shared secret agents join with (default: generated into <data-dir>/token)' },
  { name: 'write-kubeconfig', kind: 'string', help: 'where to write the admin kubeconfig (default <data-dir>/kubeconfig.yaml)' },
  { name: 'disable-agent', kind: 'bool', help: 'do not run an agent on this node' },
  { name: 'cluster-dns', kind: 'string', help: 'the cluster DNS Service IP (default: the 10th address of the service CIDR, 10.43.0.10)' },
  { name: 'cluster-domain', kind: 'string', help: 'the cluster DNS zone (default cluster.local)' },
  { name: 'disable-controller-manager', kind: 'bool', help: 'do not run the controllers in this server' },
  { name: 'disable-scheduler', kind: 'bool', help: 'do not run the scheduler in this server' },
  { name: 'controllers', kind: 'string', help: "controllers to run, comma-separated: '*' for all (default), 'name' to enable, '-name' to disable (e.g. 'namespace' or '*,-job')" },
  { name: 'node-monitor-grace-period', kind: 'string', help: 'how long a node may go without a heartbeat before it is marked Unknown and tainted (default 40s)' },
  { name: 'node-monitor-period', kind: 'string', help: 'how often the node lifecycle controller checks node heartbeats (default 5s)' },
  { name: 'horizontal-pod-autoscaler-sync-period', kind: 'string', help: 'how often each HorizontalPodAutoscaler is evaluated (default 15s)' },
  { name: 'horizontal-pod-autoscaler-downscale-stabilization', kind: 'string', help: 'how far back the HPA looks before scaling down (default 5m)' },
  { name: 'horizontal-pod-autoscaler-tolerance', kind: 'string', help: 'the usage ratio change the HPA ignores (default 0.1)' },
  { name: 'default-not-ready-toleration-seconds', kind: 'string', help: 'tolerationSeconds of the not-ready:NoExecute toleration added to pods without one (default 300)' },
  { name: 'default-unreachable-toleration-seconds', kind: 'string', help: 'tolerationSeconds of the unreachable:NoExecute toleration added to pods without one (default 300)' },
  { name: 'terminated-pod-gc-threshold', kind: 'string', help: 'terminated pods kept before the oldest are deleted; 0 disables (default 12500)' },
  { name: 'metric-resolution', kind: 'string', help: 'how often kubelets are scraped for metrics.k8s.io, kubectl top and the HPA (default 15s)' },
  { name: 'tls-san', kind: 'list', help: 'extra hostname or IP for the serving certificate (repeatable)' },
  { name: 'node-name', kind: 'string', env: 'K8TS_NODE_NAME', help: "this node's name (default: the hostname)" },
  { name: 'network', kind: 'string', help: "this node's pod network (k3s: --flannel-backend): bridge-local (default), vxlan, routed or none" },
  { name: 'cni-conf-dir', kind: 'string', help: "the agent's CNI configuration folder (default /etc/cni/net.d)" },
  { name: 'cni-bin-dir', kind: 'string', help: 'CNI plugin folders, colon-separated (default /opt/cni/bin:/usr/lib/cni)' },
  { name: 'pod-log-dir', kind: 'string', help: 'container logs (default /var/log/pods)' },
  { name: 'proxy-mode', kind: 'string', help: "this node's proxy: nftables (default), iptables or ipvs" },
  { name: 'proxy-metrics-bind-address', kind: 'string', help: "this node's proxy and netplugin metrics, plain HTTP (default 127.0.0.1:10249; port 0: none)" },
  { name: 'netns-prefix', kind: 'string', help: "name prefix of the pods' network namespaces (default k8ts-)" },
  { name: 'log-format', kind: 'string', help: 'json or text (default text)' },
  { name: 'help', kind: 'bool', alias: 'h', help: 'show this help' },
];

/** Help text for `k8ts server --help`. */
export function serverUsage(): string {
  const lines = flags.map(f => {
    const left = `${f.alias ? `-${f.alias}, ` : '    '}--${f.name}${f.kind === 'bool' ? '' : ' value'}`;
    return `  ${left.padEnd(38)}${f.help}${f.env ? ` [$${f.env}]` : ''}`;
  });
  return `usage: k8ts server [flags]\n\nflags:\n${lines.join('\n')}\n`;
}

type Raw = Map<string, string[]>;

function readArgv(argv: readonly string[]): Raw {
  const raw: Raw = new Map();
  const put = (f: FlagSpec, value: string) => {
    const have = raw.get(f.name);
    if (have && f.kind !== 'list') throw new FlagError(`flag --${f.name} given more than once`);
    raw.set(f.name, [...(have ?? []), value]);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--') && arg.length > 2) {
      const eq = arg.indexOf('=');
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
    } else if (/^-[a-zA-Z]$/.test(arg)) {
      name = arg.slice(1);
    } else {
      throw new FlagError(`unexpected argument "${arg}": k8ts server takes only flags (see --help)`);
    }
    const spec = flags.find(f => f.name === name || (f.alias !== undefined && f.alias === name && !arg.startsWith('--')));
    if (!spec) throw new FlagError(`unknown flag ${arg.startsWith('--') ? '--' : '-'}${name} (see --help)`);
    if (spec.kind === 'bool') {
      const v = inline ?? 'true';
      if (v !== 'true' && v !== 'false') throw new FlagError(`invalid value "${v}" for flag --${spec.name}: must be true or false`);
      put(spec, v);
      continue;
    }
    if (inline !== undefined) {
      put(spec, inline);
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || (next.startsWith('-') && next.length > 1)) throw new FlagError(`flag --${spec.name} needs a value`);
    put(spec, next);
    i++;
  }
  return raw;
}

function parsePort(flag: string, text: string): number {
  if (!/^[0-9]+$/.test(text)) throw new FlagError(`invalid value "${text}" for flag --${flag}: not a port number`);
  const n = Number(text);
  if (n < 1 || n > 65535) throw new FlagError(`invalid value "${text}" for flag --${flag}: port must be between 1 and 65535`);
  return n;
}

/** `30000-32767`, `30000+2767` or a single port, as upstream's `utilnet.PortRange`. */
export function parsePortRange(flag: string, text: string): PortRange {
  const m = /^([0-9]+)(?:([-+])([0-9]+))?$/.exec(text);
  if (!m) throw new FlagError(`invalid value "${text}" for flag --${flag}: expected a range like 30000-32767`);
  const base = parsePort(flag, m[1]!);
  if (m[2] === undefined) return { base, size: 1 };
  const other = Number(m[3]);
  const last = m[2] === '-' ? other : base + other;
  if (last > 65535 || last < 1) throw new FlagError(`invalid value "${text}" for flag --${flag}: port must be between 1 and 65535`);
  if (last < base) throw new FlagError(`invalid value "${text}" for flag --${flag}: the end of the range is before its start`);
  return { base, size: last - base + 1 };
}

function parseCidrList(flag: string, text: string): Cidr[] {
  const parts = text.split(',').map(s => s.trim()).filter(s => s !== '');
  if (parts.length === 0) throw new FlagError(`invalid value "${text}" for flag --${flag}: empty CIDR`);
  if (parts.length > 2) throw new FlagError(`invalid value "${text}" for flag --${flag}: at most one IPv4 and one IPv6 block`);
  const cidrs = parts.map(p => {
    try {
      return parseCidr(p);
    } catch (err) {
      if (err instanceof CidrError) throw new FlagError(`invalid value "${text}" for flag --${flag}: ${err.message}`);
      throw err;
    }
  });
  if (cidrs.length === 2 && cidrs[0]!.family === cidrs[1]!.family) {
    throw new FlagError(`invalid value "${text}" for flag --${flag}: a dual-stack value needs one IPv4 and one IPv6 block`);
  }
  return cidrs;
}

function parseHostPort(flag: string, whole: string, hostPort: string): string {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]+)$/.exec(hostPort);
  if (!m) throw new FlagError(`invalid value "${whole}" for flag --${flag}: "${hostPort}" is not HOST:PORT`);
  parsePort(flag, m[2]!);
  return hostPort;
}

export function parseDatastore(flag: string, text: string, dataDir: string): Datastore {
  if (text === '') return { kind: 'sqlite', path: joinPath(dataDir, 'db/state.db') };
  const m = /^([a-z0-9]+):\/\/(.*)$/.exec(text);
  if (!m) throw new FlagError(`invalid value "${text}" for flag --${flag}: expected sqlite://PATH or etcd://HOST:PORT[,HOST:PORT]`);
  const scheme = m[1]!;
  const rest = m[2]!;
  if (scheme === 'sqlite') {
    if (rest === '') throw new FlagError(`invalid value "${text}" for flag --${flag}: sqlite:// needs a path`);
    return { kind: 'sqlite', path: rest };
  }
  if (scheme === 'etcd' || scheme === 'http' || scheme === 'https') {
    // `etcd://a:1,b:2` (plain) or, as k3s, `https://a:2379,https://b:2379`.
    const endpoints = text.split(',').map(part => {
      const pm = /^(?:(etcd|https?):\/\/)?([^/]*)\/?$/.exec(part);
      if (!pm) throw new FlagError(`invalid value "${text}" for flag --${flag}: "${part}" is not HOST:PORT`);
      const hostPort = parseHostPort(flag, text, pm[2]!);
      return `${(pm[1] ?? scheme) === 'https' ? 'https' : 'http'}://${hostPort}`;
    });
    return { kind: 'etcd', endpoints };
  }
  throw new FlagError(`invalid value "${text}" for flag --${flag}: unsupported datastore "${scheme}" (use sqlite or etcd)`);
}

/** POSIX join without `node:path`, so this module stays pure. */
function joinPath(dir: string, rel: string): string {
  return dir.endsWith('/') ? `${dir}${rel}` : `${dir}/${rel}`;
}

/** Parses `k8ts server` arguments (without the `server` word itself). Throws `FlagError`. */
export function parseServerFlags(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): ServerConfig {
  const raw = readArgv(argv);
  // `--help` wins over every other problem in the line, so users can always reach the usage.
  if (raw.get('help')?.[0] === 'true') return { ...parseServerFlags([]), help: true };
  const one = (name: string): string | undefined => {
    const v = raw.get(name)?.[0];
    if (v !== undefined) return v;
    const envName = flags.find(f => f.name === name)?.env;
    const fromEnv = envName ? env[envName] : undefined;
    return fromEnv === '' ? undefined : fromEnv;
  };

  const dataDir = one('data-dir') ?? serverDefaults.dataDir;
  if (dataDir === '') throw new FlagError('invalid value "" for flag --data-dir: must not be empty');

  const bindAddress = one('bind-address') ?? serverDefaults.bindAddress;
  if (!parseIP(bindAddress)) throw new FlagError(`invalid value "${bindAddress}" for flag --bind-address: not an IP address`);

  const httpsPort = parsePort('https-port', one('https-port') ?? String(serverDefaults.httpsPort));
  const datastoreEndpoint = one('datastore-endpoint') ?? '';
  const datastore = parseDatastore('datastore-endpoint', datastoreEndpoint, dataDir);

  const clusterCidrs = parseCidrList('cluster-cidr', one('cluster-cidr') ?? serverDefaults.clusterCidr);
  const serviceCidrs = parseCidrList('service-cidr', one('service-cidr') ?? serverDefaults.serviceCidr);
  for (const s of serviceCidrs) {
    // kube-apiserver's limit: the ClusterIP allocator's bitmap must stay small.
    const minPrefix = s.family === 4 ? 12 : 108;
    if (s.prefix < minPrefix) {
      throw new FlagError(`invalid value "${formatCidr(s)}" for flag --service-cidr: too large; the prefix must be at least /${minPrefix} for IPv${s.family}`);
    }
    for (const c of clusterCidrs) {
      if (cidrsOverlap(s, c)) throw new FlagError(`--service-cidr ${formatCidr(s)} overlaps --cluster-cidr ${formatCidr(c)}`);
    }
  }
  const serviceNodePortRange = parsePortRange('service-node-port-range', one('service-node-port-range') ?? serverDefaults.serviceNodePortRange);

  const token = one('token');
  if (token !== undefined && (token === '' || /[\s]/.test(token))) {
    throw new FlagError('invalid value for flag --token: must be non-empty and contain no whitespace');
  }

  const writeKubeconfig = one('write-kubeconfig') ?? joinPath(dataDir, 'kubeconfig.yaml');
  if (writeKubeconfig === '') throw new FlagError('invalid value "" for flag --write-kubeconfig: must not be empty');

  const clusterDomain = one('cluster-domain') ?? 'cluster.local';
  if (isDNS1123Subdomain(clusterDomain).length > 0) throw new FlagError(`invalid value "${clusterDomain}" for flag --cluster-domain: not a DNS domain`);
  const primaryService = serviceCidrs[0]!;
  const clusterDnsText = one('cluster-dns') ?? formatIP(nthIP(primaryService, 10));
  const clusterDnsIP = parseIP(clusterDnsText);
  if (!clusterDnsIP || !cidrContains(primaryService, clusterDnsIP)) {
    throw new FlagError(`invalid value "${clusterDnsText}" for flag --cluster-dns: must be an IP in the service CIDR ${formatCidr(primaryService)}`);
  }
  const clusterDns = formatIP(clusterDnsIP);

  const tlsSans = (raw.get('tls-san') ?? []).flatMap(v => v.split(',')).map(s => s.trim()).filter(s => s !== '');
  for (const san of tlsSans) {
    if (!parseIP(san) && !/^(\*\.)?[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/.test(san)) {
      throw new FlagError(`invalid value "${san}" for flag --tls-san: not a hostname or IP address`);
    }
  }

  const nodeName = one('node-name');
  if (nodeName !== undefined) {
    const problems = isDNS1123Subdomain(nodeName);
    if (problems.length > 0) throw new FlagError(`invalid value "${nodeName}" for flag --node-name: ${problems.join('; ')}`);
  }

  const logFormat = one('log-format') ?? serverDefaults.logFormat;
  if (logFormat !== 'json' && logFormat !== 'text') {
    throw new FlagError(`invalid value "${logFormat}" for flag --log-format: must be json or text`);
  }

  const config: ServerConfig = {
    dataDir, bindAddress, httpsPort, datastoreEndpoint, datastore, clusterCidrs, serviceCidrs,
    serviceNodePortRange, writeKubeconfig, tlsSans, logFormat, clusterDns, clusterDomain,
    disableAgent: one('disable-agent') === 'true',
    disableControllerManager: one('disable-controller-manager') === 'true',
    disableScheduler: one('disable-scheduler') === 'true',
    controllers: (one('controllers') ?? '*').split(',').map(c => c.trim()).filter(c => c !== ''),
    help: one('help') === 'true',
  };
  if (token !== undefined) config.token = token;
  for (const [flag, key] of [
    ['node-monitor-grace-period', 'nodeMonitorGracePeriodMs'], ['node-monitor-period', 'nodeMonitorPeriodMs'],
    ['horizontal-pod-autoscaler-sync-period', 'hpaSyncPeriodMs'], ['horizontal-pod-autoscaler-downscale-stabilization', 'hpaDownscaleStabilizationMs'],
    ['metric-resolution', 'metricResolutionMs'],
  ] as const) {
    const v = one(flag);
    if (v === undefined) continue;
    const ms = parseDurationMs(v);
    if (ms === undefined || ms <= 0) throw new FlagError(`invalid value "${v}" for flag --${flag}: expected a duration such as 40s, 5m or 500ms`);
    config[key] = ms;
  }
  const tolerance = one('horizontal-pod-autoscaler-tolerance');
  if (tolerance !== undefined) {
    const t = Number(tolerance);
    if (!Number.isFinite(t) || t < 0 || t >= 1) throw new FlagError(`invalid value "${tolerance}" for flag --horizontal-pod-autoscaler-tolerance: expected a number in [0, 1)`);
    config.hpaTolerance = t;
  }
  for (const [flag, key] of [
    ['default-not-ready-toleration-seconds', 'defaultNotReadyTolerationSeconds'], ['default-unreachable-toleration-seconds', 'defaultUnreachableTolerationSeconds'],
    ['terminated-pod-gc-threshold', 'terminatedPodGCThreshold'],
  ] as const) {
    const v = one(flag);
    if (v === undefined) continue;
    if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new FlagError(`invalid value "${v}" for flag --${flag}: expected a whole number, 0 or more`);
    config[key] = Number(v);
  }
  if (nodeName !== undefined) config.nodeName = nodeName;
  const network = one('network');
  if (network !== undefined) {
    if (!['bridge-local', 'vxlan', 'routed', 'none'].includes(network)) throw new FlagError(`invalid value "${network}" for flag --network: must be bridge-local, vxlan, routed or none`);
    config.network = network;
  }
  for (const [flag, key] of [['cni-conf-dir', 'cniConfDir'], ['pod-log-dir', 'podLogDir'], ['netns-prefix', 'netnsPrefix']] as const) {
    const v = one(flag);
    if (v !== undefined) config[key] = v;
  }
  const proxyMode = one('proxy-mode');
  if (proxyMode !== undefined) {
    if (proxyMode !== 'nftables' && proxyMode !== 'iptables' && proxyMode !== 'ipvs') throw new FlagError(`invalid value "${proxyMode}" for flag --proxy-mode: must be nftables, iptables or ipvs`);
    config.proxyMode = proxyMode;
  }
  const metricsBind = one('proxy-metrics-bind-address');
  if (metricsBind !== undefined) {
    try { parseBindAddress(metricsBind); } catch (err) { throw new FlagError(`flag --proxy-metrics-bind-address: ${(err as Error).message}`); }
    config.proxyMetricsBindAddress = metricsBind;
  }
  const binDirs = one('cni-bin-dir');
  if (binDirs !== undefined) config.cniBinDirs = binDirs.split(':').filter(d => d !== '');
  return config;
}

// `k8ts agent` and `k8ts images`: flag parsing and the ordered start-up/teardown of the agent's
// parts (containerd → runtime → CNI → node registration → kubelet). `startAgent` is what the
// server's built-in agent calls; `runAgent(argv)` is the command.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Taint } from 'kubernetes-types/core/v1.js';
import { RestClusterClient } from '../api/client/rest.js';
import type { ClusterClient } from '../api/client/types.js';
import { NetnsCli } from '../kernel/netns-cli.js';
import { createLogger } from '../cli/logger.js';
import { CniClient } from './cni.js';
import { ClusterDnsDiscovery } from './cluster-dns.js';
import { startNodeNetwork, parseNetworkMode, type NetworkMode } from './network.js';
import { PROXY_MODES, type ProxyMode } from '../proxy/daemon.js';
import { ContainerdSupervisor } from './containerd.js';
import { CtrRuntime } from './ctr.js';
import { Kubelet, type Logger } from './kubelet.js';
import { gatherFacts, NodeRegistrar } from './node.js';
import { defaultEvictionHard, hardEvictionReservation, parseEvictionHard, type Threshold } from './eviction.js';
import { PressureMonitor } from './eviction-signals.js';
import { parseDurationMs } from '../cli/server-flags.js';
import { KubeletApi } from './kubelet-api.js';
import { ensureLogWriter } from './logs-writer.js';
import { execOutputOption } from './exec.js';
import { discoverCA, HttpsTransport } from '../api/client/https.js';
import { ApiEventRecorder } from '../api/client/events.js';
import { LocalPathCleaner } from './localpath-cleaner.js';
import { kubeletComponent } from './kubelet-events.js';
import { Registry } from 'prom-client';
import { KubeletMetrics, NetpluginMetrics } from './metrics.js';
import { ProxyMetrics } from '../proxy/metrics.js';
import { DEFAULT_METRICS_BIND_ADDRESS, parseBindAddress, serveMetrics } from '../proxy/metrics-server.js';

export interface AgentOptions {
  server: string;
  token: string;
  /** PEM of the cluster CA; discovered from the server with a full token when absent. */
  ca?: string;
  nodeName: string;
  nodeIP?: string;
  nodeLabels?: Record<string, string>;
  taints?: Taint[];
  dataDir: string;
  /** Runtime dir for our containerd; default `/run/k8ts-<hash of data dir>`. */
  runDir?: string;
  /** Use this containerd instead of starting one. */
  containerRuntimeEndpoint?: string;
  containerdNamespace?: string;
  cniConfDir?: string;
  cniBinDirs?: string[];
  /** Run CNI plugins in this named network namespace (tests, lab). */
  cniNetns?: string;
  /** k3s' --disable-network-policy: no NetworkPolicy enforcement on this node. */
  disableNetworkPolicy?: boolean;
  /**
   * This node's kube-proxy, in this process as k3s runs it in every agent, programming the node's
   * network namespace (`cniNetns` when set). Undefined: none (the server runs its own; a lab or a
   * test runs `k8ts proxy` itself; `--disable-kube-proxy`).
   */
  proxy?: AgentProxyOptions;
  cniBridge?: string;
  /** This node's pods' CIDR; default: the Node's `spec.podCIDR` (node IPAM), waited for. */
  podCIDR?: string;
  /** The pod network (agent/network.ts); default bridge-local. */
  network?: NetworkMode;
  /** The whole pod network (masquerade boundary of the netplugins); default 10.42.0.0/16. */
  clusterCIDR?: string;
  podLogDir?: string;
  /** The kubelet API's port (default 10250; 0 picks a free one); the Node advertises it. */
  kubeletPort?: number;
  /** Address the kubelet API binds (default all). */
  kubeletAddress?: string;
  maxPods?: number;
  crashLoopBackoffMs?: number;
  relistMs?: number;
  netnsPrefix?: string;
  parallelStarts?: number;
  /** Cluster DNS addresses for ClusterFirst pods (`--cluster-dns`); none: the kube-dns Service's, else the node's resolver. */
  clusterDNS?: string[];
  /** `--cluster-domain` (default cluster.local). */
  clusterDomain?: string;
  /** The node's resolver configuration pods inherit (`--resolv-conf`, default /etc/resolv.conf). */
  resolvConf?: string;
  /** Registries pulled from over plain HTTP (`--insecure-registry host[:port],...`). */
  insecureRegistries?: string[];
  /** `--eviction-hard` (default: upstream's, `defaultEvictionHard`): the thresholds of the pressure conditions. */
  evictionHard?: Threshold[];
  /** `--eviction-pressure-transition-period` (default 5m). */
  evictionPressureTransitionMs?: number;
  /**
   * Where the node network's metrics (the in-process kube-proxy's and the netplugins') are served
   * over plain HTTP: kube-proxy's --metrics-bind-address, default 127.0.0.1:10249; port 0: not served.
   */
  proxyMetricsBindAddress?: string;
  log?: Logger;
}

export interface AgentProxyOptions {
  /** Upstream's --proxy-mode (default nftables). */
  mode?: ProxyMode;
  /** ipvs mode: upstream's --ipvs-scheduler (default rr). */
  ipvsScheduler?: string;
  /** Traffic to unallocated addresses of the Service network is dropped (unset: not known here). */
  serviceCIDR?: string;
}

export interface RunningAgent {
  kubelet: Kubelet;
  client: ClusterClient;
  containerd?: ContainerdSupervisor;
  runtime: CtrRuntime;
  /** The node network's metrics registry (a kube-proxy run beside the agent registers there too). */
  networkMetrics: Registry;
  /** Stops the agent; containers keep running unless `removeAll`. */
  stop(opts?: { removeAll?: boolean }): Promise<void>;
}

function defaultNodeIP(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export function defaultRunDir(dataDir: string): string {
  return `/run/k8ts-${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 10)}`;
}

export async function startAgent(o: AgentOptions): Promise<RunningAgent> {
  const log = o.log ?? createLogger('text');
  mkdirSync(o.dataDir, { recursive: true });
  const cleanups: (() => Promise<void>)[] = [];
  const undo = async () => { for (const c of cleanups.reverse()) await c().catch(() => undefined); };
  try {
    let containerd: ContainerdSupervisor | undefined;
    let address = o.containerRuntimeEndpoint?.replace(/^unix:\/\//, '');
    if (!address) {
      containerd = new ContainerdSupervisor({ dataDir: o.dataDir, runDir: o.runDir ?? defaultRunDir(o.dataDir), log: (msg, f) => log.warn(f ?? {}, msg) });
      await containerd.start();
      const c = containerd;
      cleanups.push(() => c.stop());
      address = containerd.address;
    }
    const runtime = new CtrRuntime({ address, namespace: o.containerdNamespace ?? 'k8ts' });
    const runtimeVersion = await runtime.version();

    const netns = new NetnsCli();
    const cni = new CniClient({
      confDir: o.cniConfDir ?? '/etc/cni/net.d', binDirs: o.cniBinDirs ?? ['/opt/cni/bin', '/usr/lib/cni'], netns,
      ...(o.cniNetns ? { hostNetns: o.cniNetns } : {}),
    });

    const ca = o.ca ?? await discoverCA(o.server, o.token);
    const transport = new HttpsTransport({
      server: o.server, token: o.token, ca, userAgent: 'k8ts-agent', maxSockets: 16,
      // The join token authenticates; the node acts as itself (see control/apiserver/authn.ts).
      impersonate: { user: `system:node:${o.nodeName}`, groups: ['system:nodes'] },
    });
    cleanups.push(async () => transport.close());
    const client = new RestClusterClient(transport);
    const hostIP = o.nodeIP ?? defaultNodeIP();

    // The kubelet API reads the kubelet through a late-bound view: it must listen before the Node
    // is registered (the Node advertises its port), and the kubelet starts after registration.
    const ref: { kubelet?: Kubelet } = {};
    const kubeletRegistry = new Registry();
    const kubeletMetrics = new KubeletMetrics(kubeletRegistry, o.nodeName, () => ref.kubelet?.runningCounts() ?? { pods: 0, containers: 0 });
    const api = new KubeletApi({
      metrics: kubeletRegistry,
      kubelet: {
        pod: (ns, name) => ref.kubelet?.pod(ns, name),
        pods: () => ref.kubelet?.pods() ?? [],
        recordsOf: uid => ref.kubelet?.recordsOf(uid) ?? [],
        containerLogDir: (pod, c) => ref.kubelet!.containerLogDir(pod, c),
        statsSummary: () => ref.kubelet?.statsSummary(),
      },
      clientCA: ca, nodeName: o.nodeName, hostIPs: [hostIP], log,
      execCommand: (id, execId, argv, tty, user, logUri) => runtime.execCommand(id, execId, argv, tty, user, logUri),
      ...execOutputOption(o.dataDir, o.runDir ?? defaultRunDir(o.dataDir)),
    });
    let kubeletPort: number;
    try {
      kubeletPort = (await api.listen(o.kubeletAddress ?? '0.0.0.0', o.kubeletPort ?? 10250)).port;
    } catch (err) {
      // Several agents on one machine (tests, `k8ts lab`): without an explicit port, take any.
      if (o.kubeletPort !== undefined || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      kubeletPort = (await api.listen(o.kubeletAddress ?? '0.0.0.0', 0)).port;
      log.warn({ port: kubeletPort }, 'port 10250 is in use: the kubelet API listens on another port (the Node advertises it)');
    }
    cleanups.push(() => api.close());
    const logWriter = ensureLogWriter(o.dataDir);
    if (!logWriter) log.warn({}, 'no /usr/bin/perl: container logs are written raw, not in the CRI format');

    const gathered = await gatherFacts({ hostname: hostname(), internalIP: hostIP, dataDir: o.dataDir, runtimeVersion, maxPods: o.maxPods ?? 110 });
    const thresholds = o.evictionHard ?? parseEvictionHard(defaultEvictionHard);
    const facts = { ...gathered, kubeletPort, evictionReserve: hardEvictionReservation(thresholds, gathered.memoryBytes, gathered.ephemeralStorageBytes) };
    // MemoryPressure, DiskPressure and PIDPressure from the eviction signals (agent/eviction.ts).
    const pressure = new PressureMonitor(
      { memoryCapacityBytes: gathered.memoryBytes, nodeFsPath: o.dataDir, ...(containerd ? { imageFsPath: containerd.root } : {}) },
      thresholds, o.evictionPressureTransitionMs);
    // With an overlay or routed network the network plugin owns NetworkUnavailable (as flannel does).
    const reportsNetwork = o.network === undefined || o.network === 'bridge-local' || o.network === 'none';
    // The node network's metrics, before the network and the proxy start reporting. As upstream's
    // kube-proxy, a port that cannot be bound is logged, never fatal (several agents on one host).
    const networkMetrics = new Registry();
    const netpluginMetrics = new NetpluginMetrics(networkMetrics);
    const metricsBind = parseBindAddress(o.proxyMetricsBindAddress ?? DEFAULT_METRICS_BIND_ADDRESS);
    if (metricsBind.port !== 0) {
      try {
        const ms = await serveMetrics(networkMetrics, metricsBind.host, metricsBind.port);
        cleanups.push(() => ms.close());
      } catch (err) {
        log.warn({ address: o.proxyMetricsBindAddress ?? DEFAULT_METRICS_BIND_ADDRESS, err: String(err) }, 'the node network metrics server did not start');
      }
    }

    // The kubelet's Events (source kubelet, host = the node), written in the background; a queue
    // as client-go's (1000 there) absorbs bursts, and what is left is flushed briefly on stop.
    const recorder = new ApiEventRecorder(client, kubeletComponent, 4, undefined, { host: o.nodeName, maxQueued: 500 });
    cleanups.push(() => Promise.race([recorder.flush(), new Promise<void>(r => setTimeout(r, 2000).unref())]));
    const registrar = new NodeRegistrar(client, { name: o.nodeName, labels: o.nodeLabels ?? {}, taints: o.taints ?? [], reportsNetwork, pressure: () => pressure.observe(), recorder }, facts, log);
    await registrar.register();
    registrar.start();
    cleanups.push(async () => registrar.stop());

    // The CNI configuration needs the node's podCIDR, which node IPAM sets once the Node exists.
    const network = await startNodeNetwork({
      mode: o.network ?? 'bridge-local', client, nodeName: o.nodeName, nodeIP: hostIP, log,
      confDir: o.cniConfDir ?? '/etc/cni/net.d', binDirs: o.cniBinDirs ?? ['/opt/cni/bin', '/usr/lib/cni'],
      bridge: o.cniBridge ?? 'k8ts0', clusterCIDR: o.clusterCIDR ?? '10.42.0.0/16', ipamDataDir: join(o.dataDir, 'cni-ipam'),
      ...(o.podCIDR ? { podCIDR: o.podCIDR } : {}), ...(o.cniNetns ? { netns: o.cniNetns } : {}),
      onSynced: ms => netpluginMetrics.synced(o.network ?? 'bridge-local', ms),
    });
    cleanups.push(() => network.stop());

    // NetworkPolicy for this node's pods (k3s runs its policy controller in every agent too). A
    // failure to start it is logged, never fatal: pods must still run.
    if (!o.disableNetworkPolicy) {
      try {
        const { NetworkPolicyDaemon } = await import('../netplugins/netpol/daemon.js');
        const netpol = new NetworkPolicyDaemon({
          client, ...(o.cniNetns ? { netns: o.cniNetns } : {}),
          onSynced: info => netpluginMetrics.synced('netpol', info.ms),
          log: (level, msg, fields = {}) => log[level === 'error' ? 'warn' : level](fields, msg),
        });
        await netpol.start();
        cleanups.push(() => netpol.stop());
      } catch (err) {
        log.warn({ err: String(err) }, 'NetworkPolicy enforcement did not start');
      }
    }

    // This node's Services (k3s runs kube-proxy inside every agent). It acts as the node: nodes may
    // read what kube-proxy reads (control/apiserver/authz.ts). A failure to start is fatal, as for
    // the network: pods on a node without Service routing would fail in confusing ways.
    if (o.proxy) {
      const { ProxyDaemon } = await import('../proxy/daemon.js');
      const proxy = new ProxyDaemon({
        client, nodeName: o.nodeName, clusterCIDR: o.clusterCIDR ?? '10.42.0.0/16', metrics: new ProxyMetrics(networkMetrics),
        ...(o.proxy.mode ? { mode: o.proxy.mode } : {}),
        ...(o.proxy.ipvsScheduler ? { ipvsScheduler: o.proxy.ipvsScheduler } : {}),
        ...(o.proxy.serviceCIDR ? { serviceCIDR: o.proxy.serviceCIDR } : {}),
        ...(o.cniNetns ? { netns: o.cniNetns } : {}),
        log: (level, msg, fields = {}) => log[level]({ component: 'proxy', ...fields }, msg),
      });
      await proxy.start();
      // Rules stay on stop, as upstream's kube-proxy leaves them: Services keep working across a
      // restart of the service (KillMode=process); k8ts-killall.sh removes them.
      cleanups.push(() => proxy.stop({ cleanup: false }));
      log.info({ mode: o.proxy.mode ?? 'nftables' }, 'kube-proxy is running in this agent');
    }

    // Without --cluster-dns, the cluster's own (agent/cluster-dns.ts); until found, ClusterFirst
    // pods fall back to the node's resolver, as upstream's kubelet does. The kubelet shares the
    // array the discovery fills in.
    let clusterDNS = o.clusterDNS ?? [];
    if (!o.clusterDNS) {
      const discovery = new ClusterDnsDiscovery(client, log);
      await discovery.start();
      cleanups.push(async () => discovery.stop());
      clusterDNS = discovery.ips;
    }
    const kubelet = new Kubelet({
      nodeName: o.nodeName, client, runtime, cni, netns, dataDir: o.dataDir, logDir: o.podLogDir ?? '/var/log/pods', hostIP, log,
      ...(logWriter ? { logWriter } : {}),
      ...(o.crashLoopBackoffMs !== undefined ? { backoff: { baseMs: o.crashLoopBackoffMs, maxMs: Math.max(o.crashLoopBackoffMs, 300_000) } } : {}),
      ...(o.relistMs !== undefined ? { relistMs: o.relistMs } : {}),
      ...(o.netnsPrefix ? { netnsPrefix: o.netnsPrefix } : {}),
      ...(o.parallelStarts ? { parallelStarts: o.parallelStarts } : {}),
      clusterDNS,
      ...(o.clusterDomain ? { clusterDomain: o.clusterDomain } : {}),
      ...(o.resolvConf ? { resolvConf: o.resolvConf } : {}),
      ...(o.insecureRegistries ? { insecureRegistries: o.insecureRegistries } : {}),
      metrics: kubeletMetrics,
      recorder,
    });
    await kubelet.start();
    ref.kubelet = kubelet;
    cleanups.push(() => kubelet.stop());
    // The local-path provisioner deletes a released volume's PV; the folder on this node is ours.
    const localPath = new LocalPathCleaner({ client, nodeName: o.nodeName, stateFile: join(o.dataDir, 'local-path-volumes.json'), log });
    await localPath.start();
    cleanups.push(() => localPath.stop());
    log.info({ node: o.nodeName, containerd: address, runtimeVersion }, 'k8ts agent is ready');
    return {
      kubelet, client, runtime, ...(containerd ? { containerd } : {}), networkMetrics,
      async stop(opts = {}) {
        if (opts.removeAll) await kubelet.removeAll();
        await undo();
      },
    };
  } catch (err) {
    await undo();
    throw err;
  }
}

function parseKeyValues(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (s ?? '').split(',').map(x => x.trim()).filter(Boolean)) {
    const i = part.indexOf('=');
    if (i <= 0) throw new Error(`invalid label "${part}": expected key=value`);
    out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

export function parseTaints(s: string | undefined): Taint[] {
  return (s ?? '').split(',').map(x => x.trim()).filter(Boolean).map(t => {
    const m = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(t);
    if (!m) throw new Error(`invalid taint "${t}": expected key[=value]:Effect`);
    return { key: m[1]!, ...(m[2] !== undefined ? { value: m[2] } : {}), effect: m[3]! };
  });
}

function parsePort(s: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n > 65535) throw new Error(`invalid --kubelet-port "${s}": expected 0-65535`);
  return n;
}

function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s);
  if (!m) throw new Error(`invalid duration "${s}": expected e.g. 10s or 500ms`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}

function parseTransitionPeriod(s: string): number {
  const ms = parseDurationMs(s);
  if (ms === undefined) throw new Error(`invalid --eviction-pressure-transition-period "${s}": expected a duration such as 5m or 30s`);
  return ms;
}

export const agentUsage = `Usage: k8ts agent --server URL (--token T | --token-file F) [flags]

  --server URL                       the apiserver (https://HOST:6443)
  --token T, --token-file F          the cluster's join token (server data dir: token)
  --server-ca FILE                   the cluster CA (default: fetched and checked against a K10 token)
  --node-name NAME                   default: the hostname
  --node-ip IP                       default: the first non-loopback IPv4 address
  --node-labels k=v,...              extra labels on the Node
  --register-with-taints k=v:Effect,...
  --data-dir DIR                     default /var/lib/k8ts/agent
  --container-runtime-endpoint SOCK  use this containerd instead of starting our own
  --cni-conf-dir DIR                 default /etc/cni/net.d (the agent writes 10-k8ts.conflist there
                                     unless another network configuration is present)
  --cni-bin-dir DIRS                 colon-separated; default /opt/cni/bin:/usr/lib/cni
  --cni-netns NAME                   run CNI plugins in this network namespace
  --network MODE                     the pod network (k3s: --flannel-backend): bridge-local (default;
                                     no cross-node routes), vxlan (flannel-like overlay), routed
                                     (calico-like /32 routes), none (bring your own)
  --cluster-cidr CIDR                the whole pod network (default 10.42.0.0/16)
  --proxy-mode MODE                  this node's kube-proxy, run in the agent as k3s does: nftables
                                     (default), iptables or ipvs
  --ipvs-scheduler NAME              ipvs mode: rr (default), wrr, lc, sh, …
  --service-cidr CIDR                the Service network (the proxy drops traffic to its unused addresses)
  --proxy-metrics-bind-address H:P   the node network's metrics (kube-proxy's and the netplugins',
                                     plain HTTP; default 127.0.0.1:10249; port 0: none)
  --disable-kube-proxy               no kube-proxy in this agent (run \`k8ts proxy\` yourself, or none)
  --disable-network-policy           no NetworkPolicy enforcement on this node
  --cni-bridge NAME                  the pods' bridge (default k8ts0)
  --pod-cidr CIDR                    this node's pods (default: the Node's spec.podCIDR from node IPAM)
  --pod-log-dir DIR                  default /var/log/pods
  --kubelet-port N                   the kubelet API's HTTPS port (default 10250; 0: any free port)
  --crash-loop-backoff DURATION      first restart delay, doubling to 5m (default 10s)
  --parallel-starts N                pods started at once (default 4)
  --cluster-dns IP,...               the cluster DNS for ClusterFirst pods (default: the ClusterIP of
                                     kube-system/kube-dns, else the node's resolver)
  --cluster-domain DOMAIN            default cluster.local
  --resolv-conf FILE                 the resolver configuration pods inherit (default /etc/resolv.conf)
  --insecure-registry HOST[:PORT],... registries to pull from over plain HTTP
  --eviction-hard SIGNAL<VALUE,...   thresholds of the MemoryPressure, DiskPressure and PIDPressure
                                     conditions (default ${defaultEvictionHard});
                                     signals: memory.available, nodefs.available, nodefs.inodesFree,
                                     imagefs.available, imagefs.inodesFree, pid.available; values:
                                     quantities or percentages of the capacity. Pods are not evicted.
  --eviction-pressure-transition-period DURATION
                                     how long a pressure condition stays True after its last
                                     crossing (default 5m)
  --log-format text|json
`;

/** Parses `k8ts agent` flags into options (throws with the offending flag on bad input). */
export function parseAgentArgs(argv: string[]): AgentOptions & { logFormat: 'text' | 'json' } {
  // The config file writes `disable-kube-proxy: false` as `--disable-kube-proxy=false`.
  const booleans = ['disable-kube-proxy', 'disable-network-policy'];
  const args = argv.flatMap(a => {
    const m = /^--([a-z-]+)=(true|false)$/.exec(a);
    return m && booleans.includes(m[1]!) ? (m[2] === 'true' ? [`--${m[1]}`] : []) : [a];
  });
  const { values } = parseArgs({
    args, strict: true, allowPositionals: false,
    options: {
      server: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' }, 'server-ca': { type: 'string' },
      'node-name': { type: 'string' }, 'node-ip': { type: 'string' }, 'node-labels': { type: 'string' }, 'register-with-taints': { type: 'string' },
      'data-dir': { type: 'string' }, 'run-dir': { type: 'string' }, 'container-runtime-endpoint': { type: 'string' }, 'containerd-namespace': { type: 'string' },
      'cni-conf-dir': { type: 'string' }, 'cni-bin-dir': { type: 'string' }, 'cni-netns': { type: 'string' }, 'cni-bridge': { type: 'string' }, 'pod-cidr': { type: 'string' },
      network: { type: 'string' }, 'cluster-cidr': { type: 'string' },
      'proxy-mode': { type: 'string' }, 'ipvs-scheduler': { type: 'string' }, 'proxy-metrics-bind-address': { type: 'string' }, 'service-cidr': { type: 'string' },
      'disable-kube-proxy': { type: 'boolean' }, 'disable-network-policy': { type: 'boolean' },
      'pod-log-dir': { type: 'string' }, 'kubelet-port': { type: 'string' }, 'kubelet-address': { type: 'string' }, 'max-pods': { type: 'string' }, 'crash-loop-backoff': { type: 'string' }, 'relist-period': { type: 'string' },
      'netns-prefix': { type: 'string' }, 'log-format': { type: 'string' }, 'parallel-starts': { type: 'string' },
      'cluster-dns': { type: 'string' }, 'cluster-domain': { type: 'string' }, 'resolv-conf': { type: 'string' }, 'insecure-registry': { type: 'string' },
      'eviction-hard': { type: 'string' }, 'eviction-pressure-transition-period': { type: 'string' },
    },
  });
  if (!values.server) throw new Error('--server is required');
  const token = values.token ?? (values['token-file'] ? readFileSync(values['token-file'], 'utf8').trim() : undefined);
  if (!token) throw new Error('--token or --token-file is required');
  const logFormat = values['log-format'] === 'json' ? 'json' : 'text';
  const proxyMode = values['proxy-mode'];
  if (proxyMode !== undefined && !(PROXY_MODES as readonly string[]).includes(proxyMode)) throw new Error(`invalid value "${proxyMode}" for --proxy-mode: want one of ${PROXY_MODES.join(', ')}`);
  if (values['ipvs-scheduler'] !== undefined && proxyMode !== 'ipvs') throw new Error('--ipvs-scheduler needs --proxy-mode ipvs');
  const proxyMetricsBindAddress = values['proxy-metrics-bind-address'];
  if (proxyMetricsBindAddress !== undefined) {
    try { parseBindAddress(proxyMetricsBindAddress); } catch (err) { throw new Error(`--proxy-metrics-bind-address: ${(err as Error).message}`); }
  }
  const serviceCIDR = values['service-cidr'];
  if (serviceCIDR !== undefined && !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(serviceCIDR)) throw new Error(`invalid value "${serviceCIDR}" for --service-cidr: want an IPv4 CIDR such as 10.43.0.0/16`);
  if (values['disable-kube-proxy'] && (proxyMode !== undefined || values['ipvs-scheduler'] !== undefined)) throw new Error('--disable-kube-proxy and --proxy-mode/--ipvs-scheduler contradict each other');
  const proxy: AgentProxyOptions | undefined = values['disable-kube-proxy'] ? undefined : {
    ...(proxyMode !== undefined ? { mode: proxyMode as ProxyMode } : {}),
    ...(values['ipvs-scheduler'] ? { ipvsScheduler: values['ipvs-scheduler'] } : {}),
    ...(serviceCIDR ? { serviceCIDR } : {}),
  };
  return {
    ...(proxy ? { proxy } : {}),
    ...(values['disable-network-policy'] ? { disableNetworkPolicy: true } : {}),
    ...(proxyMetricsBindAddress !== undefined ? { proxyMetricsBindAddress } : {}),
    server: values.server, token, logFormat,
    nodeName: values['node-name'] ?? hostname().toLowerCase(),
    dataDir: values['data-dir'] ?? '/var/lib/k8ts/agent',
    nodeLabels: parseKeyValues(values['node-labels']),
    taints: parseTaints(values['register-with-taints']),
    ...(values['server-ca'] ? { ca: readFileSync(values['server-ca'], 'utf8') } : {}),
    ...(values['node-ip'] ? { nodeIP: values['node-ip'] } : {}),
    ...(values['run-dir'] ? { runDir: values['run-dir'] } : {}),
    ...(values['container-runtime-endpoint'] ? { containerRuntimeEndpoint: values['container-runtime-endpoint'] } : {}),
    ...(values['containerd-namespace'] ? { containerdNamespace: values['containerd-namespace'] } : {}),
    ...(values['cni-conf-dir'] ? { cniConfDir: values['cni-conf-dir'] } : {}),
    ...(values['cni-bin-dir'] ? { cniBinDirs: values['cni-bin-dir'].split(':') } : {}),
    ...(values['cni-netns'] ? { cniNetns: values['cni-netns'] } : {}),
    ...(values['cni-bridge'] ? { cniBridge: values['cni-bridge'] } : {}),
    ...(values['pod-cidr'] ? { podCIDR: values['pod-cidr'] } : {}),
    ...(values.network ? { network: parseNetworkMode(values.network) } : {}),
    ...(values['cluster-cidr'] ? { clusterCIDR: values['cluster-cidr'] } : {}),
    ...(values['pod-log-dir'] ? { podLogDir: values['pod-log-dir'] } : {}),
    ...(values['kubelet-port'] !== undefined ? { kubeletPort: parsePort(values['kubelet-port']) } : {}),
    ...(values['kubelet-address'] ? { kubeletAddress: values['kubelet-address'] } : {}),
    ...(values['max-pods'] ? { maxPods: Number(values['max-pods']) } : {}),
    ...(values['crash-loop-backoff'] ? { crashLoopBackoffMs: parseDuration(values['crash-loop-backoff']) } : {}),
    ...(values['relist-period'] ? { relistMs: parseDuration(values['relist-period']) } : {}),
    ...(values['netns-prefix'] ? { netnsPrefix: values['netns-prefix'] } : {}),
    ...(values['parallel-starts'] ? { parallelStarts: Number(values['parallel-starts']) } : {}),
    ...(values['cluster-dns'] ? { clusterDNS: values['cluster-dns'].split(',').map(x => x.trim()).filter(Boolean) } : {}),
    ...(values['cluster-domain'] ? { clusterDomain: values['cluster-domain'] } : {}),
    ...(values['resolv-conf'] ? { resolvConf: values['resolv-conf'] } : {}),
    ...(values['insecure-registry'] ? { insecureRegistries: values['insecure-registry'].split(',').map(x => x.trim()).filter(Boolean) } : {}),
    ...(values['eviction-hard'] !== undefined ? { evictionHard: parseEvictionHard(values['eviction-hard']) } : {}),
    ...(values['eviction-pressure-transition-period'] !== undefined ? { evictionPressureTransitionMs: parseTransitionPeriod(values['eviction-pressure-transition-period']) } : {}),
  };
}

/** `k8ts agent …`: runs until SIGINT/SIGTERM; containers survive (a restarted agent adopts them). */
export async function runAgent(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(agentUsage); return 0; }
  let opts: ReturnType<typeof parseAgentArgs>;
  try {
    opts = parseAgentArgs(argv);
  } catch (err) {
    process.stderr.write(`k8ts agent: ${err instanceof Error ? err.message : String(err)}\n${agentUsage}`);
    return 2;
  }
  const log = createLogger(opts.logFormat);
  // A stray rejection is a bug to log, not a reason to drop every pod's supervision.
  process.on('unhandledRejection', err => log.error({ err: String(err) }, 'unhandled rejection (a bug)'));
  const agent = await startAgent({ ...opts, log });
  await new Promise<void>(resolveSignal => {
    const on = () => resolveSignal();
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
  });
  log.info({}, 'k8ts agent is stopping');
  await agent.stop();
  return 0;
}

// ───────────────────────────── k8ts images ─────────────────────────────

export const imagesUsage = `Usage: k8ts images import FILE.tar [--data-dir DIR | --container-runtime-endpoint SOCK]

Imports an OCI or docker image archive into the containerd the agent of DIR uses
(its own one under /run/k8ts-<id>; DIR defaults to /var/lib/k8ts/agent).
`;

function progressBar(done: number, total: number, width = 30): string {
  const n = total > 0 ? Math.round((done / total) * width) : width;
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}

/** `k8ts images import FILE --data-dir DIR`. */
export async function runImages(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, strict: true, allowPositionals: true,
    options: { 'data-dir': { type: 'string' }, 'container-runtime-endpoint': { type: 'string' }, 'containerd-namespace': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [verb, ...files] = positionals;
  if (values.help || verb !== 'import' || files.length === 0) {
    (values.help ? process.stdout : process.stderr).write(imagesUsage);
    return values.help ? 0 : 2;
  }
  const dataDir = values['data-dir'] ?? '/var/lib/k8ts/agent';
  let address = values['container-runtime-endpoint']?.replace(/^unix:\/\//, '');
  let containerd: ContainerdSupervisor | undefined;
  if (!address) {
    address = join(defaultRunDir(dataDir), 'containerd.sock');
    if (!existsSync(address)) {
      // No agent running for this data dir: start its containerd for the import only.
      containerd = new ContainerdSupervisor({ dataDir, runDir: defaultRunDir(dataDir) });
      await containerd.start();
    }
  }
  const runtime = new CtrRuntime({ address, namespace: values['containerd-namespace'] ?? 'k8ts' });
  const total = files.reduce((n, f) => n + statSync(f).size, 0);
  let done = 0;
  try {
    for (const f of files) {
      process.stderr.write(`\r${progressBar(done, total)} importing ${f}`);
      const names = await runtime.importImage(f);
      done += statSync(f).size;
      process.stderr.write(`\r${progressBar(done, total)} ${f}\n`);
      for (const n of names) process.stdout.write(`${n}\n`);
    }
    return 0;
  } catch (err) {
    process.stderr.write(`\nk8ts images: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    await containerd?.stop();
  }
}

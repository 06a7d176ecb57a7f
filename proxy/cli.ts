// `k8ts proxy`: the proxy as its own process, talking to the cluster through the API with a
// kubeconfig, as any node component does.
//
//   k8ts proxy --kubeconfig F [--proxy-mode nftables|iptables|ipvs] [--node-name N] [--cluster-cidr C]
//              [--service-cidr C] [--netns NAME] [--min-sync-period MS] [--sync-period MS]
//              [--metrics-bind-address HOST:PORT] [--log-format text|json] [--cleanup] [--dry-run]
//
// `--dry-run` lists the cluster once, prints what would be programmed (`nft` text, or
// iptables-restore input in iptables mode) and the difference from what the kernel holds now, and
// exits without touching the kernel.
import { hostname } from 'node:os';
import type { Node, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { Registry } from 'prom-client';
import { resources, type ClusterClient } from '../api/client/types.js';
// The only HTTPS transport over a kubeconfig today; it belongs in a shared client module.
import { clientFromKubeconfig } from '../api/client/https.js';
import { listTable } from '../kernel/nftables/list.js';
import { renderNft } from '../kernel/nftables/render.js';
import { createLogger } from '../cli/logger.js';
import { Iptables } from '../kernel/iptables/restore.js';
import { nodeAddresses, PROXY_MODES, ProxyDaemon, type ProxyMode } from './daemon.js';
import { compileIptables } from './iptables/compile.js';
import { diffIptablesAgainstKernel } from './iptables/diff.js';
import { planFull } from './iptables/plan.js';
import { buildServiceModel } from './model.js';
import { compileServices, TABLE } from './nftables/compile.js';
import { dryRunIpvs } from './ipvs/dryrun.js';
import { IpvsError } from '../kernel/ipvs/socket.js';
import { diffAgainstKernel } from './nftables/diff.js';
import { ProxyMetrics } from './metrics.js';
import { DEFAULT_METRICS_BIND_ADDRESS, parseBindAddress, serveMetrics, type MetricsServer } from './metrics-server.js';

export interface ProxyFlags {
  kubeconfig: string;
  mode: ProxyMode;
  logFormat: 'text' | 'json';
  nodeName: string;
  clusterCIDR?: string;
  serviceCIDR?: string;
  netns?: string;
  minSyncMs: number;
  maxSyncMs: number;
  dryRun: boolean;
  cleanup: boolean;
  /** ipvs mode: the scheduler of every virtual server (upstream's --ipvs-scheduler; rr when unset). */
  ipvsScheduler?: string;
  /** Upstream's --metrics-bind-address (default 127.0.0.1:10249); port 0: no metrics server. */
  metricsBindAddress: string;
}

/**
 * The IPVS schedulers upstream's flag validation accepts (pkg/proxy/apis/config/validation); the
 * kernel loads ip_vs_<name> when a virtual server first names it.
 */
export const IPVS_SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'sh', 'dh', 'sed', 'nq', 'mh'] as const;

/**
 * Upstream's minSyncPeriod is 1 s because its syncs cost O(all services); ours cost O(changed),
 * so a short interval that only coalesces bursts keeps programming latency low (goal p99 ≤ 100 ms).
 */
export const DEFAULT_MIN_SYNC_MS = 10;

export class ProxyFlagError extends Error {
  readonly code = 'BadFlag';
}

const usage = 'usage: k8ts proxy --kubeconfig FILE [--proxy-mode nftables|iptables|ipvs] [--node-name NAME] [--cluster-cidr CIDR] [--service-cidr CIDR] [--netns NAME] [--min-sync-period MS] [--sync-period MS] [--ipvs-scheduler rr|wrr|lc|…] [--metrics-bind-address HOST:PORT] [--log-format text|json] [--cleanup] [--dry-run]';

/** Parses the flags (`--flag value` or `--flag=value`). Pure apart from the hostname default. */
export function parseProxyFlags(argv: readonly string[], defaultNode = hostname()): ProxyFlags {
  const values = new Map<string, string>();
  const bools = new Set<string>();
  const known = new Set(['kubeconfig', 'proxy-mode', 'node-name', 'cluster-cidr', 'service-cidr', 'netns', 'min-sync-period', 'sync-period', 'log-format', 'ipvs-scheduler', 'metrics-bind-address']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--dry-run' || a === '--cleanup') { bools.add(a.slice(2)); continue; }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m || !known.has(m[1]!)) throw new ProxyFlagError(`unknown flag "${a}"\n${usage}`);
    const v = m[2] ?? argv[++i];
    if (v === undefined || v === '') throw new ProxyFlagError(`flag --${m[1]} needs a value`);
    values.set(m[1]!, v);
  }
  const kubeconfig = values.get('kubeconfig');
  if (!kubeconfig) throw new ProxyFlagError(`--kubeconfig is required\n${usage}`);
  const ms = (name: string, dflt: number): number => {
    const v = values.get(name);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new ProxyFlagError(`invalid value "${v}" for --${name}: want milliseconds`);
    return n;
  };
  const cidr = (name: string): string | undefined => {
    const v = values.get(name);
    if (v !== undefined && !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(v)) throw new ProxyFlagError(`invalid value "${v}" for --${name}: want an IPv4 CIDR such as 10.244.0.0/16`);
    return v;
  };
  const clusterCIDR = cidr('cluster-cidr');
  const serviceCIDR = cidr('service-cidr');
  const netns = values.get('netns');
  const mode = values.get('proxy-mode') ?? 'nftables';
  if (!(PROXY_MODES as readonly string[]).includes(mode)) throw new ProxyFlagError(`invalid value "${mode}" for --proxy-mode: want one of ${PROXY_MODES.join(', ')}`);
  const ipvsScheduler = values.get('ipvs-scheduler');
  if (ipvsScheduler !== undefined && !(IPVS_SCHEDULERS as readonly string[]).includes(ipvsScheduler)) throw new ProxyFlagError(`invalid value "${ipvsScheduler}" for --ipvs-scheduler: want one of ${IPVS_SCHEDULERS.join(', ')}`);
  if (ipvsScheduler !== undefined && mode !== 'ipvs') throw new ProxyFlagError('--ipvs-scheduler needs --proxy-mode ipvs');
  const metricsBindAddress = values.get('metrics-bind-address') ?? DEFAULT_METRICS_BIND_ADDRESS;
  try { parseBindAddress(metricsBindAddress); } catch (e) { throw new ProxyFlagError(`--metrics-bind-address: ${(e as Error).message}`); }
  const logFormat = values.get('log-format') ?? 'text';
  if (logFormat !== 'text' && logFormat !== 'json') throw new ProxyFlagError(`invalid value "${logFormat}" for --log-format: want text or json`);
  return {
    kubeconfig, mode: mode as ProxyMode, logFormat, nodeName: values.get('node-name') ?? defaultNode,
    ...(clusterCIDR ? { clusterCIDR } : {}), ...(serviceCIDR ? { serviceCIDR } : {}), ...(netns ? { netns } : {}),
    minSyncMs: ms('min-sync-period', DEFAULT_MIN_SYNC_MS), maxSyncMs: ms('sync-period', 30_000),
    dryRun: bools.has('dry-run'), cleanup: bools.has('cleanup'), ...(ipvsScheduler ? { ipvsScheduler } : {}), metricsBindAddress,
  };
}

async function listAll<T>(client: ClusterClient, type: (typeof resources)[keyof typeof resources]): Promise<T[]> {
  const out: T[] = [];
  let cont: string | undefined;
  do {
    const page = await client.list<T & object>(type, undefined, { limit: 500, ...(cont ? { continue: cont } : {}) });
    out.push(...page.items);
    cont = page.metadata.continue || undefined;
  } while (cont);
  return out;
}

/** `--dry-run`: the nft text of what would be programmed, then its difference from the kernel's table. */
export async function dryRun(client: ClusterClient, f: ProxyFlags, write: (s: string) => void): Promise<void> {
  const [services, slices, nodes] = await Promise.all([
    listAll<Service>(client, resources.services), listAll<EndpointSlice>(client, resources.endpointslices), listAll<Node>(client, resources.nodes),
  ]);
  const state = {
    services: buildServiceModel(services, slices), nodeName: f.nodeName,
    nodeIPs: nodeAddresses(nodes.find((n) => n.metadata?.name === f.nodeName)),
    ...(f.serviceCIDR ? { serviceCIDR: f.serviceCIDR } : {}), ...(f.clusterCIDR ? { clusterCIDR: f.clusterCIDR } : {}),
  };
  if (f.mode === 'iptables') {
    // Reading the tables only (iptables-save); what a first full sync would feed iptables-restore.
    const saved = await new Iptables(f.netns ? { netns: f.netns } : {}).save(['filter', 'nat']);
    const want = compileIptables(state);
    write(planFull(want, new Map()));
    const d = diffIptablesAgainstKernel(want, saved);
    write(`# difference from the kernel${f.netns ? ` (netns ${f.netns})` : ''}: ${d.length ? `${d.length} line(s)` : 'none'}\n`);
    for (const l of d) write(`${l}\n`);
    return;
  }
  if (f.mode === 'ipvs') { await dryRunIpvs(state, f.netns, write, f.ipvsScheduler); return; }
  const rs = compileServices(state);
  write(renderNft(rs));
  const have = await listTable(TABLE, f.netns ? { netns: f.netns } : {});
  const d = diffAgainstKernel(rs, have);
  write(`# difference from the kernel${f.netns ? ` (netns ${f.netns})` : ''}: ${d.length ? `${d.length} line(s)` : 'none'}\n`);
  for (const l of d) write(`${l}\n`);
}

/** Runs `k8ts proxy`; resolves with the exit code (on SIGINT/SIGTERM for the daemon). */
export async function runProxy(argv: readonly string[]): Promise<number> {
  let f: ProxyFlags;
  try {
    f = parseProxyFlags(argv);
  } catch (e) {
    if (e instanceof ProxyFlagError) { process.stderr.write(`k8ts proxy: ${e.message}\n`); return 2; }
    throw e;
  }
  const { client, transport } = clientFromKubeconfig(f.kubeconfig, { userAgent: 'k8ts-proxy' });
  try {
    if (f.dryRun) {
      await dryRun(client, f, (s) => process.stdout.write(s));
      return 0;
    }
    const logger = createLogger(f.logFormat).child({ component: 'proxy' });
    const log = (level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}): void => logger[level](fields, msg);
    const registry = new Registry();
    const daemon = new ProxyDaemon({
      client, mode: f.mode, nodeName: f.nodeName, minSyncMs: f.minSyncMs, maxSyncMs: f.maxSyncMs, log, metrics: new ProxyMetrics(registry),
      ...(f.ipvsScheduler ? { ipvsScheduler: f.ipvsScheduler } : {}),
      ...(f.clusterCIDR ? { clusterCIDR: f.clusterCIDR } : {}), ...(f.serviceCIDR ? { serviceCIDR: f.serviceCIDR } : {}), ...(f.netns ? { netns: f.netns } : {}),
    });
    try {
      await daemon.start();
    } catch (e) {
      // A kernel without IPVS is an operator's choice to fix, not a crash: say what is missing.
      if (!(e instanceof IpvsError && e.code === 'NoIpvs')) throw e;
      process.stderr.write(`k8ts proxy: ${e.message}\n`);
      await daemon.stop();
      return 1;
    }
    // As upstream, a metrics server that cannot bind is logged, never fatal: Services matter more.
    let metricsServer: MetricsServer | undefined;
    const bind = parseBindAddress(f.metricsBindAddress);
    if (bind.port !== 0) {
      try {
        metricsServer = await serveMetrics(registry, bind.host, bind.port);
      } catch (e) {
        log('warn', 'the metrics server did not start', { address: f.metricsBindAddress, err: String(e) });
      }
    }
    log('info', 'k8ts proxy is running', { mode: f.mode, node: f.nodeName, netns: f.netns ?? null, metrics: metricsServer ? f.metricsBindAddress : null });
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await metricsServer?.close();
    await daemon.stop({ cleanup: f.cleanup });
    return 0;
  } finally {
    transport.close();
  }
}

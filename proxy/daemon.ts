// The proxy's sync loop: informers on Services, EndpointSlices and this Node feed the change
// trackers; a bounded-frequency runner drains them into the incremental model and compiler and
// commits one nf_tables batch per sync.
//
// Design notes. Watch handlers only record changes and poke the runner (level-triggered: they never
// program anything themselves). A sync applies the trackers' pending pairs to the service map
// (changed Services only), feeds the changed ports to the incremental compiler and lets the applier
// send the difference from its last successful commit. A refused batch leaves the previous rules
// in the kernel and the applier's `have` unchanged; the runner retries with back-off, and since
// the plan is always `have → want`, nothing of the failed changes is lost. The first sync
// replaces the whole table; the periodic run (`maxSyncMs`, upstream's syncPeriod) re-creates every
// object in one transaction to repair drift, keeping only the affinity map's state. After each
// commit, UDP conntrack flows to endpoints that went away are deleted (./conntrack.ts). The node's addresses (NodePorts listen there) come from its Node object.
// `mode: 'iptables'` swaps the compiler and applier for upstream's iptables layout
// (./iptables/): the same trackers, model, runner and conntrack cleanup; a partial restore of the
// changed chains per sync, a full one on the periodic run and after any failure.
// `mode: 'ipvs'` (./ipvs/): virtual servers over generic netlink, VIPs on kube-ipvs0 and a small
// nf_tables table for masquerade; the plan is against the last sync, or against a dump of the
// kernel on the periodic run and after a failure (IPVS is not transactional).
import type { Node, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { Informer } from '../api/client/informer.js';
import { resources, type ClusterClient } from '../api/client/types.js';
import { Conntrack, type FlowFilter } from '../kernel/conntrack.js';
import { Iptables, type IptablesBackend } from '../kernel/iptables/restore.js';
import { NfTablesSocket } from '../kernel/nftables/socket.js';
import type { Ruleset } from '../kernel/nftables/types.js';
import { EndpointSliceChangeTracker, ServiceChangeTracker } from './changes.js';
import { staleUdpFlows } from './conntrack.js';
import { IptablesApplier, type IptablesSyncResult } from './iptables/apply.js';
import { IptablesCompiler, type IptablesRuleset } from './iptables/compile.js';
import { openIpvsApplier, type IpvsApplier, type IpvsSyncResult } from './ipvs/apply.js';
import { compileIpvs, type IpvsState } from './ipvs/compile.js';
import { isIPv4 } from './model.js';
import { NftablesApplier, type SyncResult } from './nftables/apply.js';
import { IncrementalCompiler, type NodeContext } from './nftables/compile.js';
import { BoundedFrequencyRunner, type Clock, type RunReason } from './runner.js';
import { ServicePortMap, type PortChanges } from './servicemap.js';
import type { ProxyMetrics } from './metrics.js';

/** Upstream's `--proxy-mode` values that k8ts implements. */
export type ProxyMode = 'nftables' | 'iptables' | 'ipvs';
export const PROXY_MODES: readonly ProxyMode[] = ['nftables', 'iptables', 'ipvs'];

export interface ProxyOptions {
  readonly client: ClusterClient;
  /** nftables (default) or iptables. */
  readonly mode?: ProxyMode;
  /** iptables mode: which iptables-restore (default nft, as upstream's iptables-wrapper picks on a fresh node). */
  readonly iptablesBackend?: IptablesBackend;
  /** iptables mode: where restores go (tests wrap the real one to inject refusals). */
  readonly openIptables?: (netns: string | undefined) => Pick<Iptables, 'restore' | 'save'>;
  /** ipvs mode: the IPVS scheduler (default rr, upstream's --ipvs-scheduler). */
  readonly ipvsScheduler?: string;
  /**
   * ipvs mode: how often a sync runs while retired TCP real servers wait at weight 0 for their
   * connections to end (upstream checks every minute), and how long they may wait at most.
   */
  readonly ipvsGracefulCheckMs?: number;
  readonly ipvsGracefulTimeoutMs?: number;
  /** ipvs mode: opens the applier (tests). */
  readonly openIpvs?: (netns: string | undefined) => Promise<IpvsApplier>;
  readonly nodeName: string;
  /** Pod network: ClusterIP traffic from outside it is masqueraded. */
  readonly clusterCIDR?: string;
  /** Service network: traffic to unallocated addresses in it is dropped. */
  readonly serviceCIDR?: string;
  /** Program this named network namespace instead of the current one. */
  readonly netns?: string;
  readonly minSyncMs?: number;
  readonly maxSyncMs?: number;
  readonly retryMs?: number;
  readonly clock?: Clock;
  readonly log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /**
   * Where batches go; by default a netlink socket in `netns` (or here). Tests wrap the real one to
   * inject refusals.
   */
  readonly openSocket?: (netns: string | undefined) => Pick<NfTablesSocket, 'commit' | 'close'>;
  /** Called after each successful commit (tests and metrics: network-programming latency). */
  readonly onSynced?: (info: SyncInfo) => void;
  /** Prometheus metrics (./metrics.ts): told of changed EndpointSlices and of every committed sync. */
  readonly metrics?: Pick<ProxyMetrics, 'sliceChanged' | 'synced'>;
}

interface SyncInfoBase {
  readonly reason: RunReason;
  readonly changedPorts: number;
  readonly totalMs: number;
  /** Stale UDP conntrack flows deleted after the commit. */
  readonly flowsDeleted: number;
}
export interface NftablesSyncInfo extends SyncInfoBase, SyncResult { readonly mode: 'nftables'; readonly ruleset: Ruleset }
export interface IptablesSyncInfo extends SyncInfoBase, IptablesSyncResult { readonly mode: 'iptables'; readonly ruleset: IptablesRuleset }
export interface IpvsSyncInfo extends SyncInfoBase, IpvsSyncResult { readonly mode: 'ipvs'; readonly ruleset: IpvsState }
export type SyncInfo = NftablesSyncInfo | IptablesSyncInfo | IpvsSyncInfo;

/** This node's IPv4 addresses from its Node object (internal first). */
export function nodeAddresses(node: Node | undefined): string[] {
  const addrs = node?.status?.addresses ?? [];
  const pick = (t: string): string[] => addrs.filter((a) => a.type === t && isIPv4(a.address)).map((a) => a.address);
  return [...new Set([...pick('InternalIP'), ...pick('ExternalIP')])];
}

export class ProxyDaemon {
  private readonly services: Informer<Service>;
  private readonly slices: Informer<EndpointSlice>;
  private readonly nodes: Informer<Node>;
  private readonly svcTracker = new ServiceChangeTracker();
  private readonly epTracker = new EndpointSliceChangeTracker();
  private readonly map = new ServicePortMap();
  private readonly compiler = new IncrementalCompiler();
  private readonly runner: BoundedFrequencyRunner;
  private sock: Pick<NfTablesSocket, 'commit' | 'close'> | undefined;
  private applier: NftablesApplier | undefined;
  private readonly iptCompiler = new IptablesCompiler();
  private iptApplier: IptablesApplier | undefined;
  private ipvsApplier: IpvsApplier | undefined;
  private conntrack: Conntrack | undefined;
  /** Flows to delete once the rules that stop creating them are committed (kept across failures). */
  private staleFlows: FlowFilter[] = [];
  /** ipvs mode: the pending sync that deletes drained real servers. */
  private gracefulTimer: NodeJS.Timeout | undefined;
  private readonly log: NonNullable<ProxyOptions['log']>;

  constructor(private readonly opts: ProxyOptions) {
    this.log = opts.log ?? (() => {});
    const onError = (what: string) => (err: unknown): void => this.log('warn', `${what} watch failed; retrying`, { err: String(err) });
    this.services = new Informer<Service>(opts.client, resources.services, { onError: onError('Service') });
    this.slices = new Informer<EndpointSlice>(opts.client, resources.endpointslices, { onError: onError('EndpointSlice') });
    this.nodes = new Informer<Node>(opts.client, resources.nodes, { fieldSelector: `metadata.name=${opts.nodeName}`, onError: onError('Node') });
    this.runner = new BoundedFrequencyRunner((why) => this.sync(why), {
      minIntervalMs: opts.minSyncMs ?? 0,
      maxIntervalMs: opts.maxSyncMs ?? 30_000,
      retryIntervalMs: opts.retryMs ?? 1_000,
      maxRetryIntervalMs: 30_000,
      ...(opts.clock ? { clock: opts.clock } : {}),
      onError: (err, attempt) => this.log('error', 'sync failed; the previous rules stay in place', { err: String(err), attempt }),
    });
  }

  /** Starts watching, waits for the caches, and starts the sync loop (its first run is a full sync). */
  async start(): Promise<void> {
    this.services.on({
      add: (s) => this.onServiceEvent(undefined, s),
      update: (o, s) => this.onServiceEvent(o, s),
      delete: (s) => this.onServiceEvent(s, undefined),
    });
    this.slices.on({
      add: (s) => this.onSliceEvent(undefined, s),
      update: (o, s) => this.onSliceEvent(o, s),
      delete: (s) => this.poke(this.epTracker.update(s, true)),
    });
    this.nodes.on({ add: () => this.poke(true), update: () => this.poke(true), delete: () => this.poke(true) });
    await Promise.all([this.services.start(), this.slices.start(), this.nodes.start()]);
    if (this.opts.mode === 'ipvs') {
      // Fails with a clear IpvsError (code NoIpvs) on a kernel without IPVS.
      this.ipvsApplier = await (this.opts.openIpvs ?? openIpvsApplier)(this.opts.netns);
    } else if (this.opts.mode === 'iptables') {
      const backend = this.opts.iptablesBackend;
      const open = this.opts.openIptables ?? ((ns) => new Iptables({ ...(ns ? { netns: ns } : {}), ...(backend ? { backend } : {}) }));
      this.iptApplier = new IptablesApplier(open(this.opts.netns));
    } else {
      this.sock = (this.opts.openSocket ?? ((ns) => NfTablesSocket.open(ns)))(this.opts.netns);
      this.applier = new NftablesApplier(this.sock);
    }
    this.conntrack = Conntrack.open(this.opts.netns);
    this.runner.start();
  }

  private onServiceEvent(prev: Service | undefined, cur: Service | undefined): void {
    this.poke(this.svcTracker.update(prev, cur));
  }

  private onSliceEvent(prev: EndpointSlice | undefined, cur: EndpointSlice): void {
    const changed = this.epTracker.replace(prev, cur);
    if (changed) this.opts.metrics?.sliceChanged(cur);
    this.poke(changed);
  }

  private poke(changed: boolean): void {
    if (changed && (this.applier || this.iptApplier || this.ipvsApplier)) this.runner.run();
  }

  /** The node context the compiler needs. */
  private context(): NodeContext {
    return {
      nodeName: this.opts.nodeName,
      nodeIPs: nodeAddresses(this.nodes.getBy(undefined, this.opts.nodeName)),
      ...(this.opts.serviceCIDR ? { serviceCIDR: this.opts.serviceCIDR } : {}),
      ...(this.opts.clusterCIDR ? { clusterCIDR: this.opts.clusterCIDR } : {}),
    };
  }

  /** One sync: pending changes → model → compiler → one batch. */
  private async sync(reason: RunReason): Promise<void> {
    const applier = this.applier;
    const iptApplier = this.iptApplier;
    const ipvsApplier = this.ipvsApplier;
    if (!applier && !iptApplier && !ipvsApplier) return;
    const t0 = performance.now();
    const previous: PortChanges = new Map();
    const changes = this.map.apply(this.svcTracker.checkout(), this.epTracker.checkout(), (k) => this.epTracker.slicesOf(k), previous);
    const ctx = this.context();
    this.staleFlows.push(...staleUdpFlows(changes, previous, ctx.nodeName, ctx.nodeIPs));
    let done: { mode: 'nftables'; r: SyncResult; ruleset: Ruleset } | { mode: 'iptables'; r: IptablesSyncResult; ruleset: IptablesRuleset } | { mode: 'ipvs'; r: IpvsSyncResult; ruleset: IpvsState };
    if (ipvsApplier) {
      // From the whole model each time (O(services)); the planner diffs against the last sync.
      const ruleset = compileIpvs({ ...ctx, services: this.map.all() }, this.opts.ipvsScheduler ? { scheduler: this.opts.ipvsScheduler } : {});
      done = {
        mode: 'ipvs', ruleset,
        r: await ipvsApplier.sync(ruleset, { full: reason === 'periodic', ownedAddrs: ctx.nodeIPs, ...(this.opts.ipvsGracefulTimeoutMs !== undefined ? { gracefulTimeoutMs: this.opts.ipvsGracefulTimeoutMs } : {}) }),
      };
      if (ipvsApplier.terminatingCount > 0 && !this.gracefulTimer) {
        this.gracefulTimer = setTimeout(() => { this.gracefulTimer = undefined; this.runner.run(); }, this.opts.ipvsGracefulCheckMs ?? 60_000);
        this.gracefulTimer.unref();
      }
    } else if (iptApplier) {
      const ruleset = this.iptCompiler.update(ctx, changes);
      done = { mode: 'iptables', r: await iptApplier.sync(ruleset, { full: reason === 'periodic' }), ruleset };
    } else {
      const ruleset = this.compiler.update(ctx, changes);
      done = { mode: 'nftables', r: await applier!.sync(ruleset, { resync: reason === 'periodic' }), ruleset };
      // A full sync leaves the compiler's shared-set counts for later (they are not needed to
      // replace the table); count them now, off the path of this sync, so the next change pays
      // nothing for them. A sync that starts first has them counted on demand.
      if (done.r.full) setImmediate(() => this.compiler.settle()).unref();
    }
    const r = done.r;
    let flowsDeleted = 0;
    if (this.staleFlows.length && this.conntrack) {
      const filters = this.staleFlows;
      this.staleFlows = [];
      try {
        flowsDeleted = await this.conntrack.deleteFlows(filters);
      } catch (err) {
        this.staleFlows.push(...filters); // retried after the next sync
        this.log('warn', 'deleting stale UDP conntrack flows failed', { err: String(err) });
      }
    }
    const base = { reason, changedPorts: changes.size, totalMs: performance.now() - t0, flowsDeleted };
    const info: SyncInfo = done.mode === 'ipvs' ? { ...done.r, ...base, mode: 'ipvs', ruleset: done.ruleset } : done.mode === 'iptables' ? { ...done.r, ...base, mode: 'iptables', ruleset: done.ruleset } : { ...done.r, ...base, mode: 'nftables', ruleset: done.ruleset };
    const size = done.mode === 'ipvs' ? { ops: done.r.ops } : done.mode === 'iptables' ? { lines: done.r.lines } : { ops: done.r.ops };
    if (r.full || changes.size > 0) this.log('info', 'synced', { mode: done.mode, reason, full: r.full, changedPorts: changes.size, ...size, flowsDeleted, ms: Math.round(info.totalMs * 10) / 10 });
    this.opts.metrics?.synced(info);
    this.opts.onSynced?.(info);
  }

  /** The ruleset of the last successful commit (nftables mode). */
  get installed(): Ruleset | undefined { return this.applier?.installed; }

  /** Asks for a sync now (bounded by the minimum interval). */
  requestSync(): void { this.runner.run(); }

  /** Stops watching and syncing; with `cleanup`, removes the table from the kernel. Reverse order of start. */
  async stop(opts: { cleanup?: boolean } = {}): Promise<void> {
    await this.runner.stop();
    clearTimeout(this.gracefulTimer);
    this.gracefulTimer = undefined;
    this.nodes.stop();
    this.slices.stop();
    this.services.stop();
    try {
      if (opts.cleanup && this.applier) await this.applier.cleanup('k8ts-proxy');
      if (opts.cleanup && this.iptApplier) await this.iptApplier.cleanup();
      if (opts.cleanup && this.ipvsApplier) await this.ipvsApplier.cleanup(this.context().nodeIPs);
    } finally {
      this.conntrack?.close();
      this.conntrack = undefined;
      this.sock?.close();
      this.sock = undefined;
      this.applier = undefined;
      this.iptApplier = undefined;
      this.ipvsApplier?.close();
      this.ipvsApplier = undefined;
    }
  }
}

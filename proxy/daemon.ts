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
import type { Node, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { Informer } from '../api/client/informer.js';
import { resources, type ClusterClient } from '../api/client/types.js';
import { Conntrack, type FlowFilter } from '../kernel/conntrack.js';
import { NfTablesSocket } from '../kernel/nftables/socket.js';
import type { Ruleset } from '../kernel/nftables/types.js';
import { EndpointSliceChangeTracker, ServiceChangeTracker } from './changes.js';
import { staleUdpFlows } from './conntrack.js';
import { isIPv4 } from './model.js';
import { NftablesApplier, type SyncResult } from './nftables/apply.js';
import { IncrementalCompiler, type NodeContext } from './nftables/compile.js';
import { BoundedFrequencyRunner, type Clock, type RunReason } from './runner.js';
import { ServicePortMap, type PortChanges } from './servicemap.js';

export interface ProxyOptions {
  readonly client: ClusterClient;
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
}

export interface SyncInfo extends SyncResult {
  readonly reason: RunReason;
  readonly changedPorts: number;
  readonly totalMs: number;
  readonly ruleset: Ruleset;
  /** Stale UDP conntrack flows deleted after the commit. */
  readonly flowsDeleted: number;
}

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
  private conntrack: Conntrack | undefined;
  /** Flows to delete once the rules that stop creating them are committed (kept across failures). */
  private staleFlows: FlowFilter[] = [];
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
      add: (s) => this.poke(this.epTracker.replace(undefined, s)),
      update: (o, s) => this.poke(this.epTracker.replace(o, s)),
      delete: (s) => this.poke(this.epTracker.update(s, true)),
    });
    this.nodes.on({ add: () => this.poke(true), update: () => this.poke(true), delete: () => this.poke(true) });
    await Promise.all([this.services.start(), this.slices.start(), this.nodes.start()]);
    this.sock = (this.opts.openSocket ?? ((ns) => NfTablesSocket.open(ns)))(this.opts.netns);
    this.applier = new NftablesApplier(this.sock);
    this.conntrack = Conntrack.open(this.opts.netns);
    this.runner.start();
  }

  private onServiceEvent(prev: Service | undefined, cur: Service | undefined): void {
    this.poke(this.svcTracker.update(prev, cur));
  }

  private poke(changed: boolean): void {
    if (changed && this.applier) this.runner.run();
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
    if (!applier) return;
    const t0 = performance.now();
    const previous: PortChanges = new Map();
    const changes = this.map.apply(this.svcTracker.checkout(), this.epTracker.checkout(), (k) => this.epTracker.slicesOf(k), previous);
    const ctx = this.context();
    const ruleset = this.compiler.update(ctx, changes);
    this.staleFlows.push(...staleUdpFlows(changes, previous, ctx.nodeName, ctx.nodeIPs));
    const r = await applier.sync(ruleset, { resync: reason === 'periodic' });
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
    const info: SyncInfo = { ...r, reason, changedPorts: changes.size, totalMs: performance.now() - t0, ruleset, flowsDeleted };
    if (r.full || changes.size > 0) this.log('info', 'synced', { reason, full: r.full, changedPorts: changes.size, ops: r.ops, flowsDeleted, ms: Math.round(info.totalMs * 10) / 10 });
    this.opts.onSynced?.(info);
  }

  /** The ruleset of the last successful commit. */
  get installed(): Ruleset | undefined { return this.applier?.installed; }

  /** Asks for a sync now (bounded by the minimum interval). */
  requestSync(): void { this.runner.run(); }

  /** Stops watching and syncing; with `cleanup`, removes the table from the kernel. Reverse order of start. */
  async stop(opts: { cleanup?: boolean } = {}): Promise<void> {
    await this.runner.stop();
    this.nodes.stop();
    this.slices.stop();
    this.services.stop();
    try {
      if (opts.cleanup && this.applier) await this.applier.cleanup('k8ts-proxy');
    } finally {
      this.conntrack?.close();
      this.conntrack = undefined;
      this.sock?.close();
      this.sock = undefined;
      this.applier = undefined;
    }
  }
}

// The network plugin daemon: connects this node's pods to every other node's, in vxlan (flannel-
// like overlay) or routed (calico-like, same L2) mode, from the Node objects alone.
//
// Design notes. Like the proxy (proxy/daemon.ts): a Node informer only pokes a bounded-frequency
// runner (proxy/runner.ts), and every sync recomputes the whole desired state from the cache and
// the kernel's current state (level-triggered), so a missed event, a restart or an entry deleted
// behind our back are all repaired the same way — on the next change, or at the latest on the
// periodic resync (`resyncMs`, flannel host-gw's 10 s). Node updates that change nothing we read
// (status heartbeats) do not trigger a sync. After the first successful sync the plugin publishes
// its annotations (VTEP MAC, underlay address) and sets `NetworkUnavailable=False` on its Node;
// `startNetplugin` resolves then, with the MTU pods should use. The masquerade table
// (common/compile-masq.ts) is part of every sync, re-sent whole on each periodic one.
// Everything is programmed in `netns` when given (the lab and the tests), else in the current
// network namespace.
import { release } from 'node:os';
import type { Node } from 'kubernetes-types/core/v1.js';
import { Informer } from '../api/client/informer.js';
import { resources, type ClusterClient } from '../api/client/types.js';
import { BoundedFrequencyRunner, type RunReason } from '../proxy/runner.js';
import { PartialSyncError, type NetKernel } from './common/kernel.js';
import { compileMasquerade } from './common/compile-masq.js';
import { MasqueradeApplier } from './common/masq.js';
import { markNetworkReady, publishAnnotations } from './common/node-status.js';
import { nodeNet, podCidrOf, internalIPOf, type NetMode } from './common/plan-nodes.js';
import { K8TS_ROUTE_PROTOCOL, rtnlKernel } from './common/rtnl-kernel.js';
import { RoutedApplier } from './routed/apply.js';
import { BirdDaemon } from './routed/bird.js';
import { compileBirdConfig, DEFAULT_BGP_ASN } from './routed/compile-bird.js';
import { desiredRouted, routedAnnotations } from './routed/plan.js';
import { VxlanApplier } from './vxlan/apply.js';
import { desiredVxlan, vtepMacFor, vxlanAnnotations, vxlanNeedsChecksumWorkaround, VXLAN_DEVICE, VXLAN_OVERHEAD } from './vxlan/plan.js';

export { ANNOTATIONS } from './common/plan-nodes.js';
export { VXLAN_DEVICE, VXLAN_OVERHEAD, vtepMacFor } from './vxlan/plan.js';
export { K8TS_ROUTE_PROTOCOL } from './common/rtnl-kernel.js';
export { MASQ_TABLE } from './common/compile-masq.js';

/** pino-shaped, as the agent's logger. */
export interface NetpluginLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
  debug(obj: Record<string, unknown>, msg: string): void;
}

export interface NetpluginOptions {
  readonly client: ClusterClient;
  readonly nodeName: string;
  readonly mode: NetMode;
  /** The whole pod network (`--cluster-cidr`): the masquerade boundary. */
  readonly clusterCIDR: string;
  readonly log?: NetpluginLogger;
  /** This node's underlay address; default: the Node's InternalIP, else the underlay's first address. */
  readonly nodeIP?: string;
  /** This node's pod block; default: the Node's `spec.podCIDR`. */
  readonly podCIDR?: string;
  /** The underlay interface; default: the link that holds `nodeIP`. */
  readonly underlayIface?: string;
  /** Program this named network namespace instead of the current one. */
  readonly netns?: string;
  /** Periodic full resync (repairs drift); default 10 s. */
  readonly resyncMs?: number;
  /** Minimum time between syncs (coalesces bursts of Node events); default 100 ms. */
  readonly minSyncMs?: number;
  /** Remove the device, routes and masquerade table on stop; default false (pods keep working across restarts). */
  readonly cleanupOnStop?: boolean;
  /**
   * Routed mode only: distribute the pod blocks over BGP with BIRD 2 (full iBGP mesh from the Node
   * objects, as calico) instead of programming peer routes ourselves. BIRD runs while the plugin
   * does; its routes leave the kernel when it stops.
   */
  readonly bgp?: { readonly asn?: number; readonly runDir?: string };
  /** The kernel seam (tests); default kernel/rtnl in `netns`. */
  readonly kernel?: NetKernel;
  /**
   * Aborts a start that is still waiting for its first successful sync (which is retried with
   * back-off meanwhile, e.g. while the underlay is not up yet); the start then rejects.
   */
  readonly signal?: AbortSignal;
  /** Called after every successful sync (tests, metrics). */
  readonly onSynced?: (info: NetpluginSyncInfo) => void;
}

export interface NetpluginSyncInfo {
  readonly reason: RunReason;
  /** Kernel operations carried out (0: the kernel already matched). */
  readonly changes: number;
  readonly peers: number;
  readonly ms: number;
}

export interface Netplugin {
  /** The MTU pods should use: the overlay's in vxlan mode, the underlay's in routed mode. */
  readonly mtu: number;
  readonly nodeIP: string;
  readonly underlayIface: string;
  readonly podCIDR: string;
  /** Asks for a sync now (bounded by the minimum interval). */
  requestSync(): void;
  stop(opts?: { cleanup?: boolean }): Promise<void>;
}

const silent: NetpluginLogger = { info() {}, warn() {}, error() {}, debug() {} };

/** What in a Node we read: a sync is needed only when this changes. */
const relevant = (n: Node): string => JSON.stringify(nodeNet(n));

export async function startNetplugin(opts: NetpluginOptions): Promise<Netplugin> {
  const log = opts.log ?? silent;
  compileMasquerade(opts.clusterCIDR); // throws now on a cluster CIDR we cannot masquerade for
  const kernel = opts.kernel ?? rtnlKernel(opts.netns);
  const nodes = new Informer<Node>(opts.client, resources.nodes, { onError: (err) => log.warn({ err: String(err) }, 'Node watch failed; retrying') });
  const masq = new MasqueradeApplier(opts.netns);
  const vxlan = new VxlanApplier(kernel, K8TS_ROUTE_PROTOCOL, (msg) => log.warn({}, msg), vxlanNeedsChecksumWorkaround(release()));
  const routed = new RoutedApplier(kernel, K8TS_ROUTE_PROTOCOL);
  if (opts.bgp && opts.mode !== 'routed') throw new Error('BGP (bgp option) needs routed mode');
  const bird = opts.bgp ? new BirdDaemon({
    ...(opts.netns ? { netns: opts.netns } : {}),
    dir: opts.bgp.runDir ?? `/run/k8ts/bird${opts.netns ? `-${opts.netns}` : ''}`,
    log: (msg) => log.info({}, msg),
  }) : undefined;
  let runner: BoundedFrequencyRunner | undefined;
  try {
    await nodes.start();
    const self = nodes.getBy(undefined, opts.nodeName);
    const nodeIP = opts.nodeIP ?? (self && internalIPOf(self))
      ?? (opts.underlayIface ? (await kernel.linkInfo(opts.underlayIface))?.ipv4 : undefined);
    if (!nodeIP) throw new Error(`node "${opts.nodeName}" has no InternalIP and no --node-ip was given: cannot tell the underlay address`);
    const underlay = opts.underlayIface ?? await kernel.linkWithAddress(nodeIP);
    if (!underlay) throw new Error(`no interface holds the node address ${nodeIP}: cannot tell the underlay interface`);
    const podCIDR = opts.podCIDR ?? (self && podCidrOf(self));
    if (!podCIDR) throw new Error(`node "${opts.nodeName}" has no spec.podCIDR yet`);
    let underlayMtu = (await kernel.linkInfo(underlay))?.mtu;
    if (underlayMtu === undefined) throw new Error(`underlay interface "${underlay}" does not exist`);
    const annotations = opts.mode === 'vxlan' ? vxlanAnnotations(vtepMacFor(opts.nodeName), nodeIP) : routedAnnotations(nodeIP);
    let lastSkipped = '';
    let ready = false;
    let resolveReady!: () => void;
    const readyP = new Promise<void>((r) => { resolveReady = r; });

    const sync = async (reason: RunReason): Promise<void> => {
      const t0 = performance.now();
      if (reason === 'periodic') underlayMtu = (await kernel.linkInfo(underlay))?.mtu ?? underlayMtu;
      const all = nodes.list();
      let changes: number;
      let peers: number;
      let skipped: readonly { node: string; reason: string }[];
      // A peer the kernel refused does not keep this node off the network: finish the sync, report
      // ready, then fail it so the runner retries with back-off.
      let partial: PartialSyncError<unknown> | undefined;
      const orPartial = async <P>(fn: () => Promise<P>): Promise<P> => {
        try { return await fn(); } catch (err) {
          if (!(err instanceof PartialSyncError)) throw err;
          partial = err;
          return err.plan as P;
        }
      };
      if (opts.mode === 'vxlan') {
        const want = desiredVxlan({ nodeName: opts.nodeName, nodeIP, podCidr: podCIDR, underlay, underlayMtu: underlayMtu! }, all);
        const p = await orPartial(() => vxlan.sync(want));
        changes = (p.device.action === 'keep' ? 0 : 1) + [p.addresses, p.neighbours, p.fdb, p.routes].reduce((s, x) => s + x.add.length + x.del.length, 0);
        if (p.device.action === 'recreate') log.warn({ device: VXLAN_DEVICE, reason: p.device.reason }, 're-created the VXLAN device');
        peers = want.peers.length;
        skipped = want.skipped;
      } else {
        const want = desiredRouted({ nodeName: opts.nodeName, nodeIP, podCidr: podCIDR, bgp: bird !== undefined }, all);
        const p = await orPartial(() => routed.sync(want));
        changes = p.add.length + p.del.length;
        if (bird && await bird.configure(compileBirdConfig({
          routerId: nodeIP, asn: opts.bgp?.asn ?? DEFAULT_BGP_ASN, podCidr: podCIDR, clusterCidr: opts.clusterCIDR, peers: want.peers,
        }))) changes++;
        peers = want.peers.length;
        skipped = want.skipped;
      }
      if (await masq.sync(opts.clusterCIDR, { force: reason === 'periodic' }) && reason !== 'periodic') changes++;
      const selfNode = nodes.getBy(undefined, opts.nodeName);
      await publishAnnotations(opts.client, selfNode, opts.nodeName, annotations);
      await markNetworkReady(opts.client, selfNode, opts.nodeName, opts.mode);
      const skippedText = JSON.stringify(skipped);
      if (skippedText !== lastSkipped) {
        lastSkipped = skippedText;
        if (skipped.length) log.info({ skipped }, 'some nodes are not part of the pod network yet');
      }
      const ms = performance.now() - t0;
      if (changes > 0) log.info({ mode: opts.mode, reason, changes, peers, ms: Math.round(ms * 10) / 10 }, 'pod network synced');
      if (!ready) { ready = true; resolveReady(); }
      if (partial) throw partial;
      opts.onSynced?.({ reason, changes, peers, ms });
    };

    runner = new BoundedFrequencyRunner(sync, {
      minIntervalMs: opts.minSyncMs ?? 100,
      maxIntervalMs: opts.resyncMs ?? 10_000,
      retryIntervalMs: 500,
      maxRetryIntervalMs: opts.resyncMs ?? 10_000,
      onError: (err, attempt) => log.error({ err: String(err), attempt }, 'pod network sync failed; retrying'),
    });
    const r = runner;
    nodes.on({
      add: () => r.run(),
      update: (o, n) => { if (relevant(o) !== relevant(n) || n.metadata?.name === opts.nodeName) r.run(); },
      delete: () => r.run(),
    });
    r.start();
    if (opts.signal) {
      const signal = opts.signal;
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(new Error('the network plugin was stopped before its first successful sync'));
        if (signal.aborted) { onAbort(); return; }
        signal.addEventListener('abort', onAbort, { once: true });
        readyP.then(() => { signal.removeEventListener('abort', onAbort); resolve(); }, reject);
      });
    } else {
      await readyP;
    }
    log.info({ mode: opts.mode, nodeIP, underlay, podCIDR }, 'pod network plugin started');
    const mtu = opts.mode === 'vxlan' ? underlayMtu - VXLAN_OVERHEAD : underlayMtu;
    return {
      mtu, nodeIP, underlayIface: underlay, podCIDR,
      requestSync: () => r.run(),
      async stop(stopOpts = {}) {
        await r.stop();
        nodes.stop();
        try {
          await bird?.stop();
          if (stopOpts.cleanup ?? opts.cleanupOnStop) {
            if (opts.mode === 'vxlan') await vxlan.cleanup(VXLAN_DEVICE);
            await routed.cleanup();
            await masq.cleanup();
          }
        } finally {
          masq.close();
          if (!opts.kernel) kernel.close();
        }
      },
    };
  } catch (err) {
    await runner?.stop();
    nodes.stop();
    await bird?.stop().catch(() => undefined);
    masq.close();
    if (!opts.kernel) kernel.close();
    throw err;
  }
}

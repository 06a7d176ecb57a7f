// The node's pod network, as the agent sets it up: which network mode it runs (`--network`),
// the CNI network configuration it writes for the node's `spec.podCIDR`, and the network plugin
// (VXLAN overlay or routed mode) that connects this node's pods to the other nodes' pods.
//
// Modes (k3s calls the choice `--flannel-backend`):
//   bridge-local  a bridge with host-local IPAM on the node's podCIDR; nothing across nodes (the
//                 single-node default, what the agent did before the netplugins existed)
//   vxlan         the same bridge, plus the flannel-like overlay to every other node
//   routed        calico-like: no bridge, /32 routes per pod, routes to other nodes' podCIDRs via
//                 their node IPs (k8ts-cni's routed mode, else the reference `ptp` plugin)
//   none          the agent writes no CNI configuration: the operator brings one
//
// The CNI plugin: our `k8ts-cni` when it is found in the CNI bin dirs (it does both the bridge
// and the routed attachment), else Debian's reference plugins — `bridge` (bridge-local, vxlan) or
// `ptp` (routed), with `host-local` IPAM — which keep working as before.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Node } from 'kubernetes-types/core/v1.js';
import { resources, type ClusterClient } from '../api/client/types.js';
import { defaultConfList, type NetConfList } from './cni.js';
import type { Logger } from './kubelet.js';

export const networkModes = ['bridge-local', 'vxlan', 'routed', 'none'] as const;
export type NetworkMode = (typeof networkModes)[number];

/** The file the agent owns in the CNI conf dir; anything else there is the operator's. */
export const k8tsConfFile = '10-k8ts.conflist';

export function parseNetworkMode(s: string): NetworkMode {
  if (!(networkModes as readonly string[]).includes(s)) throw new Error(`invalid --network "${s}": expected ${networkModes.join(', ')}`);
  return s as NetworkMode;
}

/** Where `k8ts-cni` is, if it is installed in one of the bin dirs. */
export function findK8tsCni(binDirs: readonly string[]): string | undefined {
  for (const d of binDirs) if (existsSync(join(d, 'k8ts-cni'))) return join(d, 'k8ts-cni');
  return undefined;
}

export interface ConfListInput {
  mode: Exclude<NetworkMode, 'none'>;
  podCIDR: string;
  clusterCIDR: string;
  bridge: string;
  ipamDataDir: string;
  /** Use k8ts-cni (found in the bin dirs) rather than Debian's bridge plugin. */
  k8tsCni: boolean;
  /** Pod interface MTU; the overlay's (underlay − 50) in vxlan mode. */
  mtu?: number;
}

/** A renderer for k8ts-cni's conflist (cni/conflist.ts once it is there). */
export type RenderK8tsConflist = (input: ConfListInput) => NetConfList;

/** The conflist for this node: k8ts-cni's when asked, else the reference bridge plugin's. */
export function nodeConfList(input: ConfListInput, renderK8ts?: RenderK8tsConflist): NetConfList {
  if (input.k8tsCni && renderK8ts) return renderK8ts(input);
  if (input.mode === 'routed') {
    // Without k8ts-cni: the reference `ptp` plugin is a routed attachment too — a veth per pod, no
    // bridge, a /32 host route to the pod — which the routed netplugin's routes complete.
    return {
      cniVersion: '1.0.0', name: 'k8ts',
      plugins: [{
        type: 'ptp', ipMasq: false, ...(input.mtu !== undefined ? { mtu: input.mtu } : {}),
        ipam: { type: 'host-local', ranges: [[{ subnet: input.podCIDR }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: input.ipamDataDir },
      }],
    };
  }
  const conf = defaultConfList({ bridge: input.bridge, podCIDR: input.podCIDR, ipamDataDir: input.ipamDataDir });
  if (input.mtu !== undefined) conf.plugins[0] = { ...conf.plugins[0], mtu: input.mtu };
  return conf;
}

/**
 * Writes the agent's conflist unless the operator put a network configuration of their own in the
 * dir (which then wins, as it would for a kubelet). Rewrites ours when it changed (a new podCIDR).
 */
export function writeNodeConfList(confDir: string, conf: NetConfList): 'written' | 'unchanged' | 'operator' {
  mkdirSync(confDir, { recursive: true });
  const others = readdirSync(confDir).filter(f => /\.(conflist|conf|json)$/.test(f) && f !== k8tsConfFile);
  if (others.length > 0) return 'operator';
  const file = join(confDir, k8tsConfFile);
  const text = JSON.stringify(conf, null, 2);
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return 'unchanged';
  // rename is atomic: a plugin run never reads half a file.
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
  return 'written';
}

/** Resolves with the node's `spec.podCIDR` once node IPAM allocated it (the kubelet waits too). */
export async function waitForPodCIDR(client: ClusterClient, nodeName: string, log: Logger, opts: { intervalMs?: number; isStopped?: () => boolean } = {}): Promise<string> {
  const started = Date.now();
  let warned = 0;
  for (;;) {
    if (opts.isStopped?.()) throw new Error('the agent stopped while waiting for its podCIDR');
    try {
      const node = await client.get<Node>(resources.nodes, undefined, nodeName);
      if (node.spec?.podCIDR) return node.spec.podCIDR;
    } catch (err) {
      log.debug({ err: String(err) }, 'reading the Node for its podCIDR');
    }
    if (Date.now() - started > (warned + 1) * 10_000) {
      warned++;
      log.warn({ node: nodeName }, 'the Node has no spec.podCIDR yet: is node IPAM (the controller manager) running? (--pod-cidr sets one by hand)');
    }
    await new Promise(r => setTimeout(r, opts.intervalMs ?? 200));
  }
}

/** What a netplugin (netplugins/index.ts) hands back once this node is connected. */
export interface RunningNetplugin {
  /** The MTU pods should use (the overlay's), when the plugin knows it. */
  mtu?: number;
  stop(): Promise<void>;
}

/** The optional parts of the pod network, loaded when they are built (cni/, netplugins/). */
export interface NetworkParts {
  renderConflist?: RenderK8tsConflist;
  startNetplugin?: (o: { client: ClusterClient; nodeName: string; nodeIP: string; podCIDR: string; clusterCIDR: string; mode: 'vxlan' | 'routed'; log: Logger; netns?: string; onSynced?: (ms: number) => void }) => Promise<RunningNetplugin>;
}

export interface NodeNetworkOptions {
  mode: NetworkMode;
  client: ClusterClient;
  nodeName: string;
  nodeIP: string;
  log: Logger;
  confDir: string;
  binDirs: string[];
  bridge: string;
  clusterCIDR: string;
  ipamDataDir: string;
  podCIDR?: string;
  /** The namespace the pods' host side lives in (the agent's `--cni-netns`); default the agent's own. */
  netns?: string;
  /** Overrides the loader (tests). */
  parts?: NetworkParts;
  isStopped?: () => boolean;
  /** After each successful sync of the netplugin (metrics: agent/metrics.ts). */
  onSynced?: (ms: number) => void;
}

export interface NodeNetwork {
  podCIDR?: string;
  stop(): Promise<void>;
}

/**
 * Connects this node to the pod network: waits for its podCIDR, starts the netplugin of the mode
 * (it knows the overlay's MTU), then writes the CNI configuration the kubelet's sandboxes use.
 */
export async function startNodeNetwork(o: NodeNetworkOptions): Promise<NodeNetwork> {
  if (o.mode === 'none') return { async stop() {} };
  const podCIDR = o.podCIDR ?? await waitForPodCIDR(o.client, o.nodeName, o.log, o.isStopped ? { isStopped: o.isStopped } : {});
  const parts = o.parts ?? await loadNetworkParts(o.mode);
  let plugin: RunningNetplugin | undefined;
  if (o.mode === 'vxlan' || o.mode === 'routed') {
    if (!parts.startNetplugin) throw new Error(`--network ${o.mode}: this build has no netplugins (netplugins/index.js)`);
    plugin = await parts.startNetplugin({ client: o.client, nodeName: o.nodeName, nodeIP: o.nodeIP, podCIDR, clusterCIDR: o.clusterCIDR, mode: o.mode, log: o.log, ...(o.netns ? { netns: o.netns } : {}), ...(o.onSynced ? { onSynced: o.onSynced } : {}) });
  }
  try {
    const k8tsCni = findK8tsCni(o.binDirs) !== undefined && parts.renderConflist !== undefined;
    const conf = nodeConfList({
      mode: o.mode, podCIDR, clusterCIDR: o.clusterCIDR, bridge: o.bridge, ipamDataDir: o.ipamDataDir, k8tsCni,
      ...(plugin?.mtu !== undefined ? { mtu: plugin.mtu } : o.mode === 'vxlan' ? { mtu: 1450 } : {}),
    }, parts.renderConflist);
    const what = writeNodeConfList(o.confDir, conf);
    o.log.info({ mode: o.mode, podCIDR, plugin: conf.plugins.map(p => p.type).join(','), conf: what }, 'pod network configured');
  } catch (err) {
    await plugin?.stop().catch(() => undefined);
    throw err;
  }
  return { podCIDR, async stop() { await plugin?.stop(); } };
}

/**
 * Loads k8ts-cni's conflist renderer and the netplugins on demand: a bridge-local node never
 * loads the netplugins' code (nor its netlink sockets).
 */
export async function loadNetworkParts(mode: NetworkMode): Promise<NetworkParts> {
  const { renderConflist } = await import('../cni/conflist.js');
  const parts: NetworkParts = { renderConflist };
  if (mode === 'vxlan' || mode === 'routed') {
    const { startNetplugin } = await import('../netplugins/index.js');
    parts.startNetplugin = async o => {
      const plugin = await startNetplugin({ client: o.client, nodeName: o.nodeName, mode: o.mode, clusterCIDR: o.clusterCIDR, nodeIP: o.nodeIP, podCIDR: o.podCIDR, log: o.log, ...(o.netns ? { netns: o.netns } : {}), ...(o.onSynced ? { onSynced: (i: { ms: number }) => o.onSynced!(i.ms) } : {}) });
      return { mtu: plugin.mtu, stop: () => plugin.stop() };
    };
  }
  return parts;
}

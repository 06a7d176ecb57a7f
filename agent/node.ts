// The Node object and its Lease. `buildNode` is pure (facts in, object out); `NodeRegistrar` gathers
// the facts (systeminformation), registers the Node (create, or patch when it exists), then renews
// the Lease in kube-node-lease every 10 s and re-posts node status every minute, as upstream's
// node-lease controller and nodeStatusReportFrequency do.
import { readFileSync } from 'node:fs';
import type { Node, NodeCondition, NodeStatus, Taint } from 'kubernetes-types/core/v1.js';
import si from 'systeminformation';
import { isAlreadyExists } from '../api/client/rest.js';
import { resources, type ClusterClient } from '../api/client/types.js';
import type { PressureCondition } from './eviction.js';
import type { EventRecorder } from '../api/client/events.js';
import { kubeletEvents, nodeObject, type KubeletEvent } from './kubelet-events.js';
import type { Logger } from './kubelet.js';

export const kubeletVersion = 'v1.30.0-k8ts';

export interface NodeFacts {
  hostname: string;
  internalIP: string;
  cpuCores: number;
  memoryBytes: number;
  ephemeralStorageBytes: number;
  maxPods: number;
  kernelVersion: string;
  osImage: string;
  containerRuntimeVersion: string;
  machineID: string;
  bootID: string;
  architecture: string;
  /** Where the kubelet API listens (daemonEndpoints); 10250 when absent. */
  kubeletPort?: number;
  /** What the hard eviction thresholds hold back from allocatable (default: 100Mi of memory). */
  evictionReserve?: { memoryBytes: number; ephemeralStorageBytes: number };
}

export interface NodeConfig {
  name: string;
  labels: Record<string, string>;
  taints: Taint[];
  /**
   * Whether the kubelet reports NetworkUnavailable. With a network plugin (vxlan, routed) the plugin
   * owns that condition, as flannel and calico do: it says False once the node is connected.
   */
  reportsNetwork?: boolean;
  /** The conditions under pressure now (PressureMonitor.observe); absent: never under pressure. */
  pressure?: () => ReadonlySet<PressureCondition>;
  /** Where the node's events go (Starting, NodeReady, NodeHasSufficientMemory…); none: not recorded. */
  recorder?: EventRecorder;
}

/** Upstream's event reason for each condition status the kubelet sets (nodestatus setters). */
const conditionEventReasons: Readonly<Record<string, { True: string; False: string }>> = {
  MemoryPressure: { True: 'NodeHasInsufficientMemory', False: 'NodeHasSufficientMemory' },
  DiskPressure: { True: 'NodeHasDiskPressure', False: 'NodeHasNoDiskPressure' },
  PIDPressure: { True: 'NodeHasInsufficientPID', False: 'NodeHasSufficientPID' },
  Ready: { True: 'NodeReady', False: 'NodeNotReady' },
};

/**
 * The events of a status post, as upstream's setters record them: one per condition whose status
 * differs from what the API showed before (absent counts as different: a new node gets them all).
 */
export function nodeStatusEvents(nodeName: string, before: readonly NodeCondition[] | undefined, after: readonly NodeCondition[]): KubeletEvent[] {
  const out: KubeletEvent[] = [];
  for (const c of after) {
    const reasons = conditionEventReasons[c.type];
    if (!reasons || (c.status !== 'True' && c.status !== 'False')) continue;
    if (before?.find(b => b.type === c.type)?.status === c.status) continue;
    out.push(kubeletEvents.nodeStatus(nodeName, reasons[c.status]));
  }
  return out;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Upstream's pressure conditions (kubelet nodestatus setters): status, reason and message. */
const pressureTexts: Readonly<Record<PressureCondition, readonly [ok: readonly [string, string], pressure: readonly [string, string]]>> = {
  MemoryPressure: [['KubeletHasSufficientMemory', 'kubelet has sufficient memory available'], ['KubeletHasInsufficientMemory', 'kubelet has insufficient memory available']],
  DiskPressure: [['KubeletHasNoDiskPressure', 'kubelet has no disk pressure'], ['KubeletHasDiskPressure', 'kubelet has disk pressure']],
  PIDPressure: [['KubeletHasSufficientPID', 'kubelet has sufficient PID available'], ['KubeletHasInsufficientPID', 'kubelet has insufficient PID available']],
};

/** `pressure`: the conditions the eviction signals put under pressure (agent/eviction.ts). */
export function nodeConditions(now: number, old: readonly NodeCondition[] = [], reportsNetwork = true, pressure: ReadonlySet<PressureCondition> = new Set()): NodeCondition[] {
  const c = (type: string, status: string, reason: string, message: string): NodeCondition => {
    const prev = old.find(x => x.type === type);
    return {
      type, status, reason, message, lastHeartbeatTime: iso(now),
      lastTransitionTime: prev?.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : iso(now),
    };
  };
  const p = (type: PressureCondition) => {
    const under = pressure.has(type);
    const [reason, message] = pressureTexts[type][under ? 1 : 0];
    return c(type, under ? 'True' : 'False', reason, message);
  };
  return [
    p('MemoryPressure'), p('DiskPressure'), p('PIDPressure'),
    ...(reportsNetwork ? [c('NetworkUnavailable', 'False', 'CNIConfigured', 'the pod network is configured')] : []),
    c('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
  ];
}

export function buildNodeStatus(f: NodeFacts, now: number, old?: NodeStatus, reportsNetwork = true, pressure?: ReadonlySet<PressureCondition>): NodeStatus {
  const capacity = {
    cpu: String(f.cpuCores),
    memory: `${Math.floor(f.memoryBytes / 1024)}Ki`,
    pods: String(f.maxPods),
    'ephemeral-storage': `${Math.floor(f.ephemeralStorageBytes / 1024)}Ki`,
  };
  // Upstream holds back the hard eviction thresholds of memory.available and nodefs.available
  // (100Mi and 10% by default); nothing for system daemons.
  const reserve = f.evictionReserve ?? { memoryBytes: 100 * 1024 ** 2, ephemeralStorageBytes: 0 };
  const allocatable = {
    ...capacity,
    memory: `${Math.max(0, Math.floor((f.memoryBytes - reserve.memoryBytes) / 1024))}Ki`,
    'ephemeral-storage': `${Math.max(0, Math.floor((f.ephemeralStorageBytes - reserve.ephemeralStorageBytes) / 1024))}Ki`,
  };
  return {
    addresses: [{ type: 'InternalIP', address: f.internalIP }, { type: 'Hostname', address: f.hostname }],
    capacity, allocatable,
    conditions: nodeConditions(now, old?.conditions, reportsNetwork, pressure),
    daemonEndpoints: { kubeletEndpoint: { Port: f.kubeletPort ?? 10250 } },
    nodeInfo: {
      machineID: f.machineID, systemUUID: f.machineID, bootID: f.bootID, kernelVersion: f.kernelVersion, osImage: f.osImage,
      containerRuntimeVersion: `containerd://${f.containerRuntimeVersion}`, kubeletVersion, kubeProxyVersion: kubeletVersion,
      operatingSystem: 'linux', architecture: f.architecture,
    },
  };
}

export function buildNode(cfg: NodeConfig, f: NodeFacts): Node {
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: {
      name: cfg.name,
      labels: {
        'kubernetes.io/hostname': cfg.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': f.architecture,
        'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': f.architecture, ...cfg.labels,
      },
    },
    spec: cfg.taints.length ? { taints: cfg.taints } : {},
  };
}

function readTrim(path: string): string {
  try { return readFileSync(path, 'utf8').trim(); } catch { return ''; }
}

export async function gatherFacts(opts: { hostname: string; internalIP: string; dataDir: string; runtimeVersion: string; maxPods: number }): Promise<NodeFacts> {
  const [cpu, mem, os, fs] = await Promise.all([si.cpu(), si.mem(), si.osInfo(), si.fsSize()]);
  const mounts = fs.filter(x => opts.dataDir.startsWith(x.mount)).sort((a, b) => b.mount.length - a.mount.length);
  return {
    hostname: opts.hostname, internalIP: opts.internalIP,
    cpuCores: cpu.cores, memoryBytes: mem.total, ephemeralStorageBytes: mounts[0]?.size ?? 0, maxPods: opts.maxPods,
    kernelVersion: os.kernel, osImage: `${os.distro} ${os.release}`.trim(), containerRuntimeVersion: opts.runtimeVersion,
    machineID: readTrim('/etc/machine-id'), bootID: readTrim('/proc/sys/kernel/random/boot_id'),
    architecture: process.arch === 'x64' ? 'amd64' : process.arch,
  };
}

const leases = resources.leases;

export class NodeRegistrar {
  private leaseTimer: ReturnType<typeof setInterval> | undefined;
  private statusTimer: ReturnType<typeof setInterval> | undefined;
  private lastStatus: NodeStatus | undefined;
  /** The conditions under pressure at the last reading of the eviction signals. */
  private pressure: ReadonlySet<PressureCondition> = new Set();
  /** The node's conditions as the API last showed them, for the events of the next post. */
  private seen: NodeCondition[] | undefined;

  constructor(private readonly client: ClusterClient, private readonly cfg: NodeConfig, private readonly facts: NodeFacts, private readonly log: Logger, private readonly now: () => number = Date.now) {}

  async register(): Promise<void> {
    this.recordEvent(kubeletEvents.starting());
    try {
      this.seen = (await this.client.create<Node>(resources.nodes, undefined, buildNode(this.cfg, this.facts))).status?.conditions;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const n = buildNode(this.cfg, this.facts);
      this.seen = (await this.client.patch<Node>(resources.nodes, undefined, this.cfg.name, 'merge', { metadata: { labels: n.metadata?.labels } })).status?.conditions;
    }
    await this.postStatus();
    await this.renewLease();
  }

  /**
   * Renews the Lease every `leaseMs`; posts the full status every `statusMs`, and sooner when the
   * API shows the node not Ready (the node lifecycle controller marked it Unknown while this
   * kubelet was away): checked every `leaseMs`, so a returning node is Ready again within seconds.
   */
  start(leaseMs = 10_000, statusMs = 60_000): void {
    this.leaseTimer = setInterval(() => { this.renewLease().catch(err => this.log.warn({ err: String(err) }, 'lease renewal failed')); }, leaseMs);
    let lastPost = this.now();
    this.statusTimer = setInterval(() => {
      void (async () => {
        const pressureChanged = this.pressureChanged();
        let due = pressureChanged || this.now() - lastPost >= statusMs;
        if (!due) {
          const node = await this.client.get<Node>(resources.nodes, undefined, this.cfg.name);
          this.seen = node.status?.conditions;
          due = node.status?.conditions?.find(c => c.type === 'Ready')?.status !== 'True';
        }
        if (!due) return;
        await this.postStatus();
        lastPost = this.now();
      })().catch(err => this.log.warn({ err: String(err) }, 'node status update failed'));
    }, leaseMs);
  }

  stop(): void {
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    if (this.statusTimer) clearInterval(this.statusTimer);
  }

  /**
   * Reads the eviction signals; true when a pressure condition differs from the one last posted,
   * so a change reaches the API within a lease period rather than the next full status post.
   */
  private pressureChanged(): boolean {
    if (!this.cfg.pressure) return false;
    this.pressure = this.cfg.pressure();
    const posted = this.lastStatus?.conditions ?? [];
    const changed = (['MemoryPressure', 'DiskPressure', 'PIDPressure'] as const).filter(t => (posted.find(c => c.type === t)?.status === 'True') !== this.pressure.has(t));
    if (changed.length) this.log.info({ conditions: changed.map(t => `${t}=${this.pressure.has(t) ? 'True' : 'False'}`) }, 'node pressure changed');
    return changed.length > 0;
  }

  async postStatus(): Promise<void> {
    if (!this.lastStatus) this.pressureChanged();
    const status = buildNodeStatus(this.facts, this.now(), this.lastStatus, this.cfg.reportsNetwork !== false, this.pressure);
    // Strategic: conditions merge by type, so those other writers own (the network plugin's
    // NetworkUnavailable) survive the kubelet's heartbeat.
    const posted = await this.client.patch<Node>(resources.nodes, undefined, this.cfg.name, 'strategic', { status }, { subresource: 'status' });
    for (const e of nodeStatusEvents(this.cfg.name, this.seen, status.conditions ?? [])) this.recordEvent(e);
    this.seen = posted?.status?.conditions ?? status.conditions;
    this.lastStatus = status;
  }

  private recordEvent(e: KubeletEvent): void {
    this.cfg.recorder?.event(nodeObject(this.cfg.name), e.type, e.reason, e.message);
  }

  async renewLease(): Promise<void> {
    const renewTime = new Date(this.now()).toISOString().replace('Z', '000Z');
    try {
      await this.client.patch(leases, 'kube-node-lease', this.cfg.name, 'merge', { spec: { holderIdentity: this.cfg.name, leaseDurationSeconds: 40, renewTime } });
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && (err as { code: unknown }).code === 404)) throw err;
      const node = await this.client.get(resources.nodes, undefined, this.cfg.name);
      await this.client.create(leases, 'kube-node-lease', {
        metadata: { name: this.cfg.name, namespace: 'kube-node-lease', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.cfg.name, uid: node.metadata!.uid! }] },
        spec: { holderIdentity: this.cfg.name, leaseDurationSeconds: 40, renewTime },
      } as never);
    }
  }
}

// The Node object and its Lease. `buildNode` is pure (facts in, object out); `NodeRegistrar` gathers
// the facts (systeminformation), registers the Node (create, or patch when it exists), then renews
// the Lease in kube-node-lease every 10 s and re-posts node status every minute, as upstream's
// node-lease controller and nodeStatusReportFrequency do.
import { readFileSync } from 'node:fs';
import type { Node, NodeCondition, NodeStatus, Taint } from 'kubernetes-types/core/v1.js';
import si from 'systeminformation';
import { isAlreadyExists } from '../api/client/rest.js';
import { resources, type ClusterClient } from '../api/client/types.js';
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
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function nodeConditions(now: number, old: readonly NodeCondition[] = [], reportsNetwork = true): NodeCondition[] {
  const c = (type: string, status: string, reason: string, message: string): NodeCondition => {
    const prev = old.find(x => x.type === type);
    return {
      type, status, reason, message, lastHeartbeatTime: iso(now),
      lastTransitionTime: prev?.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : iso(now),
    };
  };
  return [
    c('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    c('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    c('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    ...(reportsNetwork ? [c('NetworkUnavailable', 'False', 'CNIConfigured', 'the pod network is configured')] : []),
    c('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
  ];
}

export function buildNodeStatus(f: NodeFacts, now: number, old?: NodeStatus, reportsNetwork = true): NodeStatus {
  const capacity = {
    cpu: String(f.cpuCores),
    memory: `${Math.floor(f.memoryBytes / 1024)}Ki`,
    pods: String(f.maxPods),
    'ephemeral-storage': `${Math.floor(f.ephemeralStorageBytes / 1024)}Ki`,
  };
  // Upstream reserves 100Mi for eviction by default; nothing for system daemons.
  const allocatable = { ...capacity, memory: `${Math.max(0, Math.floor(f.memoryBytes / 1024) - 100 * 1024)}Ki` };
  return {
    addresses: [{ type: 'InternalIP', address: f.internalIP }, { type: 'Hostname', address: f.hostname }],
    capacity, allocatable,
    conditions: nodeConditions(now, old?.conditions, reportsNetwork),
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

  constructor(private readonly client: ClusterClient, private readonly cfg: NodeConfig, private readonly facts: NodeFacts, private readonly log: Logger, private readonly now: () => number = Date.now) {}

  async register(): Promise<void> {
    try {
      await this.client.create(resources.nodes, undefined, buildNode(this.cfg, this.facts));
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const n = buildNode(this.cfg, this.facts);
      await this.client.patch(resources.nodes, undefined, this.cfg.name, 'merge', { metadata: { labels: n.metadata?.labels } });
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
        let due = this.now() - lastPost >= statusMs;
        if (!due) {
          const node = await this.client.get<Node>(resources.nodes, undefined, this.cfg.name);
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

  async postStatus(): Promise<void> {
    const status = buildNodeStatus(this.facts, this.now(), this.lastStatus, this.cfg.reportsNetwork !== false);
    // Strategic: conditions merge by type, so those other writers own (the network plugin's
    // NetworkUnavailable) survive the kubelet's heartbeat.
    await this.client.patch(resources.nodes, undefined, this.cfg.name, 'strategic', { status }, { subresource: 'status' });
    this.lastStatus = status;
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

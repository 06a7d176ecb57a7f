// The resource metrics API (`metrics.k8s.io/v1beta1`: NodeMetrics and PodMetrics), which
// `kubectl top` and the HorizontalPodAutoscaler read. Upstream serves it from metrics-server, an
// aggregated apiserver that scrapes every kubelet's `/stats/summary`; k3s bundles it. k8ts serves
// the same API from the apiserver itself (one process less), from the same source.
//
// Design notes:
// - This module is pure: `ResourceMetrics` ingests summaries (as the scraper fetches them) and
//   answers with the API objects. The scraper (metrics-scraper.ts) does the HTTP.
// - CPU usage is a rate. Like metrics-server we compute it from two cumulative samples
//   (`usageCoreNanoSeconds`), so the window is the real interval between the scrapes; a kubelet's
//   own `usageNanoCores` is used only until a second sample exists.
// - A container restarted between two scrapes has a smaller cumulative counter; that pair is
//   skipped rather than reported as negative usage.
import { errors } from '../../api/errors.js';

/** The parts of the kubelet's Summary API (`/stats/summary`) the metrics API reads. */
export interface CpuStats { time?: string; usageNanoCores?: number; usageCoreNanoSeconds?: number }
export interface MemoryStats { time?: string; workingSetBytes?: number; usageBytes?: number }
export interface ContainerStats { name: string; startTime?: string; cpu?: CpuStats; memory?: MemoryStats }
export interface PodStats {
  podRef: { name: string; namespace: string; uid?: string };
  startTime?: string;
  containers?: ContainerStats[];
  cpu?: CpuStats;
  memory?: MemoryStats;
}
export interface Summary { node: { nodeName: string; cpu?: CpuStats; memory?: MemoryStats }; pods?: PodStats[] }

export const METRICS_GROUP = 'metrics.k8s.io';
export const METRICS_VERSION = 'v1beta1';
const API_VERSION = `${METRICS_GROUP}/${METRICS_VERSION}`;

export const metricsResources = [
  { group: METRICS_GROUP, version: METRICS_VERSION, resource: 'nodes', singularName: '', kind: 'NodeMetrics', namespaced: false, verbs: ['get', 'list'] },
  { group: METRICS_GROUP, version: METRICS_VERSION, resource: 'pods', singularName: '', kind: 'PodMetrics', namespaced: true, verbs: ['get', 'list'] },
] as const;

interface Usage { cpuNanoCores: number; memoryBytes: number }
interface Sample { timeMs: number; cumulativeNs?: number; instantNanoCores?: number; memoryBytes: number }
interface Point { usage: Usage; timestampMs: number; windowMs: number }

/** The usage between two samples of one counter, or undefined when it cannot be told yet. */
function usageBetween(prev: Sample | undefined, cur: Sample): Point | undefined {
  if (prev?.cumulativeNs !== undefined && cur.cumulativeNs !== undefined && cur.timeMs > prev.timeMs && cur.cumulativeNs >= prev.cumulativeNs) {
    const windowMs = cur.timeMs - prev.timeMs;
    return { usage: { cpuNanoCores: Math.round(((cur.cumulativeNs - prev.cumulativeNs) * 1000) / windowMs), memoryBytes: cur.memoryBytes }, timestampMs: cur.timeMs, windowMs };
  }
  if (cur.instantNanoCores !== undefined) {
    return { usage: { cpuNanoCores: cur.instantNanoCores, memoryBytes: cur.memoryBytes }, timestampMs: cur.timeMs, windowMs: prev ? cur.timeMs - prev.timeMs : 0 };
  }
  return undefined;
}

function sampleOf(cpu: CpuStats | undefined, memory: MemoryStats | undefined, fallbackMs: number): Sample | undefined {
  if (!cpu) return undefined;
  const t = Date.parse(cpu.time ?? '');
  return {
    timeMs: Number.isFinite(t) ? t : fallbackMs,
    ...(cpu.usageCoreNanoSeconds !== undefined ? { cumulativeNs: cpu.usageCoreNanoSeconds } : {}),
    ...(cpu.usageNanoCores !== undefined ? { instantNanoCores: cpu.usageNanoCores } : {}),
    memoryBytes: memory?.workingSetBytes ?? memory?.usageBytes ?? 0,
  };
}

interface PodEntry { namespace: string; name: string; containers: Map<string, Point>; timestampMs: number; windowMs: number }

/** Quantities as metrics-server prints them: CPU in nanocores, memory in KiB. */
export const cpuQuantity = (nanoCores: number): string => `${Math.max(0, Math.round(nanoCores))}n`;
export const memoryQuantity = (bytes: number): string => `${Math.round(Math.max(0, bytes) / 1024)}Ki`;

/** A Go `time.Duration` string for the window, as metrics-server writes it (`15.021s`). */
function durationString(ms: number): string {
  return `${(ms / 1000).toFixed(3).replace(/\.?0+$/, '')}s`;
}

export interface Labelled { name: string; namespace?: string; labels?: Record<string, string> }

export class ResourceMetrics {
  private readonly lastNodeSample = new Map<string, Sample>();
  private readonly lastContainerSample = new Map<string, Sample>();
  private readonly nodes = new Map<string, Point>();
  /** Pods by node, so a node's new summary replaces exactly what it reported before. */
  private readonly podsByNode = new Map<string, Map<string, PodEntry>>();

  /** Takes one node's summary; `nowMs` stands in for missing sample times. */
  ingest(summary: Summary, nowMs: number): void {
    const nodeName = summary.node.nodeName;
    const nodeSample = sampleOf(summary.node.cpu, summary.node.memory, nowMs);
    if (nodeSample) {
      const p = usageBetween(this.lastNodeSample.get(nodeName), nodeSample);
      if (p) this.nodes.set(nodeName, p);
      this.lastNodeSample.set(nodeName, nodeSample);
    }
    const pods = new Map<string, PodEntry>();
    const seen = new Set<string>();
    for (const pod of summary.pods ?? []) {
      const { namespace, name, uid } = pod.podRef;
      const entry: PodEntry = { namespace, name, containers: new Map(), timestampMs: 0, windowMs: 0 };
      for (const c of pod.containers ?? []) {
        const key = `${namespace}/${name}/${uid ?? ''}/${c.name}`;
        seen.add(key);
        const s = sampleOf(c.cpu, c.memory, nowMs);
        if (!s) continue;
        const p = usageBetween(this.lastContainerSample.get(key), s);
        this.lastContainerSample.set(key, s);
        if (!p) continue;
        entry.containers.set(c.name, p);
        entry.timestampMs = Math.max(entry.timestampMs, p.timestampMs);
        entry.windowMs = Math.max(entry.windowMs, p.windowMs);
      }
      // metrics-server leaves out a pod until every container has a metric: a partial sum would
      // read as low usage and make the HPA scale down.
      if (entry.containers.size > 0 && entry.containers.size === (pod.containers?.length ?? 0)) pods.set(`${namespace}/${name}`, entry);
    }
    for (const key of [...this.lastContainerSample.keys()]) {
      if (!seen.has(key) && this.ownedBy(key, summary)) this.lastContainerSample.delete(key);
    }
    this.podsByNode.set(nodeName, pods);
  }

  /** Forgets a node (deleted, or unreachable for long): its metrics must not linger. */
  forgetNode(nodeName: string): void {
    this.nodes.delete(nodeName);
    this.lastNodeSample.delete(nodeName);
    for (const e of this.podsByNode.get(nodeName)?.values() ?? []) {
      for (const key of [...this.lastContainerSample.keys()]) if (key.startsWith(`${e.namespace}/${e.name}/`)) this.lastContainerSample.delete(key);
    }
    this.podsByNode.delete(nodeName);
  }

  knownNodes(): string[] {
    return [...this.podsByNode.keys()];
  }

  private ownedBy(key: string, summary: Summary): boolean {
    const before = this.podsByNode.get(summary.node.nodeName);
    if (!before) return false;
    for (const e of before.values()) if (key.startsWith(`${e.namespace}/${e.name}/`)) return true;
    return false;
  }

  nodeMetrics(node: Labelled): object | undefined {
    const p = this.nodes.get(node.name);
    if (!p) return undefined;
    return {
      kind: 'NodeMetrics', apiVersion: API_VERSION,
      metadata: { name: node.name, creationTimestamp: new Date(p.timestampMs).toISOString(), ...(node.labels ? { labels: node.labels } : {}) },
      timestamp: new Date(p.timestampMs).toISOString(),
      window: durationString(p.windowMs),
      usage: { cpu: cpuQuantity(p.usage.cpuNanoCores), memory: memoryQuantity(p.usage.memoryBytes) },
    };
  }

  podMetrics(pod: Labelled): object | undefined {
    let entry: PodEntry | undefined;
    for (const pods of this.podsByNode.values()) {
      entry = pods.get(`${pod.namespace ?? ''}/${pod.name}`);
      if (entry) break;
    }
    if (!entry) return undefined;
    return {
      kind: 'PodMetrics', apiVersion: API_VERSION,
      metadata: { name: pod.name, namespace: pod.namespace, creationTimestamp: new Date(entry.timestampMs).toISOString(), ...(pod.labels ? { labels: pod.labels } : {}) },
      timestamp: new Date(entry.timestampMs).toISOString(),
      window: durationString(entry.windowMs),
      containers: [...entry.containers].map(([name, p]) => ({ name, usage: { cpu: cpuQuantity(p.usage.cpuNanoCores), memory: memoryQuantity(p.usage.memoryBytes) } })),
    };
  }

  /** The list kind for `objects`, which the caller already filtered by namespace and selector. */
  list(kind: 'NodeMetrics' | 'PodMetrics', objects: readonly Labelled[]): object {
    const items = objects.map(o => (kind === 'NodeMetrics' ? this.nodeMetrics(o) : this.podMetrics(o))).filter((x): x is object => x !== undefined);
    return { kind: `${kind}List`, apiVersion: API_VERSION, metadata: {}, items };
  }

  /** The single object, or upstream's 404. */
  get(kind: 'NodeMetrics' | 'PodMetrics', object: Labelled | undefined, name: string): object {
    const found = object && (kind === 'NodeMetrics' ? this.nodeMetrics(object) : this.podMetrics(object));
    if (!found) throw errors.notFound(kind === 'NodeMetrics' ? 'nodes' : 'pods', METRICS_GROUP, name);
    return found;
  }
}

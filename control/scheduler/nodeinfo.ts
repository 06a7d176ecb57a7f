// What the scheduler knows about each node: its allocatable resources, what the pods bound (or
// assumed bound) to it request, the host ports they use and how many pods of each controller it
// runs. Pod requests are parsed once per pod into `PodInfo`, because at 1 000 nodes the filters
// run hundreds of thousands of times per second and must not touch quantity strings.
import type { Node, Pod, Container } from 'kubernetes-types/core/v1.js';
import { toMillis, toUnits, tryParseQuantity } from '../../api/quantity.js';

export interface Resources {
  milliCPU: number;
  memory: number;
  ephemeralStorage: number;
  pods: number;
  scalar: Record<string, number>;
}

export const emptyResources = (): Resources => ({ milliCPU: 0, memory: 0, ephemeralStorage: 0, pods: 0, scalar: {} });

/** Upstream's defaults for pods that request nothing, used only for scoring (not for fit). */
export const defaultMilliCPURequest = 100;
export const defaultMemoryRequest = 200 * 1024 * 1024;

export interface HostPort { protocol: string; hostIP: string; port: number }

export interface PodInfo {
  pod: Pod;
  key: string;
  requests: Resources; // without pods: 1
  nonZeroCPU: number;
  nonZeroMemory: number;
  hostPorts: HostPort[];
  controllerUid: string | undefined;
}

function addList(into: Resources, list: Record<string, unknown> | undefined): void {
  if (!list) return;
  for (const [name, v] of Object.entries(list)) {
    const q = tryParseQuantity(v as string);
    if (!q) continue;
    switch (name) {
      case 'cpu': into.milliCPU += toMillis(q); break;
      case 'memory': into.memory += toUnits(q); break;
      case 'ephemeral-storage': into.ephemeralStorage += toUnits(q); break;
      case 'pods': into.pods += toUnits(q); break;
      default: into.scalar[name] = (into.scalar[name] ?? 0) + toUnits(q);
    }
  }
}

function maxInto(into: Resources, r: Resources): void {
  into.milliCPU = Math.max(into.milliCPU, r.milliCPU);
  into.memory = Math.max(into.memory, r.memory);
  into.ephemeralStorage = Math.max(into.ephemeralStorage, r.ephemeralStorage);
  for (const [k, v] of Object.entries(r.scalar)) into.scalar[k] = Math.max(into.scalar[k] ?? 0, v);
}

function containerRequests(c: Container): Resources {
  const r = emptyResources();
  // Requests default to limits when only limits are set (API defaulting does this too).
  addList(r, (c.resources?.requests ?? c.resources?.limits) as Record<string, unknown> | undefined);
  return r;
}

/** Effective requests as upstream computes them: max(sum(containers), each init container) + overhead. */
export function podRequests(pod: Pod): Resources {
  const sum = emptyResources();
  for (const c of pod.spec?.containers ?? []) {
    const r = containerRequests(c);
    sum.milliCPU += r.milliCPU; sum.memory += r.memory; sum.ephemeralStorage += r.ephemeralStorage;
    for (const [k, v] of Object.entries(r.scalar)) sum.scalar[k] = (sum.scalar[k] ?? 0) + v;
  }
  for (const c of pod.spec?.initContainers ?? []) maxInto(sum, containerRequests(c));
  addList(sum, pod.spec?.overhead as Record<string, unknown> | undefined);
  return sum;
}

export function podKey(pod: Pod): string {
  return `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
}

export function newPodInfo(pod: Pod): PodInfo {
  const requests = podRequests(pod);
  const cpuSet = (pod.spec?.containers ?? []).some(c => (c.resources?.requests ?? c.resources?.limits)?.cpu !== undefined);
  const memSet = (pod.spec?.containers ?? []).some(c => (c.resources?.requests ?? c.resources?.limits)?.memory !== undefined);
  const hostPorts: HostPort[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (p.hostPort) hostPorts.push({ protocol: p.protocol ?? 'TCP', hostIP: p.hostIP || '0.0.0.0', port: p.hostPort });
    }
  }
  const ref = pod.metadata?.ownerReferences?.find(r => r.controller);
  return {
    pod, key: podKey(pod), requests,
    nonZeroCPU: cpuSet ? requests.milliCPU : defaultMilliCPURequest,
    nonZeroMemory: memSet ? requests.memory : defaultMemoryRequest,
    hostPorts, controllerUid: ref?.uid,
  };
}

export class NodeInfo {
  allocatable: Resources = emptyResources();
  requested: Resources = emptyResources();
  nonZeroCPU = 0;
  nonZeroMemory = 0;
  readonly pods = new Map<string, PodInfo>();
  readonly usedPorts = new Map<string, number>(); // `${protocol}/${port}/${hostIP}` → count
  readonly byController = new Map<string, number>();
  /** Pods here with required pod anti-affinity, so the symmetric check can be skipped when none. */
  antiAffinityPods = 0;

  constructor(public node: Node) { this.setNode(node); }

  get name(): string { return this.node.metadata?.name ?? ''; }

  setNode(node: Node): void {
    this.node = node;
    const a = emptyResources();
    addList(a, node.status?.allocatable as Record<string, unknown> | undefined ?? node.status?.capacity as Record<string, unknown> | undefined);
    this.allocatable = a;
  }

  addPod(pi: PodInfo): void {
    if (this.pods.has(pi.key)) this.removePod(pi.key);
    this.pods.set(pi.key, pi);
    this.shift(pi, 1);
  }

  removePod(key: string): PodInfo | undefined {
    const pi = this.pods.get(key);
    if (!pi) return undefined;
    this.pods.delete(key);
    this.shift(pi, -1);
    return pi;
  }

  private shift(pi: PodInfo, sign: 1 | -1): void {
    const r = this.requested;
    r.milliCPU += sign * pi.requests.milliCPU;
    r.memory += sign * pi.requests.memory;
    r.ephemeralStorage += sign * pi.requests.ephemeralStorage;
    r.pods += sign;
    for (const [k, v] of Object.entries(pi.requests.scalar)) r.scalar[k] = (r.scalar[k] ?? 0) + sign * v;
    this.nonZeroCPU += sign * pi.nonZeroCPU;
    this.nonZeroMemory += sign * pi.nonZeroMemory;
    for (const hp of pi.hostPorts) {
      const k = `${hp.protocol}/${hp.port}/${hp.hostIP}`;
      const n = (this.usedPorts.get(k) ?? 0) + sign;
      if (n > 0) this.usedPorts.set(k, n); else this.usedPorts.delete(k);
    }
    if (pi.pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.length) this.antiAffinityPods += sign;
    if (pi.controllerUid) {
      const n = (this.byController.get(pi.controllerUid) ?? 0) + sign;
      if (n > 0) this.byController.set(pi.controllerUid, n); else this.byController.delete(pi.controllerUid);
    }
  }
}

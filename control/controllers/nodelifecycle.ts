// Node lifecycle, as upstream's node lifecycle controller plus its taint-eviction controller.
// - Health: every `monitorPeriodMs` (5 s) each node's last heartbeat is the later of its Lease's
//   renewTime (kube-node-lease/<node>) and its Ready condition's lastHeartbeatTime; as upstream we
//   time it on our own clock (the moment we saw it change), so skew between machines does not
//   matter. When nothing changed for `gracePeriodMs` (40 s, kube-controller-manager's
//   --node-monitor-grace-period) the Ready, MemoryPressure, DiskPressure and PIDPressure conditions
//   become Unknown ("Kubelet stopped posting node status.") and the node's pods Ready=False.
// - Taints follow the Ready condition: False → `node.kubernetes.io/not-ready`, Unknown →
//   `node.kubernetes.io/unreachable`, each with NoSchedule (the scheduler keeps away) and NoExecute
//   (timeAdded set); True removes them. The kubelet sets Ready back when it returns. As upstream's
//   taint-by-condition, MemoryPressure, DiskPressure and PIDPressure True add
//   `node.kubernetes.io/{memory,disk,pid}-pressure:NoSchedule` (new pods keep away; running ones stay).
// - Eviction: a pod on a node with NoExecute taints it does not tolerate is deleted at once; one
//   that tolerates them for tolerationSeconds (the admission default is 300 s for both taints) is
//   deleted when the shortest of those runs out, counted from the taint's timeAdded; a toleration
//   without tolerationSeconds keeps the pod forever. The pod first gets the DisruptionTarget
//   condition (reason DeletionByTaintManager) as upstream. Its controller then makes a replacement
//   on a healthy node (the old pod stays Terminating until its kubelet or the node comes back).
// The decisions are pure (`nodeHealth`, `desiredTaints`, `evictionDelayMs`); the shell applies them.
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { Node, NodeCondition, Pod, Taint } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { isNotFound } from '../../api/client/rest.js';
import { resources } from '../../api/client/types.js';
import type { Informer } from '../../api/client/informer.js';
import { rfc3339, type ControllerContext } from './context.js';
import { Controller } from './runtime.js';

export const taintNotReady = 'node.kubernetes.io/not-ready';
export const taintUnreachable = 'node.kubernetes.io/unreachable';
const ourTaints = new Set([taintNotReady, taintUnreachable]);
/** Upstream's nodeConditionToTaintKeyStatusMap for the pressure conditions (TaintNodesByCondition). */
export const pressureTaints: Readonly<Record<string, string>> = {
  MemoryPressure: 'node.kubernetes.io/memory-pressure', DiskPressure: 'node.kubernetes.io/disk-pressure', PIDPressure: 'node.kubernetes.io/pid-pressure',
};
const pressureTaintKeys = new Set(Object.values(pressureTaints));
/** Taints this controller owns: Ready's with NoSchedule and NoExecute, the pressure ones with NoSchedule. */
const isOurs = (t: Taint) => (ourTaints.has(t.key) && (t.effect === 'NoSchedule' || t.effect === 'NoExecute')) || (pressureTaintKeys.has(t.key) && t.effect === 'NoSchedule');
const watchedConditions = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'];

export interface NodeLifecycleOptions {
  /** --node-monitor-grace-period (default 40 s). */
  gracePeriodMs?: number;
  /** --node-monitor-period (default 5 s). */
  monitorPeriodMs?: number;
}

/** What we last saw of a node's heartbeats, and when (on our clock) we saw them change. */
export interface Observed { heartbeat: string; renew: string; probeMs: number }

const readyOf = (n: Node) => n.status?.conditions?.find(c => c.type === 'Ready');

/** Pure: the observation after looking at the node and its lease at `nowMs`. */
export function observe(prev: Observed | undefined, node: Node, lease: Lease | undefined, nowMs: number): Observed {
  const heartbeat = readyOf(node)?.lastHeartbeatTime ?? '';
  const renew = lease?.spec?.renewTime ?? '';
  if (!prev || prev.heartbeat !== heartbeat || prev.renew !== renew) return { heartbeat, renew, probeMs: nowMs };
  return prev;
}

/**
 * Pure: the node's conditions once its grace period has run out, or undefined when they stay.
 * Conditions already Unknown keep their transition time.
 */
export function nodeHealth(node: Node, obs: Observed, nowMs: number, gracePeriodMs: number): NodeCondition[] | undefined {
  if (nowMs - obs.probeMs <= gracePeriodMs) return undefined;
  const now = rfc3339(nowMs);
  const conds = [...(node.status?.conditions ?? [])];
  let changed = false;
  for (const type of watchedConditions) {
    const i = conds.findIndex(c => c.type === type);
    const have = i >= 0 ? conds[i] : undefined;
    if (have?.status === 'Unknown') continue;
    const next: NodeCondition = have
      ? { ...have, status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: now }
      : { type, status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.', lastHeartbeatTime: node.metadata?.creationTimestamp ?? now, lastTransitionTime: now };
    if (i >= 0) conds[i] = next; else conds.push(next);
    changed = true;
  }
  return changed ? conds : undefined;
}

/**
 * Pure: the node's taints with ours set from its Ready and pressure conditions, or undefined when
 * nothing changes. Taints of others are kept as they are; an existing NoExecute taint keeps its
 * timeAdded.
 */
export function desiredTaints(node: Node, nowMs: number): Taint[] | undefined {
  const ready = readyOf(node)?.status;
  const key = ready === 'False' ? taintNotReady : ready === 'Unknown' ? taintUnreachable : undefined;
  const have = node.spec?.taints ?? [];
  const others = have.filter(t => !isOurs(t));
  const want: Taint[] = [];
  if (key) {
    want.push({ key, effect: 'NoSchedule' });
    const ne = have.find(t => t.key === key && t.effect === 'NoExecute');
    want.push({ key, effect: 'NoExecute', timeAdded: ne?.timeAdded ?? rfc3339(nowMs) });
  }
  for (const [type, taintKey] of Object.entries(pressureTaints)) {
    if (node.status?.conditions?.some(c => c.type === type && c.status === 'True')) want.push({ key: taintKey, effect: 'NoSchedule' });
  }
  const mine = have.filter(t => !others.includes(t));
  const same = mine.length === want.length && want.every(w => mine.some(m => m.key === w.key && m.effect === w.effect));
  return same ? undefined : [...others, ...want];
}

function tolerates(tol: NonNullable<NonNullable<Pod['spec']>['tolerations']>[number], taint: Taint): boolean {
  if (tol.effect && tol.effect !== taint.effect) return false;
  if (!tol.key) return tol.operator === 'Exists';
  if (tol.key !== taint.key) return false;
  return tol.operator === 'Exists' || (tol.value ?? '') === (taint.value ?? '');
}

/**
 * Pure: ms until the pod must be evicted from a node with these taints (0 = now), or undefined
 * when it may stay, as upstream's getMinTolerationTime over the NoExecute taints.
 */
export function evictionDelayMs(pod: Pod, taints: readonly Taint[], nowMs: number): number | undefined {
  const noExecute = taints.filter(t => t.effect === 'NoExecute');
  if (!noExecute.length) return undefined;
  let min: number | undefined;
  for (const taint of noExecute) {
    const tols = (pod.spec?.tolerations ?? []).filter(t => tolerates(t, taint));
    if (!tols.length) return 0;
    const finite = tols.filter(t => t.tolerationSeconds !== undefined && t.tolerationSeconds !== null);
    if (finite.length < tols.length) continue; // some toleration keeps it forever for this taint
    const secs = Math.min(...finite.map(t => Math.max(0, t.tolerationSeconds!)));
    const added = taint.timeAdded ? Date.parse(taint.timeAdded) : nowMs;
    const left = added + secs * 1000 - nowMs;
    min = Math.min(min ?? Infinity, Math.max(0, left));
  }
  return min;
}

export class NodeLifecycleController {
  /** Keyed by node name: taints and evictions. */
  readonly controller: Controller;
  private readonly nodes: Informer<Node>;
  private readonly leases: Informer<Lease>;
  private readonly pods: Informer<Pod>;
  private readonly observed = new Map<string, Observed>();
  private monitorTimer: unknown;
  private stopped = false;
  private readonly gracePeriodMs: number;
  private readonly monitorPeriodMs: number;

  constructor(private readonly ctx: ControllerContext, opts: NodeLifecycleOptions = {}) {
    this.gracePeriodMs = opts.gracePeriodMs ?? 40_000;
    this.monitorPeriodMs = opts.monitorPeriodMs ?? 5_000;
    this.nodes = ctx.informers.for<Node>(resources.nodes);
    this.leases = ctx.informers.for<Lease>(resources.leases);
    this.pods = ctx.informers.for<Pod>(resources.pods);
    this.controller = new Controller({ name: 'NodeLifecycle', workers: ctx.workers ?? 2, clock: ctx.clock, logger: ctx.logger, resyncMs: 30_000, resyncKeys: () => this.nodes.keys() }, key => this.sync(key));
    this.nodes.on({ add: n => this.controller.enqueueObject(n), update: (_, n) => this.controller.enqueueObject(n), delete: n => this.observed.delete(n.metadata?.name ?? '') });
    // A pod landing on a tainted node (bound before the taint was seen) is looked at too.
    this.pods.on({ add: p => this.onPod(p), update: (_, p) => this.onPod(p) });
  }

  private onPod(p: Pod): void {
    const n = p.spec?.nodeName ? this.nodes.getBy(undefined, p.spec.nodeName) : undefined;
    if (n?.spec?.taints?.some(t => t.effect === 'NoExecute')) this.controller.enqueue(n.metadata?.name ?? '');
  }

  start(): void {
    this.controller.start();
    this.scheduleMonitor();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.monitorTimer !== undefined) this.ctx.clock.clearTimeout(this.monitorTimer);
    await this.controller.stop();
  }

  private scheduleMonitor(): void {
    if (this.stopped) return;
    this.monitorTimer = this.ctx.clock.setTimeout(() => {
      this.monitor().catch((err: unknown) => this.ctx.logger.warn({ err }, `node health check failed: ${(err as Error).message}`)).finally(() => this.scheduleMonitor());
    }, this.monitorPeriodMs);
  }

  /** One pass of upstream's monitorNodeHealth. */
  async monitor(): Promise<void> {
    const now = this.ctx.clock.now();
    for (const node of this.nodes.list()) {
      const name = node.metadata?.name ?? '';
      const obs = observe(this.observed.get(name), node, this.leases.getBy('kube-node-lease', name), now);
      this.observed.set(name, obs);
      const conds = nodeHealth(node, obs, now, this.gracePeriodMs);
      if (!conds) continue;
      const wasReady = readyOf(node)?.status === 'True';
      try {
        await this.ctx.client.update(resources.nodes, { ...node, status: { ...(node.status ?? {}), conditions: conds } } as KubeObject, { subresource: 'status' });
      } catch (err) {
        if (isNotFound(err)) continue;
        throw err;
      }
      this.ctx.recorder.event({ ...node, apiVersion: 'v1', kind: 'Node' } as KubeObject, 'Normal', 'NodeNotReady', `Node ${name} status is now: NodeNotReady`);
      if (wasReady) await this.markPodsNotReady(name);
    }
  }

  /** Upstream's MarkPodsNotReady: the pods of an unreachable node stop being Ready (and leave Services). */
  private async markPodsNotReady(node: string): Promise<void> {
    const now = rfc3339(this.ctx.clock.now());
    for (const p of this.pods.list()) {
      if (p.spec?.nodeName !== node) continue;
      const ready = p.status?.conditions?.find(c => c.type === 'Ready');
      if (!ready || ready.status === 'False') continue;
      try {
        await this.ctx.client.patch(resources.pods, p.metadata?.namespace, p.metadata?.name ?? '', 'strategic', { status: { conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: now }] } }, { subresource: 'status' });
        this.ctx.recorder.event({ ...p, apiVersion: 'v1', kind: 'Pod' } as KubeObject, 'Warning', 'NodeNotReady', 'Node is not ready');
      } catch (err) { if (!isNotFound(err)) throw err; }
    }
  }

  /** Taints from the Ready condition, then eviction of pods that no longer tolerate them. */
  async sync(name: string): Promise<void> {
    const node = this.nodes.getBy(undefined, name);
    if (!node) return;
    const now = this.ctx.clock.now();
    let taints = node.spec?.taints ?? [];
    const want = desiredTaints(node, now);
    if (want) {
      await this.ctx.client.patch(resources.nodes, undefined, name, 'merge', { metadata: { resourceVersion: node.metadata?.resourceVersion }, spec: { taints: want } });
      taints = want;
    }
    if (!taints.some(t => t.effect === 'NoExecute')) return;
    let soonest: number | undefined;
    for (const p of this.pods.list()) {
      if (p.spec?.nodeName !== name || p.metadata?.deletionTimestamp) continue;
      if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
      const delay = evictionDelayMs(p, taints, now);
      if (delay === undefined) continue;
      if (delay > 0) { soonest = Math.min(soonest ?? Infinity, delay); continue; }
      await this.evict(p);
    }
    if (soonest !== undefined) this.controller.enqueueAfter(name, soonest + 10);
  }

  private async evict(p: Pod): Promise<void> {
    const ns = p.metadata?.namespace ?? 'default';
    const name = p.metadata?.name ?? '';
    const c = this.ctx.client;
    try {
      await c.patch(resources.pods, ns, name, 'strategic', { status: { conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByTaintManager', message: 'Taint manager: deleting due to NoExecute taint', lastTransitionTime: rfc3339(this.ctx.clock.now()) }] } }, { subresource: 'status' });
      this.ctx.recorder.event({ ...p, apiVersion: 'v1', kind: 'Pod' } as KubeObject, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${ns}/${name}`);
      await c.delete(resources.pods, ns, name, { preconditions: { uid: p.metadata?.uid ?? '' } });
    } catch (err) { if (!isNotFound(err)) throw err; }
  }
}

// Pod garbage collection, as upstream's PodGC controller (pkg/controller/podgc), for the pods no
// kubelet will ever finish:
// - orphaned pods: bound to a node that no longer exists (a node removed from the cluster). Like
//   upstream, a node missing from the cache is quarantined first (40 s) and then confirmed gone
//   with a GET, so a cache a step behind or a node re-registering never costs pods. An unfinished
//   pod gets phase Failed and the DisruptionTarget condition (reason DeletionByPodGC), then the pod
//   is force-deleted (grace period 0): there is no kubelet left to confirm its containers stopped.
// - unscheduled terminating pods: deleted while bound to no node; force-deleted.
// - terminated pods (Succeeded or Failed) above --terminated-pod-gc-threshold (12 500; 0 disables):
//   the excess is force-deleted, evicted pods first, then the oldest (creationTimestamp, then
//   name), as upstream's gcTerminated, so Jobs' recent pods outlive old evictions.
// `planPodGC` and `planTerminatedPodGC` are pure; the shell runs them every `periodMs` (upstream's
// gcCheckPeriod, 20 s).
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { isNotFound } from '../../api/client/rest.js';
import { resources } from '../../api/client/types.js';
import type { Informer } from '../../api/client/informer.js';
import { rfc3339, type ControllerContext } from './context.js';

export interface PodGCOptions {
  /** How often a pass runs (default 20 s). */
  periodMs?: number;
  /** How long a node must be missing from the cache before it is checked (default 40 s). */
  quarantineMs?: number;
  /** --terminated-pod-gc-threshold: terminated pods kept (default 12 500; 0 or less disables). */
  terminatedPodThreshold?: number;
}

export const DEFAULT_TERMINATED_POD_THRESHOLD = 12_500;

const isTerminated = (p: Pod) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
/** The kubelet's eviction.PodIsEvicted. */
const isEvicted = (p: Pod) => p.status?.phase === 'Failed' && p.status.reason === 'Evicted';

/** Pure: the terminated pods to delete so that at most `threshold` remain, in deletion order. */
export function planTerminatedPodGC(pods: readonly Pod[], threshold: number): Pod[] {
  if (threshold <= 0) return [];
  const terminated = pods.filter(isTerminated);
  const excess = terminated.length - threshold;
  if (excess <= 0) return [];
  const created = (p: Pod) => Date.parse(p.metadata?.creationTimestamp ?? '') || 0;
  return terminated.sort((a, b) => {
    if (isEvicted(a) !== isEvicted(b)) return isEvicted(a) ? -1 : 1;
    return created(a) - created(b) || (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');
  }).slice(0, excess);
}

export interface PodGCPlan {
  /** Node name → when it was first seen missing (our clock). */
  missingSince: Map<string, number>;
  /** Missing nodes past their quarantine: confirm with the API, then collect their pods. */
  confirm: string[];
  /** Pods deleted while bound to no node. */
  unscheduledTerminating: Pod[];
}

/** Pure: one PodGC pass over the cached pods and node names. */
export function planPodGC(pods: readonly Pod[], nodeNames: ReadonlySet<string>, prevMissing: ReadonlyMap<string, number>, nowMs: number, quarantineMs: number): PodGCPlan {
  const missingSince = new Map<string, number>();
  const unscheduledTerminating: Pod[] = [];
  for (const p of pods) {
    const node = p.spec?.nodeName;
    if (!node) {
      if (p.metadata?.deletionTimestamp) unscheduledTerminating.push(p);
      continue;
    }
    if (!nodeNames.has(node) && !missingSince.has(node)) missingSince.set(node, prevMissing.get(node) ?? nowMs);
  }
  const confirm = [...missingSince].filter(([, since]) => nowMs - since >= quarantineMs).map(([n]) => n);
  return { missingSince, confirm, unscheduledTerminating };
}

export class PodGCController {
  private readonly pods: Informer<Pod>;
  private readonly nodes: Informer<Node>;
  private missingSince = new Map<string, number>();
  private timer: unknown;
  private stopped = false;
  private readonly periodMs: number;
  private readonly quarantineMs: number;
  private readonly terminatedPodThreshold: number;

  constructor(private readonly ctx: ControllerContext, opts: PodGCOptions = {}) {
    this.periodMs = opts.periodMs ?? 20_000;
    this.quarantineMs = opts.quarantineMs ?? 40_000;
    this.terminatedPodThreshold = opts.terminatedPodThreshold ?? DEFAULT_TERMINATED_POD_THRESHOLD;
    this.pods = ctx.informers.for<Pod>(resources.pods);
    this.nodes = ctx.informers.for<Node>(resources.nodes);
  }

  start(): void { this.schedule(); }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.ctx.clock.clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.ctx.clock.setTimeout(() => {
      this.gc().catch((err: unknown) => this.ctx.logger.warn({ err }, `pod GC failed: ${(err as Error).message}`)).finally(() => this.schedule());
    }, this.periodMs);
  }

  /** One pass. */
  async gc(): Promise<void> {
    const pods = this.pods.list();
    const terminated = planTerminatedPodGC(pods, this.terminatedPodThreshold);
    if (terminated.length > 0) {
      this.ctx.logger.info({ pods: terminated.length, threshold: this.terminatedPodThreshold }, `PodGC: deleting ${terminated.length} terminated pods above the threshold of ${this.terminatedPodThreshold}`);
      const message = `PodGC: more than ${this.terminatedPodThreshold} terminated pods (--terminated-pod-gc-threshold)`;
      // A few deletions at a time, as upstream's goroutine per pod, without flooding the apiserver.
      for (let i = 0; i < terminated.length; i += 16) {
        await Promise.all(terminated.slice(i, i + 16).map(p => this.collect(p, undefined, message)));
      }
    }
    const nodeNames = new Set(this.nodes.list().map(n => n.metadata?.name ?? ''));
    const plan = planPodGC(pods, nodeNames, this.missingSince, this.ctx.clock.now(), this.quarantineMs);
    this.missingSince = plan.missingSince;
    for (const node of plan.confirm) {
      try {
        await this.ctx.client.get(resources.nodes, undefined, node);
        this.missingSince.delete(node); // back (the cache was behind): quarantine again if it goes
        continue;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      for (const p of pods) if (p.spec?.nodeName === node) await this.collect(p, `PodGC: node ${node} no longer exists`);
      this.missingSince.delete(node);
    }
    for (const p of plan.unscheduledTerminating) await this.collect(p);
  }

  /** Force-deletes a pod, first marking an unfinished one as upstream does when a node is gone. */
  private async collect(p: Pod, reason?: string, message?: string): Promise<void> {
    const ns = p.metadata?.namespace ?? 'default';
    const name = p.metadata?.name ?? '';
    const c = this.ctx.client;
    try {
      if (reason && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed') {
        await c.patch(resources.pods, ns, name, 'strategic', {
          status: { phase: 'Failed', conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByPodGC', message: reason, lastTransitionTime: rfc3339(this.ctx.clock.now()) }] },
        }, { subresource: 'status' });
      }
      await c.delete(resources.pods, ns, name, { gracePeriodSeconds: 0, preconditions: { uid: p.metadata?.uid ?? '' } });
      this.ctx.logger.info({ pod: `${ns}/${name}`, node: p.spec?.nodeName }, `PodGC: force-deleted pod ${ns}/${name}`);
      this.ctx.recorder.event({ ...p, apiVersion: 'v1', kind: 'Pod' } as KubeObject, 'Normal', 'PodGCForceDeleted', reason ?? message ?? 'PodGC: deleting an unscheduled terminating pod');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

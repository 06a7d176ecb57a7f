// HorizontalPodAutoscaler (autoscaling/v2): every sync period, reads the target's `scale`
// subresource, the pods its selector picks and their metrics from `metrics.k8s.io`, asks
// hpa-replicas.ts how many replicas the Resource metrics want, writes the new scale and the status
// (currentMetrics, replicas, conditions AbleToScale / ScalingActive / ScalingLimited).
//
// Design notes:
// - Only Resource metrics (cpu, memory; Utilization and AverageValue) are computed: k8ts serves no
//   custom or external metrics API. Other metric types make ScalingActive=False with upstream's
//   reason, never a wrong scale.
// - Recommendations and scale events live in memory per HPA, as upstream's; a new leader starts
//   with none, which only makes the first downscale wait one stabilisation window.
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition, MetricStatus } from 'kubernetes-types/autoscaling/v2.js';
import type { Informer } from '../../api/client/informer.js';
import { isNotFound } from '../../api/client/rest.js';
import { keyOf, splitKey, type ResourceType } from '../../api/client/types.js';
import type { KubeObject } from '../../api/object.js';
import { formatQuantity, newMilliQuantity, parseQuantity, toMillis } from '../../api/quantity.js';
import { labelsMatch, parseLabelSelectorParam } from '../../api/selectors.js';
import { rfc3339, type ControllerContext } from './context.js';
import {
  MetricError, normalizeReplicas, pruneScaleEvents, resourceReplicas,
  type Condition, type PodSample, type PodUsage, type Recommendation, type ResourceName, type ScaleEvent,
} from './hpa-replicas.js';
import { readyCondition } from './pods.js';
import { Controller } from './runtime.js';

const hpaType: ResourceType = { group: 'autoscaling', version: 'v2', resource: 'horizontalpodautoscalers', kind: 'HorizontalPodAutoscaler', namespaced: true };
const podMetricsType: ResourceType = { group: 'metrics.k8s.io', version: 'v1beta1', resource: 'pods', kind: 'PodMetrics', namespaced: true };
const podType: ResourceType = { group: '', version: 'v1', resource: 'pods', kind: 'Pod', namespaced: true };

/** The scalable kinds and where they live; upstream finds them through the RESTMapper. */
const scalable: Record<string, ResourceType> = {
  'apps/Deployment': { group: 'apps', version: 'v1', resource: 'deployments', kind: 'Deployment', namespaced: true },
  'apps/ReplicaSet': { group: 'apps', version: 'v1', resource: 'replicasets', kind: 'ReplicaSet', namespaced: true },
  'apps/StatefulSet': { group: 'apps', version: 'v1', resource: 'statefulsets', kind: 'StatefulSet', namespaced: true },
  '/ReplicationController': { group: '', version: 'v1', resource: 'replicationcontrollers', kind: 'ReplicationController', namespaced: true },
};

interface Scale { spec?: { replicas?: number }; status?: { replicas?: number; selector?: string } }
interface PodMetrics { metadata?: { name?: string }; timestamp?: string; window?: string; containers?: { name: string; usage?: Record<string, string> }[] }

export interface HpaOptions {
  /** --horizontal-pod-autoscaler-sync-period (15 s). */
  syncPeriodMs?: number;
  /** --horizontal-pod-autoscaler-downscale-stabilization (5 min). */
  downscaleStabilizationMs?: number;
  tolerance?: number;
}

function parseWindowMs(w: string | undefined): number {
  const m = /^([\d.]+)s$/.exec(w ?? '');
  return m ? Math.round(Number(m[1]) * 1000) : 0;
}

/** Pod requests for a resource in milli-units; undefined (with the culprit) when a container has none. */
export function podRequest(pod: Pod, resource: ResourceName): { milli: number | undefined; container?: string } {
  let sum = 0;
  for (const c of pod.spec?.containers ?? []) {
    const q = c.resources?.requests?.[resource];
    if (q === undefined) return { milli: undefined, container: c.name };
    sum += toMillis(parseQuantity(q));
  }
  return { milli: sum };
}

export function podSample(pod: Pod, resource: ResourceName): PodSample {
  const ready = readyCondition(pod);
  const req = podRequest(pod, resource);
  const start = Date.parse(pod.status?.startTime ?? '');
  return {
    name: pod.metadata?.name ?? '',
    phase: pod.status?.phase,
    deleting: pod.metadata?.deletionTimestamp !== undefined,
    ...(ready ? { ready: { status: ready.status, lastTransitionMs: Date.parse(ready.lastTransitionTime ?? '') || 0 } } : {}),
    ...(Number.isFinite(start) ? { startTimeMs: start } : {}),
    requestMilli: req.milli,
    ...(req.container !== undefined ? { containerWithoutRequest: req.container } : {}),
  };
}

function setCondition(list: HorizontalPodAutoscalerCondition[], type: string, c: Condition, nowIso: string): HorizontalPodAutoscalerCondition[] {
  const old = list.find(x => x.type === type);
  const next: HorizontalPodAutoscalerCondition = {
    type, status: c.status, reason: c.reason, message: c.message,
    lastTransitionTime: old && old.status === c.status ? (old.lastTransitionTime ?? nowIso) : nowIso,
  };
  return [...list.filter(x => x.type !== type), next];
}

const milliString = (milli: number): string => formatQuantity(newMilliQuantity(Math.round(milli)));

export class HorizontalPodAutoscalerController {
  readonly controller: Controller;
  private readonly hpas: Informer<HorizontalPodAutoscaler>;
  private readonly pods: Informer<Pod>;
  private readonly recommendations = new Map<string, Recommendation[]>();
  private readonly scaleUpEvents = new Map<string, ScaleEvent[]>();
  private readonly scaleDownEvents = new Map<string, ScaleEvent[]>();
  private readonly syncPeriodMs: number;

  constructor(private readonly ctx: ControllerContext, private readonly opts: HpaOptions = {}) {
    this.syncPeriodMs = opts.syncPeriodMs ?? 15_000;
    this.hpas = ctx.informers.for<HorizontalPodAutoscaler>(hpaType);
    this.pods = ctx.informers.for<Pod>(podType);
    this.controller = new Controller({ name: 'HorizontalPodAutoscaler', workers: ctx.workers ?? 2, clock: ctx.clock, logger: ctx.logger }, key => this.sync(key));
    this.hpas.on({
      add: h => this.controller.enqueueObject(h),
      update: (_, h) => this.controller.enqueueObject(h),
      delete: h => { const k = keyOf(h); this.recommendations.delete(k); this.scaleUpEvents.delete(k); this.scaleDownEvents.delete(k); },
    });
  }

  start(): void { this.controller.start(); }
  stop(): Promise<void> { return this.controller.stop(); }

  async sync(key: string): Promise<void> {
    const hpa = this.hpas.get(key);
    if (!hpa || hpa.metadata?.deletionTimestamp) return;
    try {
      await this.reconcile(key, hpa);
    } finally {
      // Level-triggered on a clock: metrics change without any object changing.
      if (this.hpas.get(key)) this.controller.enqueueAfter(key, this.syncPeriodMs);
    }
  }

  private async reconcile(key: string, hpa: HorizontalPodAutoscaler): Promise<void> {
    const { namespace } = splitKey(key);
    const ns = namespace ?? 'default';
    const now = this.ctx.clock.now();
    const nowIso = rfc3339(now);
    const nowMs = now;
    const spec = hpa.spec!;
    const ref = spec.scaleTargetRef;
    const group = (ref.apiVersion ?? '').includes('/') ? ref.apiVersion!.split('/')[0]! : '';
    const targetType = scalable[`${group}/${ref.kind}`];
    let conditions = [...(hpa.status?.conditions ?? [])];
    const writeStatus = async (status: NonNullable<HorizontalPodAutoscaler['status']>) => {
      await this.ctx.client.update(hpaType, { ...hpa, status: { ...status, observedGeneration: hpa.metadata?.generation ?? 0 } } as KubeObject, { subresource: 'status' });
    };
    const fail = async (condType: 'AbleToScale' | 'ScalingActive', reason: string, message: string, currentReplicas: number) => {
      conditions = setCondition(conditions, condType, { status: 'False', reason, message }, nowIso);
      this.ctx.recorder.event(hpa as KubeObject, 'Warning', reason, message);
      await writeStatus({ ...hpa.status, currentReplicas, desiredReplicas: hpa.status?.desiredReplicas ?? 0, conditions });
    };

    if (!targetType) {
      await fail('AbleToScale', 'FailedGetScale', `the HPA controller was unable to get the target's current scale: no scale subresource for ${ref.apiVersion ?? ''}/${ref.kind}`, hpa.status?.currentReplicas ?? 0);
      return;
    }
    let scale: Scale;
    try {
      scale = await this.ctx.client.getSubresource<Scale>(targetType, ns, ref.name, 'scale');
    } catch (err) {
      await fail('AbleToScale', 'FailedGetScale', `the HPA controller was unable to get the target's current scale: ${(err as Error).message}`, hpa.status?.currentReplicas ?? 0);
      if (isNotFound(err)) return;
      throw err;
    }
    conditions = setCondition(conditions, 'AbleToScale', { status: 'True', reason: 'SucceededGetScale', message: "the HPA controller was able to get the target's current scale" }, nowIso);
    const currentReplicas = scale.spec?.replicas ?? 0;
    const minReplicas = spec.minReplicas ?? 1;

    let desired = 0, rescaleReason = '';
    let currentMetrics: MetricStatus[] | undefined = hpa.status?.currentMetrics;
    if (currentReplicas === 0 && minReplicas !== 0) {
      conditions = setCondition(conditions, 'ScalingActive', { status: 'False', reason: 'ScalingDisabled', message: 'scaling is disabled since the replica count of the target is zero' }, nowIso);
    } else if (currentReplicas > spec.maxReplicas) {
      desired = spec.maxReplicas; rescaleReason = 'Current number of replicas above Spec.MaxReplicas';
    } else if (currentReplicas < minReplicas) {
      desired = minReplicas; rescaleReason = 'Current number of replicas below Spec.MinReplicas';
    } else {
      const computed = await this.computeReplicas(hpa, ns, scale, currentReplicas, nowMs);
      if ('error' in computed) {
        conditions = setCondition(conditions, 'ScalingActive', { status: 'False', reason: computed.error.reason, message: `the HPA was unable to compute the replica count: ${computed.error.message}` }, nowIso);
        this.ctx.recorder.event(hpa as KubeObject, 'Warning', 'FailedComputeMetricsReplicas', `invalid metrics (${spec.metrics?.length ?? 0} invalid out of ${spec.metrics?.length ?? 0}), first error is: ${computed.error.message}`);
        await writeStatus({ ...hpa.status, currentReplicas, desiredReplicas: hpa.status?.desiredReplicas ?? 0, conditions });
        return;
      }
      currentMetrics = computed.statuses;
      conditions = setCondition(conditions, 'ScalingActive', { status: 'True', reason: 'ValidMetricFound', message: `the HPA was able to successfully calculate a replica count from ${computed.metricName}` }, nowIso);
      if (computed.replicas > currentReplicas) rescaleReason = `${computed.metricName} above target`;
      if (computed.replicas < currentReplicas) rescaleReason = 'All metrics below target';
      const upEvents = pruneScaleEvents(this.scaleUpEvents.get(key) ?? [], spec.behavior, nowMs);
      const downEvents = pruneScaleEvents(this.scaleDownEvents.get(key) ?? [], spec.behavior, nowMs);
      const n = normalizeReplicas({
        current: currentReplicas, proposed: computed.replicas, min: minReplicas, max: spec.maxReplicas, nowMs,
        behavior: spec.behavior, recommendations: this.recommendations.get(key) ?? [],
        scaleUpEvents: upEvents, scaleDownEvents: downEvents,
        ...(this.opts.downscaleStabilizationMs !== undefined ? { downscaleStabilizationMs: this.opts.downscaleStabilizationMs } : {}),
      });
      this.recommendations.set(key, n.recommendations);
      this.scaleUpEvents.set(key, upEvents);
      this.scaleDownEvents.set(key, downEvents);
      conditions = setCondition(conditions, 'AbleToScale', n.ableToScale, nowIso);
      conditions = setCondition(conditions, 'ScalingLimited', n.scalingLimited, nowIso);
      desired = n.replicas;
    }

    const rescale = desired !== currentReplicas && !(currentReplicas === 0 && minReplicas !== 0);
    let lastScaleTime = hpa.status?.lastScaleTime;
    if (rescale) {
      try {
        await this.ctx.client.patch(targetType, ns, ref.name, 'merge', { spec: { replicas: desired } }, { subresource: 'scale' });
      } catch (err) {
        await fail('AbleToScale', 'FailedUpdateScale', `the HPA controller was unable to update the target scale: ${(err as Error).message}`, currentReplicas);
        throw err;
      }
      conditions = setCondition(conditions, 'AbleToScale', { status: 'True', reason: 'SucceededRescale', message: `the HPA controller was able to update the target scale to ${desired}` }, nowIso);
      this.ctx.recorder.event(hpa as KubeObject, 'Normal', 'SuccessfulRescale', `New size: ${desired}; reason: ${rescaleReason}`);
      const events = desired > currentReplicas ? this.scaleUpEvents : this.scaleDownEvents;
      events.set(key, [...(events.get(key) ?? []), { change: Math.abs(desired - currentReplicas), atMs: nowMs }]);
      lastScaleTime = nowIso;
    }
    await writeStatus({
      currentReplicas,
      desiredReplicas: rescale ? desired : (currentReplicas === 0 && minReplicas !== 0 ? 0 : desired),
      ...(currentMetrics ? { currentMetrics } : {}),
      ...(lastScaleTime ? { lastScaleTime } : {}),
      conditions,
    });
  }

  /** The highest replica count any metric asks for, as upstream's computeReplicasForMetrics. */
  private async computeReplicas(hpa: HorizontalPodAutoscaler, ns: string, scale: Scale, currentReplicas: number, nowMs: number):
  Promise<{ replicas: number; metricName: string; statuses: MetricStatus[] } | { error: MetricError }> {
    const selectorText = scale.status?.selector;
    if (!selectorText) return { error: new MetricError('InvalidSelector', 'selector is required') };
    const selector = parseLabelSelectorParam(selectorText);
    const pods = this.pods.byIndex('namespace', ns).filter(p => labelsMatch(selector, p.metadata?.labels ?? {}));
    let podMetrics: PodMetrics[];
    try {
      podMetrics = (await this.ctx.client.list<PodMetrics>(podMetricsType, ns, { labelSelector: selectorText })).items;
    } catch (err) {
      return { error: new MetricError('FailedGetResourceMetric', `unable to get metrics for resource: unable to fetch metrics from resource metrics API: ${(err as Error).message}`) };
    }
    const metrics = hpa.spec?.metrics?.length ? hpa.spec.metrics : [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }];
    let best: { replicas: number; metricName: string } | undefined;
    const statuses: MetricStatus[] = [];
    let firstError: MetricError | undefined;
    for (const m of metrics) {
      if (m.type !== 'Resource' || !m.resource || (m.resource.name !== 'cpu' && m.resource.name !== 'memory')) {
        firstError ??= new MetricError('FailedGetExternalMetric', `unable to get ${m.type} metric: only Resource metrics (cpu, memory) are served by this cluster`);
        continue;
      }
      const resource = m.resource.name as ResourceName;
      const usage = new Map<string, PodUsage>();
      for (const pm of podMetrics) {
        let sum = 0;
        for (const c of pm.containers ?? []) sum += toMillis(parseQuantity(c.usage?.[resource] ?? '0'));
        usage.set(pm.metadata?.name ?? '', { valueMilli: sum, timestampMs: Date.parse(pm.timestamp ?? '') || nowMs, windowMs: parseWindowMs(pm.window) });
      }
      const t = m.resource.target;
      try {
        const p = resourceReplicas({
          currentReplicas, resource, pods: pods.map(pod => podSample(pod, resource)), metrics: usage, nowMs,
          target: t.type === 'AverageValue'
            ? { type: 'AverageValue', averageValueMilli: toMillis(parseQuantity(t.averageValue ?? '0')) }
            : { type: 'Utilization', averageUtilization: t.averageUtilization ?? 80 },
          ...(this.opts.tolerance !== undefined ? { tolerance: this.opts.tolerance } : {}),
        });
        const metricName = t.type === 'AverageValue' ? `${resource} resource` : `${resource} resource utilization (percentage of request)`;
        statuses.push({
          type: 'Resource',
          resource: { name: resource, current: { averageValue: milliString(p.averageValueMilli), ...(p.utilization !== undefined ? { averageUtilization: p.utilization } : {}) } },
        });
        if (!best || p.replicas > best.replicas) best = { replicas: p.replicas, metricName };
      } catch (err) {
        if (!(err instanceof MetricError)) throw err;
        firstError ??= err;
      }
    }
    if (!best) return { error: firstError ?? new MetricError('FailedGetResourceMetric', 'no metrics') };
    return { ...best, statuses };
  }
}

// The HorizontalPodAutoscaler's arithmetic, pure: upstream's replica calculator (how many replicas
// a resource metric asks for, with its treatment of unready pods and missing metrics) and its
// normalisation (downscale stabilisation, scaling policies, min/max), with the condition reasons
// and messages upstream writes, so `kubectl describe hpa` reads the same.
//
// Units are upstream's: every usage and request in milli-units (millicores, millibytes), so
// integer division matches theirs exactly.
import type { HPAScalingRules, HorizontalPodAutoscalerBehavior } from 'kubernetes-types/autoscaling/v2.js';

export const DEFAULT_TOLERANCE = 0.1;
/** Upstream's --horizontal-pod-autoscaler-cpu-initialization-period and initial-readiness-delay. */
export const CPU_INITIALIZATION_PERIOD_MS = 5 * 60_000;
export const INITIAL_READINESS_DELAY_MS = 30_000;
/** --horizontal-pod-autoscaler-downscale-stabilization. */
export const DEFAULT_DOWNSCALE_STABILIZATION_MS = 5 * 60_000;

export type ResourceName = 'cpu' | 'memory';

export interface PodSample {
  name: string;
  phase: string | undefined;
  deleting: boolean;
  /** The Ready condition, when the pod has one. */
  ready?: { status: string; lastTransitionMs: number };
  startTimeMs?: number;
  /** Sum of the containers' requests for the resource (milli-units); undefined when a container has none. */
  requestMilli: number | undefined;
  /** Which container lacks a request, for the error message. */
  containerWithoutRequest?: string;
}

export interface PodUsage { valueMilli: number; timestampMs: number; windowMs: number }

export class MetricError extends Error {
  constructor(readonly reason: string, message: string) { super(message); }
}

interface Grouped { readyCount: number; unready: Set<string>; missing: Set<string>; ignored: Set<string> }

/** upstream groupPods: which pods count, which are unready, which lack metrics, which are ignored. */
function groupPods(pods: readonly PodSample[], metrics: ReadonlyMap<string, PodUsage>, resource: ResourceName, nowMs: number): Grouped {
  const g: Grouped = { readyCount: 0, unready: new Set(), missing: new Set(), ignored: new Set() };
  for (const pod of pods) {
    if (pod.deleting || pod.phase === 'Failed') { g.ignored.add(pod.name); continue; }
    if (pod.phase === 'Pending') { g.unready.add(pod.name); continue; }
    const metric = metrics.get(pod.name);
    if (!metric) { g.missing.add(pod.name); continue; }
    if (resource === 'cpu') {
      let unready: boolean;
      if (!pod.ready || pod.startTimeMs === undefined) {
        unready = true;
      } else if (pod.startTimeMs + CPU_INITIALIZATION_PERIOD_MS > nowMs) {
        // Still starting: ignore it when unready, or when no full metric window has passed since
        // it became ready (start-up CPU is not load).
        unready = pod.ready.status === 'False' || metric.timestampMs < pod.ready.lastTransitionMs + metric.windowMs;
      } else {
        // Past start-up: ignore it only if it has never been ready.
        unready = pod.ready.status === 'False' && pod.startTimeMs + INITIAL_READINESS_DELAY_MS > pod.ready.lastTransitionMs;
      }
      if (unready) { g.unready.add(pod.name); continue; }
    }
    g.readyCount++;
  }
  return g;
}

export interface ResourceTarget { type: 'Utilization' | 'AverageValue'; averageUtilization?: number; averageValueMilli?: number }

export interface ReplicaProposal {
  replicas: number;
  /** Percent of requests (Utilization targets only). */
  utilization?: number;
  /** Average usage per counted pod, milli-units. */
  averageValueMilli: number;
  timestampMs: number;
}

/** Σ usage / Σ requests over pods with both, as upstream's GetResourceUtilizationRatio. */
function utilizationRatio(metrics: ReadonlyMap<string, number>, requests: ReadonlyMap<string, number>, target: number) {
  let used = 0, requested = 0, n = 0;
  for (const [name, value] of metrics) {
    const r = requests.get(name);
    if (r === undefined) continue;
    used += value; requested += r; n++;
  }
  if (requested === 0) throw new MetricError('FailedGetResourceMetric', 'no metrics returned matched known pods');
  const utilization = Math.trunc((used * 100) / requested);
  return { ratio: utilization / target, utilization, average: Math.trunc(used / n) };
}

function averageRatio(metrics: ReadonlyMap<string, number>, target: number) {
  let used = 0;
  for (const v of metrics.values()) used += v;
  const average = Math.trunc(used / metrics.size);
  return { ratio: average / target, average };
}

/**
 * Replicas for one resource metric: upstream's GetResourceReplicas (Utilization) and
 * GetRawResourceReplicas (AverageValue). `metrics` are per pod name. Throws MetricError when no
 * usable metric exists (the HPA then reports ScalingActive=False).
 */
export function resourceReplicas(args: {
  currentReplicas: number; resource: ResourceName; target: ResourceTarget;
  pods: readonly PodSample[]; metrics: ReadonlyMap<string, PodUsage>; nowMs: number; tolerance?: number;
}): ReplicaProposal {
  const { currentReplicas, resource, target, pods, nowMs } = args;
  const tolerance = args.tolerance ?? DEFAULT_TOLERANCE;
  if (pods.length === 0) throw new MetricError('FailedGetResourceMetric', 'no pods returned by selector while calculating replica count');
  const g = groupPods(pods, args.metrics, resource, nowMs);
  const values = new Map<string, number>();
  let timestampMs = 0;
  for (const [name, m] of args.metrics) {
    if (g.ignored.has(name) || g.unready.has(name) || !pods.some(p => p.name === name)) continue;
    values.set(name, m.valueMilli);
    timestampMs = Math.max(timestampMs, m.timestampMs);
  }
  if (values.size === 0) throw new MetricError('FailedGetResourceMetric', 'did not receive metrics for targeted pods (pods might be unready)');

  const requests = new Map<string, number>();
  const utilizationTarget = target.type === 'Utilization';
  if (utilizationTarget) {
    for (const p of pods) {
      if (p.requestMilli === undefined) throw new MetricError('FailedGetResourceMetric', `missing request for ${resource} in container ${p.containerWithoutRequest ?? ''} of Pod ${p.name}`);
      requests.set(p.name, p.requestMilli);
    }
  }
  const targetValue = utilizationTarget ? (target.averageUtilization ?? 80) : (target.averageValueMilli ?? 0);
  if (targetValue <= 0) throw new MetricError('FailedGetResourceMetric', `invalid ${resource} target`);
  const measure = (m: ReadonlyMap<string, number>) => {
    if (utilizationTarget) return utilizationRatio(m, requests, targetValue);
    const a = averageRatio(m, targetValue);
    return { ...a, utilization: undefined };
  };
  const first = measure(values);
  const proposal = (replicas: number): ReplicaProposal => ({
    replicas, averageValueMilli: first.average, timestampMs,
    ...(first.utilization !== undefined ? { utilization: first.utilization } : {}),
  });

  const scaleUpWithUnready = g.unready.size > 0 && first.ratio > 1;
  if (!scaleUpWithUnready && g.missing.size === 0) {
    if (Math.abs(1 - first.ratio) <= tolerance) return proposal(currentReplicas);
    return proposal(Math.ceil(first.ratio * g.readyCount));
  }
  // Assume the worst for the direction we are going: pods without metrics use their whole request
  // (or the target) when scaling down and nothing when scaling up; unready pods use nothing.
  if (g.missing.size > 0) {
    for (const name of g.missing) {
      if (first.ratio < 1) {
        values.set(name, utilizationTarget ? Math.trunc(((requests.get(name) ?? 0) * Math.max(100, targetValue)) / 100) : targetValue);
      } else if (first.ratio > 1) {
        values.set(name, 0);
      }
    }
  }
  if (scaleUpWithUnready) for (const name of g.unready) values.set(name, 0);
  const second = measure(values);
  if (Math.abs(1 - second.ratio) <= tolerance || (first.ratio < 1 && second.ratio > 1) || (first.ratio > 1 && second.ratio < 1)) {
    return proposal(currentReplicas);
  }
  const replicas = Math.ceil(second.ratio * values.size);
  if ((second.ratio < 1 && replicas > currentReplicas) || (second.ratio > 1 && replicas < currentReplicas)) return proposal(currentReplicas);
  return proposal(replicas);
}

// ---- normalisation -------------------------------------------------------------------------

export interface Recommendation { replicas: number; atMs: number }
export interface ScaleEvent { change: number; atMs: number }
export interface Condition { status: 'True' | 'False'; reason: string; message: string }

export interface Normalized {
  replicas: number;
  ableToScale: Condition;
  scalingLimited: Condition;
  /** The recommendations to keep for the next sync. */
  recommendations: Recommendation[];
}

/** Upstream's defaults for a behavior that is set (GenerateHPAScaleUpRules / ScaleDownRules). */
export function withDefaultRules(behavior: HorizontalPodAutoscalerBehavior, downscaleStabilizationMs: number): { scaleUp: Required<HPAScalingRules>; scaleDown: Required<HPAScalingRules> } {
  const up = behavior.scaleUp ?? {};
  const down = behavior.scaleDown ?? {};
  return {
    scaleUp: {
      stabilizationWindowSeconds: up.stabilizationWindowSeconds ?? 0,
      selectPolicy: up.selectPolicy ?? 'Max',
      policies: up.policies ?? [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }],
    },
    scaleDown: {
      stabilizationWindowSeconds: down.stabilizationWindowSeconds ?? Math.round(downscaleStabilizationMs / 1000),
      selectPolicy: down.selectPolicy ?? 'Max',
      policies: down.policies ?? [{ type: 'Percent', value: 100, periodSeconds: 15 }],
    },
  };
}

const stabilizedUp = { reason: 'ScaleUpStabilized', message: 'recent recommendations were lower than current one, applying the lowest recent recommendation' };
const stabilizedDown = { reason: 'ScaleDownStabilized', message: 'recent recommendations were higher than current one, applying the highest recent recommendation' };
const readyForNewScale = { reason: 'ReadyForNewScale', message: 'recommended size matches current size' };
const withinRange = { reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' };
const tooMany = { reason: 'TooManyReplicas', message: 'the desired replica count is more than the maximum replica count' };
const tooFew = { reason: 'TooFewReplicas', message: 'the desired replica count is less than the minimum replica count' };
const upLimit = { reason: 'ScaleUpLimit', message: 'the desired replica count is increasing faster than the maximum scale rate' };
const downLimit = { reason: 'ScaleDownLimit', message: 'the desired replica count is decreasing faster than the maximum scale rate' };

function changeInPeriod(events: readonly ScaleEvent[], periodSeconds: number, nowMs: number): number {
  const cutoff = nowMs - periodSeconds * 1000;
  return events.filter(e => e.atMs > cutoff).reduce((sum, e) => sum + e.change, 0);
}

function scaleLimit(direction: 'up' | 'down', current: number, rules: Required<HPAScalingRules>, upEvents: readonly ScaleEvent[], downEvents: readonly ScaleEvent[], nowMs: number): number {
  if (rules.selectPolicy === 'Disabled') return current;
  const pickMin = (direction === 'up') === (rules.selectPolicy === 'Min');
  let result = pickMin ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  for (const p of rules.policies) {
    const start = current - changeInPeriod(upEvents, p.periodSeconds, nowMs) + changeInPeriod(downEvents, p.periodSeconds, nowMs);
    const proposed = direction === 'up'
      ? (p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100)))
      : (p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100)));
    result = pickMin ? Math.min(result, proposed) : Math.max(result, proposed);
  }
  return result;
}

/**
 * From the metrics' proposal to the replicas to set: stabilisation over recent recommendations,
 * then the rate and min/max limits. Without `behavior`, upstream's legacy rules (downscale
 * stabilisation only, scale-up to at most max(2×current, 4)).
 */
export function normalizeReplicas(args: {
  current: number; proposed: number; min: number; max: number; nowMs: number;
  behavior: HorizontalPodAutoscalerBehavior | undefined;
  recommendations: readonly Recommendation[];
  scaleUpEvents: readonly ScaleEvent[]; scaleDownEvents: readonly ScaleEvent[];
  downscaleStabilizationMs?: number;
}): Normalized {
  const { current, proposed, min, max, nowMs } = args;
  const downscaleMs = args.downscaleStabilizationMs ?? DEFAULT_DOWNSCALE_STABILIZATION_MS;
  const record = (windowMs: number): Recommendation[] => {
    const kept = args.recommendations.filter(r => r.atMs >= nowMs - windowMs);
    return [...kept, { replicas: proposed, atMs: nowMs }];
  };
  const limited = (replicas: number, stabilized: number, why: { reason: string; message: string }): Condition =>
    replicas === stabilized ? { status: 'False', ...why } : { status: 'True', ...why };

  if (!args.behavior) {
    const cutoff = nowMs - downscaleMs;
    let stabilized = proposed;
    for (const r of args.recommendations) if (r.atMs >= cutoff && r.replicas > stabilized) stabilized = r.replicas;
    const ableToScale: Condition = { status: 'True', ...(stabilized !== proposed ? stabilizedDown : readyForNewScale) };
    const scaleUpLimit = Math.max(2 * current, 4);
    const [maxAllowed, maxWhy] = max > scaleUpLimit ? [scaleUpLimit, upLimit] : [max, tooMany];
    let replicas = stabilized, why = withinRange;
    if (stabilized < min) { replicas = min; why = tooFew; } else if (stabilized > maxAllowed) { replicas = maxAllowed; why = maxWhy; }
    return { replicas, ableToScale, scalingLimited: limited(replicas, stabilized, why), recommendations: record(downscaleMs) };
  }

  const rules = withDefaultRules(args.behavior, downscaleMs);
  const upCutoff = nowMs - rules.scaleUp.stabilizationWindowSeconds * 1000;
  const downCutoff = nowMs - rules.scaleDown.stabilizationWindowSeconds * 1000;
  let upRecommendation = proposed, downRecommendation = proposed;
  for (const r of args.recommendations) {
    if (r.atMs > upCutoff) upRecommendation = Math.min(upRecommendation, r.replicas);
    if (r.atMs > downCutoff) downRecommendation = Math.max(downRecommendation, r.replicas);
  }
  let stabilized = current;
  if (stabilized < upRecommendation) stabilized = upRecommendation;
  if (stabilized > downRecommendation) stabilized = downRecommendation;
  const ableToScale: Condition = { status: 'True', ...(stabilized === proposed ? readyForNewScale : proposed >= current ? stabilizedUp : stabilizedDown) };
  const windowMs = Math.max(rules.scaleUp.stabilizationWindowSeconds, rules.scaleDown.stabilizationWindowSeconds) * 1000;

  let replicas = stabilized, why = withinRange;
  if (stabilized > current) {
    const limit = Math.max(current, scaleLimit('up', current, rules.scaleUp, args.scaleUpEvents, args.scaleDownEvents, nowMs));
    const [maxAllowed, maxWhy] = max > limit ? [limit, upLimit] : [max, tooMany];
    if (stabilized > maxAllowed) { replicas = maxAllowed; why = maxWhy; }
  } else if (stabilized < current) {
    const limit = Math.min(current, scaleLimit('down', current, rules.scaleDown, args.scaleUpEvents, args.scaleDownEvents, nowMs));
    const [minAllowed, minWhy] = min < limit ? [limit, downLimit] : [min, tooFew];
    if (stabilized < minAllowed) { replicas = minAllowed; why = minWhy; }
  }
  return { replicas, ableToScale, scalingLimited: limited(replicas, stabilized, why), recommendations: record(windowMs) };
}

/** Events older than the longest policy period no longer limit anything. */
export function pruneScaleEvents(events: readonly ScaleEvent[], behavior: HorizontalPodAutoscalerBehavior | undefined, nowMs: number): ScaleEvent[] {
  const periods = [...(behavior?.scaleUp?.policies ?? []), ...(behavior?.scaleDown?.policies ?? [])].map(p => p.periodSeconds);
  const longest = Math.max(15, ...periods) * 1000;
  return events.filter(e => e.atMs > nowMs - longest);
}

// autoscaling/v1 <-> autoscaling/v2 HorizontalPodAutoscaler conversion, as upstream's
// pkg/apis/autoscaling/v1/conversion.go. v1 only has a CPU utilization target; everything else
// (other metrics, current metrics, conditions, behavior) travels in round-trip annotations so a
// v1 client that reads and writes back an object does not lose the v2 fields.
//
// The annotation payloads are upstream's: metrics and conditions in the v1 (v2beta1-shaped)
// camelCase JSON, behavior in the Go field names of the internal type (upstream marshals the
// untagged internal struct), which is what real clusters show and what other tools parse.
import type * as v1 from 'kubernetes-types/autoscaling/v1.js';
import type * as v2 from 'kubernetes-types/autoscaling/v2.js';
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import { deepCopy } from '../../../api/object.js';

export const METRIC_SPECS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/metrics';
export const METRIC_STATUSES_ANNOTATION = 'autoscaling.alpha.kubernetes.io/current-metrics';
export const CONDITIONS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/conditions';
export const BEHAVIOR_ANNOTATION = 'autoscaling.alpha.kubernetes.io/behavior';
const ROUND_TRIP = [METRIC_SPECS_ANNOTATION, METRIC_STATUSES_ANNOTATION, CONDITIONS_ANNOTATION, BEHAVIOR_ANNOTATION];
export const DEFAULT_CPU_UTILIZATION = 80;

// Quantities travel as strings in JSON (kubernetes-types models them so).
type Quantity = string;

/** autoscaling/v1's MetricSpec (not served as a field, only inside the annotation). */
export interface V1MetricSpec {
  type: string;
  object?: { target: v1.CrossVersionObjectReference; metricName: string; targetValue: Quantity; selector?: LabelSelector; averageValue?: Quantity };
  pods?: { metricName: string; targetAverageValue: Quantity; selector?: LabelSelector };
  resource?: { name: string; targetAverageUtilization?: number; targetAverageValue?: Quantity };
  containerResource?: { name: string; targetAverageUtilization?: number; targetAverageValue?: Quantity; container: string };
  external?: { metricName: string; metricSelector?: LabelSelector; targetValue?: Quantity; targetAverageValue?: Quantity };
}

/** autoscaling/v1's MetricStatus (annotation only). */
export interface V1MetricStatus {
  type: string;
  object?: { target: v1.CrossVersionObjectReference; metricName: string; currentValue: Quantity; selector?: LabelSelector; averageValue?: Quantity };
  pods?: { metricName: string; currentAverageValue: Quantity; selector?: LabelSelector };
  resource?: { name: string; currentAverageUtilization?: number; currentAverageValue: Quantity };
  containerResource?: { name: string; currentAverageUtilization?: number; currentAverageValue: Quantity; container: string };
  external?: { metricName: string; metricSelector?: LabelSelector; currentValue: Quantity; currentAverageValue?: Quantity };
}

/** Sets `key` on `obj` only when `value` is defined (exactOptionalPropertyTypes-friendly). */
function put<T extends object, K extends keyof T>(obj: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) obj[key] = value;
}

function metricSpecToV1(m: v2.MetricSpec): V1MetricSpec {
  const out: V1MetricSpec = { type: m.type };
  if (m.object) {
    const o: NonNullable<V1MetricSpec['object']> = { target: { ...m.object.describedObject }, metricName: m.object.metric.name, targetValue: m.object.target.value ?? '0' };
    put(o, 'selector', m.object.metric.selector);
    put(o, 'averageValue', m.object.target.averageValue);
    out.object = o;
  }
  if (m.pods) {
    const p: NonNullable<V1MetricSpec['pods']> = { metricName: m.pods.metric.name, targetAverageValue: m.pods.target.averageValue ?? '0' };
    put(p, 'selector', m.pods.metric.selector);
    out.pods = p;
  }
  if (m.resource) {
    const r: NonNullable<V1MetricSpec['resource']> = { name: m.resource.name };
    put(r, 'targetAverageUtilization', m.resource.target.averageUtilization);
    put(r, 'targetAverageValue', m.resource.target.averageValue);
    out.resource = r;
  }
  if (m.containerResource) {
    const r: NonNullable<V1MetricSpec['containerResource']> = { name: m.containerResource.name, container: m.containerResource.container };
    put(r, 'targetAverageUtilization', m.containerResource.target.averageUtilization);
    put(r, 'targetAverageValue', m.containerResource.target.averageValue);
    out.containerResource = r;
  }
  if (m.external) {
    const e: NonNullable<V1MetricSpec['external']> = { metricName: m.external.metric.name };
    put(e, 'metricSelector', m.external.metric.selector);
    put(e, 'targetValue', m.external.target.value);
    put(e, 'targetAverageValue', m.external.target.averageValue);
    out.external = e;
  }
  return out;
}

function metric(name: string, selector: LabelSelector | undefined): v2.MetricIdentifier {
  const id: v2.MetricIdentifier = { name };
  put(id, 'selector', selector);
  return id;
}

function metricSpecFromV1(m: V1MetricSpec): v2.MetricSpec {
  const out: v2.MetricSpec = { type: m.type };
  if (m.object) {
    const target: v2.MetricTarget = { type: m.object.averageValue === undefined ? 'Value' : 'AverageValue', value: m.object.targetValue };
    put(target, 'averageValue', m.object.averageValue);
    out.object = { describedObject: { ...m.object.target }, metric: metric(m.object.metricName, m.object.selector), target };
  }
  if (m.pods) out.pods = { metric: metric(m.pods.metricName, m.pods.selector), target: { type: 'AverageValue', averageValue: m.pods.targetAverageValue } };
  for (const key of ['resource', 'containerResource'] as const) {
    const r = m[key];
    if (!r) continue;
    const target: v2.MetricTarget = { type: r.targetAverageUtilization === undefined ? 'AverageValue' : 'Utilization' };
    put(target, 'averageUtilization', r.targetAverageUtilization);
    put(target, 'averageValue', r.targetAverageValue);
    if (key === 'resource') out.resource = { name: r.name, target };
    else out.containerResource = { name: r.name, container: m.containerResource?.container ?? '', target };
  }
  if (m.external) {
    const target: v2.MetricTarget = { type: m.external.targetValue === undefined ? 'AverageValue' : 'Value' };
    put(target, 'value', m.external.targetValue);
    put(target, 'averageValue', m.external.targetAverageValue);
    out.external = { metric: metric(m.external.metricName, m.external.metricSelector), target };
  }
  return out;
}

function metricStatusToV1(m: v2.MetricStatus): V1MetricStatus {
  const out: V1MetricStatus = { type: m.type };
  if (m.object) {
    const o: NonNullable<V1MetricStatus['object']> = { target: { ...m.object.describedObject }, metricName: m.object.metric.name, currentValue: m.object.current.value ?? '0' };
    put(o, 'selector', m.object.metric.selector);
    put(o, 'averageValue', m.object.current.averageValue);
    out.object = o;
  }
  if (m.pods) {
    const p: NonNullable<V1MetricStatus['pods']> = { metricName: m.pods.metric.name, currentAverageValue: m.pods.current.averageValue ?? '0' };
    put(p, 'selector', m.pods.metric.selector);
    out.pods = p;
  }
  if (m.resource) {
    const r: NonNullable<V1MetricStatus['resource']> = { name: m.resource.name, currentAverageValue: m.resource.current.averageValue ?? '0' };
    put(r, 'currentAverageUtilization', m.resource.current.averageUtilization);
    out.resource = r;
  }
  if (m.containerResource) {
    const r: NonNullable<V1MetricStatus['containerResource']> = { name: m.containerResource.name, container: m.containerResource.container, currentAverageValue: m.containerResource.current.averageValue ?? '0' };
    put(r, 'currentAverageUtilization', m.containerResource.current.averageUtilization);
    out.containerResource = r;
  }
  if (m.external) {
    const e: NonNullable<V1MetricStatus['external']> = { metricName: m.external.metric.name, currentValue: m.external.current.value ?? '0' };
    put(e, 'metricSelector', m.external.metric.selector);
    put(e, 'currentAverageValue', m.external.current.averageValue);
    out.external = e;
  }
  return out;
}

function metricStatusFromV1(m: V1MetricStatus): v2.MetricStatus {
  const out: v2.MetricStatus = { type: m.type };
  if (m.object) {
    const current: v2.MetricValueStatus = { value: m.object.currentValue };
    put(current, 'averageValue', m.object.averageValue);
    out.object = { describedObject: { ...m.object.target }, metric: metric(m.object.metricName, m.object.selector), current };
  }
  if (m.pods) out.pods = { metric: metric(m.pods.metricName, m.pods.selector), current: { averageValue: m.pods.currentAverageValue } };
  if (m.resource) {
    const current: v2.MetricValueStatus = { averageValue: m.resource.currentAverageValue };
    put(current, 'averageUtilization', m.resource.currentAverageUtilization);
    out.resource = { name: m.resource.name, current };
  }
  if (m.containerResource) {
    const current: v2.MetricValueStatus = { averageValue: m.containerResource.currentAverageValue };
    put(current, 'averageUtilization', m.containerResource.currentAverageUtilization);
    out.containerResource = { name: m.containerResource.name, container: m.containerResource.container, current };
  }
  if (m.external) {
    const current: v2.MetricValueStatus = { value: m.external.currentValue };
    put(current, 'averageValue', m.external.currentAverageValue);
    out.external = { metric: metric(m.external.metricName, m.external.metricSelector), current };
  }
  return out;
}

/** The internal type's JSON (Go field names, nil pointers as null), as upstream stores behavior. */
function behaviorToAnnotation(b: v2.HorizontalPodAutoscalerBehavior): string {
  const rules = (r: v2.HPAScalingRules | undefined) => r === undefined ? null : {
    StabilizationWindowSeconds: r.stabilizationWindowSeconds ?? null,
    SelectPolicy: r.selectPolicy ?? null,
    Policies: r.policies === undefined ? null : r.policies.map(p => ({ Type: p.type, Value: p.value, PeriodSeconds: p.periodSeconds })),
  };
  return JSON.stringify({ ScaleUp: rules(b.scaleUp), ScaleDown: rules(b.scaleDown) });
}

interface GoRules { StabilizationWindowSeconds?: number | null; SelectPolicy?: string | null; Policies?: { Type: string; Value: number; PeriodSeconds: number }[] | null }

function behaviorFromAnnotation(text: string): v2.HorizontalPodAutoscalerBehavior | undefined {
  let parsed: { ScaleUp?: GoRules | null; ScaleDown?: GoRules | null };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    return undefined;
  }
  const rules = (r: GoRules | null | undefined): v2.HPAScalingRules | undefined => {
    if (!r) return undefined;
    const out: v2.HPAScalingRules = {};
    if (typeof r.StabilizationWindowSeconds === 'number') out.stabilizationWindowSeconds = r.StabilizationWindowSeconds;
    if (typeof r.SelectPolicy === 'string') out.selectPolicy = r.SelectPolicy;
    if (Array.isArray(r.Policies)) out.policies = r.Policies.map(p => ({ type: p.Type, value: p.Value, periodSeconds: p.PeriodSeconds }));
    return out;
  };
  const out: v2.HorizontalPodAutoscalerBehavior = {};
  put(out, 'scaleUp', rules(parsed.ScaleUp));
  put(out, 'scaleDown', rules(parsed.ScaleDown));
  return out.scaleUp || out.scaleDown ? out : undefined;
}

function parseJSON<T>(text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

function isCPUUtilization(m: v2.MetricSpec): boolean {
  return m.type === 'Resource' && m.resource?.name === 'cpu' && m.resource.target.averageUtilization !== undefined;
}

/** The autoscaling/v1 view of a stored (v2) HPA. */
export function hpaToV1(obj: v2.HorizontalPodAutoscaler): v1.HorizontalPodAutoscaler {
  const src = deepCopy(obj);
  const annotations: Record<string, string> = { ...(src.metadata?.annotations ?? {}) };
  for (const k of ROUND_TRIP) delete annotations[k];
  const s = src.spec;
  const spec: v1.HorizontalPodAutoscalerSpec = { scaleTargetRef: s?.scaleTargetRef ?? { kind: '', name: '' }, maxReplicas: s?.maxReplicas ?? 0 };
  put(spec, 'minReplicas', s?.minReplicas);
  const cpu = (s?.metrics ?? []).find(isCPUUtilization);
  put(spec, 'targetCPUUtilizationPercentage', cpu?.resource?.target.averageUtilization);
  const others = (s?.metrics ?? []).filter(m => !isCPUUtilization(m)).map(metricSpecToV1);
  if (others.length > 0) annotations[METRIC_SPECS_ANNOTATION] = JSON.stringify(others);
  const st = src.status;
  if ((st?.currentMetrics ?? []).length > 0) annotations[METRIC_STATUSES_ANNOTATION] = JSON.stringify((st?.currentMetrics ?? []).map(metricStatusToV1));
  if (s?.behavior) annotations[BEHAVIOR_ANNOTATION] = behaviorToAnnotation(s.behavior);
  if ((st?.conditions ?? []).length > 0) annotations[CONDITIONS_ANNOTATION] = JSON.stringify(st?.conditions);
  const out: v1.HorizontalPodAutoscaler = { apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscaler', spec };
  if (src.metadata) {
    out.metadata = { ...src.metadata };
    if (Object.keys(annotations).length > 0) out.metadata.annotations = annotations;
    else delete out.metadata.annotations;
  } else if (Object.keys(annotations).length > 0) {
    out.metadata = { annotations };
  }
  if (st) {
    const status: v1.HorizontalPodAutoscalerStatus = { currentReplicas: st.currentReplicas ?? 0, desiredReplicas: st.desiredReplicas };
    put(status, 'observedGeneration', st.observedGeneration);
    put(status, 'lastScaleTime', st.lastScaleTime);
    const cur = (st.currentMetrics ?? []).find(m => m.type === 'Resource' && m.resource?.name === 'cpu' && m.resource.current.averageUtilization !== undefined);
    put(status, 'currentCPUUtilizationPercentage', cur?.resource?.current.averageUtilization);
    out.status = status;
  }
  return out;
}

/** The stored (v2) form of an HPA written through autoscaling/v1. */
export function hpaFromV1(obj: v1.HorizontalPodAutoscaler): v2.HorizontalPodAutoscaler {
  const src = deepCopy(obj);
  const annotations = src.metadata?.annotations ?? {};
  const s = src.spec;
  const spec: v2.HorizontalPodAutoscalerSpec = { scaleTargetRef: s?.scaleTargetRef ?? { kind: '', name: '' }, maxReplicas: s?.maxReplicas ?? 0 };
  put(spec, 'minReplicas', s?.minReplicas);
  const metrics: v2.MetricSpec[] = (parseJSON<V1MetricSpec[]>(annotations[METRIC_SPECS_ANNOTATION]) ?? []).map(metricSpecFromV1);
  if (s?.targetCPUUtilizationPercentage !== undefined) {
    metrics.push({ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: s.targetCPUUtilizationPercentage } } });
  }
  // v1 used to default 80% CPU in the controller; v2 makes it explicit, here as upstream does.
  spec.metrics = metrics.length > 0 ? metrics : [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: DEFAULT_CPU_UTILIZATION } } }];
  const behaviorText = annotations[BEHAVIOR_ANNOTATION];
  const behavior = behaviorText === undefined ? undefined : behaviorFromAnnotation(behaviorText);
  put(spec, 'behavior', behavior);
  const out: v2.HorizontalPodAutoscaler = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', spec };
  if (src.metadata) {
    out.metadata = { ...src.metadata };
    const kept = { ...annotations };
    for (const k of ROUND_TRIP) delete kept[k];
    if (Object.keys(kept).length > 0) out.metadata.annotations = kept;
    else delete out.metadata.annotations;
  }
  const st = src.status;
  if (st) {
    const status: v2.HorizontalPodAutoscalerStatus = { desiredReplicas: st.desiredReplicas };
    if (st.currentReplicas !== undefined) status.currentReplicas = st.currentReplicas;
    put(status, 'observedGeneration', st.observedGeneration);
    put(status, 'lastScaleTime', st.lastScaleTime);
    const fromAnnotation = parseJSON<V1MetricStatus[]>(annotations[METRIC_STATUSES_ANNOTATION]);
    if (fromAnnotation) status.currentMetrics = fromAnnotation.map(metricStatusFromV1);
    else if (st.currentCPUUtilizationPercentage !== undefined) {
      status.currentMetrics = [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: st.currentCPUUtilizationPercentage } } }];
    }
    const conditions = parseJSON<v2.HorizontalPodAutoscalerCondition[]>(annotations[CONDITIONS_ANNOTATION]);
    if (conditions) status.conditions = conditions;
    out.status = status;
  }
  return out;
}

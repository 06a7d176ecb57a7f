// autoscaling/v2 HorizontalPodAutoscaler (the storage version; autoscaling/v1 is a conversion of
// it). Defaults as upstream: minReplicas 1, 80% average CPU utilization when no metric is given,
// and when `behavior` is present the default scale-up (max of 4 pods or 100% per 15s, no
// stabilization) and scale-down (100% per 15s) rules fill what is unset. Validation follows
// upstream's validateHorizontalPodAutoscalerSpec; the TARGETS column is formatHPAMetrics.
import type {
  HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, HPAScalingRules, MetricSpec, MetricStatus, MetricTarget,
  CrossVersionObjectReference,
} from 'kubernetes-types/autoscaling/v2.js';
import { FieldPath, field, type FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { formatQuantity, tryParseQuantity, isZero } from '../../../api/quantity.js';
import { validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { nameIsDNSSubdomain, nameIsPathSegment } from '../../../api/validation/names.js';
import { ageColumn, ageOf, column, nameColumn } from '../printers.js';
import type { ResourceDef } from '../types.js';
import { validateCounterStatusUpdate } from '../apps/common.js';
import { keepOldStatus } from '../core/common.js';

const asHPA = (obj: KubeObject): HorizontalPodAutoscaler => obj as unknown as HorizontalPodAutoscaler;
const specPath = FieldPath.root('spec');

const MAX_PERIOD_SECONDS = 1800;
const MAX_STABILIZATION_WINDOW_SECONDS = 3600;
const METRIC_TYPES = ['ContainerResource', 'External', 'Object', 'Pods', 'Resource'];
const SELECT_POLICIES = ['Disabled', 'Max', 'Min'];
const POLICY_TYPES = ['Percent', 'Pods'];
const SOURCE_FIELD: Record<string, 'object' | 'pods' | 'resource' | 'external' | 'containerResource'> = {
  Object: 'object', Pods: 'pods', Resource: 'resource', External: 'external', ContainerResource: 'containerResource',
};

function defaultScaleUp(): HPAScalingRules {
  return { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }] };
}
function defaultScaleDown(): HPAScalingRules {
  return { selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] };
}

/** Upstream's copyHPAScalingRules: the user's values over the defaults. */
function mergeRules(from: HPAScalingRules | undefined, defaults: HPAScalingRules): HPAScalingRules {
  if (!from) return defaults;
  const out: HPAScalingRules = { ...defaults };
  if (from.selectPolicy !== undefined) out.selectPolicy = from.selectPolicy;
  if (from.stabilizationWindowSeconds !== undefined) out.stabilizationWindowSeconds = from.stabilizationWindowSeconds;
  if (from.policies !== undefined) out.policies = from.policies;
  for (const [k, v] of Object.entries(from)) if (!(k in out)) (out as Record<string, unknown>)[k] = v;
  return out;
}

export function applyHPADefaults(obj: KubeObject): void {
  const hpa = asHPA(obj);
  const s = (hpa.spec ??= { maxReplicas: 0, scaleTargetRef: { kind: '', name: '' } });
  s.minReplicas ??= 1;
  if (!s.metrics || s.metrics.length === 0) {
    s.metrics = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }];
  }
  if (s.behavior) {
    s.behavior.scaleUp = mergeRules(s.behavior.scaleUp, defaultScaleUp());
    s.behavior.scaleDown = mergeRules(s.behavior.scaleDown, defaultScaleDown());
  }
}

function validateObjectReference(ref: CrossVersionObjectReference | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  for (const key of ['kind', 'name'] as const) {
    const v = ref?.[key] ?? '';
    const p = path.child(key).toString();
    if (v === '') errs.push(field.required(p));
    else for (const m of nameIsPathSegment(v, false)) errs.push(field.invalid(p, v, m));
  }
  return errs;
}

function positive(q: string | number | undefined): boolean {
  if (q === undefined) return true;
  const parsed = tryParseQuantity(q);
  return parsed !== undefined && !isZero(parsed) && parsed.mantissa > 0n;
}

function validateMetricTarget(t: MetricTarget | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const type = t?.type ?? '';
  if (type === '') errs.push(field.required(path.child('type').toString(), 'must specify a metric target type'));
  if (!['Utilization', 'Value', 'AverageValue'].includes(type)) errs.push(field.invalid(path.child('type').toString(), type, 'must be either Utilization, Value, or AverageValue'));
  if (!positive(t?.value)) errs.push(field.invalid(path.child('value').toString(), t?.value, 'must be positive'));
  if (!positive(t?.averageValue)) errs.push(field.invalid(path.child('averageValue').toString(), t?.averageValue, 'must be positive'));
  if (t?.averageUtilization !== undefined && t.averageUtilization < 1) errs.push(field.invalid(path.child('averageUtilization').toString(), t.averageUtilization, 'must be greater than 0'));
  return errs;
}

function validateMetricName(name: string | undefined, path: FieldPath): FieldError[] {
  if (!name) return [field.required(path.child('name').toString(), 'must specify a metric name')];
  return nameIsPathSegment(name, false).map(m => field.invalid(path.child('name').toString(), name, m));
}

function validateSource(spec: MetricSpec, key: string, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const tPath = path.child('target');
  switch (key) {
    case 'resource':
    case 'containerResource': {
      const src = key === 'resource' ? spec.resource : spec.containerResource;
      if (!src?.name) errs.push(field.required(path.child('name').toString(), 'must specify a resource name'));
      if (key === 'containerResource' && !spec.containerResource?.container) errs.push(field.required(path.child('container').toString(), 'must specify a container'));
      errs.push(...validateMetricTarget(src?.target, tPath));
      if (src?.target?.averageUtilization === undefined && src?.target?.averageValue === undefined) {
        errs.push(field.required(tPath.child('averageUtilization').toString(), 'must set either a target raw value or a target utilization'));
      }
      if (src?.target?.averageUtilization !== undefined && src.target.averageValue !== undefined) {
        errs.push(field.forbidden(tPath.child('averageValue').toString(), 'may not set both a target raw value and a target utilization'));
      }
      break;
    }
    case 'pods':
      errs.push(...validateMetricName(spec.pods?.metric?.name, path.child('metric')));
      errs.push(...validateMetricTarget(spec.pods?.target, tPath));
      if (spec.pods?.target?.averageValue === undefined) errs.push(field.required(tPath.child('averageValue').toString(), 'must specify a positive target averageValue'));
      break;
    case 'object':
      errs.push(...validateObjectReference(spec.object?.describedObject, path.child('describedObject')));
      errs.push(...validateMetricName(spec.object?.metric?.name, path.child('metric')));
      errs.push(...validateMetricTarget(spec.object?.target, tPath));
      if (spec.object?.target?.value === undefined && spec.object?.target?.averageValue === undefined) {
        errs.push(field.required(tPath.child('averageValue').toString(), 'must set either a target value or averageValue'));
      }
      break;
    case 'external':
      errs.push(...validateMetricName(spec.external?.metric?.name, path.child('metric')));
      errs.push(...validateMetricTarget(spec.external?.target, tPath));
      if (spec.external?.target?.value === undefined && spec.external?.target?.averageValue === undefined) {
        errs.push(field.required(tPath.child('averageValue').toString(), 'must set either a target value for metric or a per-pod target'));
      }
      if (spec.external?.target?.value !== undefined && spec.external.target.averageValue !== undefined) {
        errs.push(field.forbidden(tPath.child('value').toString(), 'may not set both a target value for metric and a per-pod target'));
      }
      break;
  }
  return errs;
}

function validateMetricSpec(spec: MetricSpec, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const type = spec.type ?? '';
  if (type === '') errs.push(field.required(path.child('type').toString(), 'must specify a metric source type'));
  if (!METRIC_TYPES.includes(type)) errs.push(field.notSupported(path.child('type').toString(), type, METRIC_TYPES));
  const present = (['object', 'external', 'pods', 'resource', 'containerResource'] as const).filter(k => spec[k] !== undefined && spec[k] !== null);
  const first = present[0];
  if (first) errs.push(...validateSource(spec, first, path.child(first)));
  const expected = SOURCE_FIELD[type];
  if (expected) {
    if (spec[expected] === undefined || spec[expected] === null) errs.push(field.required(path.child(expected).toString(), 'must populate information for the given metric source'));
  } else {
    errs.push(field.notSupported(path.child('type').toString(), type, METRIC_TYPES));
  }
  if (present.length !== 1) {
    for (const k of present.filter(k => k !== expected)) errs.push(field.forbidden(path.child(k).toString(), 'must populate the given metric source only'));
  }
  return errs;
}

function validateScalingRules(rules: HPAScalingRules | undefined, path: FieldPath): FieldError[] {
  if (!rules) return [];
  const errs: FieldError[] = [];
  const sw = rules.stabilizationWindowSeconds;
  if (sw !== undefined && sw < 0) errs.push(field.invalid(path.child('stabilizationWindowSeconds').toString(), sw, 'must be greater than or equal to zero'));
  if (sw !== undefined && sw > MAX_STABILIZATION_WINDOW_SECONDS) errs.push(field.invalid(path.child('stabilizationWindowSeconds').toString(), sw, `must be less than or equal to ${MAX_STABILIZATION_WINDOW_SECONDS}`));
  if (rules.selectPolicy !== undefined && !SELECT_POLICIES.includes(rules.selectPolicy)) errs.push(field.notSupported(path.child('selectPolicy').toString(), rules.selectPolicy, SELECT_POLICIES));
  const pPath = path.child('policies');
  if ((rules.policies ?? []).length === 0) errs.push(field.required(pPath.toString(), 'must specify at least one Policy'));
  (rules.policies ?? []).forEach((p, i) => {
    const ip = pPath.index(i);
    if (!POLICY_TYPES.includes(p.type)) errs.push(field.notSupported(ip.child('type').toString(), p.type, POLICY_TYPES));
    if (!(p.value > 0)) errs.push(field.invalid(ip.child('value').toString(), p.value, 'must be greater than zero'));
    if (!(p.periodSeconds > 0)) errs.push(field.invalid(ip.child('periodSeconds').toString(), p.periodSeconds, 'must be greater than zero'));
    if (p.periodSeconds > MAX_PERIOD_SECONDS) errs.push(field.invalid(ip.child('periodSeconds').toString(), p.periodSeconds, `must be less than or equal to ${MAX_PERIOD_SECONDS}`));
  });
  return errs;
}

export function validateHPASpec(s: HorizontalPodAutoscalerSpec | undefined): FieldError[] {
  const errs: FieldError[] = [];
  const min = s?.minReplicas;
  const max = s?.maxReplicas ?? 0;
  if (min !== undefined && min < 1) errs.push(field.invalid(specPath.child('minReplicas').toString(), min, 'must be greater than or equal to 1'));
  if (max < 1) errs.push(field.invalid(specPath.child('maxReplicas').toString(), max, 'must be greater than 0'));
  if (min !== undefined && max < min) errs.push(field.invalid(specPath.child('maxReplicas').toString(), max, 'must be greater than or equal to `minReplicas`'));
  errs.push(...validateObjectReference(s?.scaleTargetRef, specPath.child('scaleTargetRef')));
  (s?.metrics ?? []).forEach((m, i) => errs.push(...validateMetricSpec(m, specPath.child('metrics').index(i))));
  if (s?.behavior) {
    errs.push(...validateScalingRules(s.behavior.scaleUp, specPath.child('behavior').child('scaleUp')));
    errs.push(...validateScalingRules(s.behavior.scaleDown, specPath.child('behavior').child('scaleDown')));
  }
  return errs;
}

const q = (v: string | number | undefined): string => {
  if (v === undefined) return '<unknown>';
  const parsed = tryParseQuantity(v);
  return parsed ? formatQuantity(parsed) : String(v);
};

/** Upstream's formatHPAMetrics: one `current/target` per metric, at most two, then `+ N more...`. */
export function formatHPAMetrics(specs: MetricSpec[] | undefined, statuses: MetricStatus[] | undefined): string {
  const list = specs ?? [];
  if (list.length === 0) return '<none>';
  const st = statuses ?? [];
  const items = list.map((spec, i) => {
    const status = st[i];
    switch (spec.type) {
      case 'External': {
        const t = spec.external?.target;
        if (t?.averageValue !== undefined) {
          const cur = status?.external?.current?.averageValue;
          return `${cur !== undefined ? q(cur) : '<unknown>'}/${q(t.averageValue)} (avg)`;
        }
        return `${status?.external ? q(status.external.current?.value) : '<unknown>'}/${q(t?.value)}`;
      }
      case 'Pods':
        return `${status?.pods ? q(status.pods.current?.averageValue) : '<unknown>'}/${q(spec.pods?.target?.averageValue)}`;
      case 'Object': {
        const t = spec.object?.target;
        if (t?.averageValue !== undefined) {
          const cur = status?.object?.current?.averageValue;
          return `${cur !== undefined ? q(cur) : '<unknown>'}/${q(t.averageValue)} (avg)`;
        }
        return `${status?.object ? q(status.object.current?.value) : '<unknown>'}/${q(t?.value)}`;
      }
      case 'Resource':
      case 'ContainerResource': {
        const src = spec.type === 'Resource' ? spec.resource : spec.containerResource;
        const cur = spec.type === 'Resource' ? status?.resource : status?.containerResource;
        const t = src?.target;
        if (t?.averageValue !== undefined) return `${src?.name ?? ''}: ${cur ? q(cur.current?.averageValue) : '<unknown>'}/${q(t.averageValue)}`;
        const current = cur?.current?.averageUtilization !== undefined ? `${cur.current.averageUtilization}%` : '<unknown>';
        const target = t?.averageUtilization !== undefined ? `${t.averageUtilization}%` : '<auto>';
        return `${src?.name ?? ''}: ${current}/${target}`;
      }
      default:
        return '<unknown type>';
    }
  });
  const max = 2;
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown} + ${items.length - max} more...` : shown;
}

export const horizontalpodautoscalers: ResourceDef = {
  group: 'autoscaling', version: 'v2', kind: 'HorizontalPodAutoscaler', listKind: 'HorizontalPodAutoscalerList',
  resource: 'horizontalpodautoscalers', singularName: 'horizontalpodautoscaler', shortNames: ['hpa'], categories: ['all'],
  namespaced: true,
  verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  subresources: ['status'],
  schemaName: 'io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler',
  hasStatusSubresource: true,
  tracksGeneration: false,
  applyDefaults: obj => applyHPADefaults(obj),
  prepareForCreate(obj) { obj.status = { desiredReplicas: 0 }; },
  prepareForUpdate: keepOldStatus,
  validate: obj => [...validateObjectMeta(obj.metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain), ...validateHPASpec(asHPA(obj).spec)],
  validateUpdate: (obj, old) => [...validateObjectMetaUpdate(obj.metadata, old.metadata), ...validateHPASpec(asHPA(obj).spec)],
  validateStatusUpdate: validateCounterStatusUpdate(['currentReplicas', 'desiredReplicas']),
  tableColumns: [
    nameColumn(),
    column('Reference', 'string', 'scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.'),
    column('Targets', 'string', 'metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).  The desired replica count is calculated multiplying the ratio between the target value and the current value by the current number of pods.  Ergo, metrics used must decrease as the pod count is increased, and vice-versa.  See the individual metric source types for more information about how each type of metric must respond. If not set, the default metric will be set to 80% average CPU utilization.'),
    column('MinPods', 'string', 'minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate HPAScaleToZero is enabled and at least one Object or External metric is configured.  Scaling is active as long as at least one metric value is available.'),
    column('MaxPods', 'string', 'maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up. It cannot be less that minReplicas.'),
    column('Replicas', 'string', 'currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.'),
    ageColumn(),
  ],
  tableRow(obj, now) {
    const hpa = asHPA(obj);
    const ref = hpa.spec?.scaleTargetRef;
    const min = hpa.spec?.minReplicas;
    return [
      hpa.metadata?.name ?? '', `${ref?.kind ?? ''}/${ref?.name ?? ''}`, formatHPAMetrics(hpa.spec?.metrics, hpa.status?.currentMetrics),
      min === undefined ? '<unset>' : String(min), hpa.spec?.maxReplicas ?? 0, hpa.status?.currentReplicas ?? 0, ageOf(hpa, now),
    ];
  },
};

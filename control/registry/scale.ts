// The `/scale` subresource: an `autoscaling/v1 Scale` view of any resource with a ResourceDef.scale
// mapping (deployments, replicasets, statefulsets, replicationcontrollers). Reading builds the Scale
// from the object; writing validates the Scale and copies spec.replicas back, as upstream's
// scaleUpdatedObjectInfo does. The selector is rendered as a string in status.selector, the form
// the HPA controller parses (`app=web,tier in (a,b)`).
import type { Scale } from 'kubernetes-types/autoscaling/v1.js';
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import { errors, field, type FieldError } from '../../api/errors.js';
import { deepCopy, type KubeObject } from '../../api/object.js';
import { validateNonnegativeField } from '../../api/validation/meta.js';
import { labelSelectorString, labelsString, tryFromMetaLabelSelector } from '../../api/selectors.js';
import { getPath, setPath } from './apps/common.js';
import type { ResourceDef, ScaleMapping } from './types.js';

function mappingOf(def: ResourceDef): ScaleMapping {
  if (!def.scale) throw errors.notFoundPath(`${def.resource}/scale`);
  return def.scale;
}

/** The selector string of status.selector; '' (omitted) when there is none. */
export function scaleSelector(mapping: ScaleMapping, obj: KubeObject): string {
  const raw = getPath(obj, mapping.selector);
  if (mapping.selectorIsMap) return labelsString(raw as Record<string, string> | undefined);
  const selector = tryFromMetaLabelSelector(raw as LabelSelector | undefined);
  return selector === undefined ? '' : labelSelectorString(selector);
}

/** The Scale of `obj`, as GET …/scale returns it. */
export function scaleFor(def: ResourceDef, obj: KubeObject): Scale {
  const mapping = mappingOf(def);
  const meta = obj.metadata ?? {};
  const metadata: Record<string, unknown> = {};
  for (const key of ['name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp'] as const) {
    if (meta[key] !== undefined) metadata[key] = meta[key];
  }
  const specReplicas = numberAt(obj, mapping.specReplicas);
  const statusReplicas = numberAt(obj, mapping.statusReplicas);
  const selector = scaleSelector(mapping, obj);
  const scale: Scale = {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: metadata as NonNullable<Scale['metadata']>,
    // Upstream's ScaleSpec.replicas is `omitempty`, so zero replicas is an empty spec.
    spec: specReplicas ? { replicas: specReplicas } : {},
    status: selector ? { replicas: statusReplicas, selector } : { replicas: statusReplicas },
  };
  return scale;
}

function numberAt(obj: KubeObject, path: string): number {
  const v = getPath(obj, path);
  return typeof v === 'number' ? v : 0;
}

/** Upstream's ValidateScale: spec.replicas must not be negative. */
export function validateScale(scale: Scale): FieldError[] {
  const r = scale.spec?.replicas ?? 0;
  if (typeof r !== 'number' || !Number.isInteger(r)) return [field.invalid('spec.replicas', r, 'must be an integer')];
  return validateNonnegativeField(r, 'spec.replicas');
}

/**
 * The object after PUT/PATCH …/scale with `scale`: a copy of `obj` with spec.replicas from the
 * Scale and, when the Scale carries one, its resourceVersion as the update precondition.
 * Throws a 422 `Scale.autoscaling` error for an invalid Scale and a 409 when the Scale's uid
 * names another object.
 */
export function applyScale(def: ResourceDef, obj: KubeObject, scale: Scale): KubeObject {
  const mapping = mappingOf(def);
  const name = obj.metadata?.name ?? '';
  const errs = validateScale(scale);
  if (errs.length > 0) throw errors.invalid('Scale', 'autoscaling', scale.metadata?.name ?? name, errs);
  const uid = scale.metadata?.uid;
  if (uid && obj.metadata?.uid && uid !== obj.metadata.uid) {
    throw errors.conflict(def.resource, def.group, name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${obj.metadata.uid}`);
  }
  const next = deepCopy(obj);
  setPath(next as Record<string, unknown>, mapping.specReplicas, scale.spec?.replicas ?? 0);
  const rv = scale.metadata?.resourceVersion;
  if (rv) next.metadata = { ...(next.metadata ?? {}), resourceVersion: rv };
  return next;
}

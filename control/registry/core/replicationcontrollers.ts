// ReplicationControllers: replicas default 1, selector and labels default to the template's
// labels, the selector must match them, the template must restart Always; `/scale` works on the
// map selector and `/status` carries the controller's counts.
import type { ReplicationController } from 'kubernetes-types/core/v1.js';
import { field, FieldPath, type FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { validateNonnegativeField, validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { nameIsDNSSubdomain } from '../../../api/validation/names.js';
import {
  CONTAINERS_DESCRIPTION, IMAGES_DESCRIPTION, ageColumn, column, containerCells, formatLabels, nameColumn, translateTimestampSince,
} from '../printers.js';
import type { ResourceDef } from '../types.js';
import { ALL_VERBS, as, keepOldStatus } from './common.js';
import { applyPodTemplateDefaults, validatePodTemplateSpec } from './podspec.js';

function selectorMatches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function validateSpec(rc: ReplicationController): FieldError[] {
  const errs: FieldError[] = [];
  const spec = rc.spec ?? {};
  const path = FieldPath.root('spec');
  errs.push(...validateNonnegativeField(spec.minReadySeconds ?? 0, path.child('minReadySeconds')));
  const selector = spec.selector ?? {};
  if (Object.keys(selector).length === 0) errs.push(field.required(path.child('selector').toString(), ''));
  errs.push(...validateNonnegativeField(spec.replicas ?? 0, path.child('replicas')));
  const tPath = path.child('template');
  const template = spec.template;
  if (!template) {
    errs.push(field.required(tPath.toString(), ''));
    return errs;
  }
  if (Object.keys(selector).length > 0 && !selectorMatches(selector, template.metadata?.labels)) {
    errs.push(field.invalid(tPath.child('metadata').child('labels').toString(), template.metadata?.labels ?? {}, '`selector` does not match template `labels`'));
  }
  errs.push(...validatePodTemplateSpec(template, tPath));
  const rp = template.spec?.restartPolicy;
  if (rp !== 'Always') errs.push(field.notSupported(tPath.child('spec').child('restartPolicy').toString(), rp ?? '', ['Always']));
  if (template.spec?.activeDeadlineSeconds !== undefined) {
    errs.push(field.forbidden(tPath.child('spec').child('activeDeadlineSeconds').toString(), 'activeDeadlineSeconds in ReplicationController is not Supported'));
  }
  return errs;
}

function validateRC(obj: KubeObject): FieldError[] {
  const rc = as<ReplicationController>(obj);
  return [...validateObjectMeta(rc.metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain), ...validateSpec(rc)];
}

function validateStatus(rc: ReplicationController): FieldError[] {
  const errs: FieldError[] = [];
  const s = rc.status;
  if (!s) return errs;
  const p = FieldPath.root('status');
  for (const k of ['replicas', 'fullyLabeledReplicas', 'readyReplicas', 'availableReplicas', 'observedGeneration'] as const) {
    errs.push(...validateNonnegativeField(s[k] ?? 0, p.child(k)));
  }
  if ((s.fullyLabeledReplicas ?? 0) > (s.replicas ?? 0)) errs.push(field.invalid(p.child('fullyLabeledReplicas').toString(), s.fullyLabeledReplicas, 'cannot be greater than status.replicas'));
  if ((s.readyReplicas ?? 0) > (s.replicas ?? 0)) errs.push(field.invalid(p.child('readyReplicas').toString(), s.readyReplicas, 'cannot be greater than status.replicas'));
  if ((s.availableReplicas ?? 0) > (s.replicas ?? 0)) errs.push(field.invalid(p.child('availableReplicas').toString(), s.availableReplicas, 'cannot be greater than status.replicas'));
  if ((s.availableReplicas ?? 0) > (s.readyReplicas ?? 0)) errs.push(field.invalid(p.child('availableReplicas').toString(), s.availableReplicas, 'cannot be greater than readyReplicas'));
  return errs;
}

export const replicationcontrollers: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'ReplicationController',
  listKind: 'ReplicationControllerList',
  resource: 'replicationcontrollers',
  singularName: 'replicationcontroller',
  shortNames: ['rc'],
  categories: ['all'],
  namespaced: true,
  verbs: ALL_VERBS,
  subresources: ['status', 'scale'],
  schemaName: 'io.k8s.api.core.v1.ReplicationController',
  hasStatusSubresource: true,
  tracksGeneration: true,

  applyDefaults(obj) {
    const rc = as<ReplicationController>(obj);
    const spec = (obj['spec'] ??= {}) as NonNullable<ReplicationController['spec']>;
    const labels = rc.spec?.template?.metadata?.labels;
    if (labels) {
      if (!spec.selector || Object.keys(spec.selector).length === 0) spec.selector = { ...labels };
      const meta = (obj.metadata ??= {});
      if (!meta.labels || Object.keys(meta.labels).length === 0) meta.labels = { ...labels };
    }
    spec.replicas ??= 1;
    applyPodTemplateDefaults(spec.template);
  },
  prepareForCreate(obj) {
    obj['status'] = { replicas: 0 };
  },
  prepareForUpdate: keepOldStatus,
  validate: validateRC,
  validateUpdate(obj, old) {
    const rc = as<ReplicationController>(obj);
    return [
      ...validateObjectMetaUpdate(rc.metadata, as<ReplicationController>(old).metadata),
      ...validateSpec(rc),
    ];
  },
  validateStatusUpdate(obj, old) {
    const rc = as<ReplicationController>(obj);
    return [...validateObjectMetaUpdate(rc.metadata, as<ReplicationController>(old).metadata), ...validateStatus(rc)];
  },

  tableColumns: [
    nameColumn(),
    column('Desired', 'integer', 'Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller'),
    column('Current', 'integer', 'Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller'),
    column('Ready', 'integer', 'The number of ready replicas for this replication controller.'),
    ageColumn(),
    column('Containers', 'string', CONTAINERS_DESCRIPTION, 1),
    column('Images', 'string', IMAGES_DESCRIPTION, 1),
    column('Selector', 'string', 'Selector is a label query over pods that should match the Replicas count. If Selector is empty, it is defaulted to the labels present on the Pod template. Label keys and values that must match in order to be controlled by this replication controller, if empty defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors', 1),
  ],
  tableRow(obj, now) {
    const rc = as<ReplicationController>(obj);
    const [names, images] = containerCells(rc.spec?.template?.spec?.containers);
    return [
      rc.metadata?.name ?? '', rc.spec?.replicas ?? 0, rc.status?.replicas ?? 0, rc.status?.readyReplicas ?? 0,
      translateTimestampSince(rc.metadata?.creationTimestamp, now),
      names, images, formatLabels(rc.spec?.selector),
    ];
  },
  fieldSelectorAttributes: obj => ({ 'status.replicas': String(as<ReplicationController>(obj).status?.replicas ?? 0) }),

  scale: { specReplicas: 'spec.replicas', statusReplicas: 'status.replicas', selector: 'spec.selector', selectorIsMap: true },
};

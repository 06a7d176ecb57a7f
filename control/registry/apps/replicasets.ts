// apps/v1 ReplicaSet: replicas default 1, ValidateReplicaSet (selector required, not empty, must
// match the template; the selector is immutable through apps/v1), status split with generation
// tracking, DESIRED/CURRENT/READY columns and the scale mapping.
import type { ReplicaSet } from 'kubernetes-types/apps/v1.js';
import { FieldPath, field, type FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { validateNonnegativeField, validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { nameIsDNSSubdomain } from '../../../api/validation/names.js';
import { CONTAINERS_DESCRIPTION, IMAGES_DESCRIPTION, ageColumn, ageOf, column, containerCells, nameColumn } from '../printers.js';
import type { ResourceDef } from '../types.js';
import { keepOldStatus } from '../core/common.js';
import { formatLabelSelector } from '../../../api/selectors.js';
import { immutableSelector, validateCounterStatusUpdate } from './common.js';
import { applyPodTemplateDefaults } from './podtemplate.js';
import { validateReplicaSetTemplate, validateWorkloadSelector } from './workload.js';

const asReplicaSet = (obj: KubeObject): ReplicaSet => obj as unknown as ReplicaSet;
const specPath = FieldPath.root('spec');

function validateSpec(rs: ReplicaSet): FieldError[] {
  const s = rs.spec;
  return [
    ...validateNonnegativeField(s?.replicas ?? 0, specPath.child('replicas')),
    ...validateNonnegativeField(s?.minReadySeconds ?? 0, specPath.child('minReadySeconds')),
    // Upstream reuses the deployment wording for replica sets.
    ...validateWorkloadSelector(s?.selector, specPath.child('selector'), 'deployment'),
    ...validateReplicaSetTemplate(s?.selector, s?.template, specPath.child('template')),
  ];
}

const STATUS_COUNTERS = ['replicas', 'fullyLabeledReplicas', 'readyReplicas', 'availableReplicas', 'observedGeneration', 'terminatingReplicas'];

function validateStatusUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const rs = asReplicaSet(obj);
  const st = FieldPath.root('status');
  const s = rs.status ?? { replicas: 0 };
  const errs = validateCounterStatusUpdate(STATUS_COUNTERS)(obj, old);
  for (const name of ['fullyLabeledReplicas', 'readyReplicas', 'availableReplicas'] as const) {
    const v = s[name] ?? 0;
    if (v > s.replicas) errs.push(field.invalid(st.child(name).toString(), v, 'cannot be greater than status.replicas'));
  }
  if ((s.availableReplicas ?? 0) > (s.readyReplicas ?? 0)) {
    errs.push(field.invalid(st.child('availableReplicas').toString(), s.availableReplicas ?? 0, 'cannot be greater than readyReplicas'));
  }
  return errs;
}

export const replicasets: ResourceDef = {
  group: 'apps', version: 'v1', kind: 'ReplicaSet', listKind: 'ReplicaSetList',
  resource: 'replicasets', singularName: 'replicaset', shortNames: ['rs'], categories: ['all'],
  namespaced: true,
  verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  subresources: ['status', 'scale'],
  schemaName: 'io.k8s.api.apps.v1.ReplicaSet',
  hasStatusSubresource: true,
  tracksGeneration: true,
  applyDefaults(obj) {
    const rs = asReplicaSet(obj);
    const s = (rs.spec ??= { selector: undefined as never });
    s.replicas ??= 1;
    s.template ??= {};
    applyPodTemplateDefaults(s.template);
  },
  prepareForCreate(obj) {
    obj.status = { replicas: 0 };
  },
  prepareForUpdate: keepOldStatus,
  validate: obj => [...validateObjectMeta(obj.metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain), ...validateSpec(asReplicaSet(obj))],
  validateUpdate: (obj, old) => [
    ...validateObjectMetaUpdate(obj.metadata, old.metadata),
    ...validateSpec(asReplicaSet(obj)),
    ...immutableSelector(specPath.child('selector'), asReplicaSet(obj).spec?.selector, asReplicaSet(old).spec?.selector),
  ],
  validateStatusUpdate: (obj, old) => validateStatusUpdate(obj, old),
  fieldSelectorAttributes: obj => ({ 'status.replicas': String(asReplicaSet(obj).status?.replicas ?? 0) }),
  tableColumns: [
    nameColumn(),
    column('Desired', 'integer', 'Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller'),
    column('Current', 'integer', 'Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller'),
    column('Ready', 'integer', 'readyReplicas is the number of pods targeted by this ReplicaSet with a Ready Condition.'),
    ageColumn(),
    column('Containers', 'string', CONTAINERS_DESCRIPTION, 1),
    column('Images', 'string', IMAGES_DESCRIPTION, 1),
    column('Selector', 'string', "Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors", 1),
  ],
  tableRow(obj, now) {
    const rs = asReplicaSet(obj);
    const [names, images] = containerCells(rs.spec?.template?.spec?.containers);
    return [rs.metadata?.name ?? '', rs.spec?.replicas ?? 0, rs.status?.replicas ?? 0, rs.status?.readyReplicas ?? 0, ageOf(rs, now), names, images, formatLabelSelector(rs.spec?.selector)];
  },
  scale: { specReplicas: 'spec.replicas', statusReplicas: 'status.replicas', selector: 'spec.selector' },
};

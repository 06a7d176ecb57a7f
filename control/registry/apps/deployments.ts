// apps/v1 Deployment: upstream's defaults (apps/v1 SetDefaults_Deployment), validation
// (ValidateDeployment / ValidateDeploymentUpdate plus the strategy's immutable selector),
// the status/spec split with generation tracking, the `kubectl get` columns and the scale mapping.
import type { Deployment, DeploymentSpec, DeploymentStrategy } from 'kubernetes-types/apps/v1.js';
import { field, FieldPath, type FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { semanticEqual } from '../../../api/validation/immutable.js';
import { validateNonnegativeField, validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { nameIsDNSSubdomain } from '../../../api/validation/names.js';
import { labelSelectorString, tryFromMetaLabelSelector } from '../../../api/selectors.js';
import { CONTAINERS_DESCRIPTION, IMAGES_DESCRIPTION, ageColumn, ageOf, column, containerCells, nameColumn } from '../printers.js';
import type { ResourceDef } from '../types.js';
import { keepOldStatus } from '../core/common.js';
import {
  GoValueFieldError, goIntOrString, immutableSelector, intOrPercentValue, validateCounterStatusUpdate,
  validateNonnegativeIntOrPercent, validateNotMoreThan100Percent,
} from './common.js';
import { applyPodTemplateDefaults } from './podtemplate.js';
import { validateReplicaSetTemplate, validateWorkloadSelector } from './workload.js';

const asDeployment = (obj: KubeObject): Deployment => obj as unknown as Deployment;
const spec = FieldPath.root('spec');

export function applyDeploymentDefaults(obj: KubeObject): void {
  const d = asDeployment(obj);
  const s = (d.spec ??= { selector: undefined as never, template: {} });
  s.replicas ??= 1;
  const strategy = (s.strategy ??= {});
  if (!strategy.type) strategy.type = 'RollingUpdate';
  if (strategy.type === 'RollingUpdate') {
    const ru = (strategy.rollingUpdate ??= {});
    ru.maxUnavailable ??= '25%';
    ru.maxSurge ??= '25%';
  }
  s.revisionHistoryLimit ??= 10;
  s.progressDeadlineSeconds ??= 600;
  s.template ??= {};
  applyPodTemplateDefaults(s.template);
}

function validateStrategy(strategy: DeploymentStrategy | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const type = strategy?.type ?? '';
  if (type === 'Recreate') {
    if (strategy?.rollingUpdate) errs.push(field.forbidden(path.child('rollingUpdate').toString(), "may not be specified when strategy `type` is 'Recreate'"));
  } else if (type === 'RollingUpdate') {
    const ru = strategy?.rollingUpdate;
    if (!ru) {
      errs.push(field.required(path.child('rollingUpdate').toString(), 'this should be defaulted and never be nil'));
    } else {
      const p = path.child('rollingUpdate');
      errs.push(...validateNonnegativeIntOrPercent(ru.maxUnavailable, p.child('maxUnavailable')));
      errs.push(...validateNonnegativeIntOrPercent(ru.maxSurge, p.child('maxSurge')));
      if (intOrPercentValue(ru.maxUnavailable) === 0 && intOrPercentValue(ru.maxSurge) === 0) {
        errs.push(new GoValueFieldError(p.child('maxUnavailable').toString(), ru.maxUnavailable, goIntOrString(ru.maxUnavailable), 'may not be 0 when `maxSurge` is 0'));
      }
      errs.push(...validateNotMoreThan100Percent(ru.maxUnavailable, p.child('maxUnavailable')));
    }
  } else {
    errs.push(field.notSupported(path.toString(), strategy ?? {}, ['Recreate', 'RollingUpdate']));
  }
  return errs;
}

export function validateDeploymentSpec(s: DeploymentSpec | undefined, path: FieldPath = spec): FieldError[] {
  const errs: FieldError[] = [];
  errs.push(...validateNonnegativeField(s?.replicas ?? 0, path.child('replicas')));
  errs.push(...validateWorkloadSelector(s?.selector, path.child('selector'), 'deployment'));
  errs.push(...validateReplicaSetTemplate(s?.selector, s?.template, path.child('template')));
  errs.push(...validateStrategy(s?.strategy, path.child('strategy')));
  errs.push(...validateNonnegativeField(s?.minReadySeconds ?? 0, path.child('minReadySeconds')));
  if (s?.revisionHistoryLimit !== undefined) errs.push(...validateNonnegativeField(s.revisionHistoryLimit, path.child('revisionHistoryLimit')));
  if (s?.progressDeadlineSeconds !== undefined) {
    errs.push(...validateNonnegativeField(s.progressDeadlineSeconds, path.child('progressDeadlineSeconds')));
    if (s.progressDeadlineSeconds <= (s.minReadySeconds ?? 0)) {
      errs.push(field.invalid(path.child('progressDeadlineSeconds').toString(), s.progressDeadlineSeconds, 'must be greater than minReadySeconds'));
    }
  }
  return errs;
}

function validateDeployment(obj: KubeObject): FieldError[] {
  const d = asDeployment(obj);
  return [...validateObjectMeta(d.metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain), ...validateDeploymentSpec(d.spec)];
}

function validateDeploymentUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const d = asDeployment(obj), o = asDeployment(old);
  return [
    ...validateObjectMetaUpdate(d.metadata, o.metadata),
    ...validateDeploymentSpec(d.spec),
    ...immutableSelector(spec.child('selector'), d.spec?.selector, o.spec?.selector),
  ];
}

const STATUS_COUNTERS = ['observedGeneration', 'replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas', 'terminatingReplicas'];

/** Upstream's ValidateDeploymentStatusUpdate: counters non-negative and consistent. */
function validateDeploymentStatusUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const d = asDeployment(obj), o = asDeployment(old);
  const st = FieldPath.root('status');
  const status = d.status ?? {};
  const errs = validateCounterStatusUpdate(STATUS_COUNTERS)(obj, old);
  if (status.collisionCount !== undefined) errs.push(...validateNonnegativeField(status.collisionCount, st.child('collisionCount')));
  const replicas = status.replicas ?? 0;
  for (const name of ['updatedReplicas', 'readyReplicas', 'availableReplicas'] as const) {
    const v = status[name] ?? 0;
    if (v > replicas) errs.push(field.invalid(st.child(name).toString(), v, 'cannot be greater than status.replicas'));
  }
  if ((status.availableReplicas ?? 0) > (status.readyReplicas ?? 0)) {
    errs.push(field.invalid(st.child('availableReplicas').toString(), status.availableReplicas ?? 0, 'cannot be greater than readyReplicas'));
  }
  const oldCollisions = o.status?.collisionCount;
  if (oldCollisions !== undefined && (status.collisionCount === undefined || status.collisionCount < oldCollisions)) {
    errs.push(field.invalid(st.child('collisionCount').toString(), status.collisionCount ?? 0, 'cannot be decremented'));
  }
  return errs;
}

function tableRow(obj: KubeObject, now: Date): unknown[] {
  const d = asDeployment(obj);
  const st = d.status ?? {};
  const [names, images] = containerCells(d.spec?.template?.spec?.containers);
  const selector = tryFromMetaLabelSelector(d.spec?.selector);
  return [
    d.metadata?.name ?? '',
    `${st.readyReplicas ?? 0}/${d.spec?.replicas ?? 0}`,
    st.updatedReplicas ?? 0,
    st.availableReplicas ?? 0,
    ageOf(d, now),
    names, images,
    selector === undefined ? '<invalid>' : labelSelectorString(selector),
  ];
}

export const deployments: ResourceDef = {
  group: 'apps', version: 'v1', kind: 'Deployment', listKind: 'DeploymentList',
  resource: 'deployments', singularName: 'deployment', shortNames: ['deploy'], categories: ['all'],
  namespaced: true,
  verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  subresources: ['status', 'scale'],
  schemaName: 'io.k8s.api.apps.v1.Deployment',
  hasStatusSubresource: true,
  tracksGeneration: true,
  applyDefaults: obj => applyDeploymentDefaults(obj),
  prepareForCreate(obj) {
    obj.status = {};
  },
  prepareForUpdate(obj, old) {
    keepOldStatus(obj, old);
    // Upstream also bumps the generation when only annotations change (the legacy rollback hook).
    const meta = obj.metadata ?? {};
    const oldMeta = old.metadata ?? {};
    if (!semanticEqual(obj.spec, old.spec) || !semanticEqual(meta.annotations, oldMeta.annotations)) {
      obj.metadata = { ...meta, generation: (oldMeta.generation ?? 0) + 1 };
    }
  },
  validate: obj => validateDeployment(obj),
  validateUpdate: (obj, old) => validateDeploymentUpdate(obj, old),
  validateStatusUpdate: (obj, old) => validateDeploymentStatusUpdate(obj, old),
  tableColumns: [
    nameColumn(),
    column('Ready', 'string', 'Number of the pod with ready state'),
    column('Up-to-date', 'string', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
    column('Available', 'string', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'),
    ageColumn(),
    column('Containers', 'string', CONTAINERS_DESCRIPTION, 1),
    column('Images', 'string', IMAGES_DESCRIPTION, 1),
    column('Selector', 'string', "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template's labels.", 1),
  ],
  tableRow,
  scale: { specReplicas: 'spec.replicas', statusReplicas: 'status.replicas', selector: 'spec.selector' },
};

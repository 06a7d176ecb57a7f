// apps/v1 StatefulSet: upstream's defaults (OrderedReady, RollingUpdate with partition 0, Retain
// claim retention, replicas 1, history 10, claim template defaults), ValidateStatefulSetSpec and
// the update rule that only replicas, ordinals, template, updateStrategy, revisionHistoryLimit,
// persistentVolumeClaimRetentionPolicy and minReadySeconds may change; READY/AGE columns; scale.
import type { StatefulSet, StatefulSetSpec } from 'kubernetes-types/apps/v1.js';
import type { PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import { FieldPath, field, type FieldError } from '../../../api/errors.js';
import { deepCopy, type KubeObject } from '../../../api/object.js';
import { semanticEqual } from '../../../api/validation/immutable.js';
import { validateNonnegativeField, validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { nameIsDNSLabel } from '../../../api/validation/names.js';
import { tryFromMetaLabelSelector } from '../../../api/selectors.js';
import { CONTAINERS_DESCRIPTION, IMAGES_DESCRIPTION, ageColumn, ageOf, column, containerCells, nameColumn } from '../printers.js';
import type { ResourceDef } from '../types.js';
import { keepOldStatus } from '../core/common.js';
import { validateCounterStatusUpdate, validateNonnegativeIntOrPercent, validateNotMoreThan100Percent } from './common.js';
import { applyPodTemplateDefaults, validatePodTemplateSpec } from './podtemplate.js';
import { restartAlwaysOnly, validateSelectorMatchesTemplate, validateWorkloadSelector } from './workload.js';

const asStatefulSet = (obj: KubeObject): StatefulSet => obj as unknown as StatefulSet;
const specPath = FieldPath.root('spec');

export function applyStatefulSetDefaults(obj: KubeObject): void {
  const sts = asStatefulSet(obj);
  const s = (sts.spec ??= { selector: undefined as never, serviceName: '', template: {} });
  s.podManagementPolicy ||= 'OrderedReady';
  const strategy = (s.updateStrategy ??= {});
  if (!strategy.type) {
    strategy.type = 'RollingUpdate';
    strategy.rollingUpdate ??= {};
  }
  if (strategy.type === 'RollingUpdate' && strategy.rollingUpdate) strategy.rollingUpdate.partition ??= 0;
  const retention = (s.persistentVolumeClaimRetentionPolicy ??= {});
  retention.whenDeleted ||= 'Retain';
  retention.whenScaled ||= 'Retain';
  s.replicas ??= 1;
  s.revisionHistoryLimit ??= 10;
  s.template ??= {};
  applyPodTemplateDefaults(s.template);
  for (const claim of s.volumeClaimTemplates ?? []) applyClaimTemplateDefaults(claim);
}

function applyClaimTemplateDefaults(claim: PersistentVolumeClaim): void {
  const c = claim as { apiVersion?: string; kind?: string };
  c.apiVersion ??= 'v1';
  c.kind ??= 'PersistentVolumeClaim';
  const spec = (claim.spec ??= {});
  spec.volumeMode ??= 'Filesystem';
  const withStatus = claim as { status?: { phase?: string } };
  const status = (withStatus.status ??= {});
  status.phase ??= 'Pending';
}

const RETENTION = ['Retain', 'Delete'];

/**
 * The template as its pods will be: each volumeClaimTemplate is a persistentVolumeClaim volume of
 * the same name, so containers may mount it (upstream skips the pod spec check for this reason).
 */
function withClaimVolumes(s: StatefulSetSpec | undefined): StatefulSetSpec['template'] | undefined {
  const claims = s?.volumeClaimTemplates ?? [];
  if (!s?.template || claims.length === 0) return s?.template;
  const t = deepCopy(s.template);
  const spec = (t.spec ??= { containers: [] });
  const have = new Set((spec.volumes ?? []).map(v => v.name));
  spec.volumes = [...(spec.volumes ?? []), ...claims.filter(c => c.metadata?.name && !have.has(c.metadata.name)).map(c => ({ name: c.metadata!.name!, persistentVolumeClaim: { claimName: c.metadata!.name! } }))];
  return t;
}

export function validateStatefulSetSpec(s: StatefulSetSpec | undefined): FieldError[] {
  const errs: FieldError[] = [];
  const pmp = s?.podManagementPolicy ?? '';
  if (pmp === '') errs.push(field.required(specPath.child('podManagementPolicy').toString()));
  else if (pmp !== 'OrderedReady' && pmp !== 'Parallel') errs.push(field.invalid(specPath.child('podManagementPolicy').toString(), pmp, "must be 'OrderedReady' or 'Parallel'"));
  const strategy = s?.updateStrategy;
  const stPath = specPath.child('updateStrategy');
  switch (strategy?.type ?? '') {
    case '':
      errs.push(field.required(stPath.toString()));
      break;
    case 'OnDelete':
      if (strategy?.rollingUpdate) errs.push(field.invalid(stPath.child('rollingUpdate').toString(), strategy.rollingUpdate, "only allowed for updateStrategy 'RollingUpdate'"));
      break;
    case 'RollingUpdate': {
      const ru = strategy?.rollingUpdate;
      if (ru) {
        const p = stPath.child('rollingUpdate');
        errs.push(...validateNonnegativeField(ru.partition ?? 0, p.child('partition')));
        if (ru.maxUnavailable !== undefined) {
          errs.push(...validateNonnegativeIntOrPercent(ru.maxUnavailable, p.child('maxUnavailable')));
          if (ru.maxUnavailable === 0 || ru.maxUnavailable === '0%') errs.push(field.invalid(p.child('maxUnavailable').toString(), ru.maxUnavailable, 'cannot be 0'));
          errs.push(...validateNotMoreThan100Percent(ru.maxUnavailable, p.child('maxUnavailable')));
        }
      }
      break;
    }
    default:
      errs.push(field.invalid(stPath.toString(), strategy, "must be 'RollingUpdate' or 'OnDelete'"));
  }
  const retention = s?.persistentVolumeClaimRetentionPolicy;
  if (retention) {
    const p = specPath.child('persistentVolumeClaimRetentionPolicy');
    for (const key of ['whenDeleted', 'whenScaled'] as const) {
      const v = retention[key] ?? '';
      if (!RETENTION.includes(v)) errs.push(field.notSupported(p.child(key).toString(), v, RETENTION));
    }
  }
  if (s?.ordinals) errs.push(...validateNonnegativeField(s.ordinals.start ?? 0, specPath.child('ordinals').child('start')));
  errs.push(...validateNonnegativeField(s?.replicas ?? 0, specPath.child('replicas')));
  errs.push(...validateNonnegativeField(s?.minReadySeconds ?? 0, specPath.child('minReadySeconds')));
  if (s?.revisionHistoryLimit !== undefined) errs.push(...validateNonnegativeField(s.revisionHistoryLimit, specPath.child('revisionHistoryLimit')));
  const selErrs = validateWorkloadSelector(s?.selector, specPath.child('selector'), 'statefulset', '');
  errs.push(...selErrs);
  const tPath = specPath.child('template');
  if (tryFromMetaLabelSelector(s?.selector) !== undefined) {
    errs.push(...validateSelectorMatchesTemplate(s?.selector, s?.template, tPath));
    errs.push(...validatePodTemplateSpec(withClaimVolumes(s), tPath));
  }
  errs.push(...restartAlwaysOnly(s?.template, tPath));
  if (s?.template?.spec?.activeDeadlineSeconds !== undefined) {
    errs.push(field.forbidden(tPath.child('spec').child('activeDeadlineSeconds').toString(), 'activeDeadlineSeconds in StatefulSet is not Supported'));
  }
  return errs;
}

const UPDATABLE = ['replicas', 'ordinals', 'template', 'updateStrategy', 'minReadySeconds', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy'] as const;

function validateStatefulSetUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const sts = asStatefulSet(obj), o = asStatefulSet(old);
  const errs = [...validateObjectMetaUpdate(sts.metadata, o.metadata), ...validateStatefulSetSpec(sts.spec)];
  const clone = deepCopy(sts.spec ?? {}) as Record<string, unknown>;
  const oldSpec = (o.spec ?? {}) as unknown as Record<string, unknown>;
  for (const k of UPDATABLE) {
    if (oldSpec[k] === undefined) delete clone[k];
    else clone[k] = oldSpec[k];
  }
  if (!semanticEqual(clone, oldSpec)) {
    errs.push(field.forbidden('spec', "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"));
  }
  return errs;
}

const STATUS_COUNTERS = ['replicas', 'readyReplicas', 'currentReplicas', 'updatedReplicas', 'availableReplicas', 'observedGeneration', 'collisionCount'];

function validateStatusUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const sts = asStatefulSet(obj);
  const st = FieldPath.root('status');
  const s = sts.status ?? { replicas: 0 };
  const errs = validateCounterStatusUpdate(STATUS_COUNTERS)(obj, old);
  for (const name of ['readyReplicas', 'currentReplicas', 'updatedReplicas', 'availableReplicas'] as const) {
    const v = s[name] ?? 0;
    if (v > s.replicas) errs.push(field.invalid(st.child(name).toString(), v, 'cannot be greater than status.replicas'));
  }
  if ((s.availableReplicas ?? 0) > (s.readyReplicas ?? 0)) {
    errs.push(field.invalid(st.child('availableReplicas').toString(), s.availableReplicas ?? 0, 'cannot be greater than status.readyReplicas'));
  }
  return errs;
}

export const statefulsets: ResourceDef = {
  group: 'apps', version: 'v1', kind: 'StatefulSet', listKind: 'StatefulSetList',
  resource: 'statefulsets', singularName: 'statefulset', shortNames: ['sts'], categories: ['all'],
  namespaced: true,
  verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  subresources: ['status', 'scale'],
  schemaName: 'io.k8s.api.apps.v1.StatefulSet',
  hasStatusSubresource: true,
  tracksGeneration: true,
  applyDefaults: obj => applyStatefulSetDefaults(obj),
  prepareForCreate(obj) {
    obj.status = { replicas: 0, availableReplicas: 0 };
  },
  prepareForUpdate: keepOldStatus,
  validate: obj => [...validateObjectMeta(obj.metadata, true, FieldPath.root('metadata'), nameIsDNSLabel), ...validateStatefulSetSpec(asStatefulSet(obj).spec)],
  validateUpdate: (obj, old) => validateStatefulSetUpdate(obj, old),
  validateStatusUpdate: (obj, old) => validateStatusUpdate(obj, old),
  tableColumns: [
    nameColumn(),
    column('Ready', 'string', 'Number of the pod with ready state'),
    ageColumn(),
    column('Containers', 'string', CONTAINERS_DESCRIPTION, 1),
    column('Images', 'string', IMAGES_DESCRIPTION, 1),
  ],
  tableRow(obj, now) {
    const sts = asStatefulSet(obj);
    const [names, images] = containerCells(sts.spec?.template?.spec?.containers);
    return [sts.metadata?.name ?? '', `${sts.status?.readyReplicas ?? 0}/${sts.spec?.replicas ?? 0}`, ageOf(sts, now), names, images];
  },
  scale: { specReplicas: 'spec.replicas', statusReplicas: 'status.replicas', selector: 'spec.selector' },
};


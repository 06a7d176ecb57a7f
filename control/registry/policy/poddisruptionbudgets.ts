// policy/v1 PodDisruptionBudget: no defaults; validation as upstream's
// ValidatePodDisruptionBudgetSpec (minAvailable xor maxUnavailable, each a non-negative int or a
// percentage of at most 100%, a valid selector, a known unhealthy-pod eviction policy); status
// counters non-negative; MIN AVAILABLE / MAX UNAVAILABLE / ALLOWED DISRUPTIONS columns.
import type { PodDisruptionBudget, PodDisruptionBudgetSpec } from 'kubernetes-types/policy/v1.js';
import { FieldPath, field, type FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { nameIsDNSSubdomain } from '../../../api/validation/names.js';
import { ageColumn, ageOf, column, nameColumn } from '../printers.js';
import type { ResourceDef } from '../types.js';
import { keepOldStatus } from '../core/common.js';
import { validateCounterStatusUpdate, validateLabelSelector, validateNonnegativeIntOrPercent, validateNotMoreThan100Percent } from '../apps/common.js';

const asPDB = (obj: KubeObject): PodDisruptionBudget => obj as unknown as PodDisruptionBudget;
const specPath = FieldPath.root('spec');
const EVICTION_POLICIES = ['AlwaysAllow', 'IfHealthyBudget'];

export function validatePDBSpec(s: PodDisruptionBudgetSpec | undefined): FieldError[] {
  const errs: FieldError[] = [];
  if (s?.minAvailable !== undefined && s.maxUnavailable !== undefined) {
    errs.push(field.invalid(specPath.toString(), s, 'minAvailable and maxUnavailable cannot be both set'));
  }
  for (const k of ['minAvailable', 'maxUnavailable'] as const) {
    const v = s?.[k];
    if (v === undefined) continue;
    errs.push(...validateNonnegativeIntOrPercent(v, specPath.child(k)));
    errs.push(...validateNotMoreThan100Percent(v, specPath.child(k)));
  }
  errs.push(...validateLabelSelector(s?.selector, specPath.child('selector')));
  const policy = s?.unhealthyPodEvictionPolicy;
  if (policy !== undefined && !EVICTION_POLICIES.includes(policy)) {
    errs.push(field.notSupported(specPath.child('unhealthyPodEvictionPolicy').toString(), policy, EVICTION_POLICIES));
  }
  return errs;
}

const STATUS_COUNTERS = ['disruptionsAllowed', 'currentHealthy', 'desiredHealthy', 'expectedPods', 'observedGeneration'];

const intOrPercentCell = (v: number | string | undefined): string => (v === undefined ? 'N/A' : String(v));

export const poddisruptionbudgets: ResourceDef = {
  group: 'policy', version: 'v1', kind: 'PodDisruptionBudget', listKind: 'PodDisruptionBudgetList',
  resource: 'poddisruptionbudgets', singularName: 'poddisruptionbudget', shortNames: ['pdb'],
  namespaced: true,
  verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  subresources: ['status'],
  schemaName: 'io.k8s.api.policy.v1.PodDisruptionBudget',
  hasStatusSubresource: true,
  tracksGeneration: true,
  prepareForCreate(obj) {
    obj.status = { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0 };
  },
  prepareForUpdate: keepOldStatus,
  validate: obj => [...validateObjectMeta(obj.metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain), ...validatePDBSpec(asPDB(obj).spec)],
  validateUpdate: (obj, old) => [...validateObjectMetaUpdate(obj.metadata, old.metadata), ...validatePDBSpec(asPDB(obj).spec)],
  validateStatusUpdate: validateCounterStatusUpdate(STATUS_COUNTERS),
  tableColumns: [
    nameColumn(),
    column('Min Available', 'string', 'The minimum number of pods that must be available.'),
    column('Max Unavailable', 'string', 'The maximum number of pods that may be unavailable.'),
    column('Allowed Disruptions', 'integer', 'Calculated number of pods that may be disrupted at this time.'),
    ageColumn(),
  ],
  tableRow(obj, now) {
    const pdb = asPDB(obj);
    return [pdb.metadata?.name ?? '', intOrPercentCell(pdb.spec?.minAvailable), intOrPercentCell(pdb.spec?.maxUnavailable), pdb.status?.disruptionsAllowed ?? 0, ageOf(pdb, now)];
  },
};

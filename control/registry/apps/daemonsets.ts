// apps/v1 DaemonSet: RollingUpdate with maxUnavailable 1 / maxSurge 0 and history 10 by default,
// ValidateDaemonSetSpec (selector matches the template, pods restart Always, exactly one of
// maxSurge and maxUnavailable non-zero), the selector immutable through apps/v1, and the
// DESIRED/CURRENT/READY/UP-TO-DATE/AVAILABLE/NODE SELECTOR columns.
import type { DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy } from 'kubernetes-types/apps/v1.js';
import { FieldPath, field, type FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { validateNonnegativeField, validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { nameIsDNSSubdomain } from '../../../api/validation/names.js';
import { formatLabelSelector, isEverything, tryFromMetaLabelSelector } from '../../../api/selectors.js';
import { CONTAINERS_DESCRIPTION, IMAGES_DESCRIPTION, ageColumn, ageOf, column, containerCells, formatLabels, nameColumn } from '../printers.js';
import type { ResourceDef } from '../types.js';
import { keepOldStatus } from '../core/common.js';
import {
  GoValueFieldError, goIntOrString, goLabelSelector, immutableSelector, intOrPercentValue, validateLabelSelector,
  validateCounterStatusUpdate, validateNonnegativeIntOrPercent, validateNotMoreThan100Percent,
} from './common.js';
import { applyPodTemplateDefaults, validatePodTemplateSpec } from './podtemplate.js';
import { restartAlwaysOnly, validateSelectorMatchesTemplate } from './workload.js';

const asDaemonSet = (obj: KubeObject): DaemonSet => obj as unknown as DaemonSet;
const specPath = FieldPath.root('spec');

export function applyDaemonSetDefaults(obj: KubeObject): void {
  const ds = asDaemonSet(obj);
  const s = (ds.spec ??= { selector: undefined as never, template: {} });
  const strategy = (s.updateStrategy ??= {});
  if (!strategy.type) strategy.type = 'RollingUpdate';
  if (strategy.type === 'RollingUpdate') {
    const ru = (strategy.rollingUpdate ??= {});
    ru.maxUnavailable ??= 1;
    ru.maxSurge ??= 0;
  }
  s.revisionHistoryLimit ??= 10;
  s.template ??= {};
  applyPodTemplateDefaults(s.template);
}

function validateUpdateStrategy(strategy: DaemonSetUpdateStrategy | undefined, path: FieldPath): FieldError[] {
  const type = strategy?.type ?? '';
  if (type === 'OnDelete') return [];
  if (type !== 'RollingUpdate') return [field.notSupported(path.toString(), strategy ?? {}, ['RollingUpdate', 'OnDelete'])];
  const ru = strategy?.rollingUpdate;
  if (!ru) return [field.required(path.child('rollingUpdate').toString())];
  const p = path.child('rollingUpdate');
  const errs = [
    ...validateNonnegativeIntOrPercent(ru.maxUnavailable, p.child('maxUnavailable')),
    ...validateNonnegativeIntOrPercent(ru.maxSurge, p.child('maxSurge')),
    ...validateNotMoreThan100Percent(ru.maxUnavailable, p.child('maxUnavailable')),
    ...validateNotMoreThan100Percent(ru.maxSurge, p.child('maxSurge')),
  ];
  const hasUnavailable = (intOrPercentValue(ru.maxUnavailable) ?? 0) !== 0;
  const hasSurge = (intOrPercentValue(ru.maxSurge) ?? 0) !== 0;
  if (hasUnavailable && hasSurge) {
    errs.push(new GoValueFieldError(p.child('maxSurge').toString(), ru.maxSurge, goIntOrString(ru.maxSurge), 'may not be set when maxUnavailable is non-zero'));
  } else if (!hasUnavailable && !hasSurge) {
    errs.push(field.required(p.child('maxUnavailable').toString(), 'cannot be 0 when maxSurge is 0'));
  }
  return errs;
}

export function validateDaemonSetSpec(s: DaemonSetSpec | undefined): FieldError[] {
  const errs: FieldError[] = [];
  const selPath = specPath.child('selector');
  const tPath = specPath.child('template');
  // Upstream has no "Required" here: a nil selector matches nothing, so the template check fails.
  errs.push(...validateLabelSelector(s?.selector, selPath));
  const selector = tryFromMetaLabelSelector(s?.selector);
  if (selector !== undefined) errs.push(...validateSelectorMatchesTemplate(s?.selector, s?.template, tPath));
  if (s?.selector && selector !== undefined && isEverything(selector)) {
    errs.push(new GoValueFieldError(selPath.toString(), s.selector, goLabelSelector(s.selector), 'empty selector is invalid for daemonset'));
  }
  errs.push(...validatePodTemplateSpec(s?.template, tPath));
  errs.push(...restartAlwaysOnly(s?.template, tPath));
  const ads = s?.template?.spec?.activeDeadlineSeconds;
  if (ads !== undefined) errs.push(field.invalid(tPath.child('spec').child('activeDeadlineSeconds').toString(), ads, 'activeDeadlineSeconds must be nil for daemonset'));
  errs.push(...validateNonnegativeField(s?.minReadySeconds ?? 0, specPath.child('minReadySeconds')));
  errs.push(...validateUpdateStrategy(s?.updateStrategy, specPath.child('updateStrategy')));
  if (s?.revisionHistoryLimit !== undefined) errs.push(...validateNonnegativeField(s.revisionHistoryLimit, specPath.child('revisionHistoryLimit')));
  return errs;
}

const STATUS_COUNTERS = ['currentNumberScheduled', 'numberMisscheduled', 'desiredNumberScheduled', 'numberReady', 'observedGeneration', 'updatedNumberScheduled', 'numberAvailable', 'numberUnavailable', 'collisionCount'];

export const daemonsets: ResourceDef = {
  group: 'apps', version: 'v1', kind: 'DaemonSet', listKind: 'DaemonSetList',
  resource: 'daemonsets', singularName: 'daemonset', shortNames: ['ds'], categories: ['all'],
  namespaced: true,
  verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  subresources: ['status'],
  schemaName: 'io.k8s.api.apps.v1.DaemonSet',
  hasStatusSubresource: true,
  tracksGeneration: true,
  applyDefaults: obj => applyDaemonSetDefaults(obj),
  prepareForCreate(obj) {
    obj.status = { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 };
  },
  prepareForUpdate: keepOldStatus,
  validate: obj => [...validateObjectMeta(obj.metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain), ...validateDaemonSetSpec(asDaemonSet(obj).spec)],
  validateUpdate: (obj, old) => [
    ...validateObjectMetaUpdate(obj.metadata, old.metadata),
    ...validateDaemonSetSpec(asDaemonSet(obj).spec),
    ...immutableSelector(specPath.child('selector'), asDaemonSet(obj).spec?.selector, asDaemonSet(old).spec?.selector),
  ],
  validateStatusUpdate: validateCounterStatusUpdate(STATUS_COUNTERS),
  tableColumns: [
    nameColumn(),
    column('Desired', 'integer', 'The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/'),
    column('Current', 'integer', 'The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/'),
    column('Ready', 'integer', 'numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.'),
    column('Up-to-date', 'integer', 'The total number of nodes that are running updated daemon pod'),
    column('Available', 'integer', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)'),
    column('Node Selector', 'string', "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/"),
    ageColumn(),
    column('Containers', 'string', CONTAINERS_DESCRIPTION, 1),
    column('Images', 'string', IMAGES_DESCRIPTION, 1),
    column('Selector', 'string', "A label query over pods that are managed by the daemon set. Must match in order to be controlled. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors", 1),
  ],
  tableRow(obj, now) {
    const ds = asDaemonSet(obj);
    const st = ds.status;
    const [names, images] = containerCells(ds.spec?.template?.spec?.containers);
    return [
      ds.metadata?.name ?? '',
      st?.desiredNumberScheduled ?? 0, st?.currentNumberScheduled ?? 0, st?.numberReady ?? 0, st?.updatedNumberScheduled ?? 0, st?.numberAvailable ?? 0,
      formatLabels(ds.spec?.template?.spec?.nodeSelector),
      ageOf(ds, now),
      names, images, formatLabelSelector(ds.spec?.selector),
    ];
  },
};

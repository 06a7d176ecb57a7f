// batch/v1 Job. Defaults as upstream's SetDefaults_Job (completions and parallelism 1 when both are
// unset, backoffLimit 6, NonIndexed, not suspended, manualSelector false, pod replacement
// TerminatingOrFailed) and, unless manualSelector is set, the server-generated selector: the pod
// template gets `controller-uid`/`batch.kubernetes.io/controller-uid` = the Job's uid and
// `job-name`/`batch.kubernetes.io/job-name` = its name, and the selector matches the prefixed uid
// label. That needs metadata.uid, which the apiserver sets before defaulting on create.
//
// The job's own labels default to the template labels; upstream shares the Go map, so they also
// end up carrying the generated labels — we reproduce that, since clients see it.
import type { Job, JobSpec } from 'kubernetes-types/batch/v1.js';
import type { PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import { FieldPath, field, type FieldError } from '../../../api/errors.js';
import { deepCopy, type KubeObject } from '../../../api/object.js';
import { semanticEqual, validateImmutableField } from '../../../api/validation/immutable.js';
import { validateNonnegativeField, validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { isDNS1123Label, nameIsDNSSubdomain } from '../../../api/validation/names.js';
import { formatLabelSelector, labelsMatch, tryFromMetaLabelSelector } from '../../../api/selectors.js';
import { CONTAINERS_DESCRIPTION, IMAGES_DESCRIPTION, ageColumn, ageOf, column, containerCells, humanDuration, nameColumn } from '../printers.js';
import type { ResourceDef } from '../types.js';
import { keepOldStatus } from '../core/common.js';
import {
  GoValueFieldError, goLabelSelector, goStringMap, immutableSelector, selectorMismatch, validateLabelSelector,
  validateCounterStatusUpdate,
} from '../apps/common.js';
import { applyPodTemplateDefaults, validatePodTemplateSpec } from '../apps/podtemplate.js';

export const LEGACY_CONTROLLER_UID_LABEL = 'controller-uid';
export const CONTROLLER_UID_LABEL = 'batch.kubernetes.io/controller-uid';
export const LEGACY_JOB_NAME_LABEL = 'job-name';
export const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';

const asJob = (obj: KubeObject): Job => obj as unknown as Job;
const specPath = FieldPath.root('spec');
const MAX_INT32 = 2147483647;
const MAX_PARALLELISM_INDEXED = 100000;

export function applyJobDefaults(obj: KubeObject): void {
  const job = asJob(obj);
  const s = (job.spec ??= { template: {} });
  if (s.completions === undefined && s.parallelism === undefined) {
    s.completions = 1;
    s.parallelism = 1;
  }
  s.parallelism ??= 1;
  if (s.backoffLimit === undefined) s.backoffLimit = s.backoffLimitPerIndex !== undefined ? MAX_INT32 : 6;
  s.completionMode ??= 'NonIndexed';
  s.suspend ??= false;
  s.manualSelector ??= false;
  for (const rule of s.podFailurePolicy?.rules ?? []) for (const pattern of rule.onPodConditions ?? []) pattern.status ??= 'True';
  s.podReplacementPolicy ??= s.podFailurePolicy ? 'Failed' : 'TerminatingOrFailed';
  s.template ??= {};
  applyPodTemplateDefaults(s.template);
  const meta = (job.metadata ??= {});
  // Upstream: job labels default to the template labels (the same map, see the module note).
  const sharesLabels = s.template.metadata?.labels !== undefined && Object.keys(meta.labels ?? {}).length === 0;
  if (sharesLabels) meta.labels = { ...(s.template.metadata?.labels ?? {}) };
  if (s.manualSelector !== true && meta.uid && !s.selector) {
    generateSelector(job);
    if (sharesLabels) meta.labels = { ...(s.template.metadata?.labels ?? {}) };
  }
}

/** Upstream's generateSelector: template labels for the job's name and uid, selector on the uid. */
export function generateSelector(job: Job): void {
  const name = job.metadata?.name ?? '';
  const uid = job.metadata?.uid ?? '';
  const spec = (job.spec ??= { template: {} });
  const template = (spec.template ??= {});
  const labels = ((template.metadata ??= {}).labels ??= {});
  for (const key of [LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL]) if (!(key in labels)) labels[key] = name;
  for (const key of [LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL]) if (!(key in labels)) labels[key] = uid;
  const selector = (spec.selector ??= {});
  const matchLabels = (selector.matchLabels ??= {});
  if (!(CONTROLLER_UID_LABEL in matchLabels)) matchLabels[CONTROLLER_UID_LABEL] = uid;
}

function validateHasLabel(template: PodTemplateSpec | undefined, key: string, expected: string): FieldError[] {
  const labels = template?.metadata?.labels;
  const p = specPath.child('template').child('metadata').child('labels').key(key).toString();
  if (!labels || !(key in labels)) return [field.required(p, expected)];
  return labels[key] === expected ? [] : [new GoValueFieldError(p, labels, goStringMap(labels), `must be '${expected}'`)];
}

/** Upstream's validateGeneratedSelector. */
function validateGeneratedSelector(job: Job, requirePrefixedLabels: boolean): FieldError[] {
  const s = job.spec;
  if (s?.manualSelector === true || !s?.selector) return [];
  const errs: FieldError[] = [];
  const uid = job.metadata?.uid ?? '';
  const name = job.metadata?.name ?? '';
  if (!uid) errs.push(field.required('metadata.uid'));
  errs.push(...validateHasLabel(s.template, LEGACY_CONTROLLER_UID_LABEL, uid));
  errs.push(...validateHasLabel(s.template, LEGACY_JOB_NAME_LABEL, name));
  const expected: Record<string, string> = {};
  if (requirePrefixedLabels) {
    errs.push(...validateHasLabel(s.template, CONTROLLER_UID_LABEL, uid));
    errs.push(...validateHasLabel(s.template, JOB_NAME_LABEL, name));
    expected[CONTROLLER_UID_LABEL] = uid;
    expected[JOB_NAME_LABEL] = name;
  }
  expected[LEGACY_CONTROLLER_UID_LABEL] = uid;
  expected[LEGACY_JOB_NAME_LABEL] = name;
  const selector = tryFromMetaLabelSelector(s.selector);
  if (selector !== undefined && !labelsMatch(selector, expected)) {
    errs.push(new GoValueFieldError(specPath.child('selector').toString(), s.selector, goLabelSelector(s.selector), '`selector` not auto-generated'));
  }
  return errs;
}

/** Upstream's validateJobSpec: everything but the selector (shared with CronJob job templates). */
export function validateJobSpecBody(s: JobSpec | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const nonneg = (v: number | undefined, name: string) => { if (v !== undefined) errs.push(...validateNonnegativeField(v, path.child(name))); };
  nonneg(s?.parallelism, 'parallelism');
  nonneg(s?.completions, 'completions');
  nonneg(s?.activeDeadlineSeconds, 'activeDeadlineSeconds');
  nonneg(s?.backoffLimit, 'backoffLimit');
  nonneg(s?.ttlSecondsAfterFinished, 'ttlSecondsAfterFinished');
  nonneg(s?.backoffLimitPerIndex, 'backoffLimitPerIndex');
  if (s?.maxFailedIndexes !== undefined) {
    nonneg(s.maxFailedIndexes, 'maxFailedIndexes');
    if (s.backoffLimitPerIndex === undefined) errs.push(field.required(path.child('backoffLimitPerIndex').toString(), 'when maxFailedIndexes is specified'));
  }
  const mode = s?.completionMode;
  if (mode !== undefined) {
    if (mode !== 'NonIndexed' && mode !== 'Indexed') errs.push(field.notSupported(path.child('completionMode').toString(), mode, ['NonIndexed', 'Indexed']));
    if (mode === 'Indexed') {
      if (s?.completions === undefined) errs.push(field.required(path.child('completions').toString(), 'when completion mode is Indexed'));
      if ((s?.parallelism ?? 0) > MAX_PARALLELISM_INDEXED) {
        errs.push(field.invalid(path.child('parallelism').toString(), s?.parallelism, `must be less than or equal to ${MAX_PARALLELISM_INDEXED} when completion mode is Indexed`));
      }
      if (s?.completions !== undefined && s.maxFailedIndexes !== undefined && s.maxFailedIndexes > s.completions) {
        errs.push(field.invalid(path.child('maxFailedIndexes').toString(), s.maxFailedIndexes, 'must be less than or equal to completions'));
      }
    }
  }
  if (mode === undefined || mode === 'NonIndexed') {
    if (s?.backoffLimitPerIndex !== undefined) errs.push(field.invalid(path.child('backoffLimitPerIndex').toString(), s.backoffLimitPerIndex, 'requires indexed completion mode'));
    if (s?.maxFailedIndexes !== undefined) errs.push(field.invalid(path.child('maxFailedIndexes').toString(), s.maxFailedIndexes, 'requires indexed completion mode'));
  }
  if (s?.successPolicy !== undefined && mode !== 'Indexed') errs.push(field.invalid(path.child('successPolicy').toString(), s.successPolicy, 'requires indexed completion mode'));
  const rpp = s?.podReplacementPolicy;
  if (rpp !== undefined) {
    if (rpp !== 'Failed' && rpp !== 'TerminatingOrFailed') errs.push(field.notSupported(path.child('podReplacementPolicy').toString(), rpp, ['Failed', 'TerminatingOrFailed']));
    else if (s?.podFailurePolicy && rpp !== 'Failed') errs.push(field.notSupported(path.child('podReplacementPolicy').toString(), rpp, ['Failed']));
  }
  const tPath = path.child('template');
  errs.push(...validatePodTemplateSpec(s?.template, tPath));
  const restart = s?.template?.spec?.restartPolicy ?? '';
  const rPath = tPath.child('spec').child('restartPolicy').toString();
  if (restart === 'Always' || restart === '') errs.push(field.required(rPath, 'valid values: "OnFailure", "Never"'));
  else if (restart !== 'OnFailure' && restart !== 'Never') errs.push(field.notSupported(rPath, restart, ['OnFailure', 'Never']));
  else if (s?.podFailurePolicy && restart !== 'Never') errs.push(field.invalid(rPath, restart, 'only "Never" is supported when podFailurePolicy is specified'));
  return errs;
}

/** Upstream's ValidateJobSpec: the body plus a required, valid selector matching the template. */
export function validateJobSpec(s: JobSpec | undefined, path: FieldPath = specPath): FieldError[] {
  const errs = validateJobSpecBody(s, path);
  const selPath = path.child('selector');
  if (!s?.selector) errs.push(field.required(selPath.toString()));
  else errs.push(...validateLabelSelector(s.selector, selPath));
  const selector = tryFromMetaLabelSelector(s?.selector);
  if (selector !== undefined && !labelsMatch(selector, s?.template?.metadata?.labels)) {
    errs.push(selectorMismatch(path.child('template'), s?.template?.metadata?.labels));
  }
  return errs;
}

function validateJob(obj: KubeObject, requirePrefixedLabels: boolean): FieldError[] {
  const job = asJob(obj);
  const errs = [...validateObjectMeta(job.metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain)];
  errs.push(...validateGeneratedSelector(job, requirePrefixedLabels));
  errs.push(...validateJobSpec(job.spec));
  const s = job.spec;
  if (s?.completionMode === 'Indexed' && (s.completions ?? 0) > 0) {
    const name = job.metadata?.name ?? '';
    const hostname = `${name}-${(s.completions ?? 0) - 1}`;
    if (isDNS1123Label(hostname).length > 0) {
      errs.push(field.invalid('metadata.name', name, `will not able to create pod with invalid DNS label: ${hostname}`));
    }
  }
  return errs;
}

/** Scheduling directives of a suspended Job that never started may change (upstream's AllowMutableSchedulingDirectives). */
function comparableOldTemplate(job: Job, old: Job): PodTemplateSpec | undefined {
  const oldTemplate = old.spec?.template;
  if (!(old.spec?.suspend === true && !old.status?.startTime)) return oldTemplate;
  const t = deepCopy(oldTemplate ?? {});
  const cur = job.spec?.template;
  const spec = (t.spec ??= { containers: [] });
  const meta = (t.metadata ??= {});
  const copy = <K extends string>(dst: Record<K, unknown>, src: Record<K, unknown> | undefined, key: K) => {
    if (src?.[key] === undefined) delete dst[key];
    else dst[key] = src[key];
  };
  for (const k of ['nodeSelector', 'tolerations', 'schedulingGates', 'affinity'] as const) copy(spec as unknown as Record<string, unknown>, cur?.spec as unknown as Record<string, unknown> | undefined, k);
  for (const k of ['annotations', 'labels'] as const) copy(meta as unknown as Record<string, unknown>, cur?.metadata as unknown as Record<string, unknown> | undefined, k);
  return t;
}

function validateJobUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const job = asJob(obj), o = asJob(old);
  const s = job.spec, os = o.spec;
  const errs = [...validateObjectMetaUpdate(job.metadata, o.metadata), ...validateJobSpec(s)];
  const cPath = specPath.child('completions');
  if (s?.completionMode === 'Indexed') {
    if (!semanticEqual(s.completions, os?.completions) && s.completions !== undefined && s.completions !== s.parallelism) {
      errs.push(field.invalid(cPath.toString(), s.completions, 'can only be modified in tandem with spec.parallelism'));
    }
  } else {
    errs.push(...validateImmutableField(s?.completions, os?.completions, cPath.toString()));
  }
  errs.push(...immutableSelector(specPath.child('selector'), s?.selector, os?.selector));
  errs.push(...validateImmutableField(s?.template, comparableOldTemplate(job, o), specPath.child('template').toString()));
  for (const k of ['completionMode', 'podFailurePolicy', 'backoffLimitPerIndex', 'managedBy', 'successPolicy', 'podReplacementPolicy'] as const) {
    errs.push(...validateImmutableField(s?.[k], os?.[k], specPath.child(k).toString()));
  }
  return errs;
}

const STATUS_COUNTERS = ['active', 'succeeded', 'failed', 'ready', 'terminating'];

function hasCondition(job: Job, type: string): boolean {
  const c = (job.status?.conditions ?? []).find(x => x.type === type);
  return c?.status === 'True';
}

/** The STATUS column (1.28+): Complete, Failed, Terminating, Suspended, FailureTarget or Running. */
export function jobStatusCell(job: Job): string {
  if (hasCondition(job, 'Complete')) return 'Complete';
  if (hasCondition(job, 'Failed')) return 'Failed';
  if (job.metadata?.deletionTimestamp) return 'Terminating';
  if (hasCondition(job, 'Suspended')) return 'Suspended';
  if (hasCondition(job, 'FailureTarget')) return 'FailureTarget';
  return 'Running';
}

/** The COMPLETIONS column: `succeeded/completions`, or `n/1 of p` for a work queue. */
export function jobCompletionsCell(job: Job): string {
  const succeeded = job.status?.succeeded ?? 0;
  const completions = job.spec?.completions;
  if (completions !== undefined && completions !== null) return `${succeeded}/${completions}`;
  const parallelism = job.spec?.parallelism ?? 0;
  return parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
}

/** The DURATION column: running time so far, or start to completion; empty before start. */
export function jobDurationCell(job: Job, now: Date): string {
  const start = job.status?.startTime;
  if (!start) return '';
  const end = job.status?.completionTime;
  const startMs = Date.parse(start);
  return humanDuration((end ? Date.parse(end) : now.getTime()) - startMs);
}

export const jobs: ResourceDef = {
  group: 'batch', version: 'v1', kind: 'Job', listKind: 'JobList',
  resource: 'jobs', singularName: 'job', categories: ['all'],
  namespaced: true,
  verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  subresources: ['status'],
  schemaName: 'io.k8s.api.batch.v1.Job',
  hasStatusSubresource: true,
  tracksGeneration: true,
  applyDefaults: obj => applyJobDefaults(obj),
  prepareForCreate(obj) {
    // The selector is generated by applyDefaults, which runs after this with the uid set.
    obj.status = {};
  },
  prepareForUpdate: keepOldStatus,
  validate: obj => validateJob(obj, true),
  validateUpdate(obj, old) {
    // As upstream's strategy: ValidateJob then ValidateJobUpdate (spec errors can appear twice).
    // Jobs created before the prefixed labels existed keep validating without them.
    const oldLabels = asJob(old).spec?.template?.metadata?.labels ?? {};
    return [...validateJob(obj, CONTROLLER_UID_LABEL in oldLabels), ...validateJobUpdate(obj, old)];
  },
  validateStatusUpdate: validateCounterStatusUpdate(STATUS_COUNTERS),
  fieldSelectorAttributes: obj => ({ 'status.successful': String(asJob(obj).status?.succeeded ?? 0) }),
  tableColumns: [
    nameColumn(),
    column('Status', 'string', 'Status of the job.'),
    column('Completions', 'string', 'The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.'),
    column('Duration', 'string', 'Time required to complete the job.'),
    ageColumn(),
    column('Containers', 'string', CONTAINERS_DESCRIPTION, 1),
    column('Images', 'string', IMAGES_DESCRIPTION, 1),
    column('Selector', 'string', 'A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors', 1),
  ],
  tableRow(obj, now) {
    const job = asJob(obj);
    const [names, images] = containerCells(job.spec?.template?.spec?.containers);
    return [job.metadata?.name ?? '', jobStatusCell(job), jobCompletionsCell(job), jobDurationCell(job, now), ageOf(job, now), names, images, formatLabelSelector(job.spec?.selector)];
  },
};


// batch/v1 CronJob: defaults (Allow, not suspended, keep 3 successful and 1 failed job), the
// schedule and time zone checks of upstream's validateCronJobSpec (TZ= in the schedule is refused
// on create and on updates that did not already have it), the job template rules (the selector
// is generated per Job, so the template may not carry one), and the SCHEDULE/TIMEZONE/SUSPEND/
// ACTIVE/LAST SCHEDULE columns.
import type { CronJob, CronJobSpec } from 'kubernetes-types/batch/v1.js';
import { FieldPath, field, type FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { validateNonnegativeField, validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { nameIsDNSSubdomain } from '../../../api/validation/names.js';
import { CONTAINERS_DESCRIPTION, IMAGES_DESCRIPTION, ageColumn, ageOf, column, containerCells, nameColumn, translateTimestampSince } from '../printers.js';
import type { ResourceDef } from '../types.js';
import { keepOldStatus } from '../core/common.js';
import { formatLabelSelector } from '../../../api/selectors.js';
import { GoValueFieldError, goLabelSelector } from '../apps/common.js';
import { applyPodTemplateDefaults } from '../apps/podtemplate.js';
import { cronScheduleError, timeZoneError } from './cron.js';
import { validateJobSpecBody } from './jobs.js';

const asCronJob = (obj: KubeObject): CronJob => obj as unknown as CronJob;
const specPath = FieldPath.root('spec');
const CONCURRENCY = ['Allow', 'Forbid', 'Replace'];
/** 63 (a DNS-1035 label) minus the 11 characters of the `-<timestamp>` suffix of created Jobs. */
const MAX_NAME_LENGTH = 52;
/** Upstream's validTimeZoneCharacters, per '/'-separated component. */
const TZ_COMPONENT = /^[A-Za-z.\-_0-9+]{1,14}$/;

export function applyCronJobDefaults(obj: KubeObject): void {
  const cj = asCronJob(obj);
  const s = (cj.spec ??= { schedule: '', jobTemplate: {} });
  s.concurrencyPolicy ||= 'Allow';
  s.suspend ??= false;
  s.successfulJobsHistoryLimit ??= 3;
  s.failedJobsHistoryLimit ??= 1;
  const jt = (s.jobTemplate ??= {});
  const js = (jt.spec ??= { template: {} });
  js.template ??= {};
  applyPodTemplateDefaults(js.template);
}

export function validateTimeZone(tz: string | undefined | null, path: FieldPath): FieldError[] {
  if (tz === undefined || tz === null) return [];
  const p = path.toString();
  if (tz.length === 0) return [field.invalid(p, tz, 'timeZone must be nil or non-empty string')];
  for (const part of tz.split('/')) {
    if (part === '.' || part === '..' || part.startsWith('-') || !TZ_COMPONENT.test(part)) return [field.invalid(p, tz, `unknown time zone ${tz}`)];
  }
  const errs: FieldError[] = [];
  if (tz.toLowerCase() === 'local') errs.push(field.invalid(p, tz, 'timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones'));
  const loadErr = timeZoneError(tz);
  if (loadErr) errs.push(field.invalid(p, tz, loadErr));
  return errs;
}

function validateSchedule(schedule: string, allowTZInSchedule: boolean, timeZone: string | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const p = path.toString();
  const parseErr = cronScheduleError(schedule);
  if (parseErr) errs.push(field.invalid(p, schedule, parseErr));
  if (allowTZInSchedule && schedule.includes('TZ') && timeZone !== undefined) {
    errs.push(field.invalid(p, schedule, 'cannot use both timeZone field and TZ or CRON_TZ in schedule'));
  } else if (!allowTZInSchedule && schedule.includes('TZ')) {
    errs.push(field.invalid(p, schedule, 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead'));
  }
  return errs;
}

export function validateCronJobSpec(s: CronJobSpec | undefined, old: CronJobSpec | undefined): FieldError[] {
  const errs: FieldError[] = [];
  const schedule = s?.schedule ?? '';
  if (schedule === '') errs.push(field.required(specPath.child('schedule').toString()));
  else errs.push(...validateSchedule(schedule, old !== undefined && (old.schedule ?? '').includes('TZ'), s?.timeZone, specPath.child('schedule')));
  if (s?.startingDeadlineSeconds !== undefined) errs.push(...validateNonnegativeField(s.startingDeadlineSeconds, specPath.child('startingDeadlineSeconds')));
  if (old === undefined || old.timeZone !== s?.timeZone) errs.push(...validateTimeZone(s?.timeZone, specPath.child('timeZone')));
  const cp = s?.concurrencyPolicy ?? '';
  if (cp === '') errs.push(field.required(specPath.child('concurrencyPolicy').toString()));
  else if (!CONCURRENCY.includes(cp)) errs.push(field.notSupported(specPath.child('concurrencyPolicy').toString(), cp, CONCURRENCY));
  // Upstream's ValidateJobTemplateSpec.
  const jtPath = specPath.child('jobTemplate');
  const js = s?.jobTemplate?.spec;
  errs.push(...validateJobSpecBody(js, jtPath.child('spec')));
  if (js?.selector) {
    errs.push(new GoValueFieldError(jtPath.child('spec').child('selector').toString(), js.selector, goLabelSelector(js.selector), '`selector` will be auto-generated'));
  }
  if (js?.manualSelector === true) errs.push(field.notSupported(jtPath.child('spec').child('manualSelector').toString(), true, ['nil', 'false']));
  if (s?.successfulJobsHistoryLimit !== undefined) errs.push(...validateNonnegativeField(s.successfulJobsHistoryLimit, specPath.child('successfulJobsHistoryLimit')));
  if (s?.failedJobsHistoryLimit !== undefined) errs.push(...validateNonnegativeField(s.failedJobsHistoryLimit, specPath.child('failedJobsHistoryLimit')));
  return errs;
}

function validateCronJob(obj: KubeObject): FieldError[] {
  const cj = asCronJob(obj);
  const errs = [...validateObjectMeta(cj.metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain), ...validateCronJobSpec(cj.spec, undefined)];
  const name = cj.metadata?.name ?? '';
  if (name.length > MAX_NAME_LENGTH) errs.push(field.invalid('metadata.name', name, `must be no more than ${MAX_NAME_LENGTH} characters`));
  return errs;
}

/** printBoolPtr: True, False or <unset>. */
function boolCell(v: boolean | undefined): string {
  return v === undefined ? '<unset>' : v ? 'True' : 'False';
}

export const cronjobs: ResourceDef = {
  group: 'batch', version: 'v1', kind: 'CronJob', listKind: 'CronJobList',
  resource: 'cronjobs', singularName: 'cronjob', shortNames: ['cj'], categories: ['all'],
  namespaced: true,
  verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  subresources: ['status'],
  schemaName: 'io.k8s.api.batch.v1.CronJob',
  hasStatusSubresource: true,
  tracksGeneration: true,
  applyDefaults: obj => applyCronJobDefaults(obj),
  prepareForCreate(obj) {
    obj.status = {};
  },
  prepareForUpdate: keepOldStatus,
  validate: obj => validateCronJob(obj),
  // Names longer than 52 characters are only refused on create, so old objects stay updatable.
  validateUpdate: (obj, old) => [...validateObjectMetaUpdate(obj.metadata, old.metadata), ...validateCronJobSpec(asCronJob(obj).spec, asCronJob(old).spec ?? { schedule: '', jobTemplate: {} })],
  validateStatusUpdate: (obj, old) => validateObjectMetaUpdate(obj.metadata, old.metadata),
  tableColumns: [
    nameColumn(),
    column('Schedule', 'string', 'The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.'),
    column('Timezone', 'string', 'The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones'),
    column('Suspend', 'boolean', 'This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.'),
    column('Active', 'integer', 'A list of pointers to currently running jobs.'),
    column('Last Schedule', 'string', 'Information when was the last time the job was successfully scheduled.'),
    ageColumn(),
    column('Containers', 'string', CONTAINERS_DESCRIPTION, 1),
    column('Images', 'string', IMAGES_DESCRIPTION, 1),
    column('Selector', 'string', 'A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors', 1),
  ],
  tableRow(obj, now) {
    const cj = asCronJob(obj);
    const js = cj.spec?.jobTemplate?.spec;
    const [names, images] = containerCells(js?.template?.spec?.containers);
    const last = cj.status?.lastScheduleTime;
    return [
      cj.metadata?.name ?? '', cj.spec?.schedule ?? '', cj.spec?.timeZone ?? '<none>', boolCell(cj.spec?.suspend),
      (cj.status?.active ?? []).length, last ? translateTimestampSince(last, now) : '<none>', ageOf(cj, now),
      names, images, formatLabelSelector(js?.selector),
    ];
  },
};

// CronJob (batch/v1): creates Jobs on a cron schedule, as upstream's CronJob controller v2.
//
// The schedule is evaluated here, purely, with an injectable "now": `parseSchedule` reads the
// five standard fields (minute hour day-of-month month day-of-week, with names, ranges, steps and
// `?`) or a descriptor (`@hourly`, `@daily`, `@every 1h30m`…) with robfig/cron's semantics
// (day-of-month and day-of-week are ORed unless either is `*`), and `nextAfter` finds the next
// minute that matches in the CronJob's time zone (IANA, through Intl; the controller's zone is
// UTC). `mostRecentSchedule` is upstream's mostRecentScheduleTime: the latest missed time since
// the last schedule (or creation), bounded by startingDeadlineSeconds, with the count of missed
// runs (over 100 raises the TooManyMissedTimes warning). We count missed runs exactly instead of
// upstream's division by the first interval, which over-counts irregular schedules.
// No npm cron parser is a dependency: the registry validates schedules with robfig's messages
// (control/registry/batch/cron.ts), and what is left — matching a minute — is small.
//
// `planCronJob` is the rest of syncCronJob: prune the active list (jobs gone or finished, with
// SawCompletedJob and lastSuccessfulTime), honour suspend and concurrencyPolicy (Forbid skips while
// a job runs, Replace deletes the running ones), name the Job `<cronjob>-<scheduled unix minutes>`
// so a retried sync never runs a schedule twice, and delete finished Jobs beyond the history limits.
import type { CronJob, CronJobStatus, Job } from 'kubernetes-types/batch/v1.js';
import type { ObjectReference } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { isAlreadyExists, isNotFound } from '../../api/client/rest.js';
import { keyOf, resources } from '../../api/client/types.js';
import type { Informer } from '../../api/client/informer.js';
import { rfc3339, type ControllerContext } from './context.js';
import { Controller, controllerRef, newControllerRef } from './runtime.js';

export const scheduledTimestampAnnotation = 'batch.kubernetes.io/cronjob-scheduled-timestamp';

// ---- schedules -------------------------------------------------------------------------------

export type Schedule =
  | { kind: 'cron'; minute: Set<number>; hour: Set<number>; dom: Set<number>; month: Set<number>; dow: Set<number>; domStar: boolean; dowStar: boolean; tz?: string }
  | { kind: 'every'; ms: number };

interface Field { min: number; max: number; names?: Record<string, number> }
const fields: Field[] = [
  { min: 0, max: 59 }, { min: 0, max: 23 }, { min: 1, max: 31 },
  { min: 1, max: 12, names: { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 } },
  { min: 0, max: 6, names: { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 } },
];
const descriptors: Record<string, string> = {
  '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *', '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@hourly': '0 * * * *',
};

/** One field: the values it allows, and whether it was a bare `*`/`?` (robfig's star bit). */
function parseField(text: string, f: Field): { values: Set<number>; star: boolean } {
  const values = new Set<number>();
  let star = false;
  const num = (s: string) => {
    const v = f.names?.[s.toLowerCase()] ?? (/^\d+$/.test(s) ? Number(s) : NaN);
    if (!Number.isInteger(v)) throw new Error(`invalid value "${s}" in "${text}"`);
    return v;
  };
  for (const part of text.split(',').filter(Boolean)) {
    const [range = '', stepText] = part.split('/');
    let lo: number, hi: number;
    let partStar = false;
    if (range === '*' || range === '?') { lo = f.min; hi = f.max; partStar = true; } else {
      const [a = '', b] = range.split('-');
      lo = num(a);
      hi = b !== undefined ? num(b) : stepText !== undefined ? f.max : lo;
    }
    const step = stepText !== undefined ? num(stepText) : 1;
    if (lo < f.min || hi > f.max || lo > hi || step < 1) throw new Error(`invalid range "${part}"`);
    if (partStar && step === 1) star = true;
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return { values, star };
}

/** Go's time.ParseDuration, in ms (h, m, s, ms). */
function parseGoDuration(s: string): number {
  let ms = 0;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while ((m = re.exec(s))) { ms += Number(m[1]) * { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[m[2] as 'h']; at = re.lastIndex; }
  if (at !== s.length || ms <= 0) throw new Error(`invalid duration "${s}"`);
  return ms;
}

/** Parses a schedule; `TZ=`/`CRON_TZ=` prefixes set its zone (the timeZone field overrides them). */
export function parseSchedule(text: string): Schedule {
  let spec = text.trim();
  let tz: string | undefined;
  const m = /^(?:CRON_)?TZ=(\S+)\s+(.*)$/.exec(spec);
  if (m) { tz = m[1]; spec = m[2]!.trim(); }
  if (spec.startsWith('@every ')) return { kind: 'every', ms: Math.max(1000, Math.floor(parseGoDuration(spec.slice(7).trim()) / 1000) * 1000) };
  if (spec.startsWith('@')) {
    const d = descriptors[spec];
    if (!d) throw new Error(`unrecognized descriptor: ${spec}`);
    spec = d;
  }
  const parts = spec.split(/\s+/);
  if (parts.length !== 5) throw new Error(`expected exactly 5 fields, found ${parts.length}: [${parts.join(' ')}]`);
  const [mi, h, dom, mo, dow] = parts.map((p, i) => parseField(p, fields[i]!)) as [ReturnType<typeof parseField>, ReturnType<typeof parseField>, ReturnType<typeof parseField>, ReturnType<typeof parseField>, ReturnType<typeof parseField>];
  return { kind: 'cron', minute: mi.values, hour: h.values, dom: dom.values, month: mo.values, dow: dow.values, domStar: dom.star, dowStar: dow.star, ...(tz ? { tz } : {}) };
}

interface Wall { year: number; month: number; day: number; hour: number; minute: number; dow: number }
const formatters = new Map<string, Intl.DateTimeFormat>();
const weekdays: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/** The wall clock at `ms` in zone `tz`. */
export function wallClock(ms: number, tz = 'UTC'): Wall {
  if (tz === 'UTC') {
    const d = new Date(ms);
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), dow: d.getUTCDay() };
  }
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', weekday: 'short' });
    formatters.set(tz, f);
  }
  const p: Record<string, string> = {};
  for (const x of f.formatToParts(ms)) p[x.type] = x.value;
  return { year: Number(p.year), month: Number(p.month), day: Number(p.day), hour: Number(p.hour) % 24, minute: Number(p.minute), dow: weekdays[p.weekday ?? ''] ?? 0 };
}

/** True when `tz` is a zone the runtime knows. */
export function validTimeZone(tz: string): boolean {
  try { wallClock(0, tz); return true; } catch { return false; }
}

/** The first scheduled time strictly after `afterMs` (robfig's Schedule.Next), or undefined within 5 years. */
export function nextAfter(s: Schedule, afterMs: number, tz?: string): number | undefined {
  if (s.kind === 'every') return Math.floor((afterMs + s.ms) / 1000) * 1000;
  const zone = tz ?? s.tz ?? 'UTC';
  let t = Math.floor(afterMs / 60_000) * 60_000 + 60_000;
  const limit = afterMs + 5 * 366 * 86_400_000;
  while (t <= limit) {
    const w = wallClock(t, zone);
    const domOk = s.dom.has(w.day), dowOk = s.dow.has(w.dow);
    const dayOk = s.domStar || s.dowStar ? domOk && dowOk : domOk || dowOk;
    if (!s.month.has(w.month) || !dayOk) { t += ((24 - w.hour) * 60 - w.minute) * 60_000; continue; }
    if (!s.hour.has(w.hour)) { t += (60 - w.minute) * 60_000; continue; }
    if (!s.minute.has(w.minute)) { t += 60_000; continue; }
    return t;
  }
  return undefined;
}

/**
 * Upstream's mostRecentScheduleTime: the latest scheduled time in (earliest, now], where earliest
 * is the last schedule time (or creation), raised to now − startingDeadlineSeconds; and how many
 * scheduled times were missed.
 */
export function mostRecentSchedule(cj: CronJob, s: Schedule, nowMs: number): { time?: number; missed: number } {
  let earliest = Date.parse(cj.status?.lastScheduleTime ?? cj.metadata?.creationTimestamp ?? '') || nowMs;
  const sds = cj.spec?.startingDeadlineSeconds;
  if (sds !== undefined && sds !== null && nowMs - sds * 1000 > earliest) earliest = nowMs - sds * 1000;
  const tz = cj.spec?.timeZone ?? undefined;
  let time: number | undefined;
  let missed = 0;
  for (let t = nextAfter(s, earliest, tz); t !== undefined && t <= nowMs; t = nextAfter(s, t, tz)) {
    time = t;
    if (++missed > 10_000) break; // far enough to report "too many"; the newest is found below
  }
  if (missed > 10_000) {
    // Walk back from now instead of forward through years of minutes.
    let t = nowMs - 60_000;
    let found: number | undefined;
    while (found === undefined && t > earliest) { const n = nextAfter(s, t, tz); if (n !== undefined && n <= nowMs) found = n; else t -= 3_600_000; }
    time = found ?? time;
  }
  return { ...(time !== undefined ? { time } : {}), missed };
}

/** `2026-01-01T10:00:00+01:00`: the scheduled time in the CronJob's zone, as upstream annotates it. */
export function formatInZone(ms: number, tz?: string): string {
  if (!tz || tz === 'UTC') return rfc3339(ms);
  const w = wallClock(ms, tz);
  const offMin = Math.round((Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute) - Math.floor(ms / 60_000) * 60_000) / 60_000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const sign = offMin < 0 ? '-' : '+';
  const off = offMin === 0 ? 'Z' : `${sign}${pad(Math.floor(Math.abs(offMin) / 60))}:${pad(Math.abs(offMin) % 60)}`;
  const sec = new Date(ms).getUTCSeconds();
  return `${w.year}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(sec)}${off}`;
}

// ---- the controller's decision ----------------------------------------------------------------

export const jobNameFor = (cj: CronJob, scheduledMs: number) => `${cj.metadata?.name}-${Math.floor(scheduledMs / 60_000)}`;

const finishedType = (j: Job) => j.status?.conditions?.find(c => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')?.type;

export interface CronJobPlan {
  status: CronJobStatus;
  /** The Job to create (its scheduled time is `scheduledMs`); add it to status.active once created. */
  create?: Job;
  scheduledMs?: number;
  /** Running Jobs to delete (Replace). */
  deleteActive: Job[];
  /** Finished Jobs beyond the history limits. */
  deleteHistory: Job[];
  events: { type: 'Normal' | 'Warning'; reason: string; message: string }[];
  requeueAfterMs?: number;
}

export const jobRef = (j: Job): ObjectReference => ({ kind: 'Job', namespace: j.metadata?.namespace ?? '', name: j.metadata?.name ?? '', uid: j.metadata?.uid ?? '', apiVersion: 'batch/v1', resourceVersion: j.metadata?.resourceVersion ?? '' });

const byStartTime = (a: Job, b: Job) => {
  const sa = a.status?.startTime, sb = b.status?.startTime;
  if (!sa !== !sb) return sa ? -1 : 1; // never started sorts last
  if (sa !== sb) return (sa ?? '') < (sb ?? '') ? -1 : 1;
  return (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');
};

/** Pure: one sync of a CronJob given the Jobs it controls. */
export function planCronJob(cj: CronJob, jobs: readonly Job[], nowMs: number): CronJobPlan {
  const events: CronJobPlan['events'] = [];
  const plan: CronJobPlan = { status: {}, deleteActive: [], deleteHistory: [], events };
  const prev = cj.status ?? {};
  const byUid = new Map(jobs.map(j => [j.metadata?.uid ?? '', j]));
  let active = (prev.active ?? []).filter(r => byUid.has(r.uid ?? ''));
  let lastSuccessful = prev.lastSuccessfulTime;
  for (const j of jobs) {
    const done = finishedType(j);
    if (!done) continue;
    if (active.some(r => r.uid === j.metadata?.uid)) {
      active = active.filter(r => r.uid !== j.metadata?.uid);
      events.push({ type: 'Normal', reason: 'SawCompletedJob', message: `Saw completed job: ${j.metadata?.name}, condition: ${done}` });
    }
    const ct = j.status?.completionTime;
    if (done === 'Complete' && ct && (!lastSuccessful || Date.parse(ct) > Date.parse(lastSuccessful))) lastSuccessful = ct;
  }
  const finalize = (): CronJobPlan => {
    const status: CronJobStatus = {};
    if (active.length) status.active = active;
    if (prev.lastScheduleTime) status.lastScheduleTime = prev.lastScheduleTime;
    if (lastSuccessful) status.lastSuccessfulTime = lastSuccessful;
    plan.status = status;
    // History: the oldest finished Jobs beyond each limit.
    const limit = (n: number | undefined, type: string) => {
      if (n === undefined || n === null) return;
      const done = jobs.filter(j => finishedType(j) === type && !j.metadata?.deletionTimestamp).sort(byStartTime);
      plan.deleteHistory.push(...done.slice(0, Math.max(0, done.length - n)));
    };
    limit(cj.spec?.successfulJobsHistoryLimit, 'Complete');
    limit(cj.spec?.failedJobsHistoryLimit, 'Failed');
    return plan;
  };

  if (cj.metadata?.deletionTimestamp || cj.spec?.suspend) return finalize();
  const tz = cj.spec?.timeZone ?? undefined;
  if (tz && !validTimeZone(tz)) {
    events.push({ type: 'Warning', reason: 'UnknownTimeZone', message: `invalid timeZone: "${tz}": unknown time zone ${tz}` });
    return finalize();
  }
  let sched: Schedule;
  try { sched = parseSchedule(cj.spec?.schedule ?? ''); } catch (err) {
    events.push({ type: 'Warning', reason: 'UnparseableSchedule', message: `unparseable schedule: ${JSON.stringify(cj.spec?.schedule ?? '')} : ${(err as Error).message}` });
    return finalize();
  }
  const zone = tz ?? (sched.kind === 'cron' ? sched.tz : undefined);
  const next = nextAfter(sched, nowMs, zone);
  if (next !== undefined) plan.requeueAfterMs = next - nowMs + 100;
  const { time, missed } = mostRecentSchedule(cj, sched, nowMs);
  if (missed > 100) events.push({ type: 'Warning', reason: 'TooManyMissedTimes', message: 'too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew' });
  if (time === undefined) return finalize();
  const sds = cj.spec?.startingDeadlineSeconds;
  if (sds !== undefined && sds !== null && time + sds * 1000 < nowMs) {
    events.push({ type: 'Warning', reason: 'MissSchedule', message: `Missed scheduled time to start a job: ${new Date(time).toUTCString()}` });
    return finalize();
  }
  const name = jobNameFor(cj, time);
  if (active.some(r => r.name === name) || jobs.some(j => j.metadata?.name === name)) return finalize();
  const policy = cj.spec?.concurrencyPolicy ?? 'Allow';
  if (policy === 'Forbid' && active.length > 0) {
    events.push({ type: 'Normal', reason: 'JobAlreadyActive', message: 'Not starting job because prior execution is running and concurrency policy is Forbid' });
    return finalize();
  }
  if (policy === 'Replace') {
    for (const r of active) { const j = byUid.get(r.uid ?? ''); if (j) plan.deleteActive.push(j); }
    active = [];
  }
  const jt = cj.spec?.jobTemplate;
  plan.create = {
    apiVersion: 'batch/v1', kind: 'Job',
    metadata: {
      name, namespace: cj.metadata?.namespace ?? 'default',
      ...(jt?.metadata?.labels ? { labels: { ...jt.metadata.labels } } : {}),
      annotations: { ...(jt?.metadata?.annotations ?? {}), [scheduledTimestampAnnotation]: formatInZone(time, zone) },
      ownerReferences: [newControllerRef(cj as KubeObject, 'batch/v1', 'CronJob')],
    },
    spec: JSON.parse(JSON.stringify(jt?.spec ?? { template: {} })) as NonNullable<Job['spec']>,
  };
  plan.scheduledMs = time;
  return finalize();
}

export class CronJobController {
  readonly controller: Controller;
  private readonly cronjobs: Informer<CronJob>;
  private readonly jobs: Informer<Job>;

  constructor(private readonly ctx: ControllerContext) {
    this.cronjobs = ctx.informers.for<CronJob>(resources.cronjobs);
    this.jobs = ctx.informers.for<Job>(resources.jobs);
    this.controller = new Controller({ name: 'CronJob', workers: ctx.workers ?? 2, clock: ctx.clock, logger: ctx.logger, resyncMs: 30_000, resyncKeys: () => this.cronjobs.keys() }, key => this.sync(key));
    this.cronjobs.on({ add: o => this.controller.enqueueObject(o), update: (_, o) => this.controller.enqueueObject(o) });
    const onJob = (j: Job) => {
      const ref = controllerRef(j);
      if (ref?.kind === 'CronJob') this.controller.enqueue(`${j.metadata?.namespace}/${ref.name}`);
    };
    this.jobs.on({ add: onJob, update: (_, j) => onJob(j), delete: onJob });
  }

  start(): void { this.controller.start(); }
  stop(): Promise<void> { return this.controller.stop(); }

  async sync(key: string): Promise<void> {
    const cj = this.cronjobs.get(key);
    if (!cj) return;
    const c = this.ctx.client;
    const ns = cj.metadata?.namespace ?? 'default';
    const owner = cj as KubeObject;
    const jobs = [...this.jobs.byIndex('controller', cj.metadata?.uid ?? '')];
    // A Job in the active list the cache has not seen yet may be brand new: ask the API.
    for (const r of cj.status?.active ?? []) {
      if (jobs.some(j => j.metadata?.uid === r.uid)) continue;
      try {
        const j = await c.get<Job>(resources.jobs, ns, r.name ?? '');
        if (j.metadata?.uid === r.uid) jobs.push(j);
      } catch (err) { if (!isNotFound(err)) throw err; }
    }
    const now = this.ctx.clock.now();
    const plan = planCronJob(cj, jobs, now);
    const rec = this.ctx.recorder;
    for (const e of plan.events) rec.event(owner, e.type, e.reason, e.message);
    for (const j of plan.deleteActive) {
      try {
        await c.delete(resources.jobs, ns, j.metadata?.name ?? '', { propagationPolicy: 'Background', preconditions: { uid: j.metadata?.uid ?? '' } });
        rec.event(owner, 'Normal', 'SuccessfulDelete', `Deleted job ${j.metadata?.name}`);
      } catch (err) { if (!isNotFound(err)) throw err; }
    }
    const status = plan.status;
    if (plan.create && plan.scheduledMs !== undefined) {
      try {
        const created = await c.create<Job>(resources.jobs, ns, plan.create);
        rec.event(owner, 'Normal', 'SuccessfulCreate', `Created job ${created.metadata?.name}`);
        status.active = [...(status.active ?? []), jobRef(created)];
        status.lastScheduleTime = rfc3339(plan.scheduledMs);
      } catch (err) {
        if (!isAlreadyExists(err)) {
          rec.event(owner, 'Warning', 'FailedCreate', `Error creating job: ${(err as Error).message}`);
          throw err;
        }
        // Created by an earlier sync whose status write was lost: the name makes it idempotent.
        status.lastScheduleTime = rfc3339(plan.scheduledMs);
      }
    }
    if (JSON.stringify(status) !== JSON.stringify(cj.status ?? {})) {
      await c.update(resources.cronjobs, { ...cj, status } as KubeObject, { subresource: 'status' });
    }
    for (const j of plan.deleteHistory) {
      try {
        await c.delete(resources.jobs, ns, j.metadata?.name ?? '', { propagationPolicy: 'Background', preconditions: { uid: j.metadata?.uid ?? '' } });
        rec.event(owner, 'Normal', 'SuccessfulDelete', `Deleted job ${j.metadata?.name}`);
      } catch (err) { if (!isNotFound(err)) throw err; }
    }
    if (plan.requeueAfterMs !== undefined) this.controller.enqueueAfter(keyOf(cj), plan.requeueAfterMs);
  }
}

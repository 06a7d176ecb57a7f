import type { CronJob, Job } from 'kubernetes-types/batch/v1.js';
import { FakeClusterClient } from '../../api/client/fake.js';
import { resources } from '../../api/client/types.js';
import { newContext } from './context.js';
import { CronJobController, formatInZone, jobNameFor, mostRecentSchedule, nextAfter, parseSchedule, planCronJob, scheduledTimestampAnnotation } from './cronjob.js';
import type { Clock } from './runtime.js';

const at = (s: string) => Date.parse(s);
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const next = (sched: string, from: string, tz?: string) => { const t = nextAfter(parseSchedule(sched), at(from), tz); return t === undefined ? undefined : iso(t); };

describe('cron schedules', () => {
  it('finds the next matching minute for fields, ranges, steps and names', () => {
    expect(next('*/15 * * * *', '2026-01-01T00:07:30Z')).toBe('2026-01-01T00:15:00Z');
    expect(next('0 9-17/4 * * mon-fri', '2026-01-02T13:00:00Z')).toBe('2026-01-02T17:00:00Z'); // a Friday
    expect(next('0 9-17/4 * * mon-fri', '2026-01-02T17:00:00Z')).toBe('2026-01-05T09:00:00Z'); // next Monday
    expect(next('30 2 29 feb *', '2026-03-01T00:00:00Z')).toBe('2028-02-29T02:30:00Z');
    expect(next('59 23 31 2 *', '2026-01-01T00:00:00Z')).toBeUndefined();
  });

  it('ORs day-of-month and day-of-week unless one is *, as robfig/cron', () => {
    // The 13th, or any Friday.
    expect(next('0 0 13 * 5', '2026-01-03T00:00:00Z')).toBe('2026-01-09T00:00:00Z');
    expect(next('0 0 13 * *', '2026-01-03T00:00:00Z')).toBe('2026-01-13T00:00:00Z');
    expect(next('0 0 */2 * 5', '2026-01-01T00:00:00Z')).toBe('2026-01-02T00:00:00Z');
  });

  it('knows the descriptors and @every', () => {
    expect(next('@hourly', '2026-01-01T10:20:00Z')).toBe('2026-01-01T11:00:00Z');
    expect(next('@weekly', '2026-01-01T10:20:00Z')).toBe('2026-01-04T00:00:00Z');
    expect(next('@every 1h30m', '2026-01-01T10:20:00Z')).toBe('2026-01-01T11:50:00Z');
    expect(() => parseSchedule('@fortnightly')).toThrow('unrecognized descriptor');
    expect(() => parseSchedule('* * *')).toThrow('expected exactly 5 fields');
  });

  it('evaluates in the time zone, across daylight saving time', () => {
    expect(next('0 9 * * *', '2026-01-01T00:00:00Z', 'Europe/Paris')).toBe('2026-01-01T08:00:00Z');
    expect(next('0 9 * * *', '2026-07-01T00:00:00Z', 'Europe/Paris')).toBe('2026-07-01T07:00:00Z');
    expect(next('TZ=America/New_York 30 6 * * *', '2026-01-01T00:00:00Z')).toBe('2026-01-01T11:30:00Z');
    expect(formatInZone(at('2026-01-01T08:00:00Z'), 'Europe/Paris')).toBe('2026-01-01T09:00:00+01:00');
    expect(formatInZone(at('2026-01-01T08:00:00Z'))).toBe('2026-01-01T08:00:00Z');
  });

  it('mostRecentSchedule returns the newest missed time and counts the misses', () => {
    const cj: CronJob = { metadata: { creationTimestamp: '2026-01-01T00:00:30Z' }, spec: { schedule: '* * * * *', jobTemplate: {} } };
    const s = parseSchedule('* * * * *');
    expect(mostRecentSchedule(cj, s, at('2026-01-01T00:00:50Z'))).toEqual({ missed: 0 });
    expect(mostRecentSchedule(cj, s, at('2026-01-01T00:05:10Z'))).toEqual({ time: at('2026-01-01T00:05:00Z'), missed: 5 });
    // startingDeadlineSeconds bounds how far back we look.
    const bounded = { ...cj, spec: { ...cj.spec!, startingDeadlineSeconds: 90 } };
    expect(mostRecentSchedule(bounded, s, at('2026-01-01T00:05:10Z'))).toEqual({ time: at('2026-01-01T00:05:00Z'), missed: 2 });
    // Years of missed minutes are counted as "many" without walking them all.
    const old = { ...cj, metadata: { creationTimestamp: '2020-01-01T00:00:00Z' } };
    const r = mostRecentSchedule(old, s, at('2026-01-01T00:05:10Z'));
    expect(r.time).toBe(at('2026-01-01T00:05:00Z'));
    expect(r.missed).toBeGreaterThan(100);
  });
});

const cronjob = (spec: Partial<NonNullable<CronJob['spec']>> = {}, status: CronJob['status'] = {}): CronJob => ({
  metadata: { name: 'tick', namespace: 'default', uid: 'cj-uid', creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { schedule: '*/5 * * * *', concurrencyPolicy: 'Allow', successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1, jobTemplate: { metadata: { labels: { team: 'a' } }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } } }, ...spec },
  status,
});
const childJob = (name: string, finished?: 'Complete' | 'Failed', start = '2026-01-01T00:00:00Z'): Job => ({
  metadata: { name, namespace: 'default', uid: name, ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'tick', uid: 'cj-uid', controller: true }] },
  spec: { template: {} },
  status: { startTime: start, ...(finished ? { conditions: [{ type: finished, status: 'True' }], ...(finished === 'Complete' ? { completionTime: start } : {}) } : {}) },
});

describe('planCronJob', () => {
  it('creates the Job for the latest schedule, named by its minute, and requeues for the next', () => {
    const p = planCronJob(cronjob(), [], at('2026-01-01T00:11:00Z'));
    const t = at('2026-01-01T00:10:00Z');
    expect(p.create!.metadata!.name).toBe(`tick-${t / 60_000}`);
    expect(jobNameFor(cronjob(), t)).toBe('tick-29453770');
    expect(p.create!.metadata!.labels).toEqual({ team: 'a' });
    expect(p.create!.metadata!.annotations![scheduledTimestampAnnotation]).toBe('2026-01-01T00:10:00Z');
    expect(p.create!.metadata!.ownerReferences![0]).toMatchObject({ kind: 'CronJob', name: 'tick', controller: true });
    expect(p.scheduledMs).toBe(t);
    expect(p.requeueAfterMs).toBe(4 * 60_000 + 100);
  });

  it('does nothing while suspended', () => {
    expect(planCronJob(cronjob({ suspend: true }), [], at('2026-01-01T00:11:00Z')).create).toBeUndefined();
  });

  it('Forbid skips a run while one is active; Replace deletes it first; Allow runs both', () => {
    const running = childJob('tick-1');
    const status = { active: [{ kind: 'Job', name: 'tick-1', namespace: 'default', uid: 'tick-1' }], lastScheduleTime: '2026-01-01T00:05:00Z' };
    const now = at('2026-01-01T00:10:30Z');
    const forbid = planCronJob(cronjob({ concurrencyPolicy: 'Forbid' }, status), [running], now);
    expect(forbid.create).toBeUndefined();
    expect(forbid.events.map(e => e.reason)).toEqual(['JobAlreadyActive']);
    const replace = planCronJob(cronjob({ concurrencyPolicy: 'Replace' }, status), [running], now);
    expect(replace.deleteActive).toEqual([running]);
    expect(replace.create).toBeDefined();
    const allow = planCronJob(cronjob({}, status), [running], now);
    expect(allow.deleteActive).toEqual([]);
    expect(allow.status.active).toHaveLength(1);
    expect(allow.create).toBeDefined();
  });

  it('skips a schedule missed by more than startingDeadlineSeconds', () => {
    const p = planCronJob(cronjob({ startingDeadlineSeconds: 30 }, { lastScheduleTime: '2026-01-01T00:05:00Z' }), [], at('2026-01-01T00:11:00Z'));
    expect(p.create).toBeUndefined();
  });

  it('moves finished Jobs out of active, records lastSuccessfulTime, and keeps history limits', () => {
    const done = childJob('tick-3', 'Complete', '2026-01-01T00:03:00Z');
    const status = { active: [{ kind: 'Job', name: 'tick-3', namespace: 'default', uid: 'tick-3' }], lastScheduleTime: '2026-01-01T00:05:00Z' };
    const jobs = [childJob('tick-1', 'Complete', '2026-01-01T00:01:00Z'), childJob('tick-2', 'Complete', '2026-01-01T00:02:00Z'), childJob('f-1', 'Failed', '2026-01-01T00:01:00Z'), childJob('f-2', 'Failed', '2026-01-01T00:02:00Z'), done, childJob('tick-0', 'Complete', '2026-01-01T00:00:00Z')];
    const p = planCronJob(cronjob({}, status), jobs, at('2026-01-01T00:06:00Z'));
    expect(p.status.active).toBeUndefined();
    expect(p.status.lastSuccessfulTime).toBe('2026-01-01T00:03:00Z');
    expect(p.events[0]).toMatchObject({ reason: 'SawCompletedJob', message: 'Saw completed job: tick-3, condition: Complete' });
    expect(p.deleteHistory.map(j => j.metadata!.name)).toEqual(['tick-0', 'f-1']);
  });
});

describe('CronJobController', () => {
  it('creates a Job when the (fake) clock reaches the schedule', async () => {
    const c = new FakeClusterClient();
    let now = at('2026-01-01T00:04:59Z');
    const timers: { at: number; fn: () => void }[] = [];
    const clock: Clock = { now: () => now, setTimeout: (fn, ms) => { const t = { at: now + ms, fn }; timers.push(t); return t; }, clearTimeout: h => { const i = timers.indexOf(h as never); if (i >= 0) timers.splice(i, 1); } };
    const ctx = newContext(c, { events: false, clock });
    const ctl = new CronJobController(ctx);
    c.now = () => new Date('2026-01-01T00:00:00Z');
    await c.create(resources.cronjobs, 'default', cronjob());
    await ctx.informers.start();
    ctl.start();
    await new Promise(r => setTimeout(r, 50));
    expect(c.all(resources.jobs)).toHaveLength(0);
    now = at('2026-01-01T00:05:00.200Z');
    for (const t of timers.splice(0).filter(x => x.at <= now)) t.fn();
    for (let i = 0; i < 300 && !c.all(resources.jobs).length; i++) await new Promise(r => setTimeout(r, 10));
    const jobs = c.all<Job>(resources.jobs);
    expect(jobs.map(j => j.metadata!.name)).toEqual([`tick-${at('2026-01-01T00:05:00Z') / 60_000}`]);
    for (let i = 0; i < 300 && !c.peek<CronJob>(resources.cronjobs, 'default', 'tick')!.status?.active; i++) await new Promise(r => setTimeout(r, 10));
    expect(c.peek<CronJob>(resources.cronjobs, 'default', 'tick')!.status).toMatchObject({ lastScheduleTime: '2026-01-01T00:05:00Z', active: [{ kind: 'Job', name: jobs[0]!.metadata!.name }] });
    await ctl.stop(); ctx.informers.stop();
  });
});

import type { Job } from 'kubernetes-types/batch/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { FakeClusterClient } from '../../api/client/fake.js';
import { resources } from '../../api/client/types.js';
import { newContext } from './context.js';
import { JobController, backoffRemainingMs, completionIndexAnnotation, formatIndexes, indexedPod, planJob } from './job.js';

const tick = (ms = 10) => new Promise(r => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  for (let t = 0; t < ms && !cond(); t += 10) await tick();
  if (!cond()) throw new Error('condition not met');
}

const T0 = Date.parse('2026-01-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const job = (spec: Partial<NonNullable<Job['spec']>> = {}, status: Job['status'] = {}): Job => ({
  metadata: { name: 'pi', namespace: 'default', uid: 'job-uid' },
  spec: { completions: 1, parallelism: 1, backoffLimit: 6, template: { metadata: { labels: { 'batch.kubernetes.io/job-name': 'pi' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } }, ...spec },
  status,
});
let n = 0;
const pod = (phase: string, extra: { finishedAt?: number; index?: number; ready?: boolean; restarts?: number } = {}): Pod => ({
  metadata: {
    name: `pi-${n++}`, namespace: 'default', uid: `p${n}`, creationTimestamp: iso(T0),
    ...(extra.index !== undefined ? { annotations: { [completionIndexAnnotation]: String(extra.index) } } : {}),
    ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'pi', uid: 'job-uid', controller: true }],
  },
  spec: { containers: [] },
  status: {
    phase,
    ...(extra.ready ? { conditions: [{ type: 'Ready', status: 'True' }] } : {}),
    containerStatuses: [{ name: 'c', image: 'i', imageID: '', ready: Boolean(extra.ready), restartCount: extra.restarts ?? 0, ...(extra.finishedAt !== undefined ? { state: { terminated: { exitCode: phase === 'Failed' ? 1 : 0, finishedAt: iso(extra.finishedAt) } } } : {}) }],
  },
});

describe('planJob', () => {
  it('starts parallelism pods, never more than the completions left', () => {
    const p = planJob(job({ completions: 5, parallelism: 3 }), [], T0);
    expect(p.create).toBe(3);
    expect(p.status).toMatchObject({ active: 3, startTime: iso(T0), ready: 0 });
    const later = planJob(job({ completions: 5, parallelism: 3 }, { startTime: iso(T0) }), [pod('Succeeded'), pod('Succeeded'), pod('Succeeded'), pod('Running', { ready: true })], T0);
    expect(later.create).toBe(1);
    expect(later.status).toMatchObject({ active: 2, succeeded: 3, ready: 1 });
  });

  it('completes with the Complete condition and completionTime once completions succeed', () => {
    const p = planJob(job({ completions: 2 }, { startTime: iso(T0) }), [pod('Succeeded'), pod('Succeeded')], T0 + 5000);
    expect(p.create).toBe(0);
    expect(p.status.completionTime).toBe(iso(T0 + 5000));
    expect(p.status.conditions!.find(c => c.type === 'Complete')).toMatchObject({ status: 'True', reason: 'CompletionsReached' });
    expect(p.events.map(e => e.reason)).toEqual(['Completed']);
  });

  it('backs off 10 s doubling per failure before replacing failed pods, capped at 6 minutes', () => {
    const f1 = [pod('Failed', { finishedAt: T0 })];
    expect(backoffRemainingMs(f1, T0 + 4000)).toBe(6000);
    const f3 = [pod('Failed', { finishedAt: T0 - 60_000 }), pod('Failed', { finishedAt: T0 - 30_000 }), pod('Failed', { finishedAt: T0 })];
    expect(backoffRemainingMs(f3, T0)).toBe(40_000);
    const many = Array.from({ length: 12 }, (_, i) => pod('Failed', { finishedAt: T0 - i }));
    expect(backoffRemainingMs(many, T0)).toBe(6 * 60_000);
    // A success resets the count.
    expect(backoffRemainingMs([pod('Failed', { finishedAt: T0 - 2000 }), pod('Succeeded', { finishedAt: T0 - 1000 })], T0)).toBe(0);
    const waiting = planJob(job({}, { startTime: iso(T0) }), f1, T0 + 4000);
    expect(waiting.create).toBe(0);
    expect(waiting.requeueAfterMs).toBe(6050);
    expect(planJob(job({}, { startTime: iso(T0) }), f1, T0 + 10_000).create).toBe(1);
  });

  it('fails with BackoffLimitExceeded when failures pass backoffLimit, deleting active pods', () => {
    const running = pod('Running');
    const p = planJob(job({ backoffLimit: 1, parallelism: 2, completions: 4 }, { startTime: iso(T0) }), [pod('Failed', { finishedAt: T0 }), pod('Failed', { finishedAt: T0 }), running], T0);
    expect(p.delete).toEqual([running]);
    expect(p.status.conditions!.find(c => c.type === 'Failed')).toMatchObject({ status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' });
    expect(p.status.failed).toBe(2);
    expect(p.status.active).toBeUndefined();
  });

  it('counts container restarts against backoffLimit with restartPolicy OnFailure', () => {
    const j = job({ backoffLimit: 2 });
    j.spec!.template.spec!.restartPolicy = 'OnFailure';
    expect(planJob(j, [pod('Running', { restarts: 1 })], T0).status.conditions).toBeUndefined();
    expect(planJob(j, [pod('Running', { restarts: 2 })], T0).status.conditions!.find(c => c.type === 'Failed')!.reason).toBe('BackoffLimitExceeded');
  });

  it('fails with DeadlineExceeded after activeDeadlineSeconds and requeues before it', () => {
    const j = job({ activeDeadlineSeconds: 30 }, { startTime: iso(T0) });
    expect(planJob(j, [pod('Running')], T0 + 10_000).requeueAfterMs).toBe(20_050);
    const p = planJob(j, [pod('Running')], T0 + 30_000);
    expect(p.status.conditions!.find(c => c.type === 'Failed')).toMatchObject({ reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' });
    expect(p.delete).toHaveLength(1);
  });

  it('suspends (deleting active pods) and resumes with a fresh startTime', () => {
    const s = planJob(job({ suspend: true }, { startTime: iso(T0) }), [pod('Running')], T0 + 1000);
    expect(s.delete).toHaveLength(1);
    expect(s.create).toBe(0);
    expect(s.status.conditions![0]).toMatchObject({ type: 'Suspended', status: 'True', reason: 'JobSuspended' });
    const r = planJob(job({}, s.status), [], T0 + 9000);
    expect(r.create).toBe(1);
    expect(r.status.startTime).toBe(iso(T0 + 9000));
    expect(r.status.conditions![0]).toMatchObject({ type: 'Suspended', status: 'False', reason: 'JobResumed' });
  });

  it('Indexed mode creates one pod per missing index and reports completedIndexes', () => {
    const j = job({ completionMode: 'Indexed', completions: 5, parallelism: 2 }, { startTime: iso(T0) });
    const p = planJob(j, [pod('Succeeded', { index: 0 }), pod('Succeeded', { index: 2 }), pod('Running', { index: 1 })], T0);
    expect(p.createIndexes).toEqual([3]);
    expect(p.status).toMatchObject({ succeeded: 2, active: 2, completedIndexes: '0,2' });
    const done = planJob(j, [0, 1, 2, 3, 4].map(i => pod('Succeeded', { index: i })), T0);
    expect(done.status.conditions!.find(c => c.type === 'Complete')!.status).toBe('True');
    expect(done.status.completedIndexes).toBe('0-4');
    expect(formatIndexes([1, 3, 4, 5, 7])).toBe('1,3-5,7');
    const ip = indexedPod({ metadata: { generateName: 'pi-' }, spec: { containers: [{ name: 'c' }] } }, 'pi', 3);
    expect(ip.metadata).toMatchObject({ generateName: 'pi-3-', annotations: { [completionIndexAnnotation]: '3' }, labels: { [completionIndexAnnotation]: '3' } });
    expect(ip.spec!.hostname).toBe('pi-3');
    expect(ip.spec!.containers[0]!.env).toEqual([{ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${completionIndexAnnotation}']` } } }]);
  });

  it('deletes a finished Job once ttlSecondsAfterFinished has passed', () => {
    const j = job({ ttlSecondsAfterFinished: 60 }, { completionTime: iso(T0), conditions: [{ type: 'Complete', status: 'True' }] });
    expect(planJob(j, [], T0 + 30_000)).toMatchObject({ deleteJob: false, requeueAfterMs: 30_050 });
    expect(planJob(j, [], T0 + 60_000).deleteJob).toBe(true);
  });
});

describe('JobController', () => {
  it('runs a Job to completion against the API and labels its pods', async () => {
    const c = new FakeClusterClient();
    const ctx = newContext(c, { events: false });
    const ctl = new JobController(ctx);
    await c.create(resources.jobs, 'default', job({ completions: 2, parallelism: 2 }));
    await ctx.informers.start();
    ctl.start();
    await until(() => c.all(resources.pods).length === 2);
    const pods = c.all<Pod>(resources.pods);
    expect(pods[0]!.metadata!.ownerReferences![0]).toMatchObject({ kind: 'Job', name: 'pi', controller: true });
    expect(pods[0]!.metadata!.labels!['batch.kubernetes.io/job-name']).toBe('pi');
    for (const p of pods) await c.patch(resources.pods, 'default', p.metadata!.name!, 'merge', { status: { phase: 'Succeeded' } }, { subresource: 'status' });
    await until(() => (c.peek<Job>(resources.jobs, 'default', 'pi')!.status?.conditions ?? []).some(x => x.type === 'Complete'));
    expect(c.peek<Job>(resources.jobs, 'default', 'pi')!.status).toMatchObject({ succeeded: 2 });
    expect(c.all(resources.pods)).toHaveLength(2);
    await ctl.stop(); ctx.informers.stop();
  });
});

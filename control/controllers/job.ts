// Job (batch/v1): runs pods to completion, as upstream's job controller and TTL-after-finished
// controller. The decision is pure (`planJob`): from the Job and the pods it owns it computes the
// pods to create (or, in Indexed mode, the completion indexes to create them for), the pods to
// delete, and the status kubectl reads (active/ready/succeeded/failed, startTime,
// completionTime, completedIndexes, and the Complete/Failed/Suspended conditions with upstream's
// reasons and messages).
//
// Design notes:
// - Counting is "finalizer-free": succeeded and failed are counted from the terminated pods that
//   still exist. The controller never deletes a terminated pod of an unfinished Job, so the count
//   only drops if a user deletes one (upstream's tracking finalizer covers that case; we chose the
//   simpler model — one less write per pod).
// - Pod creation after failures backs off as upstream: 10 s doubling per failure since the last
//   success, capped at 6 minutes, measured from the last failure's finish time.
// - restartPolicy OnFailure: restarts of active pods' containers count against backoffLimit, as
//   upstream's pastBackoffLimitOnFailure.
// - ttlSecondsAfterFinished is handled here rather than by a second controller: once a finished
//   Job's TTL has passed it is deleted with Foreground propagation, as upstream's TTL controller.
import type { Job, JobCondition, JobStatus } from 'kubernetes-types/batch/v1.js';
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { isNotFound } from '../../api/client/rest.js';
import { resources } from '../../api/client/types.js';
import type { Informer } from '../../api/client/informer.js';
import { rfc3339, type ControllerContext } from './context.js';
import { deletionOrder, isPodActive, isPodReady, podFromTemplate } from './pods.js';
import { Controller, Expectations, newControllerRef, watchControlled, watchOwners } from './runtime.js';

export const completionIndexAnnotation = 'batch.kubernetes.io/job-completion-index';
export const jobNameLabel = 'batch.kubernetes.io/job-name';
export const controllerUidLabel = 'batch.kubernetes.io/controller-uid';

/** Upstream's DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff. */
export const backoffBaseMs = 10_000;
export const backoffMaxMs = 6 * 60_000;
const burst = 500;

export interface JobPlan {
  /** NonIndexed: how many pods to create. */
  create: number;
  /** Indexed: the completion indexes to create pods for. */
  createIndexes: number[];
  delete: Pod[];
  status: JobStatus;
  events: { type: 'Normal' | 'Warning'; reason: string; message: string }[];
  /** Delete the Job itself (ttlSecondsAfterFinished passed). */
  deleteJob: boolean;
  requeueAfterMs?: number;
}

const finishedCondition = (j: Job) => j.status?.conditions?.find(c => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');

export function isJobFinished(j: Job): boolean { return finishedCondition(j) !== undefined; }

/** When a finished Job finished: completionTime, else its Failed condition's transition. */
export function jobFinishTime(j: Job): number | undefined {
  const t = j.status?.completionTime ?? finishedCondition(j)?.lastTransitionTime;
  return t ? Date.parse(t) : undefined;
}

/** A terminated pod's finish time: its containers' latest finishedAt, else a condition's or creation time. */
export function podFinishTime(p: Pod): number {
  let best = 0;
  for (const s of [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])]) {
    const t = s.state?.terminated?.finishedAt;
    if (t) best = Math.max(best, Date.parse(t));
  }
  if (best) return best;
  const cond = p.status?.conditions?.find(c => c.type === 'Ready')?.lastTransitionTime;
  return Date.parse(cond ?? p.metadata?.creationTimestamp ?? '') || 0;
}

/** Pure: ms before the next pod may be created after failures (0 = now), as upstream's back-off. */
export function backoffRemainingMs(pods: readonly Pod[], nowMs: number): number {
  const lastSuccess = Math.max(0, ...pods.filter(p => p.status?.phase === 'Succeeded').map(podFinishTime));
  const failures = pods.filter(p => p.status?.phase === 'Failed').map(podFinishTime).filter(t => t >= lastSuccess);
  if (failures.length === 0) return 0;
  const delay = Math.min(backoffBaseMs * 2 ** (failures.length - 1), backoffMaxMs);
  return Math.max(0, Math.max(...failures) + delay - nowMs);
}

const restarts = (p: Pod) => [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])].reduce((n, s) => n + (s.restartCount ?? 0), 0);

/** Upstream's pastBackoffLimitOnFailure: container restarts of running pods count as failures. */
function pastBackoffLimitOnFailure(j: Job, pods: readonly Pod[]): boolean {
  if (j.spec?.template?.spec?.restartPolicy !== 'OnFailure') return false;
  const n = pods.filter(p => p.status?.phase === 'Running' || p.status?.phase === 'Pending').reduce((a, p) => a + restarts(p), 0);
  const limit = j.spec.backoffLimit ?? 6;
  return limit === 0 ? n > 0 : n >= limit;
}

export function podIndex(p: Pod): number | undefined {
  const v = p.metadata?.annotations?.[completionIndexAnnotation] ?? p.metadata?.labels?.[completionIndexAnnotation];
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

/** `1,3-5,7`: upstream's compressed list of completed indexes. */
export function formatIndexes(ix: Iterable<number>): string {
  const sorted = [...new Set(ix)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(j === i ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

function setCondition(conds: JobCondition[], type: string, status: 'True' | 'False', reason: string, message: string, now: string): JobCondition[] {
  const have = conds.find(c => c.type === type);
  if (have && have.status === status && have.reason === reason) return conds;
  const c: JobCondition = { type, status, reason, message, lastProbeTime: now, lastTransitionTime: have?.status === status ? have.lastTransitionTime ?? now : now };
  return [...conds.filter(x => x.type !== type), c];
}

/** Pure: one sync of a Job given the pods it controls. */
export function planJob(j: Job, owned: readonly Pod[], nowMs: number): JobPlan {
  const now = rfc3339(nowMs);
  const spec = j.spec;
  const prev = j.status ?? {};
  const events: JobPlan['events'] = [];
  const plan: JobPlan = { create: 0, createIndexes: [], delete: [], status: {}, events, deleteJob: false };
  const active = owned.filter(isPodActive);
  const succeededPods = owned.filter(p => p.status?.phase === 'Succeeded');
  const failed = owned.filter(p => p.status?.phase === 'Failed').length;
  const indexed = spec?.completionMode === 'Indexed';
  const completions = spec?.completions ?? undefined;
  const parallelism = spec?.parallelism ?? 1;
  const succeededIdx = new Set<number>();
  if (indexed) for (const p of succeededPods) { const i = podIndex(p); if (i !== undefined && i < (completions ?? 0)) succeededIdx.add(i); }
  const succeeded = indexed ? succeededIdx.size : succeededPods.length;
  let conds = [...(prev.conditions ?? [])];
  let startTime = prev.startTime;
  let completionTime = prev.completionTime;
  const remove = new Set<Pod>();

  const finish = (): void => { for (const p of active) remove.add(p); };

  if (isJobFinished(j)) {
    // Nothing runs once finished; stragglers go. TTL: delete the Job once its time has come.
    finish();
    const ttl = spec?.ttlSecondsAfterFinished;
    const at = jobFinishTime(j);
    if (ttl !== undefined && at !== undefined) {
      const left = at + ttl * 1000 - nowMs;
      if (left <= 0) plan.deleteJob = true; else plan.requeueAfterMs = left + 50;
    }
  } else if (spec?.suspend) {
    finish();
    if (!conds.some(c => c.type === 'Suspended' && c.status === 'True')) {
      conds = setCondition(conds, 'Suspended', 'True', 'JobSuspended', 'Job suspended', now);
      events.push({ type: 'Normal', reason: 'Suspended', message: 'Job suspended' });
    }
  } else {
    if (conds.some(c => c.type === 'Suspended' && c.status === 'True')) {
      conds = setCondition(conds, 'Suspended', 'False', 'JobResumed', 'Job resumed', now);
      events.push({ type: 'Normal', reason: 'Resumed', message: 'Job resumed' });
      startTime = now; // the deadline counts from the resume, as upstream
    }
    startTime ??= now;
    const limit = spec?.backoffLimit ?? 6;
    const ads = spec?.activeDeadlineSeconds;
    const complete = indexed ? succeeded >= (completions ?? 0) : completions === undefined ? succeeded > 0 && active.length === 0 : succeeded >= completions;
    let failure: { reason: string; message: string } | undefined;
    if (!complete && (failed > limit || pastBackoffLimitOnFailure(j, owned))) failure = { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
    else if (!complete && ads !== undefined && Date.parse(startTime) + ads * 1000 <= nowMs) failure = { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
    if (failure) {
      finish();
      conds = setCondition(conds, 'FailureTarget', 'True', failure.reason, failure.message, now);
      conds = setCondition(conds, 'Failed', 'True', failure.reason, failure.message, now);
      events.push({ type: 'Warning', reason: failure.reason, message: failure.message });
    } else if (complete) {
      finish();
      completionTime = now;
      conds = setCondition(conds, 'SuccessCriteriaMet', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods', now);
      conds = setCondition(conds, 'Complete', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods', now);
      events.push({ type: 'Normal', reason: 'Completed', message: 'Job completed' });
    } else {
      const wait = backoffRemainingMs(owned, nowMs);
      if (indexed) {
        const n = completions ?? 0;
        const byIndex = new Map<number, Pod[]>();
        for (const p of active) {
          const i = podIndex(p);
          // Pods with no valid index, or for an index already done, are surplus.
          if (i === undefined || i >= n || succeededIdx.has(i)) { remove.add(p); continue; }
          byIndex.set(i, [...(byIndex.get(i) ?? []), p]);
        }
        for (const ps of byIndex.values()) for (const p of [...ps].sort(deletionOrder).slice(0, ps.length - 1)) remove.add(p);
        const want = Math.min(parallelism, n - succeeded);
        let running = byIndex.size;
        if (running > want) {
          const extra = [...byIndex.entries()].sort((a, b) => b[0] - a[0]).slice(0, running - want);
          for (const [, ps] of extra) for (const p of ps) remove.add(p);
          running = want;
        }
        if (wait === 0) {
          for (let i = 0; i < n && running < want && plan.createIndexes.length < burst; i++) {
            if (succeededIdx.has(i) || byIndex.has(i)) continue;
            plan.createIndexes.push(i);
            running++;
          }
        } else if (running < want) plan.requeueAfterMs = wait + 50;
      } else {
        const want = completions === undefined ? (succeeded > 0 ? 0 : parallelism) : Math.min(parallelism, completions - succeeded);
        if (active.length > want) for (const p of [...active].sort(deletionOrder).slice(0, active.length - want)) remove.add(p);
        else if (active.length < want) {
          if (wait === 0) plan.create = Math.min(want - active.length, burst);
          else plan.requeueAfterMs = wait + 50;
        }
      }
      if (ads !== undefined) {
        const left = Date.parse(startTime) + ads * 1000 - nowMs;
        plan.requeueAfterMs = Math.min(plan.requeueAfterMs ?? Infinity, left + 50);
      }
    }
  }

  plan.delete = [...remove];
  const stillActive = active.filter(p => !remove.has(p)).length + plan.create + plan.createIndexes.length;
  const status: JobStatus = {};
  if (conds.length) status.conditions = conds;
  if (startTime) status.startTime = startTime;
  if (completionTime) status.completionTime = completionTime;
  if (stillActive) status.active = stillActive;
  if (succeeded) status.succeeded = succeeded;
  if (failed) status.failed = failed;
  if (indexed && succeededIdx.size) status.completedIndexes = formatIndexes(succeededIdx);
  status.terminating = owned.filter(p => p.metadata?.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed').length;
  status.ready = active.filter(p => !remove.has(p) && isPodReady(p)).length;
  status.uncountedTerminatedPods = {};
  plan.status = status;
  return plan;
}

/** The pod for one completion index: annotation, label, hostname and JOB_COMPLETION_INDEX, as upstream. */
export function indexedPod(pod: Pod, jobName: string, index: number): Pod {
  const i = String(index);
  pod.metadata = {
    ...pod.metadata,
    generateName: `${jobName}-${i}-`,
    annotations: { ...(pod.metadata?.annotations ?? {}), [completionIndexAnnotation]: i },
    labels: { ...(pod.metadata?.labels ?? {}), [completionIndexAnnotation]: i },
  };
  const spec = pod.spec!;
  spec.hostname ??= `${jobName}-${i}`;
  const withEnv = (c: Container): Container => ({
    ...c,
    env: [...(c.env ?? []).filter(e => e.name !== 'JOB_COMPLETION_INDEX'), { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${completionIndexAnnotation}']` } } }],
  });
  spec.containers = spec.containers.map(withEnv);
  if (spec.initContainers) spec.initContainers = spec.initContainers.map(withEnv);
  return pod;
}

export class JobController {
  readonly controller: Controller;
  readonly expectations: Expectations;
  private readonly jobs: Informer<Job>;
  private readonly pods: Informer<Pod>;

  constructor(private readonly ctx: ControllerContext) {
    this.jobs = ctx.informers.for<Job>(resources.jobs);
    this.pods = ctx.informers.for<Pod>(resources.pods);
    this.expectations = new Expectations(() => ctx.clock.now());
    this.controller = new Controller({ name: 'Job', workers: ctx.workers ?? 4, clock: ctx.clock, logger: ctx.logger, resyncMs: 30_000, resyncKeys: () => this.jobs.keys() }, key => this.sync(key));
    watchOwners(this.jobs, this.controller, this.expectations);
    watchControlled(this.pods, { kind: 'Job', controller: this.controller, expectations: this.expectations, owner: key => this.jobs.get(key) });
  }

  start(): void { this.controller.start(); }
  stop(): Promise<void> { return this.controller.stop(); }

  async sync(key: string): Promise<void> {
    const j = this.jobs.get(key);
    if (!j) { this.expectations.forget(key); return; }
    if (j.metadata?.deletionTimestamp) return;
    if (!this.expectations.satisfied(key)) return; // our own creates/deletes are still on their way
    const ns = j.metadata?.namespace ?? 'default';
    const name = j.metadata?.name ?? '';
    const c = this.ctx.client;
    const owner = j as KubeObject;
    const uid = j.metadata?.uid;
    const owned = this.pods.byIndex('controller', uid ?? '');
    const plan = planJob(j, owned, this.ctx.clock.now());
    const rec = this.ctx.recorder;

    if (plan.deleteJob) {
      try { await c.delete(resources.jobs, ns, name, { propagationPolicy: 'Foreground', preconditions: { uid: uid ?? '' } }); } catch (err) { if (!isNotFound(err)) throw err; }
      return;
    }
    const ref = newControllerRef(owner, 'batch/v1', 'Job');
    const templates: Pod[] = [];
    for (let i = 0; i < plan.create; i++) templates.push(podFromTemplate(j.spec?.template, ns, name, ref));
    for (const i of plan.createIndexes) templates.push(indexedPod(podFromTemplate(j.spec?.template, ns, name, ref), name, i));
    if (templates.length || plan.delete.length) this.expectations.expect(key, templates.length, plan.delete.length);
    let failure: string | undefined;
    const created = await Promise.allSettled(templates.map(t => c.create<Pod>(resources.pods, ns, t)));
    for (const r of created) {
      if (r.status === 'fulfilled') rec.event(owner, 'Normal', 'SuccessfulCreate', `Created pod: ${r.value.metadata?.name}`);
      else { failure = (r.reason as Error).message; this.expectations.observed(key, 'add'); }
    }
    if (failure) rec.event(owner, 'Warning', 'FailedCreate', `Error creating: ${failure}`);
    for (const p of plan.delete) {
      try {
        await c.delete(resources.pods, ns, p.metadata?.name ?? '', { preconditions: { uid: p.metadata?.uid ?? '' } });
        rec.event(owner, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata?.name}`);
      } catch (err) {
        this.expectations.observed(key, 'del');
        if (!isNotFound(err)) throw err;
      }
    }
    // Active counts what was asked for; creations that failed are not active.
    const status = { ...plan.status };
    const failedCreates = created.filter(r => r.status === 'rejected').length;
    if (failedCreates) { const a = (status.active ?? 0) - failedCreates; if (a > 0) status.active = a; else delete status.active; }
    if (JSON.stringify(status) !== JSON.stringify(j.status ?? {})) {
      await c.update(resources.jobs, { ...j, status } as KubeObject, { subresource: 'status' });
      for (const e of plan.events) rec.event(owner, e.type, e.reason, e.message);
    }
    if (plan.requeueAfterMs !== undefined) this.controller.enqueueAfter(key, plan.requeueAfterMs);
    if (failure) throw new Error(`creating pods for Job "${key}" failed: ${failure}`);
  }
}

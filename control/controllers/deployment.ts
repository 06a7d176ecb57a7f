// Deployment: rolls a pod template out through ReplicaSets, as upstream's deployment controller.
// The decision is pure (`planDeployment`): from the Deployment and the ReplicaSets it owns it
// computes the new ReplicaSet (creating it, named `<deployment>-<pod-template-hash>`), the
// replicas of every ReplicaSet for this step of the strategy, which old ReplicaSets to delete
// beyond `revisionHistoryLimit`, and the status `kubectl rollout status` reads. The shell applies
// the plan; the ReplicaSet controller then creates and deletes the pods, and the resulting
// ReplicaSet status changes bring us back here (level-triggered).
//
// Strategy arithmetic follows upstream exactly: maxSurge rounds up, maxUnavailable rounds down,
// both zero means one unavailable; a rolling step scales the new ReplicaSet up to
// replicas+maxSurge total pods, and scales old ones down first by their unavailable pods, then
// oldest first down to replicas−maxUnavailable available. Scaling a Deployment in the middle of a
// rollout spreads the change over the active ReplicaSets in proportion to their size.
// The template hash is FNV-32a over the canonical JSON of the template (upstream hashes Go's
// printed struct, which we cannot reproduce; only stability and collisions matter).
import type { Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { fromMetaLabelSelector, labelsMatch } from '../../api/selectors.js';
import { isAlreadyExists, isNotFound } from '../../api/client/rest.js';
import { keyOf, resources } from '../../api/client/types.js';
import type { Informer } from '../../api/client/informer.js';
import { rfc3339, type ControllerContext } from './context.js';
import { Controller, adoptPatch, controllerRef, newControllerRef } from './runtime.js';

export const revisionAnnotation = 'deployment.kubernetes.io/revision';
export const desiredReplicasAnnotation = 'deployment.kubernetes.io/desired-replicas';
export const maxReplicasAnnotation = 'deployment.kubernetes.io/max-replicas';
export const revisionHistoryAnnotation = 'deployment.kubernetes.io/revision-history';
export const hashLabel = 'pod-template-hash';

const safeAlphabet = 'bcdfghjklmnpqrstvwxz2456789';

/**
 * JSON with sorted keys, where null and empty objects/arrays count as absent: upstream compares
 * templates as Go structs, where `creationTimestamp: null` (which `kubectl rollout undo` writes)
 * and an omitted field are the same zero value.
 */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).sort().filter(k => !isZero(o[k]));
    return `{${keys.map(k => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

function isZero(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.values(v).every(isZero);
  return false;
}

function withoutHash(t: PodTemplateSpec | undefined): PodTemplateSpec {
  const c = JSON.parse(JSON.stringify(t ?? {})) as PodTemplateSpec;
  if (c.metadata?.labels) { delete c.metadata.labels[hashLabel]; if (!Object.keys(c.metadata.labels).length) delete c.metadata.labels; }
  return c;
}

/** The `pod-template-hash` of a template and collision count. */
export function computeHash(template: PodTemplateSpec | undefined, collisionCount?: number): string {
  let h = 0x811c9dc5;
  const s = canonical(withoutHash(template)) + (collisionCount !== undefined ? String(collisionCount) : '');
  const bytes = new TextEncoder().encode(s);
  for (const b of bytes) { h ^= b; h = Math.imul(h, 0x01000193) >>> 0; }
  let out = '';
  let n = h >>> 0;
  do { out += safeAlphabet[n % safeAlphabet.length]; n = Math.floor(n / safeAlphabet.length); } while (n > 0);
  return out;
}

export const templatesEqual = (a: PodTemplateSpec | undefined, b: PodTemplateSpec | undefined) => canonical(withoutHash(a)) === canonical(withoutHash(b));

/** An int-or-percent against a total: percentages round up for surge, down for unavailable. */
export function scaledValue(v: number | string | undefined, total: number, roundUp: boolean, dflt: string): number {
  const x = v ?? dflt;
  if (typeof x === 'number') return x;
  const m = /^(\d+)%$/.exec(x);
  if (!m) return Number.parseInt(x, 10) || 0;
  const f = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(f) : Math.floor(f);
}

export function resolveFenceposts(d: Deployment): { maxSurge: number; maxUnavailable: number } {
  const replicas = d.spec?.replicas ?? 1;
  const ru = d.spec?.strategy?.rollingUpdate;
  const maxSurge = scaledValue(ru?.maxSurge, replicas, true, '25%');
  let maxUnavailable = scaledValue(ru?.maxUnavailable, replicas, false, '25%');
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable };
}

const specReplicas = (rs: ReplicaSet) => rs.spec?.replicas ?? 0;
const revisionOf = (rs: ReplicaSet) => Number(rs.metadata?.annotations?.[revisionAnnotation] ?? '0') || 0;
const byCreationOldest = (a: ReplicaSet, b: ReplicaSet) => ((a.metadata?.creationTimestamp ?? '') < (b.metadata?.creationTimestamp ?? '') ? -1 : (a.metadata?.creationTimestamp ?? '') > (b.metadata?.creationTimestamp ?? '') ? 1 : (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));

export interface DeploymentPlan {
  /** A ReplicaSet to create (the new one), with its replicas for this step. */
  create?: ReplicaSet;
  /** ReplicaSets whose replicas or annotations change: name → full desired object. */
  update: ReplicaSet[];
  delete: ReplicaSet[];
  status: DeploymentStatus;
  /** Re-check after this many ms (minReadySeconds, progress deadline). */
  requeueAfterMs?: number;
  newName: string;
}

function newReplicaSetFor(d: Deployment, hash: string, revision: number, replicas: number, maxSurge: number): ReplicaSet {
  const template = JSON.parse(JSON.stringify(d.spec?.template ?? {})) as PodTemplateSpec;
  template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [hashLabel]: hash } };
  const sel = d.spec?.selector ?? {};
  return {
    apiVersion: 'apps/v1', kind: 'ReplicaSet',
    metadata: {
      name: `${d.metadata?.name}-${hash}`, namespace: d.metadata?.namespace ?? 'default',
      labels: { ...(template.metadata.labels ?? {}) },
      annotations: { ...copyableAnnotations(d), [revisionAnnotation]: String(revision), [desiredReplicasAnnotation]: String(d.spec?.replicas ?? 1), [maxReplicasAnnotation]: String((d.spec?.replicas ?? 1) + maxSurge) },
      ownerReferences: [newControllerRef(d as KubeObject, 'apps/v1', 'Deployment')],
    },
    spec: {
      replicas,
      minReadySeconds: d.spec?.minReadySeconds ?? 0,
      selector: { ...sel, matchLabels: { ...(sel.matchLabels ?? {}), [hashLabel]: hash } },
      template,
    },
  };
}

/** Deployment annotations upstream copies to ReplicaSets (all but its own bookkeeping ones). */
function copyableAnnotations(d: Deployment): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.metadata?.annotations ?? {})) {
    if (k === revisionAnnotation || k === revisionHistoryAnnotation || k === desiredReplicasAnnotation || k === maxReplicasAnnotation || k === 'kubectl.kubernetes.io/last-applied-configuration') continue;
    out[k] = v;
  }
  return out;
}

function setCondition(conds: DeploymentCondition[], c: DeploymentCondition, now: string, progressed: boolean): DeploymentCondition[] {
  const have = conds.find(x => x.type === c.type);
  const next: DeploymentCondition = { ...c, lastUpdateTime: now, lastTransitionTime: now };
  if (have && have.status === c.status) {
    next.lastTransitionTime = have.lastTransitionTime ?? now;
    if (have.reason === c.reason && !progressed) next.lastUpdateTime = have.lastUpdateTime ?? now;
  }
  const out = conds.filter(x => x.type !== c.type);
  out.push(next);
  return out.sort((a, b) => (a.type === 'Available' ? -1 : b.type === 'Available' ? 1 : 0));
}

/** Pure: one step of a Deployment's rollout. `rses` are the ReplicaSets it controls. */
export function planDeployment(d: Deployment, rses: readonly ReplicaSet[], nowMs: number): DeploymentPlan {
  const now = rfc3339(nowMs);
  const replicas = d.spec?.replicas ?? 1;
  const { maxSurge, maxUnavailable } = resolveFenceposts(d);
  const recreate = d.spec?.strategy?.type === 'Recreate';
  const paused = d.spec?.paused === true;
  const update: ReplicaSet[] = [];
  const desired = new Map<string, ReplicaSet>(); // name → desired copy

  const sorted = [...rses].sort(byCreationOldest);
  const existingNew = sorted.find(rs => templatesEqual(rs.spec?.template, d.spec?.template));
  const olds = sorted.filter(rs => rs !== existingNew);
  const maxOldRevision = Math.max(0, ...olds.map(revisionOf));
  const collisionCount = d.status?.collisionCount;
  let newRS: ReplicaSet | undefined = existingNew ? JSON.parse(JSON.stringify(existingNew)) as ReplicaSet : undefined;
  let create: ReplicaSet | undefined;
  let createdNew = false;
  const hash = newRS?.metadata?.labels?.[hashLabel] ?? computeHash(d.spec?.template, collisionCount);
  const newName = newRS?.metadata?.name ?? `${d.metadata?.name}-${hash}`;

  const put = (rs: ReplicaSet) => desired.set(rs.metadata?.name ?? '', rs);
  const mut = (rs: ReplicaSet): ReplicaSet => desired.get(rs.metadata?.name ?? '') ?? (() => { const c = JSON.parse(JSON.stringify(rs)) as ReplicaSet; put(c); return c; })();

  if (!paused || newRS) {
    if (!newRS && !paused) {
      newRS = newReplicaSetFor(d, hash, maxOldRevision + 1, 0, maxSurge);
      createdNew = true;
    } else if (newRS && revisionOf(newRS) <= maxOldRevision && !paused) {
      // Rolling back to an old template: it becomes the newest revision.
      const m = mut(newRS); newRS = m;
      m.metadata!.annotations = { ...(m.metadata!.annotations ?? {}), [revisionAnnotation]: String(maxOldRevision + 1) };
    }
  }

  const all = () => [...(newRS ? [newRS] : []), ...olds.map(o => desired.get(o.metadata?.name ?? '') ?? o)];
  const activeOlds = () => olds.map(o => desired.get(o.metadata?.name ?? '') ?? o).filter(o => specReplicas(o) > 0);
  const total = () => all().reduce((n, rs) => n + specReplicas(rs), 0);
  const setReplicas = (rs: ReplicaSet, n: number) => {
    if (rs === newRS && createdNew) { rs.spec!.replicas = n; return; }
    const m = mut(rs); m.spec!.replicas = n;
    if (rs === newRS) newRS = m;
  };

  // A scaling event: the Deployment's replicas changed while several ReplicaSets are active.
  const active = all().filter(rs => specReplicas(rs) > 0);
  const isScaling = active.some(rs => rs.metadata?.annotations?.[desiredReplicasAnnotation] !== undefined && rs.metadata.annotations[desiredReplicasAnnotation] !== String(replicas));
  if (paused || isScaling) {
    if (active.length === 1 || (active.length === 0 && newRS)) {
      const only = active[0] ?? newRS!;
      setReplicas(only, replicas);
    } else if (active.length > 1) {
      const allowed = replicas + (recreate ? 0 : maxSurge);
      const current = total();
      let diff = allowed - current;
      const order = [...active].sort((a, b) => diff > 0 ? specReplicas(b) - specReplicas(a) : specReplicas(b) - specReplicas(a));
      const proportions = order.map(rs => (current > 0 ? Math.trunc((specReplicas(rs) * allowed) / current) - specReplicas(rs) : 0));
      let leftover = diff - proportions.reduce((a, b) => a + b, 0);
      order.forEach((rs, i) => {
        let delta = proportions[i]!;
        if (i === 0) { delta += leftover; leftover = 0; }
        delta = Math.max(delta, -specReplicas(rs));
        setReplicas(rs, specReplicas(rs) + delta);
        diff -= delta;
      });
    }
  } else if (recreate) {
    const oldRunning = olds.some(o => (o.status?.replicas ?? 0) > 0);
    for (const o of activeOlds()) setReplicas(o, 0);
    if (!oldRunning && activeOlds().length === 0 && newRS && specReplicas(newRS) !== replicas) setReplicas(newRS, replicas);
  } else if (newRS) {
    // Rolling update: scale up the new ReplicaSet…
    const cur = specReplicas(newRS);
    if (cur > replicas) setReplicas(newRS, replicas);
    else if (cur < replicas) {
      const maxTotal = replicas + maxSurge;
      const room = maxTotal - total();
      if (room > 0) setReplicas(newRS, cur + Math.min(room, replicas - cur));
    }
    // …then scale down old ones as far as availability allows.
    const oldCount = activeOlds().reduce((n, rs) => n + specReplicas(rs), 0);
    if (oldCount > 0) {
      const minAvailable = replicas - maxUnavailable;
      const newUnavailable = specReplicas(newRS) - (createdNew ? 0 : newRS.status?.availableReplicas ?? 0);
      let maxScaledDown = total() - minAvailable - newUnavailable;
      if (maxScaledDown > 0) {
        // Unhealthy replicas first: they cost no availability.
        for (const o of activeOlds()) {
          if (maxScaledDown <= 0) break;
          const unhealthy = specReplicas(o) - (o.status?.availableReplicas ?? 0);
          if (unhealthy <= 0) continue;
          const n = Math.min(maxScaledDown, unhealthy);
          setReplicas(o, specReplicas(o) - n);
          maxScaledDown -= n;
        }
        const available = all().reduce((n, rs) => n + Math.min(specReplicas(rs), rs === newRS && createdNew ? 0 : rs.status?.availableReplicas ?? 0), 0);
        let scaleDown = Math.min(available - minAvailable, maxScaledDown);
        for (const o of activeOlds()) {
          if (scaleDown <= 0) break;
          const n = Math.min(specReplicas(o), scaleDown);
          setReplicas(o, specReplicas(o) - n);
          scaleDown -= n;
        }
      }
    }
  }

  // Bookkeeping annotations on every active ReplicaSet once it is at its target.
  for (const rs of all()) {
    const a = rs.metadata?.annotations ?? {};
    if (specReplicas(rs) > 0 && (a[desiredReplicasAnnotation] !== String(replicas) || a[maxReplicasAnnotation] !== String(replicas + maxSurge))) {
      const m = rs === newRS && createdNew ? rs : mut(rs);
      m.metadata!.annotations = { ...(m.metadata!.annotations ?? {}), [desiredReplicasAnnotation]: String(replicas), [maxReplicasAnnotation]: String(replicas + maxSurge) };
      if (rs === newRS) newRS = m;
    }
  }
  if (createdNew && newRS) create = newRS;

  // History: delete the oldest fully scaled-down ReplicaSets beyond revisionHistoryLimit — as
  // upstream's cleanupDeployment, only while paused or once the rollout is complete (by the status
  // last written: upstream's DeploymentComplete), never in the middle of a rollout.
  const limit = d.spec?.revisionHistoryLimit ?? 10;
  const st = d.status ?? {};
  const wasComplete = [st.updatedReplicas, st.replicas, st.availableReplicas].every(n => (n ?? 0) === replicas) && (st.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  const cleanable = olds.filter(o => specReplicas(desired.get(o.metadata?.name ?? '') ?? o) === 0 && (o.status?.replicas ?? 0) === 0 && !o.metadata?.deletionTimestamp)
    .sort((a, b) => revisionOf(a) - revisionOf(b) || byCreationOldest(a, b));
  const del = paused || wasComplete ? cleanable.slice(0, Math.max(0, cleanable.length - limit)) : [];

  for (const [name, rs] of desired) {
    const orig = rses.find(r => r.metadata?.name === name);
    if (!orig || JSON.stringify(orig.spec) !== JSON.stringify(rs.spec) || JSON.stringify(orig.metadata?.annotations) !== JSON.stringify(rs.metadata?.annotations)) update.push(rs);
  }

  // Status, from the ReplicaSets' observed status.
  const observed = [...(existingNew ? [existingNew] : []), ...olds];
  const sum = (f: (rs: ReplicaSet) => number) => observed.reduce((n, rs) => n + f(rs), 0);
  const available = sum(rs => rs.status?.availableReplicas ?? 0);
  const status: DeploymentStatus = {
    observedGeneration: d.metadata?.generation ?? 0,
    replicas: sum(rs => rs.status?.replicas ?? 0),
    updatedReplicas: existingNew?.status?.replicas ?? 0,
    readyReplicas: sum(rs => rs.status?.readyReplicas ?? 0),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, replicas - available),
  };
  if (collisionCount !== undefined) status.collisionCount = collisionCount;
  const prev = d.status ?? {};
  const progressed = (status.updatedReplicas ?? 0) > (prev.updatedReplicas ?? 0) || (status.availableReplicas ?? 0) > (prev.availableReplicas ?? 0)
    || (status.readyReplicas ?? 0) > (prev.readyReplicas ?? 0) || createdNew || (status.replicas ?? 0) < (prev.replicas ?? 0);
  let conds = [...(prev.conditions ?? [])];
  conds = available >= replicas - maxUnavailable
    ? setCondition(conds, { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }, now, false)
    : setCondition(conds, { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' }, now, false);
  const complete = status.updatedReplicas === replicas && status.replicas === replicas && available === replicas && olds.every(o => (o.status?.replicas ?? 0) === 0);
  const deadline = d.spec?.progressDeadlineSeconds ?? 600;
  const prevProgressing = prev.conditions?.find(c => c.type === 'Progressing');
  let requeueAfterMs: number | undefined;
  if (paused) {
    conds = setCondition(conds, { type: 'Progressing', status: 'Unknown', reason: 'DeploymentPaused', message: 'Deployment is paused' }, now, false);
  } else if (complete) {
    conds = setCondition(conds, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${newName}" has successfully progressed.` }, now, prevProgressing?.reason !== 'NewReplicaSetAvailable');
  } else if (createdNew) {
    conds = setCondition(conds, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetCreated', message: `Created new replica set "${newName}"` }, now, true);
  } else if (progressed || !prevProgressing || prevProgressing.reason === 'DeploymentPaused' || prevProgressing.reason === 'NewReplicaSetAvailable') {
    conds = setCondition(conds, { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${newName}" is progressing.` }, now, true);
  } else if (prevProgressing.reason !== 'ProgressDeadlineExceeded') {
    const last = Date.parse(prevProgressing.lastUpdateTime ?? now);
    if (last + deadline * 1000 <= nowMs) {
      conds = setCondition(conds, { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${newName}" has timed out progressing.` }, now, false);
    } else requeueAfterMs = last + deadline * 1000 - nowMs + 100;
  }
  status.conditions = conds;
  // Zero counters are omitted, as upstream's omitempty fields are.
  for (const k of ['replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas'] as const) if (!status[k]) delete status[k];
  return { ...(create ? { create } : {}), update: update.filter(u => u !== create), delete: del, status, ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}), newName };
}

export class DeploymentController {
  readonly controller: Controller;
  private readonly deployments: Informer<Deployment>;
  private readonly rses: Informer<ReplicaSet>;

  constructor(private readonly ctx: ControllerContext) {
    this.deployments = ctx.informers.for<Deployment>(resources.deployments);
    this.rses = ctx.informers.for<ReplicaSet>(resources.replicasets);
    this.controller = new Controller({ name: 'Deployment', workers: ctx.workers ?? 4, clock: ctx.clock, logger: ctx.logger, resyncMs: 30_000, resyncKeys: () => this.deployments.keys() }, key => this.sync(key));
    this.deployments.on({ add: d => this.controller.enqueueObject(d), update: (_, d) => this.controller.enqueueObject(d), delete: d => this.controller.enqueueObject(d) });
    const onRS = (rs: ReplicaSet) => {
      const ref = controllerRef(rs);
      if (ref?.kind === 'Deployment') { this.controller.enqueue(`${rs.metadata?.namespace}/${ref.name}`); return; }
      if (ref) return;
      for (const d of this.deployments.byIndex('namespace', rs.metadata?.namespace ?? '')) {
        if (labelsMatch(fromMetaLabelSelector(d.spec?.selector), rs.metadata?.labels)) this.controller.enqueueObject(d);
      }
    };
    this.rses.on({ add: onRS, update: (_, rs) => onRS(rs), delete: onRS });
  }

  start(): void { this.controller.start(); }
  stop(): Promise<void> { return this.controller.stop(); }

  async sync(key: string): Promise<void> {
    const d = this.deployments.get(key);
    if (!d || d.metadata?.deletionTimestamp) return;
    const ns = d.metadata?.namespace ?? 'default';
    const c = this.ctx.client;
    const uid = d.metadata?.uid;
    const selector = fromMetaLabelSelector(d.spec?.selector);
    const owned: ReplicaSet[] = [];
    for (const rs of this.rses.byIndex('namespace', ns)) {
      const ref = controllerRef(rs);
      if (ref?.uid === uid) { owned.push(rs); continue; }
      if (!ref && labelsMatch(selector, rs.metadata?.labels) && !rs.metadata?.deletionTimestamp) {
        try {
          owned.push(await c.patch<ReplicaSet>(resources.replicasets, ns, rs.metadata?.name ?? '', 'merge', adoptPatch(rs, newControllerRef(d as KubeObject, 'apps/v1', 'Deployment'))));
        } catch (err) { if (!isNotFound(err)) throw err; }
      }
    }
    const plan = planDeployment(d, owned, this.ctx.clock.now());
    if (plan.create) {
      try {
        await c.create(resources.replicasets, ns, plan.create);
        this.ctx.recorder.event(d as KubeObject, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${plan.create.metadata?.name} to ${plan.create.spec?.replicas ?? 0}`);
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        // A ReplicaSet of that name with another template: a hash collision; bump collisionCount.
        const other = this.rses.getBy(ns, plan.create.metadata?.name ?? '');
        if (other && !templatesEqual(other.spec?.template, d.spec?.template)) {
          await c.update(resources.deployments, { ...d, status: { ...(d.status ?? {}), collisionCount: (d.status?.collisionCount ?? 0) + 1 } } as KubeObject, { subresource: 'status' });
        }
        throw err;
      }
    }
    for (const rs of plan.update) {
      const before = owned.find(o => o.metadata?.name === rs.metadata?.name);
      await c.update(resources.replicasets, rs as KubeObject);
      const from = before?.spec?.replicas ?? 0, to = rs.spec?.replicas ?? 0;
      if (from !== to) this.ctx.recorder.event(d as KubeObject, 'Normal', 'ScalingReplicaSet', `Scaled ${to > from ? 'up' : 'down'} replica set ${rs.metadata?.name} from ${from} to ${to}`);
    }
    for (const rs of plan.delete) {
      try { await c.delete(resources.replicasets, ns, rs.metadata?.name ?? '', { preconditions: { uid: rs.metadata?.uid ?? '' } }); } catch (err) { if (!isNotFound(err)) throw err; }
    }
    // The Deployment's revision follows its new ReplicaSet.
    const newRS = plan.create ?? plan.update.find(r => r.metadata?.name === plan.newName) ?? owned.find(r => r.metadata?.name === plan.newName);
    const rev = newRS?.metadata?.annotations?.[revisionAnnotation];
    let current: Deployment = d;
    if (rev && d.metadata?.annotations?.[revisionAnnotation] !== rev) {
      current = await c.patch<Deployment>(resources.deployments, ns, d.metadata?.name ?? '', 'merge', { metadata: { annotations: { [revisionAnnotation]: rev } } });
    }
    if (JSON.stringify(plan.status) !== JSON.stringify(d.status ?? {})) {
      await c.update(resources.deployments, { ...current, status: plan.status } as KubeObject, { subresource: 'status' });
    }
    if (plan.requeueAfterMs !== undefined) this.controller.enqueueAfter(keyOf(d), plan.requeueAfterMs);
  }
}

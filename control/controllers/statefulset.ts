// StatefulSet: pods with stable identities, as upstream's stateful set controller.
// - Pod `<set>-<ordinal>` for ordinals [start, start+replicas); hostname = pod name, subdomain =
//   serviceName (the headless Service gives each a DNS name); labels
//   `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index` and
//   `controller-revision-hash`.
// - Each volumeClaimTemplate becomes a PVC `<template>-<set>-<ordinal>`, created before the pod and
//   never deleted with it (unless persistentVolumeClaimRetentionPolicy says so), so a recreated pod
//   gets its data back.
// - Revisions are ControllerRevisions `<set>-<hash>` holding the template as a strategic-merge
//   patch (what `kubectl rollout history/undo sts` reads and applies); status.currentRevision /
//   updateRevision name them.
// - One step per sync, decided by the pure `planStatefulSet`: OrderedReady creates in ordinal order
//   and waits for each pod to be Running and Ready, and scales down from the highest ordinal, one
//   at a time; Parallel creates and deletes all at once. RollingUpdate deletes, highest ordinal
//   first and down to `partition`, one pod not at the update revision after the previous is healthy
//   again; the next sync recreates it from the update revision. OnDelete only recreates.
// We keep no "expectations" (as upstream's StatefulSet controller): pod names are deterministic,
// so a create repeated from a stale cache fails with AlreadyExists instead of making a duplicate.
import type { ControllerRevision, StatefulSet, StatefulSetStatus } from 'kubernetes-types/apps/v1.js';
import type { PersistentVolumeClaim, Pod, PodTemplateSpec, Volume } from 'kubernetes-types/core/v1.js';
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import type { KubeObject } from '../../api/object.js';
import { fromMetaLabelSelector, labelsMatch } from '../../api/selectors.js';
import { isAlreadyExists, isNotFound } from '../../api/client/rest.js';
import { keyOf, resources, splitKey } from '../../api/client/types.js';
import type { Informer } from '../../api/client/informer.js';
import type { ControllerContext } from './context.js';
import { computeHash, templatesEqual } from './deployment.js';
import { isPodAvailable, isPodReady, msUntilAvailable } from './pods.js';
import { Controller, adoptPatch, controllerRef, newControllerRef, releasePatch } from './runtime.js';

export const podNameLabel = 'statefulset.kubernetes.io/pod-name';
export const podIndexLabel = 'apps.kubernetes.io/pod-index';
export const revisionLabel = 'controller-revision-hash';

const nameRe = /^(.*)-(\d+)$/;

/** The parent name and ordinal encoded in a pod name, as upstream's getParentNameAndOrdinal. */
export function parseOrdinal(podName: string): { parent: string; ordinal: number } | undefined {
  const m = nameRe.exec(podName);
  return m ? { parent: m[1]!, ordinal: Number(m[2]) } : undefined;
}

export const podName = (set: StatefulSet, ordinal: number) => `${set.metadata?.name}-${ordinal}`;
export const claimName = (template: string, set: StatefulSet, ordinal: number) => `${template}-${set.metadata?.name}-${ordinal}`;
const startOrdinal = (set: StatefulSet) => set.spec?.ordinals?.start ?? 0;
const isTerminating = (p: Pod) => p.metadata?.deletionTimestamp !== undefined;
const isFailedOrSucceeded = (p: Pod) => p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded';
const isRunningAndReady = (p: Pod) => p.status?.phase === 'Running' && isPodReady(p);
const isRunningAndAvailable = (p: Pod, minReady: number, now: number) => p.status?.phase === 'Running' && isPodAvailable(p, minReady, now);
const isHealthy = (p: Pod) => isRunningAndReady(p) && !isTerminating(p);
export const podRevision = (p: Pod) => p.metadata?.labels?.[revisionLabel] ?? '';

// ---- revisions -------------------------------------------------------------------------------

/** The ControllerRevision data upstream writes: the template as a replacing strategic-merge patch. */
export function revisionData(template: PodTemplateSpec | undefined): Record<string, unknown> {
  return { spec: { template: { ...JSON.parse(JSON.stringify(template ?? {})) as Record<string, unknown>, $patch: 'replace' } } };
}

export function templateOfRevision(rev: ControllerRevision): PodTemplateSpec {
  const t = { ...((rev.data as { spec?: { template?: Record<string, unknown> } } | undefined)?.spec?.template ?? {}) };
  delete t['$patch'];
  return t as PodTemplateSpec;
}

export function newRevision(set: StatefulSet, revision: number, collisionCount?: number): ControllerRevision {
  const hash = computeHash(set.spec?.template, collisionCount);
  return {
    apiVersion: 'apps/v1', kind: 'ControllerRevision',
    metadata: {
      name: `${set.metadata?.name}-${hash}`, namespace: set.metadata?.namespace ?? 'default',
      labels: { ...(set.spec?.template?.metadata?.labels ?? {}), [revisionLabel]: hash },
      ownerReferences: [newControllerRef(set as KubeObject, 'apps/v1', 'StatefulSet')],
    },
    data: revisionData(set.spec?.template),
    revision,
  };
}

// ---- pods and claims -------------------------------------------------------------------------

/** The claims a pod of this set needs, as upstream's getPersistentVolumeClaims. */
export function claimsFor(set: StatefulSet, ordinal: number, ref?: OwnerReference): PersistentVolumeClaim[] {
  const matchLabels = set.spec?.selector?.matchLabels ?? {};
  return (set.spec?.volumeClaimTemplates ?? []).map(t => {
    const c = JSON.parse(JSON.stringify(t)) as PersistentVolumeClaim & { status?: unknown };
    delete c.status;
    c.apiVersion = 'v1'; c.kind = 'PersistentVolumeClaim';
    c.metadata = {
      ...(t.metadata?.annotations ? { annotations: { ...t.metadata.annotations } } : {}),
      name: claimName(t.metadata?.name ?? '', set, ordinal),
      namespace: set.metadata?.namespace ?? 'default',
      labels: { ...(t.metadata?.labels ?? {}), ...matchLabels },
      ...(ref ? { ownerReferences: [ref] } : {}),
    };
    return c;
  });
}

/** A pod of `set` (whose template is the one of `revision`) at `ordinal`. */
export function newStatefulSetPod(set: StatefulSet, template: PodTemplateSpec, ordinal: number, revision: string): Pod {
  const name = podName(set, ordinal);
  const meta = template.metadata ?? {};
  const spec = JSON.parse(JSON.stringify(template.spec ?? { containers: [] })) as NonNullable<Pod['spec']>;
  // Identity: stable DNS name under the governing Service.
  spec.hostname = name;
  if (set.spec?.serviceName) spec.subdomain = set.spec.serviceName;
  // Storage: each claim template replaces a template volume of the same name.
  const claimVolumes: Volume[] = (set.spec?.volumeClaimTemplates ?? []).map(t => ({ name: t.metadata?.name ?? '', persistentVolumeClaim: { claimName: claimName(t.metadata?.name ?? '', set, ordinal) } }));
  if (claimVolumes.length) {
    const names = new Set(claimVolumes.map(v => v.name));
    spec.volumes = [...claimVolumes, ...(spec.volumes ?? []).filter(v => !names.has(v.name))];
  }
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name, namespace: set.metadata?.namespace ?? 'default',
      labels: { ...(meta.labels ?? {}), [podNameLabel]: name, [podIndexLabel]: String(ordinal), [revisionLabel]: revision },
      ...(meta.annotations ? { annotations: { ...meta.annotations } } : {}),
      ...(meta.finalizers ? { finalizers: [...meta.finalizers] } : {}),
      ownerReferences: [newControllerRef(set as KubeObject, 'apps/v1', 'StatefulSet')],
    },
    spec,
  };
}

// ---- the plan ------------------------------------------------------------------------------

export interface SetRevisions { current: string; update: string; currentTemplate: PodTemplateSpec; updateTemplate: PodTemplateSpec }

export interface StatefulSetPlan {
  /** Ordinals to create, each with the revision (name) and template to use. */
  create: { ordinal: number; revision: string; template: PodTemplateSpec }[];
  /** Pods to delete: failed ones (to recreate), condemned ones, and ones being rolled. */
  delete: { pod: Pod; reason: 'failed' | 'condemned' | 'update' }[];
}

/**
 * Pure: one step of upstream's updateStatefulSet. `pods` are the set's own pods (any ordinal).
 * Without a rollingUpdate block, status.currentReplicas plays the partition's role, as upstream.
 */
export function planStatefulSet(set: StatefulSet, pods: readonly Pod[], revs: SetRevisions, nowMs = Date.now()): StatefulSetPlan {
  const replicaCount = set.spec?.replicas ?? 1;
  const start = startOrdinal(set);
  const end = start + replicaCount;
  const monotonic = (set.spec?.podManagementPolicy ?? 'OrderedReady') === 'OrderedReady';
  const plan: StatefulSetPlan = { create: [], delete: [] };
  const replicas: (Pod | undefined)[] = Array.from({ length: replicaCount }, () => undefined);
  const condemned: Pod[] = [];
  for (const p of pods) {
    const o = parseOrdinal(p.metadata?.name ?? '')?.ordinal ?? -1;
    if (o >= start && o < end) replicas[o - start] = p; else if (o >= 0) condemned.push(p);
  }
  condemned.sort((a, b) => (parseOrdinal(b.metadata?.name ?? '')?.ordinal ?? 0) - (parseOrdinal(a.metadata?.name ?? '')?.ordinal ?? 0));
  if (set.metadata?.deletionTimestamp) return plan;

  const strategy = set.spec?.updateStrategy;
  const rolling = (strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
  const partition = strategy?.rollingUpdate?.partition ?? 0;
  const versioned = (ordinal: number) => {
    const useCurrent = rolling && revs.current !== revs.update && (strategy?.rollingUpdate
      ? ordinal < start + partition
      : ordinal < start + (set.status?.currentReplicas ?? 0));
    return useCurrent ? { ordinal, revision: revs.current, template: revs.currentTemplate } : { ordinal, revision: revs.update, template: revs.updateTemplate };
  };

  // First unhealthy pod, in ordinal order over replicas then condemned (upstream's "firstUnhealthyPod").
  let unhealthy: Pod | undefined;
  for (const p of [...replicas, ...[...condemned].reverse()]) if (p && !isHealthy(p)) { unhealthy = p; break; }

  for (let i = 0; i < replicas.length; i++) {
    const p = replicas[i];
    if (p && isFailedOrSucceeded(p) && !isTerminating(p)) {
      // A failed pod is deleted and recreated; under OrderedReady nothing else happens meanwhile.
      plan.delete.push({ pod: p, reason: 'failed' });
      if (monotonic) return plan;
      continue;
    }
    if (!p) {
      plan.create.push(versioned(start + i));
      if (monotonic) return plan;
      continue;
    }
    if (isTerminating(p) && monotonic) return plan;
    if (!isRunningAndReady(p) && monotonic) return plan;
    if (!isRunningAndAvailable(p, set.spec?.minReadySeconds ?? 0, nowMs) && monotonic) return plan;
  }

  for (const p of condemned) {
    if (isTerminating(p)) { if (monotonic) return plan; continue; }
    if (monotonic && unhealthy && unhealthy !== p) return plan;
    plan.delete.push({ pod: p, reason: 'condemned' });
    if (monotonic) return plan;
  }
  if (plan.create.length || plan.delete.length) return plan;

  if (!rolling) return plan;
  // RollingUpdate: from the highest ordinal down to the partition, one pod at a time.
  const updateMin = Math.min(partition, replicaCount);
  for (let i = replicas.length - 1; i >= updateMin; i--) {
    const p = replicas[i]!;
    if (podRevision(p) !== revs.update && !isTerminating(p)) {
      plan.delete.push({ pod: p, reason: 'update' });
      return plan;
    }
    if (!isHealthy(p)) return plan;
  }
  return plan;
}

/** Pure: upstream's computeReplicaStatus plus the rollover of currentRevision when a rollout completes. */
export function computeStatefulSetStatus(set: StatefulSet, pods: readonly Pod[], revs: SetRevisions, nowMs: number): StatefulSetStatus {
  const min = set.spec?.minReadySeconds ?? 0;
  let replicas = 0, ready = 0, available = 0, current = 0, updated = 0;
  for (const p of pods) {
    if (isFailedOrSucceeded(p) && isTerminating(p)) continue;
    replicas++;
    if (isRunningAndReady(p)) ready++;
    if (isRunningAndAvailable(p, min, nowMs)) available++;
    if (!isTerminating(p)) {
      if (podRevision(p) === revs.current) current++;
      if (podRevision(p) === revs.update) updated++;
    }
  }
  const status: StatefulSetStatus = {
    replicas, readyReplicas: ready, currentReplicas: current, updatedReplicas: updated, availableReplicas: available,
    currentRevision: revs.current, updateRevision: revs.update,
    ...(set.metadata?.generation ? { observedGeneration: set.metadata.generation } : {}),
    collisionCount: set.status?.collisionCount ?? 0,
  };
  // A completed RollingUpdate makes the update revision current (upstream's completeRollingUpdate).
  const rolling = (set.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
  if (rolling && updated === replicas && ready === replicas) {
    status.currentRevision = revs.update;
    status.currentReplicas = updated;
  }
  return status;
}

// ---- the controller --------------------------------------------------------------------------

export class StatefulSetController {
  readonly controller: Controller;
  private readonly sets: Informer<StatefulSet>;
  private readonly pods: Informer<Pod>;
  private readonly revisions: Informer<ControllerRevision>;
  private readonly claims: Informer<PersistentVolumeClaim>;

  constructor(private readonly ctx: ControllerContext) {
    this.sets = ctx.informers.for<StatefulSet>(resources.statefulsets);
    this.pods = ctx.informers.for<Pod>(resources.pods);
    this.revisions = ctx.informers.for<ControllerRevision>(resources.controllerrevisions);
    this.claims = ctx.informers.for<PersistentVolumeClaim>(resources.persistentvolumeclaims);
    this.controller = new Controller({ name: 'StatefulSet', workers: ctx.workers ?? 2, clock: ctx.clock, logger: ctx.logger, resyncMs: 30_000, resyncKeys: () => this.sets.keys() }, key => this.sync(key));
    this.sets.on({ add: s => this.controller.enqueueObject(s), update: (_, s) => this.controller.enqueueObject(s), delete: s => this.controller.enqueueObject(s) });
    const onPod = (p: Pod) => {
      const ref = controllerRef(p);
      if (ref?.kind === 'StatefulSet') { this.controller.enqueue(`${p.metadata?.namespace}/${ref.name}`); return; }
      if (ref) return;
      const parent = parseOrdinal(p.metadata?.name ?? '')?.parent;
      const owner = parent ? this.sets.getBy(p.metadata?.namespace, parent) : undefined;
      if (owner) this.controller.enqueueObject(owner);
    };
    this.pods.on({ add: onPod, update: (old, p) => { onPod(p); if (controllerRef(old)?.uid !== controllerRef(p)?.uid) onPod(old); }, delete: onPod });
  }

  start(): void { this.controller.start(); }
  stop(): Promise<void> { return this.controller.stop(); }

  /** The set's pods: owned ones, after adopting orphans named as ours and releasing non-matching ones. */
  private async claimPods(set: StatefulSet): Promise<Pod[]> {
    const ns = set.metadata?.namespace ?? 'default';
    const uid = set.metadata?.uid;
    const selector = fromMetaLabelSelector(set.spec?.selector);
    const out: Pod[] = [];
    for (const p of this.pods.byIndex('namespace', ns)) {
      const ref = controllerRef(p);
      const parsed = parseOrdinal(p.metadata?.name ?? '');
      const member = parsed?.parent === set.metadata?.name;
      const matches = labelsMatch(selector, p.metadata?.labels);
      if (ref?.uid === uid) {
        if (matches && member) { out.push(p); continue; }
        try { await this.ctx.client.patch(resources.pods, ns, p.metadata?.name ?? '', 'merge', releasePatch(p, uid ?? '')); } catch (err) { if (!isNotFound(err)) throw err; }
      } else if (!ref && matches && member && !set.metadata?.deletionTimestamp && !isTerminating(p)) {
        try {
          out.push(await this.ctx.client.patch<Pod>(resources.pods, ns, p.metadata?.name ?? '', 'merge', adoptPatch(p, newControllerRef(set as KubeObject, 'apps/v1', 'StatefulSet'))));
        } catch (err) { if (!isNotFound(err)) throw err; }
      }
    }
    return out;
  }

  /** Finds or creates the revision for the set's template; returns current and update revisions. */
  private async ensureRevisions(set: StatefulSet): Promise<{ revs: SetRevisions; owned: ControllerRevision[] }> {
    const ns = set.metadata?.namespace ?? 'default';
    const owned = this.revisions.byIndex('controller', set.metadata?.uid ?? '').filter(r => r.metadata?.namespace === ns);
    owned.sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0));
    const max = owned.reduce((n, r) => Math.max(n, r.revision ?? 0), 0);
    let update = owned.find(r => templatesEqual(templateOfRevision(r), set.spec?.template));
    if (update && (update.revision ?? 0) < max) {
      // Rolling back to an older template: that revision becomes the newest, as upstream.
      update = await this.ctx.client.update<ControllerRevision>(resources.controllerrevisions, { ...update, revision: max + 1 });
    } else if (!update) {
      const want = newRevision(set, max + 1, set.status?.collisionCount);
      try {
        update = await this.ctx.client.create<ControllerRevision>(resources.controllerrevisions, ns, want);
        owned.push(update);
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        const have = await this.ctx.client.get<ControllerRevision>(resources.controllerrevisions, ns, want.metadata?.name ?? '');
        if (controllerRef(have)?.uid === set.metadata?.uid && templatesEqual(templateOfRevision(have), set.spec?.template)) update = have;
        else {
          // A hash collision with another revision: bump collisionCount and try again next sync.
          await this.ctx.client.update(resources.statefulsets, { ...set, status: { ...(set.status ?? { replicas: 0 }), collisionCount: (set.status?.collisionCount ?? 0) + 1 } } as KubeObject, { subresource: 'status' });
          throw err;
        }
      }
    }
    const current = owned.find(r => r.metadata?.name === set.status?.currentRevision) ?? update;
    return {
      revs: { current: current.metadata?.name ?? '', update: update.metadata?.name ?? '', currentTemplate: templateOfRevision(current), updateTemplate: templateOfRevision(update) },
      owned,
    };
  }

  private async ensureClaims(set: StatefulSet, ordinal: number): Promise<void> {
    const ns = set.metadata?.namespace ?? 'default';
    const ref = set.spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted === 'Delete'
      ? { ...newControllerRef(set as KubeObject, 'apps/v1', 'StatefulSet'), controller: false as const } as OwnerReference : undefined;
    for (const claim of claimsFor(set, ordinal, ref)) {
      const name = claim.metadata?.name ?? '';
      const have = this.claims.getBy(ns, name);
      if (have?.metadata?.deletionTimestamp) throw new Error(`PersistentVolumeClaim "${name}" is being deleted; the pod will be created when it is gone`);
      if (have) continue;
      try {
        await this.ctx.client.create(resources.persistentvolumeclaims, ns, claim);
        this.ctx.recorder.event(set as KubeObject, 'Normal', 'SuccessfulCreate', `create Claim ${name} Pod ${podName(set, ordinal)} in StatefulSet ${set.metadata?.name} success`);
      } catch (err) {
        if (isAlreadyExists(err)) continue;
        this.ctx.recorder.event(set as KubeObject, 'Warning', 'FailedCreate', `create Claim ${name} for Pod ${podName(set, ordinal)} in StatefulSet ${set.metadata?.name} failed error: ${(err as Error).message}`);
        throw err;
      }
    }
  }

  /**
   * whenScaled: Delete: the claims of a pod removed by a scale-down get the pod as owner, so the
   * garbage collector deletes them once the pod is gone (upstream does the same).
   */
  private async claimsFollowPod(set: StatefulSet, pod: Pod): Promise<void> {
    const ns = set.metadata?.namespace ?? 'default';
    const ordinal = parseOrdinal(pod.metadata?.name ?? '')?.ordinal ?? -1;
    for (const want of claimsFor(set, ordinal)) {
      const have = this.claims.getBy(ns, want.metadata?.name ?? '');
      if (!have || have.metadata?.ownerReferences?.some(r => r.uid === pod.metadata?.uid)) continue;
      const refs = [...(have.metadata?.ownerReferences ?? []), { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '' }];
      try {
        await this.ctx.client.patch(resources.persistentvolumeclaims, ns, have.metadata?.name ?? '', 'merge', { metadata: { ownerReferences: refs, resourceVersion: have.metadata?.resourceVersion ?? '' } });
      } catch (err) { if (!isNotFound(err)) throw err; }
    }
  }

  async sync(key: string): Promise<void> {
    const set = this.sets.get(key);
    if (!set) return;
    const { namespace } = splitKey(key);
    const ns = namespace ?? 'default';
    const c = this.ctx.client;
    const name = set.metadata?.name ?? '';
    const pods = await this.claimPods(set);
    const { revs, owned: revisions } = await this.ensureRevisions(set);
    const plan = planStatefulSet(set, pods, revs, this.ctx.clock.now());
    const live = new Map(pods.map(p => [p.metadata?.name ?? '', p]));

    for (const d of plan.delete) {
      const pn = d.pod.metadata?.name ?? '';
      if (d.reason === 'condemned' && set.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled === 'Delete') await this.claimsFollowPod(set, d.pod);
      try {
        await c.delete(resources.pods, ns, pn, { preconditions: { uid: d.pod.metadata?.uid ?? '' } });
        this.ctx.recorder.event(set as KubeObject, 'Normal', 'SuccessfulDelete', `delete Pod ${pn} in StatefulSet ${name} successful`);
      } catch (err) { if (!isNotFound(err)) throw err; }
      // Condemned and failed pods leave the count; a pod being rolled stays counted until it is gone.
      if (d.reason !== 'update') live.delete(pn);
    }
    for (const cr of plan.create) {
      await this.ensureClaims(set, cr.ordinal);
      const pod = newStatefulSetPod(set, cr.template, cr.ordinal, cr.revision);
      try {
        const made = await c.create<Pod>(resources.pods, ns, pod);
        live.set(made.metadata?.name ?? '', made);
        this.ctx.recorder.event(set as KubeObject, 'Normal', 'SuccessfulCreate', `create Pod ${pod.metadata?.name} in StatefulSet ${name} successful`);
      } catch (err) {
        if (isAlreadyExists(err)) continue; // our cache was behind; the next sync sees it
        this.ctx.recorder.event(set as KubeObject, 'Warning', 'FailedCreate', `create Pod ${pod.metadata?.name} in StatefulSet ${name} failed error: ${(err as Error).message}`);
        throw err;
      }
    }

    const now = this.ctx.clock.now();
    const status = computeStatefulSetStatus(set, [...live.values()], revs, now);
    const prev = set.status ?? { replicas: 0 };
    if (JSON.stringify(normalizeStatus(status)) !== JSON.stringify(normalizeStatus(prev))) {
      await c.update(resources.statefulsets, { ...set, status } as KubeObject, { subresource: 'status' });
    }
    await this.truncateHistory(set, revisions, [...live.values()], revs);
    // Ready pods that are not yet available need another look when minReadySeconds elapse.
    const min = set.spec?.minReadySeconds ?? 0;
    let soonest: number | undefined;
    for (const p of live.values()) { const ms = msUntilAvailable(p, min, now); if (ms !== undefined && (soonest === undefined || ms < soonest)) soonest = ms; }
    if (soonest !== undefined) this.controller.enqueueAfter(keyOf(set), soonest + 50);
  }

  /** Deletes the oldest revisions beyond revisionHistoryLimit that no pod and no status names. */
  private async truncateHistory(set: StatefulSet, revisions: ControllerRevision[], pods: Pod[], revs: SetRevisions): Promise<void> {
    const inUse = new Set([revs.current, revs.update, ...pods.map(podRevision)]);
    const history = revisions.filter(r => !inUse.has(r.metadata?.name ?? ''));
    const limit = set.spec?.revisionHistoryLimit ?? 10;
    for (const r of history.slice(0, Math.max(0, history.length - limit))) {
      try { await this.ctx.client.delete(resources.controllerrevisions, set.metadata?.namespace, r.metadata?.name ?? ''); } catch (err) { if (!isNotFound(err)) throw err; }
    }
  }
}

/** Status fields compared without the zero-valued ones the API omits. */
function normalizeStatus(s: StatefulSetStatus): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(s).sort()) {
    const v = (s as unknown as Record<string, unknown>)[k];
    if (v !== undefined && v !== 0 && v !== '') out[k] = v;
  }
  return out;
}

// ReplicaSet and ReplicationController: keep `spec.replicas` active pods that match the selector.
// One reconciler serves both kinds (they differ only in how the selector is written). As upstream:
// - the decision is pure (`planReplicas`): adopt matching orphans, release owned pods that no
//   longer match, then create the shortfall or delete the surplus in `deletionOrder`;
// - creations go out in slow-start batches (1, 2, 4, …) so a broken template fails once, not N
//   times; a failed create is recorded as the `ReplicaFailure` condition;
// - "expectations" remember how many creates/deletes are not yet seen in the informer, and the
//   pod count is not acted upon until they are (or 5 minutes pass), so a slow watch never makes
//   the controller create twice;
// - status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas, observedGeneration)
//   is recomputed on every sync and written only when it changed.
import type { Pod, PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { ReplicaSet, ReplicaSetCondition } from 'kubernetes-types/apps/v1.js';
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import { fromMetaLabelSelector, labelsMatch, selectorFromSet, nothing, type LabelSelector } from '../../api/selectors.js';
import type { KubeObject } from '../../api/object.js';
import { isNotFound } from '../../api/client/rest.js';
import { keyOf, resources, splitKey, type ResourceType } from '../../api/client/types.js';
import type { Informer } from '../../api/client/informer.js';
import { rfc3339, type ControllerContext } from './context.js';
import { deletionOrder, isPodActive, isPodAvailable, isPodReady, msUntilAvailable, podFromTemplate } from './pods.js';
import { Controller, Expectations, adoptPatch, controllerRef, newControllerRef, releasePatch, watchControlled } from './runtime.js';

export interface ReplicaKind {
  type: ResourceType;
  apiVersion: string;
  kind: string;
  selector(obj: KubeObject): LabelSelector;
}

export const replicaSetKind: ReplicaKind = {
  type: resources.replicasets, apiVersion: 'apps/v1', kind: 'ReplicaSet',
  selector: obj => fromMetaLabelSelector((obj.spec as ReplicaSet['spec'])?.selector),
};

export const replicationControllerKind: ReplicaKind = {
  type: resources.replicationcontrollers, apiVersion: 'v1', kind: 'ReplicationController',
  selector: obj => {
    const spec = obj.spec as { selector?: Record<string, string>; template?: PodTemplateSpec } | undefined;
    const set = spec?.selector ?? spec?.template?.metadata?.labels;
    return set && Object.keys(set).length ? selectorFromSet(set) : nothing();
  },
};

interface ReplicaSpec { replicas?: number; minReadySeconds?: number; template?: PodTemplateSpec }

export interface ReplicaPlan {
  adopt: Pod[];
  release: Pod[];
  /** Owned active pods after adoption and release. */
  owned: Pod[];
  create: number;
  delete: Pod[];
}

/** Pure: what to do for one ReplicaSet given every pod in its namespace. */
export function planReplicas(owner: KubeObject, selector: LabelSelector, pods: readonly Pod[], burst = 500): ReplicaPlan {
  const uid = owner.metadata?.uid;
  const deleting = owner.metadata?.deletionTimestamp !== undefined;
  const adopt: Pod[] = [], release: Pod[] = [], owned: Pod[] = [];
  for (const p of pods) {
    const ref = controllerRef(p);
    const matches = labelsMatch(selector, p.metadata?.labels);
    if (ref?.uid === uid) {
      if (!matches) { release.push(p); continue; }
      if (isPodActive(p)) owned.push(p);
    } else if (!ref && matches && !deleting && isPodActive(p)) {
      adopt.push(p);
      owned.push(p);
    }
  }
  const want = (owner.spec as ReplicaSpec | undefined)?.replicas ?? 1;
  const diff = owned.length - want;
  if (deleting) return { adopt, release, owned, create: 0, delete: [] };
  if (diff < 0) return { adopt, release, owned, create: Math.min(-diff, burst), delete: [] };
  if (diff > 0) return { adopt, release, owned, create: 0, delete: [...owned].sort(deletionOrder).slice(0, Math.min(diff, burst)) };
  return { adopt, release, owned, create: 0, delete: [] };
}

export interface ReplicaStatus {
  replicas: number;
  fullyLabeledReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
  conditions?: ReplicaSetCondition[];
}

/** Pure: the status upstream writes, omitting zero `omitempty` fields. */
export function computeReplicaStatus(owner: KubeObject, owned: readonly Pod[], nowMs: number, failure?: string): ReplicaStatus {
  const spec = owner.spec as ReplicaSpec | undefined;
  const templateLabels = spec?.template?.metadata?.labels ?? {};
  const min = spec?.minReadySeconds ?? 0;
  let full = 0, ready = 0, available = 0;
  for (const p of owned) {
    if (Object.entries(templateLabels).every(([k, v]) => p.metadata?.labels?.[k] === v)) full++;
    if (isPodReady(p)) ready++;
    if (isPodAvailable(p, min, nowMs)) available++;
  }
  const s: ReplicaStatus = { replicas: owned.length };
  if (full) s.fullyLabeledReplicas = full;
  if (ready) s.readyReplicas = ready;
  if (available) s.availableReplicas = available;
  if (owner.metadata?.generation) s.observedGeneration = owner.metadata.generation;
  const prev = ((owner.status as ReplicaStatus | undefined)?.conditions ?? []).filter(c => c.type !== 'ReplicaFailure');
  const prevFailure = (owner.status as ReplicaStatus | undefined)?.conditions?.find(c => c.type === 'ReplicaFailure');
  if (failure) {
    prev.push({ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: failure, lastTransitionTime: prevFailure?.lastTransitionTime ?? rfc3339(nowMs) });
  }
  if (prev.length) s.conditions = prev;
  return s;
}

export class ReplicaSetController {
  readonly controller: Controller;
  readonly expectations: Expectations;
  private readonly owners: Informer<KubeObject>;
  private readonly pods: Informer<Pod>;

  constructor(private readonly ctx: ControllerContext, private readonly kind: ReplicaKind = replicaSetKind) {
    this.owners = ctx.informers.for(kind.type);
    this.pods = ctx.informers.for<Pod>(resources.pods);
    this.expectations = new Expectations(() => ctx.clock.now());
    this.controller = new Controller({
      name: kind.kind, workers: ctx.workers ?? 4, clock: ctx.clock, logger: ctx.logger,
      resyncMs: 30_000, resyncKeys: () => this.owners.keys(),
    }, key => this.sync(key));
    this.owners.on({
      add: o => this.controller.enqueueObject(o),
      update: (_, o) => this.controller.enqueueObject(o),
      delete: o => { this.expectations.forget(keyOf(o)); this.controller.enqueueObject(o); },
    });
    watchControlled(this.pods, {
      kind: kind.kind, controller: this.controller, expectations: this.expectations, owner: key => this.owners.get(key),
      // An orphan: every owner in the namespace whose selector matches may adopt it.
      onOrphan: p => {
        for (const o of this.owners.byIndex('namespace', p.metadata?.namespace ?? '')) {
          if (labelsMatch(this.kind.selector(o), p.metadata?.labels)) this.controller.enqueueObject(o);
        }
      },
    });
  }

  start(): void { this.controller.start(); }
  stop(): Promise<void> { return this.controller.stop(); }

  async sync(key: string): Promise<void> {
    const owner = this.owners.get(key);
    if (!owner) { this.expectations.forget(key); return; }
    const { namespace } = splitKey(key);
    const ns = namespace ?? 'default';
    const c = this.ctx.client;
    const selector = this.kind.selector(owner);
    const plan = planReplicas(owner, selector, this.pods.byIndex('namespace', ns) as Pod[]);
    const ref: OwnerReference = newControllerRef(owner, this.kind.apiVersion, this.kind.kind);

    const owned = [...plan.owned];
    for (const p of plan.adopt) {
      try { await c.patch(resources.pods, ns, p.metadata?.name ?? '', 'merge', adoptPatch(p, ref)); } catch (err) {
        if (!isNotFound(err)) throw err;
        owned.splice(owned.indexOf(p), 1);
      }
    }
    for (const p of plan.release) {
      try { await c.patch(resources.pods, ns, p.metadata?.name ?? '', 'merge', releasePatch(p, owner.metadata?.uid ?? '')); } catch (err) { if (!isNotFound(err)) throw err; }
    }

    let failure: string | undefined;
    if (this.expectations.satisfied(key)) {
      if (plan.create > 0) {
        this.expectations.expect(key, plan.create, 0);
        const template = (owner.spec as ReplicaSpec | undefined)?.template;
        let remaining = plan.create, batch = 1, created = 0;
        while (remaining > 0 && !failure) {
          const n = Math.min(batch, remaining);
          const results = await Promise.allSettled(Array.from({ length: n }, () => c.create<Pod>(resources.pods, ns, podFromTemplate(template, ns, owner.metadata?.name ?? '', ref))));
          for (const r of results) {
            if (r.status === 'fulfilled') { created++; owned.push(r.value); } else {
              failure = (r.reason as Error).message;
              this.expectations.observed(key, 'add');
            }
          }
          remaining -= n;
          batch *= 2;
        }
        // Creations never attempted after a failure are not expected either.
        for (let i = 0; i < remaining; i++) this.expectations.observed(key, 'add');
        if (created) this.ctx.recorder.event(owner, 'Normal', 'SuccessfulCreate', `Created ${created} pod${created > 1 ? 's' : ''}`);
        if (failure) this.ctx.recorder.event(owner, 'Warning', 'FailedCreate', `Error creating: ${failure}`);
      } else if (plan.delete.length) {
        this.expectations.expect(key, 0, plan.delete.length);
        await Promise.all(plan.delete.map(async p => {
          try {
            await c.delete(resources.pods, ns, p.metadata?.name ?? '', { preconditions: { uid: p.metadata?.uid ?? '' } });
            this.ctx.recorder.event(owner, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata?.name}`);
          } catch (err) {
            this.expectations.observed(key, 'del');
            if (!isNotFound(err)) throw err;
          }
        }));
        for (const p of plan.delete) owned.splice(owned.indexOf(p), 1);
      }
    }

    const now = this.ctx.clock.now();
    const status = computeReplicaStatus(owner, owned.filter(isPodActive), now, failure);
    if (JSON.stringify(status) !== JSON.stringify(owner.status ?? {})) {
      await c.update(this.kind.type, { ...owner, status }, { subresource: 'status' });
    }
    // Pods that are ready but not yet available need another look when minReadySeconds elapse.
    const min = (owner.spec as ReplicaSpec | undefined)?.minReadySeconds ?? 0;
    let soonest: number | undefined;
    for (const p of owned) { const ms = msUntilAvailable(p, min, now); if (ms !== undefined && (soonest === undefined || ms < soonest)) soonest = ms; }
    if (soonest !== undefined) this.controller.enqueueAfter(key, soonest + 50);
    if (failure) throw new Error(`creating pods for ${this.kind.kind} "${key}" failed: ${failure}`);
  }
}

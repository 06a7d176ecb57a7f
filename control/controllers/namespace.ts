// Namespace deletion, as upstream's namespace controller: a namespace marked for deletion (phase
// Terminating) that still carries the `kubernetes` finalizer in spec.finalizers has everything
// inside it deleted, through the API like any client; once nothing is left, the controller
// removes its finalizer with `PUT /api/v1/namespaces/<ns>/finalize`, and the apiserver removes the
// namespace when no finalizer remains.
//
// The resource types come from discovery (every namespaced resource that can be listed and
// deleted), so nothing added to the API later is forgotten. Progress is reported as upstream does,
// in the namespace's status conditions (NamespaceDeletionDiscoveryFailure,
// NamespaceDeletionContentFailure, NamespaceContentRemaining, NamespaceFinalizersRemaining…),
// which `kubectl describe namespace` shows. While content remains (pods in their grace period,
// objects held by finalizers) the namespace is looked at again after a short delay.
//
// This replaces a loop that ran inside the apiserver against its storage: as a controller it runs
// under the controller manager's leader election and goes through authorization and admission.
import type { Namespace, NamespaceCondition } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { isConflict, isNotFound, type Transport } from '../../api/client/rest.js';
import { resources, type ResourceType } from '../../api/client/types.js';
import type { Informer } from '../../api/client/informer.js';
import { rfc3339, type ControllerContext } from './context.js';
import { Controller } from './runtime.js';

export const finalizerKubernetes = 'kubernetes';

/** Lists the namespaced resource types the namespace controller must empty. */
export type Discovery = () => Promise<ResourceType[]>;

interface ApiResource { name: string; namespaced: boolean; kind: string; verbs: string[] }

/** Discovery over the REST transport: `/api/v1` and the preferred version of every group in `/apis`. */
export function transportDiscovery(transport: Transport): Discovery {
  const get = async <T>(path: string): Promise<T> => {
    const r = await transport.request('GET', path);
    if (r.status !== 200) throw new Error(`discovery GET ${path}: ${r.status}`);
    return JSON.parse(r.body) as T;
  };
  return async () => {
    const lists: { group: string; version: string; resources: ApiResource[] }[] = [];
    lists.push({ group: '', version: 'v1', resources: (await get<{ resources: ApiResource[] }>('/api/v1')).resources });
    const groups = (await get<{ groups: { name: string; preferredVersion?: { version: string } }[] }>('/apis')).groups;
    await Promise.all(groups.map(async g => {
      const version = g.preferredVersion?.version;
      if (!version) return;
      lists.push({ group: g.name, version, resources: (await get<{ resources: ApiResource[] }>(`/apis/${g.name}/${version}`)).resources });
    }));
    return namespacedDeletable(lists);
  };
}

/** Pure: the namespaced, listable and deletable top-level resources of discovery documents. */
export function namespacedDeletable(lists: readonly { group: string; version: string; resources: readonly ApiResource[] }[]): ResourceType[] {
  const out: ResourceType[] = [];
  for (const l of lists) {
    for (const r of l.resources) {
      if (!r.namespaced || r.name.includes('/') || !r.verbs.includes('list') || !r.verbs.includes('delete')) continue;
      out.push({ group: l.group, version: l.version, resource: r.name, kind: r.kind, namespaced: true });
    }
  }
  return out;
}

/** Without a discovery endpoint (unit tests): the types the control plane knows. */
export const staticDiscovery: Discovery = async () => Object.values(resources).filter(t => t.namespaced);

export interface DeletionProgress {
  /** resource → objects still present. */
  remaining: Map<string, number>;
  /** finalizer → objects it holds. */
  finalizers: Map<string, number>;
  /** Errors deleting content. */
  failures: string[];
  discoveryFailure?: string;
}

/** Pure: upstream's namespace deletion conditions for a deletion in progress. */
export function deletionConditions(prev: readonly NamespaceCondition[], p: DeletionProgress, now: string): NamespaceCondition[] {
  const cond = (type: string, bad: boolean, badReason: string, badMsg: string, okReason: string, okMsg: string): NamespaceCondition => {
    const status = bad ? 'True' : 'False';
    const have = prev.find(c => c.type === type);
    return { type, status, reason: bad ? badReason : okReason, message: bad ? badMsg : okMsg, lastTransitionTime: have?.status === status ? have.lastTransitionTime ?? now : now };
  };
  const remaining = [...p.remaining].filter(([, n]) => n > 0).sort();
  const fins = [...p.finalizers].filter(([, n]) => n > 0).sort();
  return [
    cond('NamespaceDeletionDiscoveryFailure', Boolean(p.discoveryFailure), 'DiscoveryFailed', `Discovery failed for some groups: ${p.discoveryFailure}`, 'ResourcesDiscovered', 'All resources successfully discovered'),
    cond('NamespaceDeletionGroupVersionParsingFailure', false, '', '', 'ParsedGroupVersions', 'All legacy kube types successfully parsed'),
    cond('NamespaceDeletionContentFailure', p.failures.length > 0, 'ContentDeletionFailed', `Failed to delete all resource types, ${p.failures.length} remaining: ${p.failures.join(', ')}`, 'ContentDeleted', 'All content successfully deleted, may be waiting on finalization'),
    cond('NamespaceContentRemaining', remaining.length > 0, 'SomeResourcesRemain', `Some resources are remaining: ${remaining.map(([r, n]) => `${r} has ${n} resource instances`).join(', ')}`, 'ContentRemoved', 'All content successfully removed'),
    cond('NamespaceFinalizersRemaining', fins.length > 0, 'SomeFinalizersRemain', `Some content in the namespace has finalizers remaining: ${fins.map(([f, n]) => `${f} in ${n} resource instances`).join(', ')}`, 'ContentHasNoFinalizers', 'All content-preserving finalizers finished'),
  ];
}

export class NamespaceController {
  readonly controller: Controller;
  private readonly namespaces: Informer<Namespace>;
  /** Discovery, reused for a while: a namespace waiting on its content is looked at every second. */
  private discovered: { at: number; types: ResourceType[] } | undefined;

  constructor(private readonly ctx: ControllerContext, private readonly discover: Discovery = staticDiscovery, private readonly retryMs = 1000) {
    this.namespaces = ctx.informers.for<Namespace>(resources.namespaces);
    this.controller = new Controller({ name: 'Namespace', workers: ctx.workers ?? 2, clock: ctx.clock, logger: ctx.logger, resyncMs: 60_000, resyncKeys: () => this.namespaces.list().filter(n => n.metadata?.deletionTimestamp).map(n => n.metadata?.name ?? '') }, key => this.sync(key));
    const on = (n: Namespace) => { if (n.metadata?.deletionTimestamp) this.controller.enqueue(n.metadata.name ?? ''); };
    this.namespaces.on({ add: on, update: (_, n) => on(n) });
  }

  start(): void { this.controller.start(); }
  stop(): Promise<void> { return this.controller.stop(); }

  private async resourceTypes(): Promise<ResourceType[]> {
    const now = this.ctx.clock.now();
    if (!this.discovered || now - this.discovered.at > 10_000) this.discovered = { at: now, types: await this.discover() };
    return this.discovered.types;
  }

  async sync(name: string): Promise<void> {
    const ns = this.namespaces.get(name);
    if (!ns?.metadata?.deletionTimestamp) return;
    if (!(ns.spec?.finalizers ?? []).includes(finalizerKubernetes)) return;
    const c = this.ctx.client;
    const progress: DeletionProgress = { remaining: new Map(), finalizers: new Map(), failures: [] };
    let types: ResourceType[];
    try { types = await this.resourceTypes(); } catch (err) {
      progress.discoveryFailure = (err as Error).message;
      types = await staticDiscovery();
    }
    // Delete everything not already going, then count what is still there.
    await Promise.all(types.map(async t => {
      const what = t.group ? `${t.resource}.${t.group}` : t.resource;
      try {
        const { items } = await c.list(t, name);
        for (const o of items) {
          if (o.metadata?.deletionTimestamp) continue;
          try { await c.delete(t, name, o.metadata?.name ?? '', { propagationPolicy: 'Background', preconditions: { uid: o.metadata?.uid ?? '' } }); } catch (err) {
            if (!isNotFound(err) && !isConflict(err)) throw err;
          }
        }
        const left = (await c.list(t, name)).items;
        if (left.length) progress.remaining.set(what, left.length);
        for (const o of left) for (const f of o.metadata?.finalizers ?? []) progress.finalizers.set(f, (progress.finalizers.get(f) ?? 0) + 1);
      } catch (err) {
        if (isNotFound(err)) return; // a type that went away since discovery
        progress.failures.push(`${what}: ${(err as Error).message}`);
      }
    }));

    const done = progress.remaining.size === 0 && progress.failures.length === 0 && !progress.discoveryFailure;
    if (!done) {
      const conditions = deletionConditions(ns.status?.conditions ?? [], progress, rfc3339(this.ctx.clock.now()));
      if (JSON.stringify(conditions) !== JSON.stringify(ns.status?.conditions ?? [])) {
        try {
          await c.update(resources.namespaces, { ...ns, status: { ...(ns.status ?? {}), conditions } } as KubeObject, { subresource: 'status' });
        } catch (err) { if (!isNotFound(err) && !isConflict(err)) throw err; }
      }
      this.controller.enqueueAfter(name, this.retryMs);
      return;
    }
    // Empty: let go of the namespace.
    const finalizers = (ns.spec?.finalizers ?? []).filter(f => f !== finalizerKubernetes);
    try {
      await c.update(resources.namespaces, { ...ns, spec: { ...(ns.spec ?? {}), finalizers } } as KubeObject, { subresource: 'finalize' });
      this.ctx.logger.info({ namespace: name }, `namespace "${name}" finalized`);
    } catch (err) { if (!isNotFound(err)) throw err; }
  }
}

// The garbage collector, for the resource types the control plane creates dependents of. As
// upstream's, it acts on ownerReferences:
// - background: a dependent all of whose owners are gone (no object with that name and uid — we
//   ask the API, not the cache, before deleting) is deleted; owners that are gone while others
//   remain are dropped from its ownerReferences;
// - foreground: an owner being deleted with the `foregroundDeletion` finalizer has its dependents
//   deleted (foreground too, so whole trees go bottom-up); once none with blockOwnerDeletion is
//   left, the finalizer is removed and the owner goes;
// - orphan: an owner being deleted with the `orphan` finalizer has its reference removed from every
//   dependent, then the finalizer is removed.
// Dependents are found through the shared informers' `owner` index (owner uid → objects). The
// decision per object is pure (`classifyDependent`, `ownerFinalization`).
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import type { KubeObject } from '../../api/object.js';
import { parseApiVersion } from '../../api/object.js';
import { isConflict, isNotFound } from '../../api/client/rest.js';
import { keyOf, resources, splitKey, type ResourceType } from '../../api/client/types.js';
import type { Informer } from '../../api/client/informer.js';
import type { ControllerContext } from './context.js';
import { Controller } from './runtime.js';

/**
 * The types whose objects we collect and whose objects may own others. PersistentVolumeClaims:
 * the StatefulSet controller gives them the set (whenDeleted: Delete) or a condemned pod
 * (whenScaled: Delete) as owner and leaves their deletion to us, as upstream.
 */
export const gcTypes: ResourceType[] = [
  resources.pods, resources.replicasets, resources.deployments, resources.replicationcontrollers,
  resources.endpointslices, resources.services, resources.configmaps, resources.statefulsets, resources.daemonsets, resources.jobs, resources.cronjobs, resources.controllerrevisions,
  resources.persistentvolumeclaims,
];

export function typeForOwner(ref: OwnerReference): ResourceType | undefined {
  const { group } = parseApiVersion(ref.apiVersion);
  return Object.values(resources).find(t => t.kind === ref.kind && t.group === group);
}

export type OwnerState = 'present' | 'absent' | 'deleting-foreground' | 'unknown';

/** Pure: what to do with a dependent given the state of each owner (by uid). */
export function classifyDependent(obj: KubeObject, owners: ReadonlyMap<string, OwnerState>): { action: 'keep' } | { action: 'delete'; foreground: boolean } | { action: 'drop-refs'; refs: OwnerReference[] } {
  const refs = obj.metadata?.ownerReferences ?? [];
  if (!refs.length || obj.metadata?.deletionTimestamp) return { action: 'keep' };
  const states = refs.map(r => owners.get(r.uid) ?? 'unknown');
  if (states.includes('unknown')) return { action: 'keep' };
  const solid = refs.filter((_, i) => states[i] === 'present');
  const waiting = refs.filter((_, i) => states[i] === 'deleting-foreground');
  if (solid.length === 0 && waiting.length === 0) return { action: 'delete', foreground: false };
  if (solid.length === 0) return { action: 'delete', foreground: true }; // all remaining owners wait for us
  if (solid.length + waiting.length < refs.length) return { action: 'drop-refs', refs: [...solid, ...waiting] };
  return { action: 'keep' };
}

export class GarbageCollector {
  readonly controller: Controller;
  private readonly informers: Informer<KubeObject>[];

  constructor(private readonly ctx: ControllerContext) {
    this.informers = gcTypes.map(t => ctx.informers.for(t));
    this.controller = new Controller({ name: 'GarbageCollector', workers: ctx.workers ?? 4, clock: ctx.clock, logger: ctx.logger, resyncMs: 60_000, resyncKeys: () => this.allKeys() }, key => this.sync(key));
    this.informers.forEach((inf, i) => {
      const t = gcTypes[i]!;
      const enqueue = (o: KubeObject) => this.controller.enqueue(`${i}|${keyOf(o)}`);
      inf.on({
        add: o => { if (o.metadata?.ownerReferences?.length || o.metadata?.deletionTimestamp) enqueue(o); },
        update: (_, o) => { if (o.metadata?.ownerReferences?.length || o.metadata?.deletionTimestamp) enqueue(o); },
        // An owner went: its dependents may now be garbage.
        delete: o => { for (const d of this.dependentsOf(o.metadata?.uid ?? '')) this.controller.enqueue(`${d.index}|${keyOf(d.obj)}`); void t; },
      });
    });
  }

  private allKeys(): string[] {
    const out: string[] = [];
    this.informers.forEach((inf, i) => { for (const o of inf.list()) if (o.metadata?.ownerReferences?.length || o.metadata?.deletionTimestamp) out.push(`${i}|${keyOf(o)}`); });
    return out;
  }

  private dependentsOf(uid: string): { index: number; obj: KubeObject }[] {
    const out: { index: number; obj: KubeObject }[] = [];
    this.informers.forEach((inf, index) => { for (const obj of inf.byIndex('owner', uid)) out.push({ index, obj }); });
    return out;
  }

  start(): void { this.controller.start(); }
  stop(): Promise<void> { return this.controller.stop(); }

  private async ownerState(ns: string | undefined, ref: OwnerReference): Promise<OwnerState> {
    const t = typeForOwner(ref);
    if (!t) return 'unknown';
    // The cache answers "present" cheaply; "absent" is confirmed live, since the cache may lag
    // behind the dependent's creation (upstream's GC verifies absence with a live lookup too).
    const i = gcTypes.indexOf(t);
    if (i >= 0) {
      const cached = this.informers[i]!.getBy(t.namespaced ? ns : undefined, ref.name);
      if (cached?.metadata?.uid === ref.uid) {
        return cached.metadata.deletionTimestamp && cached.metadata.finalizers?.includes('foregroundDeletion') ? 'deleting-foreground' : 'present';
      }
    }
    try {
      const o = await this.ctx.client.get(t, t.namespaced ? ns : undefined, ref.name);
      if (o.metadata?.uid !== ref.uid) return 'absent';
      if (o.metadata?.deletionTimestamp && o.metadata.finalizers?.includes('foregroundDeletion')) return 'deleting-foreground';
      return 'present';
    } catch (err) {
      if (isNotFound(err)) return 'absent';
      throw err;
    }
  }

  async sync(qkey: string): Promise<void> {
    const bar = qkey.indexOf('|');
    const index = Number(qkey.slice(0, bar));
    const key = qkey.slice(bar + 1);
    const type = gcTypes[index]!;
    const obj = this.informers[index]!.get(key);
    if (!obj) return;
    const { namespace } = splitKey(key);
    const c = this.ctx.client;
    const name = obj.metadata?.name ?? '';
    const finalizers = obj.metadata?.finalizers ?? [];

    // This object is an owner being deleted with a propagation finalizer.
    if (obj.metadata?.deletionTimestamp && (finalizers.includes('orphan') || finalizers.includes('foregroundDeletion'))) {
      const deps = this.dependentsOf(obj.metadata.uid ?? '');
      if (finalizers.includes('orphan')) {
        for (const d of deps) {
          const refs = (d.obj.metadata?.ownerReferences ?? []).filter(r => r.uid !== obj.metadata?.uid);
          try { await c.patch(gcTypes[d.index]!, d.obj.metadata?.namespace, d.obj.metadata?.name ?? '', 'merge', { metadata: { ownerReferences: refs, uid: d.obj.metadata?.uid } }); } catch (err) { if (!isNotFound(err)) throw err; }
        }
        await this.removeFinalizer(type, obj, 'orphan');
        return;
      }
      let blocking = 0;
      for (const d of deps) {
        const ref = d.obj.metadata?.ownerReferences?.find(r => r.uid === obj.metadata?.uid);
        if (ref?.blockOwnerDeletion) blocking++;
        if (d.obj.metadata?.deletionTimestamp) continue;
        try { await c.delete(gcTypes[d.index]!, d.obj.metadata?.namespace, d.obj.metadata?.name ?? '', { propagationPolicy: 'Foreground', preconditions: { uid: d.obj.metadata?.uid ?? '' } }); } catch (err) { if (!isNotFound(err) && !isConflict(err)) throw err; }
      }
      if (blocking === 0) await this.removeFinalizer(type, obj, 'foregroundDeletion');
      else this.controller.enqueueAfter(qkey, 1000); // dependents are going; look again
      return;
    }

    const refs = obj.metadata?.ownerReferences ?? [];
    if (!refs.length) return;
    const states = new Map<string, OwnerState>();
    for (const r of refs) states.set(r.uid, await this.ownerState(namespace, r));
    const verdict = classifyDependent(obj, states);
    if (verdict.action === 'delete') {
      try {
        await c.delete(type, namespace, name, { propagationPolicy: verdict.foreground ? 'Foreground' : 'Background', preconditions: { uid: obj.metadata?.uid ?? '' } });
      } catch (err) { if (!isNotFound(err) && !isConflict(err)) throw err; }
    } else if (verdict.action === 'drop-refs') {
      await c.patch(type, namespace, name, 'merge', { metadata: { ownerReferences: verdict.refs, uid: obj.metadata?.uid } });
    }
  }

  private async removeFinalizer(type: ResourceType, obj: KubeObject, f: string): Promise<void> {
    const finalizers = (obj.metadata?.finalizers ?? []).filter(x => x !== f);
    try {
      await this.ctx.client.patch(type, obj.metadata?.namespace, obj.metadata?.name ?? '', 'merge', { metadata: { finalizers, resourceVersion: obj.metadata?.resourceVersion } });
    } catch (err) { if (!isNotFound(err)) throw err; }
  }
}

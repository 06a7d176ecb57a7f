// The service model kept up to date incrementally: the trackers' pending changes are applied to
// the ports of the changed Services only. Pure.
//
// Design notes. Upstream keeps a ServicePortMap and an EndpointsMap and applies each tracker's
// changes to them (`svcPortMap.Update(tracker)`). Here both collapse into one map of model
// entries per Service key, rebuilt for a changed Service with `buildServiceModel` on that one
// Service and its slices, so the model is by construction what a from-scratch build gives. A port
// whose rebuilt entry is structurally equal to the old one keeps the old object, so the compiler
// (which memoizes per model object) and the planner (which skips identical fragments) pay nothing
// for it. The result of `apply` is the changed port ids, which is what the compiler is fed.
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Change } from './changes.js';
import { buildServiceModel, type ServicePortModel } from './model.js';

/** Changed service ports by id: the new model entry, or undefined when the port is gone. */
export type PortChanges = Map<string, ServicePortModel | undefined>;

const NONE: readonly ServicePortModel[] = [];

export class ServicePortMap {
  private readonly services = new Map<string, Service>();
  private readonly ports = new Map<string, readonly ServicePortModel[]>();
  private count = 0;

  /** Number of service ports in the model. */
  get size(): number { return this.count; }

  /** Every service port, sorted by id (what a from-scratch `buildServiceModel` returns). */
  all(): ServicePortModel[] {
    const out: ServicePortModel[] = [];
    for (const l of this.ports.values()) out.push(...l);
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Applies the trackers' changes; `slicesOf` gives a Service's current slices. */
  apply(
    serviceChanges: ReadonlyMap<string, Change<Service>>,
    sliceChanges: ReadonlyMap<string, Change<EndpointSlice[]>>,
    slicesOf: (key: string) => readonly EndpointSlice[],
    /** If given, receives each changed port's entry before the change (undefined: it is new). */
    previous?: PortChanges,
  ): PortChanges {
    for (const [key, c] of serviceChanges) {
      if (c.current) this.services.set(key, c.current); else this.services.delete(key);
    }
    const out: PortChanges = new Map();
    const keys = [...serviceChanges.keys()];
    for (const k of sliceChanges.keys()) if (!serviceChanges.has(k)) keys.push(k);
    // One model build for all changed Services (at start-up, all of them): per-Service calls would
    // pay the build's set-up once per Service.
    const svcs: Service[] = [];
    const slices: EndpointSlice[] = [];
    for (const key of keys) {
      const svc = this.services.get(key);
      if (!svc) continue;
      svcs.push(svc);
      for (const sl of slicesOf(key)) slices.push(sl);
    }
    const builtBy = new Map<string, ServicePortModel[]>();
    for (const p of buildServiceModel(svcs, slices)) {
      const k = `${p.namespace}/${p.name}`;
      const l = builtBy.get(k);
      if (l) l.push(p); else builtBy.set(k, [p]);
    }
    for (const key of keys) {
      const before = this.ports.get(key) ?? NONE;
      const built = builtBy.get(key) ?? NONE;
      const old = new Map<string, ServicePortModel>();
      for (const p of before) old.set(p.id, p);
      const after = old.size === 0 ? built : built.map((p) => {
        const o = old.get(p.id);
        return o && JSON.stringify(o) === JSON.stringify(p) ? o : p;
      });
      for (const p of after) {
        const o = old.get(p.id);
        if (o !== p) { out.set(p.id, p); previous?.set(p.id, o); }
        old.delete(p.id);
      }
      for (const [id, o] of old) { out.set(id, undefined); previous?.set(id, o); }
      this.count += after.length - before.length;
      if (after.length) this.ports.set(key, after); else this.ports.delete(key);
    }
    return out;
  }
}

// Plans IPVS changes: desired virtual/real servers and bound addresses vs what the kernel holds
// (from a dump) or what our last sync left. Pure.
//
// Design notes. IPVS has no transactions, so the order of the ops is what keeps traffic flowing
// while they run: addresses are bound before the virtual servers that need them and unbound after;
// a new virtual server is created before its real servers; in a changed one, new real servers are
// added (and weights changed) before old ones are removed, so a service never has zero real
// servers in between when it has some before and after; virtual servers that go away are deleted
// last (the kernel removes their real servers with them). Only virtual servers we own are deleted:
// those on an address of kube-ipvs0 or of this node (NodePorts), as upstream's cleanup does; any
// other (an operator's, keepalived's) is left alone.
import type { IpvsOp, RealServer, VirtualServer } from '../../kernel/ipvs/encode.js';
import { vsKey, type VirtualServerState } from './compile.js';

export interface IpvsObserved {
  readonly services: ReadonlyMap<string, VirtualServerState>;
  /** Addresses bound on kube-ipvs0. */
  readonly boundAddrs: readonly string[];
}

export interface IpvsPlan {
  /** Addresses to bind on kube-ipvs0 before the IPVS ops. */
  readonly bind: readonly string[];
  readonly ops: readonly IpvsOp[];
  /** Addresses to unbind after the IPVS ops. */
  readonly unbind: readonly string[];
}

const sameVs = (a: VirtualServer, b: VirtualServer): boolean => a.scheduler === b.scheduler && a.flags === b.flags && a.timeout === b.timeout;
const destKey = (d: { address: string; port: number }): string => `${d.address}:${d.port}`;

export function planIpvs(
  want: { readonly services: ReadonlyMap<string, VirtualServerState>; readonly bindAddrs: readonly string[] },
  have: IpvsObserved,
  /** Addresses whose virtual servers are ours to delete, besides those bound on kube-ipvs0. */
  ownedAddrs: readonly string[] = [],
): IpvsPlan {
  const bound = new Set(have.boundAddrs);
  const wantBound = new Set(want.bindAddrs);
  const bind = want.bindAddrs.filter((a) => !bound.has(a));
  const unbind = have.boundAddrs.filter((a) => !wantBound.has(a));
  const owned = new Set([...have.boundAddrs, ...want.bindAddrs, ...ownedAddrs]);

  const ops: IpvsOp[] = [];
  const removals: IpvsOp[] = [];
  for (const [key, w] of want.services) {
    const h = have.services.get(key);
    if (!h) {
      ops.push({ op: 'addService', service: w.vs });
      for (const d of w.dests) ops.push({ op: 'addDest', service: w.vs, dest: d });
      continue;
    }
    if (!sameVs(w.vs, h.vs)) ops.push({ op: 'updateService', service: w.vs });
    if (w.dests === h.dests) continue; // unchanged object from the incremental path
    const old = new Map<string, RealServer>();
    for (const d of h.dests) old.set(destKey(d), d);
    for (const d of w.dests) {
      const o = old.get(destKey(d));
      if (!o) ops.push({ op: 'addDest', service: w.vs, dest: d });
      else if (o.weight !== d.weight) ops.push({ op: 'updateDest', service: w.vs, dest: d });
      old.delete(destKey(d));
    }
    for (const d of old.values()) removals.push({ op: 'delDest', service: w.vs, dest: { address: d.address, port: d.port } });
  }
  ops.push(...removals);
  for (const [key, h] of have.services) {
    if (want.services.has(key) || !owned.has(h.vs.address)) continue;
    ops.push({ op: 'delService', service: { address: h.vs.address, protocol: h.vs.protocol, port: h.vs.port } });
  }
  return { bind, ops, unbind };
}

/** The observed state as a map (from the socket's dumps). */
export function observedServices(list: readonly { vs: VirtualServer; dests: readonly RealServer[] }[]): Map<string, VirtualServerState> {
  const m = new Map<string, VirtualServerState>();
  for (const s of list) m.set(vsKey(s.vs), { vs: s.vs, dests: s.dests.map((d) => ({ address: d.address, port: d.port, weight: d.weight })) });
  return m;
}

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
//
// Graceful termination, as upstream's (pkg/proxy/ipvs/graceful_termination.go): a TCP real server
// that goes away is not deleted but set to weight 0, so the scheduler sends it nothing new while
// its open connections finish; the applier deletes it once IPVS counts no connection to it (or
// after a timeout). UDP and SCTP real servers are deleted at once, as upstream does (with
// expire_nodest_conn=1 their flows are dropped on the next packet). A terminating real server that
// is wanted again gets its weight back instead of being added (it still exists in the kernel).
import type { IpvsOp, RealServer, RealServerKey, VirtualServer, VirtualServerKey } from '../../kernel/ipvs/encode.js';
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
  /** Real servers set to weight 0 by this plan (or found at 0 and not wanted): to delete once drained. */
  readonly terminate: readonly TerminatingDest[];
  /** Terminating real servers wanted again (their weight restored): no longer to delete. */
  readonly revive: readonly TerminatingDest[];
}

export interface TerminatingDest { readonly service: VirtualServerKey; readonly dest: RealServerKey }
/** The key of a real server of a virtual server, as the terminating set holds it. */
export const terminatingKey = (service: VirtualServerKey, dest: RealServerKey): string => `${vsKey(service)} ${dest.address}:${dest.port}`;

const sameVs = (a: VirtualServer, b: VirtualServer): boolean => a.scheduler === b.scheduler && a.flags === b.flags && a.timeout === b.timeout;
const destKey = (d: { address: string; port: number }): string => `${d.address}:${d.port}`;

export function planIpvs(
  want: { readonly services: ReadonlyMap<string, VirtualServerState>; readonly bindAddrs: readonly string[] },
  have: IpvsObserved,
  /** Addresses whose virtual servers are ours to delete, besides those bound on kube-ipvs0. */
  ownedAddrs: readonly string[] = [],
  /** Real servers at weight 0 waiting to drain (`terminatingKey`); they exist in the kernel even if `have` lacks them. */
  terminating: ReadonlySet<string> = new Set(),
): IpvsPlan {
  const bound = new Set(have.boundAddrs);
  const wantBound = new Set(want.bindAddrs);
  const bind = want.bindAddrs.filter((a) => !bound.has(a));
  const unbind = have.boundAddrs.filter((a) => !wantBound.has(a));
  const owned = new Set([...have.boundAddrs, ...want.bindAddrs, ...ownedAddrs]);

  const ops: IpvsOp[] = [];
  const removals: IpvsOp[] = [];
  const terminate: TerminatingDest[] = [];
  const revive: TerminatingDest[] = [];
  for (const [key, w] of want.services) {
    const h = have.services.get(key);
    if (!h) {
      ops.push({ op: 'addService', service: w.vs });
      for (const d of w.dests) ops.push({ op: 'addDest', service: w.vs, dest: d });
      continue;
    }
    if (!sameVs(w.vs, h.vs)) ops.push({ op: 'updateService', service: w.vs });
    if (w.dests === h.dests) continue; // unchanged object from the incremental path (so nothing to revive either)
    const old = new Map<string, RealServer>();
    for (const d of h.dests) old.set(destKey(d), d);
    for (const d of w.dests) {
      const o = old.get(destKey(d));
      const tk = terminating.has(terminatingKey(w.vs, d));
      if (tk) revive.push({ service: w.vs, dest: d });
      if (!o) ops.push({ op: tk ? 'updateDest' : 'addDest', service: w.vs, dest: d });
      else if (o.weight !== d.weight) ops.push({ op: 'updateDest', service: w.vs, dest: d });
      old.delete(destKey(d));
    }
    for (const d of old.values()) {
      const dest = { address: d.address, port: d.port };
      if (w.vs.protocol !== 'TCP') { removals.push({ op: 'delDest', service: w.vs, dest }); continue; }
      if (d.weight !== 0) removals.push({ op: 'updateDest', service: w.vs, dest: { ...dest, weight: 0 } });
      if (!terminating.has(terminatingKey(w.vs, d))) terminate.push({ service: w.vs, dest });
    }
  }
  ops.push(...removals);
  for (const [key, h] of have.services) {
    if (want.services.has(key) || !owned.has(h.vs.address)) continue;
    ops.push({ op: 'delService', service: { address: h.vs.address, protocol: h.vs.protocol, port: h.vs.port } });
  }
  return { bind, ops, unbind, terminate, revive };
}

/** The observed state as a map (from the socket's dumps). */
export function observedServices(list: readonly { vs: VirtualServer; dests: readonly RealServer[] }[]): Map<string, VirtualServerState> {
  const m = new Map<string, VirtualServerState>();
  for (const s of list) m.set(vsKey(s.vs), { vs: s.vs, dests: s.dests.map((d) => ({ address: d.address, port: d.port, weight: d.weight })) });
  return m;
}

// The narrow kernel interface the appliers need, in the planners' plain-data terms. The real one
// (./rtnl-kernel.ts) sits on kernel/rtnl; keeping this seam small is what lets the appliers stay a
// dozen lines each and the planners stay pure.
import type { ObservedRoute, RouteSpec } from './plan-routes.js';
import type { FdbSpec, NeighSpec, ObservedVxlanDevice, VxlanDeviceSpec } from '../vxlan/plan.js';

export interface NetKernel {
  /** MTU and first IPv4 address of a link; `undefined` when there is no such link. */
  linkInfo(name: string): Promise<{ mtu: number; ipv4?: string } | undefined>;
  /** The name of the link that holds this IPv4 address (the underlay, found from the node IP). */
  linkWithAddress(ip: string): Promise<string | undefined>;
  /** The link if it exists, with its VXLAN attributes when it is one. */
  getVxlan(name: string): Promise<ObservedVxlanDevice | undefined>;
  createVxlan(spec: VxlanDeviceSpec): Promise<void>;
  setLink(name: string, change: { mtu?: number; mac?: string; up?: boolean }): Promise<void>;
  deleteLink(name: string): Promise<void>;
  /** IPv4 addresses of the link as `a.b.c.d/len`. */
  listAddresses(dev: string): Promise<string[]>;
  addAddress(dev: string, cidr: string): Promise<void>;
  delAddress(dev: string, cidr: string): Promise<void>;
  /** Permanent IPv4 neighbour entries of the link. */
  listNeighbours(dev: string): Promise<NeighSpec[]>;
  /** Adds or replaces a permanent neighbour entry. */
  setNeighbour(dev: string, n: NeighSpec): Promise<void>;
  delNeighbour(dev: string, n: NeighSpec): Promise<void>;
  /** FDB entries of the link that carry a remote destination (`NTF_SELF`). */
  listFdb(dev: string): Promise<FdbSpec[]>;
  /** Sets the permanent FDB entry of a MAC (replacing its destination). */
  addFdb(dev: string, f: FdbSpec): Promise<void>;
  delFdb(dev: string, f: FdbSpec): Promise<void>;
  /** IPv4 routes of the main table. */
  listRoutes(): Promise<ObservedRoute[]>;
  /** Adds or replaces the route, marked with `protocol`. */
  setRoute(r: RouteSpec, protocol: number): Promise<void>;
  delRoute(r: RouteSpec, protocol: number): Promise<void>;
  /** Writes a sysctl of this namespace (`net/ipv4/ip_forward`). */
  setSysctl(path: string, value: string): Promise<void>;
  /** Turns off TX checksum offload on the link (the VXLAN checksum trap, DATAPLANE.md). */
  disableTxChecksumOffload(dev: string): Promise<void>;
  close(): void;
}

/**
 * Some per-peer steps of a sync failed (a route the kernel refused, say) while the rest applied:
 * the node is connected to every other peer. Carries the plan that was carried out.
 */
export class PartialSyncError<P> extends Error {
  readonly code = 'PartialSync';
  constructor(readonly plan: P, readonly failures: readonly string[], what: string) {
    super(`${what}: ${failures.length} step(s) failed: ${failures.join('; ')}`);
    this.name = 'PartialSyncError';
  }
}

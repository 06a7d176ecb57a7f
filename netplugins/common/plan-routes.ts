// Routes to other nodes' pod blocks, as plain data, and the plan from what is in the kernel to what
// should be. Pure; shared by the vxlan and routed modes.
//
// Design notes. Which routes are ours: those in the main table carrying the k8ts route protocol
// that are either blackholes or go via a gateway. The CNI plugin's per-pod routes in routed mode
// (`podIP/32 dev caliX scope link`) carry the same protocol but have no gateway, so a resync here
// never removes them; a route some other program (or the admin) added has another protocol and is
// never touched. Both modes use the same ownership rule on purpose: switching a node from routed to
// vxlan (or back) removes the other mode's routes on the first sync.
import { planByKey, type Plan } from './plan-nodes.js';

export interface RouteSpec {
  /** Destination prefix, normalised (`10.244.2.0/24`). */
  readonly dst: string;
  readonly type: 'unicast' | 'blackhole';
  readonly gateway?: string;
  /** Output device; when a desired route leaves it out, the kernel's choice is accepted. */
  readonly dev?: string;
  /** Next hop is on the link even though no address of the device covers it (VXLAN). */
  readonly onlink?: boolean;
}

/** A route as observed: the same shape plus its protocol and table. */
export interface ObservedRoute extends RouteSpec {
  readonly protocol: number;
  readonly table: number;
}

export const MAIN_TABLE = 254;

/** Is this observed route one the planners own (see the design notes)? */
export function isOwnedRoute(r: ObservedRoute, protocol: number): boolean {
  return r.protocol === protocol && r.table === MAIN_TABLE && (r.type === 'blackhole' || (r.type === 'unicast' && r.gateway !== undefined));
}

export function sameRoute(want: RouteSpec, have: RouteSpec): boolean {
  return want.type === have.type
    && (want.gateway ?? '') === (have.gateway ?? '')
    && (want.dev === undefined || want.dev === have.dev)
    && (want.onlink ?? false) === (have.onlink ?? false);
}

/** The plan for our routes: observed routes that are not ours are ignored. */
export function planRoutes(desired: readonly RouteSpec[], observed: readonly ObservedRoute[], protocol: number): Plan<RouteSpec> {
  const owned = observed.filter((r) => isOwnedRoute(r, protocol));
  return planByKey<RouteSpec>(desired, owned, (r) => r.dst, sameRoute);
}

export function routeText(r: RouteSpec): string {
  if (r.type === 'blackhole') return `blackhole ${r.dst}`;
  return `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${r.dev ? ` dev ${r.dev}` : ''}${r.onlink ? ' onlink' : ''}`;
}

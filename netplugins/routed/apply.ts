// Executes routed-mode plans (./plan.ts): observe the main table, plan, delete what is stale, add
// what is missing. Level-triggered: a route deleted behind our back is back after the next sync.
// Every failing route is reported in one error after the others were tried (a peer on another
// subnet must not keep the rest of the cluster unreachable).
import { PartialSyncError, type NetKernel } from '../common/kernel.js';
import type { Plan } from '../common/plan-nodes.js';
import { isOwnedRoute, routeText, type RouteSpec } from '../common/plan-routes.js';
import { planRouted, type RoutedDesired } from './plan.js';

export class RoutedApplier {
  private forwardingDone = false;

  constructor(private readonly kernel: NetKernel, private readonly protocol: number) {}

  async sync(want: RoutedDesired): Promise<Plan<RouteSpec>> {
    const k = this.kernel;
    if (!this.forwardingDone) {
      await k.setSysctl('net/ipv4/ip_forward', '1');
      this.forwardingDone = true;
    }
    const plan = planRouted(want, await k.listRoutes(), this.protocol);
    const errors: string[] = [];
    for (const r of plan.del) {
      try { await k.delRoute(r, this.protocol); } catch (err) { errors.push(`delete route ${routeText(r)}: ${String(err)}`); }
    }
    for (const r of plan.add) {
      try { await k.setRoute(r, this.protocol); } catch (err) { errors.push(`add route ${routeText(r)}: ${String(err)}`); }
    }
    if (errors.length) throw new PartialSyncError(plan, errors, 'routed sync');
    return plan;
  }

  /** Removes every route this mode owns (the CNI plugin's per-pod routes stay). */
  async cleanup(): Promise<void> {
    for (const r of await this.kernel.listRoutes()) if (isOwnedRoute(r, this.protocol)) await this.kernel.delRoute(r, this.protocol);
  }
}

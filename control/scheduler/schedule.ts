// One scheduling decision: `schedulePod(pod, nodes) → node | FitError`, pure. As upstream, we
// stop filtering once enough feasible nodes are found (`percentageOfNodesToScore`, adaptive:
// 50% − nodes/125, at least 5% and 100 nodes) and start each search where the previous one
// stopped, so every node gets its turn; then score the feasible ones and pick the best, breaking
// ties at random. InterPodAffinity runs after the per-node filters, on a pre-computed state.
import { balancedAllocation, controllerSpread, defaultFilters, leastAllocated, normalizeSpread, taintPreference, type FilterPlugin } from './plugins.js';
import type { NodeInfo, PodInfo } from './nodeinfo.js';
import { filterInterPodAffinity, preFilterInterPodAffinity } from './interpodaffinity.js';

export interface ScheduleOptions {
  filters?: FilterPlugin[];
  /** 0 = adaptive, as upstream's default. */
  percentageOfNodesToScore?: number;
  random?: () => number;
}

export type ScheduleResult =
  | { node: string; feasible: number; evaluated: number }
  | { node?: undefined; message: string; reasons: Map<string, number> };

export function numFeasibleNodesToFind(numAll: number, percentage = 0): number {
  const minFeasible = 100;
  if (numAll < minFeasible) return numAll;
  let pct = percentage;
  if (pct <= 0) pct = Math.max(5, 50 - Math.floor(numAll / 125));
  if (pct >= 100) return numAll;
  return Math.max(minFeasible, Math.floor((numAll * pct) / 100));
}

/** `0/3 nodes are available: 1 Too many pods, 2 Insufficient cpu.`, reasons sorted as upstream. */
export function fitErrorMessage(numNodes: number, reasons: Map<string, number>): string {
  const parts = [...reasons].map(([r, n]) => `${n} ${r}`).sort();
  return `0/${numNodes} nodes are available: ${parts.join(', ')}.`;
}

export class ScheduleAlgorithm {
  private nextStart = 0;
  constructor(private readonly opts: ScheduleOptions = {}) {}

  schedule(pi: PodInfo, nodes: readonly NodeInfo[]): ScheduleResult {
    const filters = this.opts.filters ?? defaultFilters;
    const n = nodes.length;
    if (n === 0) return { message: 'no nodes available to schedule pods', reasons: new Map() };
    const want = numFeasibleNodesToFind(n, this.opts.percentageOfNodesToScore);
    const feasible: NodeInfo[] = [];
    const reasons = new Map<string, number>();
    let evaluated = 0;
    const affinity = preFilterInterPodAffinity(pi, nodes);
    for (let i = 0; i < n && feasible.length < want; i++) {
      const ni = nodes[(this.nextStart + i) % n]!;
      evaluated++;
      let failed: string[] | undefined;
      for (const f of filters) { failed = f.filter(pi, ni); if (failed) break; }
      failed ??= filterInterPodAffinity(pi, ni, affinity);
      if (failed) for (const r of failed) reasons.set(r, (reasons.get(r) ?? 0) + 1);
      else feasible.push(ni);
    }
    this.nextStart = (this.nextStart + evaluated) % n;
    if (feasible.length === 0) return { message: fitErrorMessage(n, reasons), reasons };
    if (feasible.length === 1) return { node: feasible[0]!.name, feasible: 1, evaluated };
    const spread = normalizeSpread(feasible.map(ni => controllerSpread.score(pi, ni)));
    const taints = normalizeSpread(feasible.map(ni => taintPreference.score(pi, ni)));
    const random = this.opts.random ?? Math.random;
    let best = -1;
    let bestNode = feasible[0]!;
    let ties = 0;
    for (let i = 0; i < feasible.length; i++) {
      const ni = feasible[i]!;
      const s = leastAllocated.weight * leastAllocated.score(pi, ni)
        + balancedAllocation.weight * balancedAllocation.score(pi, ni)
        + controllerSpread.weight * spread[i]!
        + taintPreference.weight * taints[i]!;
      if (s > best) { best = s; bestNode = ni; ties = 1; } else if (s === best) {
        ties++;
        if (random() * ties < 1) bestNode = ni; // reservoir sampling over equal scores
      }
    }
    return { node: bestNode.name, feasible: feasible.length, evaluated };
  }
}

// The shape of a conformance check and the pure parts of running a suite: selecting checks with
// --focus/--skip (regular expressions over the check's name and the upstream test it mirrors, as
// ginkgo's flags), and what a result is. Nothing here touches a cluster.
import type { ConformanceCluster } from './cluster.js';

export interface Requirements {
  /** Nodes the check needs (inter-node checks need 2). */
  nodes?: number;
}

export interface Check {
  /** Short, stable name: `pod-to-pod http (other node)`. */
  name: string;
  /** The upstream e2e test this mirrors, verbatim, so results can be compared line by line. */
  upstream: string;
  /** For --focus/--skip by area: network, service, dns, netpol. */
  area: 'network' | 'service' | 'dns' | 'netpol';
  needs?: Requirements;
  /** Throws CheckFailure (or any error) with a reason a user can act on. */
  run(cluster: ConformanceCluster): Promise<void>;
}

/** A failed expectation, with what was expected and what was seen. */
export class CheckFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckFailure';
  }
}

export function expectThat(cond: boolean, message: string): asserts cond {
  if (!cond) throw new CheckFailure(message);
}

export type Outcome = 'passed' | 'failed' | 'skipped';

export interface CheckResult {
  name: string;
  upstream: string;
  area: Check['area'];
  outcome: Outcome;
  durationMs: number;
  /** Why it failed or was skipped. */
  reason?: string;
}

export interface Selection { focus?: RegExp; skip?: RegExp }

/** The checks --focus and --skip leave, in suite order. */
export function selectChecks(checks: readonly Check[], sel: Selection): Check[] {
  const text = (c: Check) => `${c.area}: ${c.name} ${c.upstream}`;
  return checks.filter(c => (!sel.focus || sel.focus.test(text(c))) && !(sel.skip && sel.skip.test(text(c))));
}

/** Why a check cannot run on this cluster, or undefined when it can. */
export function unmetRequirement(check: Check, cluster: { nodeCount: number }): string | undefined {
  const nodes = check.needs?.nodes ?? 1;
  if (cluster.nodeCount < nodes) return `needs ${nodes} schedulable nodes, the cluster has ${cluster.nodeCount}`;
  return undefined;
}

// Runs the suite against a cluster: set up the namespace and pods, run each selected check in
// order (skipping the ones the cluster cannot host), print a live table, write the reports, tear
// down. A check that hangs is cut off after its time limit and counts as failed.
import { writeFileSync } from 'node:fs';
import type { HttpsTransport } from '../api/client/https.js';
import type { ClusterClient } from '../api/client/types.js';
import { selectChecks, unmetRequirement, type Check, type CheckResult, type Selection } from './check.js';
import { dnsChecks } from './checks/dns.js';
import { netpolChecks } from './checks/netpol.js';
import { networkingChecks } from './checks/networking.js';
import { serviceChecks } from './checks/services.js';
import { ConformanceCluster } from './cluster.js';
import { jsonReport, junitXml, summaryLine, tableLine } from './report.js';

export const allChecks: readonly Check[] = [...networkingChecks, ...serviceChecks, ...dnsChecks, ...netpolChecks];

export interface RunOptions extends Selection {
  client: ClusterClient;
  transport: HttpsTransport;
  checks?: readonly Check[];
  image?: string;
  clusterDomain?: string;
  junit?: string;
  json?: string;
  /** Per-check time limit (default 180 s). */
  checkTimeoutMs?: number;
  /**
   * How many checks run at once (default 1). Checks share the namespace and its pods, and the
   * NetworkPolicy checks install namespace-wide policies, so only a run whose checks cannot see
   * each other (as the broken-lab runs of the suite's own test, where every check is meant to
   * fail) should raise it. Lines print as checks finish; results stay in suite order.
   */
  concurrency?: number;
  keepNamespace?: boolean;
  out: (line: string) => void;
}

export interface RunSummary { results: CheckResult[]; totalMs: number; namespace: string }

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms); }),
  ]);
}

export async function runConformance(o: RunOptions): Promise<RunSummary> {
  const started = Date.now();
  const checks = selectChecks(o.checks ?? allChecks, o);
  const cluster = new ConformanceCluster({
    client: o.client, transport: o.transport, log: line => o.out(line),
    ...(o.image ? { image: o.image } : {}), ...(o.clusterDomain ? { clusterDomain: o.clusterDomain } : {}),
  });
  const results: CheckResult[] = [];
  const width = Math.max(10, ...checks.map(c => c.name.length));
  try {
    o.out(`k8ts conformance: ${checks.length} checks`);
    await cluster.setUp();
    const runOne = async (check: Check): Promise<CheckResult> => {
      const t0 = Date.now();
      const base = { name: check.name, upstream: check.upstream, area: check.area };
      const unmet = unmetRequirement(check, cluster);
      if (unmet) return { ...base, outcome: 'skipped', durationMs: 0, reason: unmet };
      try {
        await withTimeout(check.run(cluster), o.checkTimeoutMs ?? 180_000, check.name);
        return { ...base, outcome: 'passed', durationMs: Date.now() - t0 };
      } catch (err) {
        return { ...base, outcome: 'failed', durationMs: Date.now() - t0, reason: (err as Error).message.replace(/\s+/g, ' ').trim() };
      }
    };
    const slots: (CheckResult | undefined)[] = new Array(checks.length);
    let next = 0;
    const worker = async () => {
      while (next < checks.length) {
        const i = next++;
        const result = await runOne(checks[i]!);
        slots[i] = result;
        o.out(tableLine(result, width));
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 1, checks.length)) }, worker));
    results.push(...slots.filter((r): r is CheckResult => r !== undefined));
  } finally {
    if (!o.keepNamespace) await cluster.tearDown().catch((err: unknown) => o.out(`teardown: ${(err as Error).message}`));
  }
  const totalMs = Date.now() - started;
  o.out(summaryLine(results, totalMs));
  const info = { namespace: cluster.namespace, nodes: cluster.nodes };
  if (o.junit) writeFileSync(o.junit, junitXml(results, totalMs));
  if (o.json) writeFileSync(o.json, jsonReport(results, totalMs, info));
  return { results, totalMs, namespace: cluster.namespace };
}

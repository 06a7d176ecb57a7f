// `k8ts conformance` against a real 3-node lab (VXLAN overlay, nftables proxy, NetworkPolicy):
// every check of the suite must pass. Then the lab is broken on purpose, one way at a time
// (conformance-breakages.ts: the data path cut, the policy rules or a node's Service rules gone,
// NAT, affinity, hairpin and MTU bent), and every check must fail under one of them, saying why: a
// suite that cannot fail proves nothing. The two checks that read a pod's own files are shown
// failing in conformance/checks/dns.test.ts; the last test prints which check failed how.
//
// The other modes (routed, iptables) run in `k8ts lab conformance --matrix`, a benchmark-style
// run: four labs do not fit CI's time.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { jest } from '@jest/globals';
import { clientFromKubeconfig, type HttpsTransport } from '../../api/client/https.js';
import type { RestClusterClient } from '../../api/client/rest.js';
import { resources } from '../../api/client/types.js';
import type { CheckResult } from '../../conformance/check.js';
import { allChecks, runConformance, type RunSummary } from '../../conformance/run.js';
import { tableLine } from '../../conformance/report.js';
import { breakages, leftovers, unitTested } from './conformance-breakages.js';
import { k8tsBin } from './harness.js';

jest.setTimeout(600_000);

const name = `ct${randomBytes(2).toString('hex')}`;
let netns: string[] = [];
let conn: { client: RestClusterClient; transport: HttpsTransport } | undefined;
const log: string[] = [];
const out = (line: string) => { log.push(line); };

beforeAll(async () => {
  // The real command, as a user builds a lab (`lab down` in afterAll also removes a half-built one).
  const up = await execa(k8tsBin, ['lab', 'up', '--name', name, '--nodes', '3', '--network', 'vxlan', '--proxy', 'nftables'], { reject: false, timeout: 240_000 });
  if (up.exitCode !== 0) throw new Error(`lab up failed (${up.exitCode}):\n${up.stdout}\n${up.stderr}`);
  const state = JSON.parse(readFileSync(`/var/lib/k8ts-lab/${name}/lab.json`, 'utf8')) as { kubeconfig: string; plan: { nodes_: { netns: string }[] } };
  netns = state.plan.nodes_.map(n => n.netns);
  conn = clientFromKubeconfig(state.kubeconfig, { userAgent: 'k8ts-conformance-test' });
});

afterAll(async () => {
  conn?.transport.close();
  const down = await execa(k8tsBin, ['lab', 'down', '--name', name], { reject: false, timeout: 120_000 });
  expect(down.exitCode).toBe(0);
  // Nothing of the lab may outlive it.
  const left = existsSync('/run/netns') ? readdirSync('/run/netns').filter(n => n.startsWith(`k8ts-lab-${name}-`)) : [];
  expect(left).toEqual([]);
});

/** What each broken run saw, check name → (breakage, result). */
const brokenRuns = new Map<string, { breakage: string; result: CheckResult }[]>();

test('every check passes on a 3-node lab', async () => {
  const summary = await runConformance({ client: conn!.client, transport: conn!.transport, out });
  const width = Math.max(...summary.results.map(r => r.name.length));
  const failed = summary.results.filter(r => r.outcome !== 'passed');
  // On failure, the table says which check and why.
  expect(failed.map(r => tableLine(r, width))).toEqual([]);
  expect(summary.results).toHaveLength(allChecks.length);
});

// The same lab, broken on purpose behind the agents' backs, one way at a time: every check meant
// to fail under a breakage must fail, and its reason must name the problem. The checks of one
// broken run go at once (they all fail, so they cannot mask each other), and the run's namespace
// is left to go on its own: the lab goes with it.
describe.each(breakages.map(b => [b.name, b] as const))('the lab with %s', (_name, b) => {
  test('fails the checks that depend on it, saying why', async () => {
    const names = Object.keys(b.fails);
    const undo = await b.apply(netns);
    let summary: RunSummary;
    try {
      summary = await runConformance({
        client: conn!.client, transport: conn!.transport, out, concurrency: b.concurrency, keepNamespace: true,
        checks: allChecks.filter(c => names.includes(c.name)),
      });
    } finally {
      await undo();
    }
    await conn!.client.delete(resources.namespaces, undefined, summary.namespace).catch(() => undefined);
    for (const n of netns) expect(await leftovers(n)).toEqual([]);
    for (const r of summary.results) brokenRuns.set(r.name, [...(brokenRuns.get(r.name) ?? []), { breakage: b.name, result: r }]);
    const width = Math.max(...summary.results.map(r => r.name.length));
    const wrong = summary.results.filter(r => r.outcome !== 'failed' || !b.fails[r.name]!.test(r.reason ?? ''));
    expect(wrong.map(r => `${tableLine(r, width)}\n    expected to fail with ${String(b.fails[r.name])}`)).toEqual([]);
    expect(summary.results.map(r => r.name).sort()).toEqual([...names].sort());
  });
});

test('every check of the suite is shown failing, with its reason', () => {
  // The breakages and the unit tests together cover the whole suite…
  const covered = new Set([...breakages.flatMap(b => Object.keys(b.fails)), ...Object.keys(unitTested)]);
  expect(allChecks.map(c => c.name).filter(n => !covered.has(n))).toEqual([]);
  // …and every check a breakage covers did fail in a broken run (the runs above assert the reasons).
  const rows = allChecks.map(c => {
    const failures = (brokenRuns.get(c.name) ?? []).filter(x => x.result.outcome === 'failed');
    return { check: c.name, failures, unit: unitTested[c.name] };
  });
  const width = Math.max(...rows.map(r => r.check.length));
  const table = rows.flatMap(r => (r.unit ? [`${r.check.padEnd(width)}  unit test ${r.unit}`]
    : r.failures.length === 0 ? [`${r.check.padEnd(width)}  NEVER FAILED`]
      : r.failures.map((f, i) => `${(i === 0 ? r.check : '').padEnd(width)}  ${f.breakage}: ${f.result.reason ?? ''}`)));
  process.stdout.write(`\nconformance checks shown failing (check, breakage: reason)\n${table.join('\n')}\n`);
  expect(rows.filter(r => !r.unit && r.failures.length === 0).map(r => r.check)).toEqual([]);
});

// `k8ts conformance` against a real 3-node lab (VXLAN overlay, nftables proxy, NetworkPolicy):
// every check of the suite must pass. Then the lab is broken on purpose — a node's Service rules
// or the policy rules removed behind the agents' backs — and the checks that depend on them must
// fail, saying why: a suite that cannot fail proves nothing.
//
// The other modes (routed, iptables) run in `k8ts lab conformance --matrix`, a benchmark-style
// run: four labs do not fit CI's time.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { jest } from '@jest/globals';
import { clientFromKubeconfig, type HttpsTransport } from '../../api/client/https.js';
import type { RestClusterClient } from '../../api/client/rest.js';
import { allChecks, runConformance } from '../../conformance/run.js';
import { tableLine } from '../../conformance/report.js';
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

const nodeNetns = (i: number) => netns[i]!;
const nft = (netns: string, args: string[]) => execa('ip', ['netns', 'exec', netns, 'nft', ...args], { reject: false });

/**
 * Deletes a table in the given nodes' namespaces every 100 ms while `during` runs: the daemons
 * re-create their tables on their next sync (a change, a failure, the periodic resync), so a
 * single delete would be repaired as soon as the check creates its Service.
 */
async function withTableGone<T>(table: string, nodes: readonly number[], during: () => Promise<T>): Promise<T> {
  let stop = false;
  const sabotage = (async () => {
    while (!stop) {
      for (const i of nodes) await nft(nodeNetns(i), ['delete', 'table', 'ip', table]);
      await new Promise(r => setTimeout(r, 100));
    }
  })();
  try {
    return await during();
  } finally {
    stop = true;
    await sabotage;
  }
}

test('every check passes on a 3-node lab', async () => {
  const summary = await runConformance({ client: conn!.client, transport: conn!.transport, out });
  const width = Math.max(...summary.results.map(r => r.name.length));
  const failed = summary.results.filter(r => r.outcome !== 'passed');
  // On failure, the table says which check and why.
  expect(failed.map(r => tableLine(r, width))).toEqual([]);
  expect(summary.results).toHaveLength(allChecks.length);
});

test('a check reports the failure when the node has lost its Service rules', async () => {
  // The suite's first client pod runs on the first Node by name: the lab's n1, node 0 here.
  const { results } = await withTableGone('k8ts-proxy', [0], () =>
    runConformance({ client: conn!.client, transport: conn!.transport, out, focus: /^service: pod-to-service http/ }));
  expect(results).toHaveLength(1);
  expect(results[0]).toMatchObject({ outcome: 'failed' });
  expect(results[0]!.reason).toMatch(/never reached netserver-\d/);
});

test('a NetworkPolicy check reports the failure when the policy rules are gone', async () => {
  // Traffic that the policy should deny now gets through.
  const { results } = await withTableGone('k8ts-netpol', [0, 1, 2], () =>
    runConformance({ client: conn!.client, transport: conn!.transport, out, focus: /netpol default-deny ingress/ }));
  expect(results).toHaveLength(1);
  expect(results[0]).toMatchObject({ outcome: 'failed' });
  expect(results[0]!.reason).toMatch(/allowed, expected denied/);
});

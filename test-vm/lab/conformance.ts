// `k8ts lab conformance [--matrix]`: the conformance suite on fresh labs, one mode after another —
// each lab built, tested, and torn down (also when the run fails) before the next, so two labs
// never share the 2-core machine — then one matrix (conformance/matrix.ts). After every lab the
// host is checked for anything it left behind (a namespace, a run folder); a leftover is an error
// of that mode.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { clientFromKubeconfig } from '../../api/client/https.js';
import { allChecks, runConformance } from '../../conformance/run.js';
import { selectChecks, type Selection } from '../../conformance/check.js';
import { buildMatrix, matrixJson, renderMatrix, type Matrix, type MatrixRun } from '../../conformance/matrix.js';
import { run } from '../../kernel/netns.js';
import { labDown, labUp } from './lab.js';
import type { LabNetwork, LabProxy } from './plan.js';

export interface LabMode { readonly network: LabNetwork; readonly proxy: LabProxy }

/** The matrix's modes: both pod networks × both proxy modes that run on any kernel. */
export const matrixModes: readonly LabMode[] = [
  { network: 'vxlan', proxy: 'nftables' }, { network: 'vxlan', proxy: 'iptables' },
  { network: 'routed', proxy: 'nftables' }, { network: 'routed', proxy: 'iptables' },
];

export interface LabConformanceOptions extends Selection {
  readonly modes: readonly LabMode[];
  readonly nodes?: number;
  /** Write the matrix as JSON here. */
  readonly json?: string;
  readonly out: (line: string) => void;
}

/** What of a lab is still on the host after `down`. */
function leftovers(name: string): string[] {
  const left: string[] = [];
  if (existsSync('/run/netns')) for (const n of readdirSync('/run/netns')) if (n.startsWith(`k8ts-lab-${name}-`)) left.push(`netns ${n}`);
  if (existsSync(`/var/lib/k8ts-lab/${name}`)) left.push(`/var/lib/k8ts-lab/${name}`);
  return left;
}

async function oneMode(mode: LabMode, o: LabConformanceOptions): Promise<MatrixRun> {
  const label = `${mode.network}/${mode.proxy}`;
  const name = `cf${randomBytes(2).toString('hex')}${mode.network[0]}${mode.proxy[0]}`;
  const say = (line: string) => o.out(`[${label}] ${line}`);
  const errors: string[] = [];
  let results: MatrixRun['results'] = [];
  let totalMs = 0;
  let labUpMs: number | undefined;
  const rootTablesBefore = await run('nft', ['list', 'tables']).catch(() => '');
  try {
    const t0 = Date.now();
    const lab = await labUp({ name, nodes: o.nodes ?? 3, network: mode.network, proxy: mode.proxy }, say);
    labUpMs = Date.now() - t0;
    const conn = clientFromKubeconfig(lab.kubeconfig!, { userAgent: 'k8ts-lab-conformance' });
    try {
      const summary = await runConformance({
        client: conn.client, transport: conn.transport, out: say,
        ...(o.focus ? { focus: o.focus } : {}), ...(o.skip ? { skip: o.skip } : {}),
      });
      results = summary.results;
      totalMs = summary.totalMs;
    } finally {
      conn.transport.close();
    }
  } catch (err) {
    errors.push((err as Error).message.split('\n')[0]!);
  } finally {
    await labDown(name, say).catch((err: unknown) => errors.push(`lab down: ${(err as Error).message}`));
    const left = leftovers(name);
    if (left.length) errors.push(`left on the host after lab down: ${left.join(', ')}`);
    const rootTablesAfter = await run('nft', ['list', 'tables']).catch(() => '');
    if (rootTablesAfter !== rootTablesBefore) errors.push(`the root namespace's nftables tables changed: ${JSON.stringify(rootTablesBefore)} → ${JSON.stringify(rootTablesAfter)}`);
  }
  return { mode: label, results, totalMs, ...(labUpMs !== undefined ? { labUpMs } : {}), ...(errors.length ? { error: errors.join('; ') } : {}) };
}

/** Runs every mode in turn and prints the matrix; resolves with it (failed when any check or mode failed). */
export async function labConformance(o: LabConformanceOptions): Promise<Matrix> {
  const checks = selectChecks(allChecks, o);
  o.out(`k8ts lab conformance: ${checks.length} checks × ${o.modes.length} mode(s), one fresh ${o.nodes ?? 3}-node lab each`);
  const runs: MatrixRun[] = [];
  for (const mode of o.modes) runs.push(await oneMode(mode, o));
  const m = buildMatrix(runs, checks);
  o.out('');
  for (const line of renderMatrix(m).trimEnd().split('\n')) o.out(line);
  if (o.json) writeFileSync(o.json, matrixJson(m));
  return m;
}

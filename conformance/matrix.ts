// The conformance matrix: one suite run per mode of the cluster (pod network × proxy mode, one
// fresh lab each), gathered into one table — a row per check, a column per mode, each cell the
// outcome and its time — with the failures' reasons listed under it, and as JSON. Pure: the runs'
// results in, text out; running the labs is `k8ts lab conformance` (test-vm/lab/conformance.ts).
import type { CheckResult, Outcome } from './check.js';
import { seconds } from './report.js';

/** One mode's run: its results, or why it produced none (the lab did not come up, …). */
export interface MatrixRun {
  /** `vxlan/nftables`. */
  readonly mode: string;
  readonly results: readonly CheckResult[];
  /** Wall time of the suite run (not the lab's set-up). */
  readonly totalMs: number;
  /** Time to bring the lab up, if it came up. */
  readonly labUpMs?: number;
  /** Set when the run could not happen or was cut short: every check without a result shows it. */
  readonly error?: string;
}

export type CellOutcome = Outcome | 'not run';
export interface MatrixCell { readonly outcome: CellOutcome; readonly durationMs: number; readonly reason?: string }
export interface MatrixRow { readonly name: string; readonly area: CheckResult['area']; readonly upstream: string; readonly cells: readonly MatrixCell[] }
export interface ModeSummary { readonly mode: string; readonly passed: number; readonly failed: number; readonly skipped: number; readonly notRun: number; readonly totalMs: number; readonly labUpMs?: number; readonly error?: string }
export interface Matrix { readonly modes: readonly ModeSummary[]; readonly rows: readonly MatrixRow[]; readonly failed: boolean }

/**
 * Gathers the runs: rows in suite order (first seen across the runs; `checks` names the expected
 * ones so a run that stopped early shows them as not run), cells in the runs' order.
 */
export function buildMatrix(runs: readonly MatrixRun[], checks: readonly Pick<CheckResult, 'name' | 'area' | 'upstream'>[] = []): Matrix {
  const rowsByName = new Map<string, Pick<CheckResult, 'name' | 'area' | 'upstream'>>();
  for (const c of checks) rowsByName.set(c.name, c);
  for (const run of runs) for (const r of run.results) if (!rowsByName.has(r.name)) rowsByName.set(r.name, r);
  const rows: MatrixRow[] = [...rowsByName.values()].map(c => ({
    name: c.name, area: c.area, upstream: c.upstream,
    cells: runs.map((run): MatrixCell => {
      const r = run.results.find(x => x.name === c.name);
      if (r) return { outcome: r.outcome, durationMs: r.durationMs, ...(r.reason !== undefined ? { reason: r.reason } : {}) };
      return { outcome: 'not run', durationMs: 0, ...(run.error !== undefined ? { reason: run.error } : {}) };
    }),
  }));
  const modes = runs.map((run, i): ModeSummary => {
    const count = (o: CellOutcome) => rows.filter(r => r.cells[i]!.outcome === o).length;
    return {
      mode: run.mode, passed: count('passed'), failed: count('failed'), skipped: count('skipped'), notRun: count('not run'), totalMs: run.totalMs,
      ...(run.labUpMs !== undefined ? { labUpMs: run.labUpMs } : {}), ...(run.error !== undefined ? { error: run.error } : {}),
    };
  });
  // A mode that did not run, or stopped early, fails the matrix as a failed check would.
  const failed = modes.some(m => m.failed > 0 || m.error !== undefined || (m.notRun > 0 && rows.length > 0));
  return { modes, rows, failed };
}

const cellText = (c: MatrixCell): string => {
  switch (c.outcome) {
    case 'passed': return `pass ${seconds(c.durationMs)}`;
    case 'failed': return `FAIL ${seconds(c.durationMs)}`;
    case 'skipped': return 'skip';
    default: return '-';
  }
};

/** The matrix as a text table, a totals line, and each failure (mode, check, reason) below it. */
export function renderMatrix(m: Matrix): string {
  const nameWidth = Math.max('suite time'.length, ...m.rows.map(r => r.name.length));
  const widths = m.modes.map((mode, i) => Math.max(mode.mode.length, 11, ...m.rows.map(r => cellText(r.cells[i]!).length)));
  const line = (first: string, cells: readonly string[]) => [first.padEnd(nameWidth), ...cells.map((c, i) => c.padEnd(widths[i]!))].join('  ').trimEnd();
  const out = [line('check', m.modes.map(x => x.mode))];
  for (const r of m.rows) out.push(line(r.name, r.cells.map(cellText)));
  out.push(line('passed', m.modes.map(x => `${x.passed}/${m.rows.length}`)));
  out.push(line('suite time', m.modes.map(x => seconds(x.totalMs))));
  if (m.modes.some(x => x.labUpMs !== undefined)) out.push(line('lab up', m.modes.map(x => (x.labUpMs !== undefined ? seconds(x.labUpMs) : '-'))));
  const problems: string[] = [];
  m.modes.forEach((mode, i) => {
    if (mode.error !== undefined) problems.push(`  ${mode.mode}: ${mode.error}`);
    for (const r of m.rows) {
      const c = r.cells[i]!;
      if (c.outcome === 'failed') problems.push(`  ${mode.mode}  ${r.name}: ${c.reason ?? ''}  [${r.upstream}]`);
    }
  });
  if (problems.length) out.push('', 'failures:', ...problems);
  const failedModes = m.modes.filter(x => x.failed > 0 || x.error !== undefined).map(x => x.mode);
  out.push('', m.failed ? `FAILED in ${failedModes.join(', ') || 'some mode (checks not run)'}` : `all ${m.rows.length} checks passed in all ${m.modes.length} modes`);
  return `${out.join('\n')}\n`;
}

/** The matrix as JSON: per mode its totals, per check its cell in every mode. */
export function matrixJson(m: Matrix): string {
  return `${JSON.stringify({
    failed: m.failed,
    modes: m.modes,
    checks: m.rows.map(r => ({ name: r.name, area: r.area, upstream: r.upstream, cells: Object.fromEntries(r.cells.map((c, i) => [m.modes[i]!.mode, c])) })),
  }, null, 2)}\n`;
}

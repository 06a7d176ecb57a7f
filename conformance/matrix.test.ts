import type { CheckResult } from './check.js';
import { buildMatrix, matrixJson, renderMatrix, type MatrixRun } from './matrix.js';

const r = (name: string, outcome: CheckResult['outcome'], durationMs: number, reason?: string): CheckResult => ({
  name, upstream: `[sig-network] ${name}`, area: 'service', outcome, durationMs, ...(reason ? { reason } : {}),
});

describe('the conformance matrix', () => {
  const green: MatrixRun = { mode: 'vxlan/nftables', totalMs: 60_000, labUpMs: 20_000, results: [r('NodePort', 'passed', 1200), r('hairpin', 'passed', 800)] };
  const red: MatrixRun = { mode: 'routed/iptables', totalMs: 70_000, labUpMs: 25_000, results: [r('NodePort', 'failed', 5000, 'never reached netserver-1'), r('hairpin', 'passed', 900)] };

  it('has a row per check and a column per mode, each cell the outcome and its time', () => {
    const m = buildMatrix([green, red]);
    expect(m.rows.map(x => x.name)).toEqual(['NodePort', 'hairpin']);
    expect(m.rows[0]!.cells).toEqual([{ outcome: 'passed', durationMs: 1200 }, { outcome: 'failed', durationMs: 5000, reason: 'never reached netserver-1' }]);
    expect(m.modes.map(x => [x.mode, x.passed, x.failed])).toEqual([['vxlan/nftables', 2, 0], ['routed/iptables', 1, 1]]);
    expect(m.failed).toBe(true);
    expect(buildMatrix([green]).failed).toBe(false);
  });

  it('renders aligned columns, totals, and each failure with its mode and reason', () => {
    const text = renderMatrix(buildMatrix([green, red]));
    const lines = text.split('\n');
    expect(lines[0]).toBe('check       vxlan/nftables  routed/iptables');
    expect(lines[1]).toBe('NodePort    pass 1.2s       FAIL 5.0s');
    expect(lines[2]).toBe('hairpin     pass 0.8s       pass 0.9s');
    expect(lines[3]).toBe('passed      2/2             1/2');
    expect(text).toContain('lab up      20.0s           25.0s');
    expect(text).toContain('  routed/iptables  NodePort: never reached netserver-1  [[sig-network] NodePort]');
    expect(lines.filter(Boolean).at(-1)).toBe('FAILED in routed/iptables');
    expect(renderMatrix(buildMatrix([green])).trim().split('\n').at(-1)).toBe('all 2 checks passed in all 1 modes');
  });

  it('a mode whose lab did not come up fails the matrix, its checks shown as not run with the reason', () => {
    const broken: MatrixRun = { mode: 'routed/nftables', totalMs: 0, results: [], error: 'lab up: timed out waiting for n2 Ready' };
    const m = buildMatrix([green, broken], [{ name: 'NodePort', area: 'service', upstream: 'u' }, { name: 'hairpin', area: 'service', upstream: 'u' }]);
    expect(m.rows[1]!.cells[1]).toEqual({ outcome: 'not run', durationMs: 0, reason: 'lab up: timed out waiting for n2 Ready' });
    expect(m.modes[1]).toMatchObject({ passed: 0, notRun: 2, error: 'lab up: timed out waiting for n2 Ready' });
    expect(m.failed).toBe(true);
    const text = renderMatrix(m);
    expect(text).toContain('NodePort    pass 1.2s       -');
    expect(text).toContain('  routed/nftables: lab up: timed out waiting for n2 Ready');
  });

  it('keeps suite order when modes ran different checks', () => {
    const a: MatrixRun = { mode: 'a', totalMs: 1, results: [r('x', 'passed', 1), r('z', 'passed', 1)] };
    const b: MatrixRun = { mode: 'b', totalMs: 1, results: [r('x', 'passed', 1), r('y', 'skipped', 0, 'needs 2 nodes'), r('z', 'passed', 1)] };
    const m = buildMatrix([a, b], [{ name: 'x', area: 'service', upstream: '' }, { name: 'y', area: 'service', upstream: '' }, { name: 'z', area: 'service', upstream: '' }]);
    expect(m.rows.map(x => x.name)).toEqual(['x', 'y', 'z']);
    expect(m.rows[1]!.cells.map(c => c.outcome)).toEqual(['not run', 'skipped']);
    // A check one mode did not run (no error recorded) still fails the matrix: nothing proves it passed there.
    expect(m.failed).toBe(true);
  });

  it('writes JSON with the totals per mode and the cell of every check in every mode', () => {
    const j = JSON.parse(matrixJson(buildMatrix([green, red]))) as { failed: boolean; modes: { mode: string; failed: number }[]; checks: { name: string; cells: Record<string, { outcome: string }> }[] };
    expect(j.failed).toBe(true);
    expect(j.modes.map(x => x.failed)).toEqual([0, 1]);
    expect(j.checks[0]!.cells['routed/iptables']!.outcome).toBe('failed');
  });
});

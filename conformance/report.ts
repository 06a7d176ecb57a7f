// Reports of a conformance run: the live table line per check, the closing summary, and the JUnit
// XML and JSON files CI systems read. Pure: results in, text out.
import type { CheckResult } from './check.js';

const mark = { passed: 'PASS', failed: 'FAIL', skipped: 'SKIP' } as const;

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** One line of the live table: outcome, time, name, then the upstream name or the reason. */
export function tableLine(r: CheckResult, nameWidth: number): string {
  const head = `${mark[r.outcome]}  ${seconds(r.durationMs).padStart(6)}  ${r.name.padEnd(nameWidth)}`;
  const tail = r.outcome === 'passed' ? r.upstream : `${r.reason ?? ''}  [${r.upstream}]`;
  return `${head}  ${tail}`;
}

export function summaryLine(results: readonly CheckResult[], totalMs: number): string {
  const n = (o: CheckResult['outcome']) => results.filter(r => r.outcome === o).length;
  return `${n('passed')} passed, ${n('failed')} failed, ${n('skipped')} skipped in ${seconds(totalMs)}`;
}

const xmlEscape = (s: string) => s.replace(/[<>&"']/g, c => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

export function junitXml(results: readonly CheckResult[], totalMs: number, suiteName = 'k8ts conformance'): string {
  const failures = results.filter(r => r.outcome === 'failed').length;
  const skipped = results.filter(r => r.outcome === 'skipped').length;
  const cases = results.map(r => {
    const attrs = `name="${xmlEscape(r.upstream)}" classname="${xmlEscape(`k8ts.${r.area}`)}" time="${(r.durationMs / 1000).toFixed(3)}"`;
    if (r.outcome === 'passed') return `    <testcase ${attrs}/>`;
    const inner = r.outcome === 'failed'
      ? `<failure type="Failure" message="${xmlEscape(r.reason ?? '')}">${xmlEscape(`${r.name}: ${r.reason ?? ''}`)}</failure>`
      : `<skipped message="${xmlEscape(r.reason ?? '')}"/>`;
    return `    <testcase ${attrs}>${inner}</testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites tests="${results.length}" failures="${failures}" time="${(totalMs / 1000).toFixed(3)}">`,
    `  <testsuite name="${xmlEscape(suiteName)}" tests="${results.length}" failures="${failures}" skipped="${skipped}" time="${(totalMs / 1000).toFixed(3)}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

export function jsonReport(results: readonly CheckResult[], totalMs: number, cluster: Record<string, unknown>): string {
  return `${JSON.stringify({ cluster, durationMs: totalMs, results }, null, 2)}\n`;
}

import { selectChecks, unmetRequirement, type Check } from './check.js';
import { junitXml, summaryLine, tableLine } from './report.js';
import { parseNslookup } from './checks/dns.js';
import { exitReason, normalizeClientAddress } from './cluster.js';
import { allChecks } from './run.js';

const check = (name: string, area: Check['area'], upstream: string, nodes?: number): Check => ({ name, area, upstream, ...(nodes ? { needs: { nodes } } : {}), run: async () => undefined });
const suite = [
  check('pod-to-pod http', 'network', '[sig-network] Networking Granular Checks: Pods should function for intra-pod communication: http'),
  check('pod-to-pod udp, other node', 'network', '[sig-network] Networking Granular Checks: Pods ... udp', 2),
  check('DNS for services', 'dns', '[sig-network] DNS should provide DNS for services [Conformance]'),
];

describe('selecting checks', () => {
  it('focuses and skips by regular expressions over area, name and upstream name, as ginkgo', () => {
    expect(selectChecks(suite, { focus: /udp/ }).map(c => c.name)).toEqual(['pod-to-pod udp, other node']);
    expect(selectChecks(suite, { focus: /^dns:/ }).map(c => c.name)).toEqual(['DNS for services']);
    expect(selectChecks(suite, { skip: /\[Conformance\]/ }).map(c => c.name)).toEqual(['pod-to-pod http', 'pod-to-pod udp, other node']);
    expect(selectChecks(suite, {})).toHaveLength(3);
  });

  it('skips checks the cluster is too small for, saying why', () => {
    expect(unmetRequirement(suite[1]!, { nodeCount: 1 })).toBe('needs 2 schedulable nodes, the cluster has 1');
    expect(unmetRequirement(suite[1]!, { nodeCount: 3 })).toBeUndefined();
    expect(unmetRequirement(suite[0]!, { nodeCount: 1 })).toBeUndefined();
  });

  it('the shipped suite has unique names and mirrors an upstream test each', () => {
    const names = allChecks.map(c => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const c of allChecks) expect(c.upstream).toMatch(/^\[sig-network\] /);
    expect(allChecks.length).toBeGreaterThanOrEqual(30);
  });
});

describe('reports', () => {
  const results = [
    { name: 'a', upstream: 'up <a>', area: 'network' as const, outcome: 'passed' as const, durationMs: 1234 },
    { name: 'b', upstream: 'up b', area: 'service' as const, outcome: 'failed' as const, durationMs: 500, reason: 'never reached "x" & y' },
    { name: 'c', upstream: 'up c', area: 'dns' as const, outcome: 'skipped' as const, durationMs: 0, reason: 'needs 2 nodes' },
  ];
  it('prints a live line per check with the reason of a failure', () => {
    expect(tableLine(results[0]!, 4)).toBe('PASS    1.2s  a     up <a>');
    expect(tableLine(results[1]!, 4)).toBe('FAIL    0.5s  b     never reached "x" & y  [up b]');
    expect(summaryLine(results, 61_000)).toBe('1 passed, 1 failed, 1 skipped in 61.0s');
  });
  it('writes JUnit XML with escaped failures and skips', () => {
    const xml = junitXml(results, 2000);
    expect(xml).toContain('<testsuite name="k8ts conformance" tests="3" failures="1" skipped="1" time="2.000">');
    expect(xml).toContain('<testcase name="up &lt;a&gt;" classname="k8ts.network" time="1.234"/>');
    expect(xml).toContain('<failure type="Failure" message="never reached &quot;x&quot; &amp; y">');
    expect(xml).toContain('<skipped message="needs 2 nodes"/>');
  });
});

describe('parseNslookup', () => {
  it('reads the answer addresses and CNAMEs of busybox nslookup', () => {
    const out = 'Server:\t\t10.43.0.10\nAddress:\t10.43.0.10:53\n\next.ns.svc.cluster.local\tcanonical name = kubernetes.default.svc.cluster.local\nName:\tkubernetes.default.svc.cluster.local\nAddress: 10.43.0.1\n\n';
    expect(parseNslookup(out)).toEqual({ addresses: ['10.43.0.1'], canonical: ['kubernetes.default.svc.cluster.local'] });
    expect(parseNslookup('Server:\t\t10.43.0.10\nAddress:\t10.43.0.10:53\n\n')).toEqual({ addresses: [], canonical: [] });
  });
});

describe('normalizeClientAddress', () => {
  it('reads an IPv4-mapped address as the IPv4 address it is', () => {
    expect(normalizeClientAddress('[::ffff:10.42.0.3]')).toBe('10.42.0.3');
    expect(normalizeClientAddress('10.42.0.3')).toBe('10.42.0.3');
    expect(normalizeClientAddress('[fd00::1]')).toBe('[fd00::1]');
  });
});

describe('exitReason', () => {
  it('says a probe timed out when busybox timeout killed it, instead of a bare exit status', () => {
    expect(exitReason(143, 'wget got no answer within 5 s')).toBe('timed out: wget got no answer within 5 s');
    expect(exitReason(124, 'nc got no answer within 20 s')).toBe('timed out: nc got no answer within 20 s');
    expect(exitReason(1, 'unused')).toBe('exit 1');
  });
});

import { cpuStats, memoryStats, parseFlatKeyed, podTotals, sampleFromV1, sampleFromV2, usageNanoCores } from './stats.js';

const T = Date.parse('2026-01-01T00:00:00Z');

describe('cgroup samples', () => {
  it('reads v1 cpuacct and memory files, with the hierarchical totals of memory.stat', () => {
    const s = sampleFromV1(T, '5000000000\n', '104857600\n', 'cache 1\ntotal_rss 73400320\ntotal_inactive_file 10485760\ntotal_pgfault 12\ntotal_pgmajfault 1\ninactive_file 7\n');
    expect(s).toEqual({ time: T, cpuUsageNs: 5e9, memoryUsageBytes: 104857600, memoryInactiveFileBytes: 10485760, memoryRssBytes: 73400320, pageFaults: 12, majorPageFaults: 1 });
  });
  it('reads v2 cpu.stat (microseconds) and memory.current', () => {
    const s = sampleFromV2(T, 'usage_usec 2500000\nuser_usec 1\n', '2048\n', 'anon 1024\ninactive_file 512\npgfault 3\npgmajfault 0\n');
    expect(s).toEqual({ time: T, cpuUsageNs: 2.5e9, memoryUsageBytes: 2048, memoryInactiveFileBytes: 512, memoryRssBytes: 1024, pageFaults: 3, majorPageFaults: 0 });
  });
  it('leaves out what a missing file cannot tell', () => {
    expect(sampleFromV1(T, undefined, 'garbage', undefined)).toEqual({ time: T });
    expect(parseFlatKeyed('a 1\nb x\n\nc 3')).toEqual({ a: 1, c: 3 });
  });
});

describe('derived numbers', () => {
  it('usageNanoCores is CPU time over wall time between two samples', () => {
    expect(usageNanoCores({ time: T, cpuUsageNs: 1e9 }, { time: T + 2000, cpuUsageNs: 2e9 })).toBe(5e8);
    expect(usageNanoCores(undefined, { time: T, cpuUsageNs: 1 })).toBeUndefined();
    // A counter that went backwards is a new cgroup: no rate.
    expect(usageNanoCores({ time: T, cpuUsageNs: 5e9 }, { time: T + 1000, cpuUsageNs: 1e9 })).toBeUndefined();
  });
  it('the working set is usage minus inactive file pages; available is the limit minus the working set', () => {
    expect(memoryStats({ time: T, memoryUsageBytes: 100, memoryInactiveFileBytes: 30, memoryRssBytes: 50 }, 1000)).toEqual({
      time: '2026-01-01T00:00:00Z', availableBytes: 930, usageBytes: 100, workingSetBytes: 70, rssBytes: 50,
    });
    expect(memoryStats({ time: T, memoryUsageBytes: 10, memoryInactiveFileBytes: 30 })!.workingSetBytes).toBe(0);
  });
  it('cpuStats carries the cumulative time and the rate when there is one', () => {
    expect(cpuStats({ time: T, cpuUsageNs: 42 }, 7)).toEqual({ time: '2026-01-01T00:00:00Z', usageNanoCores: 7, usageCoreNanoSeconds: 42 });
    expect(cpuStats({ time: T }, 7)).toBeUndefined();
  });
  it('pod totals sum the containers, and are absent when a container has no numbers', () => {
    const t = '2026-01-01T00:00:00Z';
    const a = { name: 'a', startTime: t, cpu: { time: t, usageNanoCores: 1, usageCoreNanoSeconds: 10 }, memory: { time: t, usageBytes: 5, workingSetBytes: 4 } };
    const b = { name: 'b', startTime: t, cpu: { time: t, usageNanoCores: 2, usageCoreNanoSeconds: 20 }, memory: { time: t, usageBytes: 7, workingSetBytes: 6 } };
    expect(podTotals([a, b], T)).toEqual({ cpu: { time: t, usageNanoCores: 3, usageCoreNanoSeconds: 30 }, memory: { time: t, usageBytes: 12, workingSetBytes: 10 } });
    expect(podTotals([a, { name: 'c', startTime: t }], T)).toEqual({});
  });
});

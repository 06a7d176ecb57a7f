import { cpuStats, fsStats, memoryStats, networkStats, overlayUpperDirs, parseFlatKeyed, parseNetDev, podEphemeral, podTotals, sampleFromV1, sampleFromV2, usageNanoCores } from './stats.js';

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

describe('network and filesystem stats', () => {
  const netDev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     140       2    0    0    0     0          0         0      140       2    0    0    0     0       0          0
  eth0:  123456     100    1    0    0     0          0         0     7890      50    2    0    0     0       0          0
`;
  it('reads /proc/net/dev without loopback, and puts eth0 inline as upstream\'s default interface', () => {
    const ifaces = parseNetDev(netDev);
    expect(ifaces).toEqual([{ name: 'eth0', rxBytes: 123456, rxErrors: 1, txBytes: 7890, txErrors: 2 }]);
    expect(networkStats(T, ifaces)).toEqual({ time: '2026-01-01T00:00:00Z', name: 'eth0', rxBytes: 123456, rxErrors: 1, txBytes: 7890, txErrors: 2, interfaces: ifaces });
    expect(networkStats(T, [])).toBeUndefined();
  });
  it('gives statfs sizes with the object\'s own usage, or the filesystem\'s', () => {
    const st = { bsize: 4096, blocks: 1000, bavail: 400, bfree: 500, files: 100, ffree: 60 };
    expect(fsStats(T, st)).toEqual({ time: '2026-01-01T00:00:00Z', availableBytes: 400 * 4096, capacityBytes: 1000 * 4096, usedBytes: 500 * 4096, inodesFree: 60, inodes: 100, inodesUsed: 40 });
    expect(fsStats(T, st, { bytes: 8192, inodes: 3 })).toMatchObject({ usedBytes: 8192, inodesUsed: 3, capacityBytes: 1000 * 4096 });
  });
  it('finds each container\'s overlay upper directory in mountinfo', () => {
    const mi = [
      '57 27 0:39 / /run/k8ts-x/containerd/io.containerd.runtime.v2.task/k8ts/pod-c-0/rootfs rw,relatime - overlay overlay rw,lowerdir=/d/snapshots/1/fs,upperdir=/d/snapshots/2/fs,workdir=/d/snapshots/2/work',
      '58 27 0:40 / /run/other/rootfs rw - overlay overlay rw,upperdir=/nope',
      '59 27 0:41 / /run/k8ts-x/containerd/io.containerd.runtime.v2.task/k8ts/tmp-c/rootfs rw - tmpfs tmpfs rw',
    ].join('\n');
    expect([...overlayUpperDirs(mi)]).toEqual([['pod-c-0', '/d/snapshots/2/fs']]);
  });
  it('sums rootfs and logs into the pod\'s ephemeral storage', () => {
    const f = (used: number) => ({ time: 'x', capacityBytes: 100, availableBytes: 50, usedBytes: used, inodesUsed: 1 });
    expect(podEphemeral([{ name: 'a', startTime: 'x', rootfs: f(10), logs: f(2) }, { name: 'b', startTime: 'x', logs: f(3) }], T))
      .toEqual({ time: '2026-01-01T00:00:00Z', capacityBytes: 100, availableBytes: 50, usedBytes: 15, inodesUsed: 3 });
    expect(podEphemeral([{ name: 'a', startTime: 'x' }], T)).toBeUndefined();
  });
});

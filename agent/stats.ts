// The pure half of the kubelet's Summary API (`GET /stats/summary`, k8s.io/kubelet stats/v1alpha1):
// parsing cgroup files, upstream's derived numbers (working set = usage − inactive file pages;
// usageNanoCores = Δ cumulative CPU time / Δ wall time between two samples), and the Summary
// document with node, pod and container CPU and memory. A metrics.k8s.io implementation reads
// `usageNanoCores` and `workingSetBytes` from it, as metrics-server does.
//
// Pod totals are the sums of their containers: containers run in cgroups of their own
// (`/<containerd namespace>/<id>`, where `ctr run` puts them), not under a pod cgroup.

/** One reading of a cgroup's cumulative counters. */
export interface CgroupSample {
  /** Epoch ms of the reading. */
  time: number;
  cpuUsageNs?: number;
  memoryUsageBytes?: number;
  memoryInactiveFileBytes?: number;
  memoryRssBytes?: number;
  pageFaults?: number;
  majorPageFaults?: number;
}

export interface CPUStats {
  time: string;
  usageNanoCores?: number;
  usageCoreNanoSeconds?: number;
}

export interface MemoryStats {
  time: string;
  availableBytes?: number;
  usageBytes?: number;
  workingSetBytes?: number;
  rssBytes?: number;
  pageFaults?: number;
  majorPageFaults?: number;
}

export interface ContainerStats {
  name: string;
  startTime: string;
  cpu?: CPUStats;
  memory?: MemoryStats;
}

export interface PodStats {
  podRef: { name: string; namespace: string; uid: string };
  startTime: string;
  containers: ContainerStats[];
  cpu?: CPUStats;
  memory?: MemoryStats;
}

export interface Summary {
  node: { nodeName: string; startTime: string; cpu?: CPUStats; memory?: MemoryStats };
  pods: PodStats[];
}

/** `key value` lines (memory.stat, cpu.stat) into numbers. */
export function parseFlatKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** A cgroup v1 sample from cpuacct.usage, memory.usage_in_bytes and memory.stat (hierarchical totals). */
export function sampleFromV1(time: number, cpuacctUsage: string | undefined, memoryUsage: string | undefined, memoryStat: string | undefined): CgroupSample {
  const st = memoryStat !== undefined ? parseFlatKeyed(memoryStat) : {};
  const num = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s.trim()) ? Number(s.trim()) : undefined);
  return withDefined({
    time, cpuUsageNs: num(cpuacctUsage), memoryUsageBytes: num(memoryUsage),
    memoryInactiveFileBytes: st.total_inactive_file, memoryRssBytes: st.total_rss, pageFaults: st.total_pgfault, majorPageFaults: st.total_pgmajfault,
  });
}

/** A cgroup v2 sample from cpu.stat (usage_usec), memory.current and memory.stat. */
export function sampleFromV2(time: number, cpuStat: string | undefined, memoryCurrent: string | undefined, memoryStat: string | undefined): CgroupSample {
  const cpu = cpuStat !== undefined ? parseFlatKeyed(cpuStat) : {};
  const st = memoryStat !== undefined ? parseFlatKeyed(memoryStat) : {};
  const cur = memoryCurrent !== undefined && /^\d+$/.test(memoryCurrent.trim()) ? Number(memoryCurrent.trim()) : undefined;
  return withDefined({
    time, cpuUsageNs: cpu.usage_usec !== undefined ? cpu.usage_usec * 1000 : undefined, memoryUsageBytes: cur,
    memoryInactiveFileBytes: st.inactive_file, memoryRssBytes: st.anon, pageFaults: st.pgfault, majorPageFaults: st.pgmajfault,
  });
}

function withDefined<T extends object>(o: { [K in keyof T]: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** CPU cores in use (in nanocores) between two samples; undefined when they cannot tell. */
export function usageNanoCores(prev: CgroupSample | undefined, cur: CgroupSample): number | undefined {
  if (!prev || prev.cpuUsageNs === undefined || cur.cpuUsageNs === undefined) return undefined;
  const dt = cur.time - prev.time;
  const dcpu = cur.cpuUsageNs - prev.cpuUsageNs;
  if (dt <= 0 || dcpu < 0) return undefined;
  return Math.round(dcpu / (dt / 1000));
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function cpuStats(cur: CgroupSample, nanoCores: number | undefined): CPUStats | undefined {
  if (cur.cpuUsageNs === undefined) return undefined;
  return { time: iso(cur.time), ...(nanoCores !== undefined ? { usageNanoCores: nanoCores } : {}), usageCoreNanoSeconds: cur.cpuUsageNs };
}

/** Upstream's memory numbers; `availableBytes` needs a limit (the container's, or node capacity). */
export function memoryStats(cur: CgroupSample, limitBytes?: number): MemoryStats | undefined {
  if (cur.memoryUsageBytes === undefined) return undefined;
  const workingSet = Math.max(0, cur.memoryUsageBytes - (cur.memoryInactiveFileBytes ?? 0));
  return {
    time: iso(cur.time),
    ...(limitBytes !== undefined ? { availableBytes: Math.max(0, limitBytes - workingSet) } : {}),
    usageBytes: cur.memoryUsageBytes, workingSetBytes: workingSet,
    ...(cur.memoryRssBytes !== undefined ? { rssBytes: cur.memoryRssBytes } : {}),
    ...(cur.pageFaults !== undefined ? { pageFaults: cur.pageFaults } : {}),
    ...(cur.majorPageFaults !== undefined ? { majorPageFaults: cur.majorPageFaults } : {}),
  };
}

function sumField<T extends object>(list: (T | undefined)[], keys: (keyof T)[], time: string): T | undefined {
  if (list.length === 0 || list.some(x => x === undefined)) return undefined;
  const out: Record<string, unknown> = { time };
  for (const k of keys) {
    const vals = list.map(x => (x as Record<string, unknown>)[k as string]);
    if (vals.every(v => typeof v === 'number')) out[k as string] = (vals as number[]).reduce((a, b) => a + b, 0);
  }
  return out as T;
}

/** The pod's CPU and memory: the sums over its containers (absent when any container lacks them). */
export function podTotals(containers: readonly ContainerStats[], now: number): { cpu?: CPUStats; memory?: MemoryStats } {
  const t = iso(now);
  const cpu = sumField<CPUStats>(containers.map(c => c.cpu), ['usageNanoCores', 'usageCoreNanoSeconds'], t);
  const memory = sumField<MemoryStats>(containers.map(c => c.memory), ['usageBytes', 'workingSetBytes', 'rssBytes', 'pageFaults', 'majorPageFaults'], t);
  return { ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) };
}

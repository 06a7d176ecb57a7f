// The pure half of the kubelet's Summary API (`GET /stats/summary`, k8s.io/kubelet stats/v1alpha1):
// parsing cgroup files, upstream's derived numbers (working set = usage − inactive file pages;
// usageNanoCores = Δ cumulative CPU time / Δ wall time between two samples), and the Summary
// document with node, pod and container CPU and memory. A metrics.k8s.io implementation reads
// `usageNanoCores` and `workingSetBytes` from it, as metrics-server does. Network counters (per pod,
// from its namespace's /proc/net/dev) and filesystem usage (container rootfs and logs, node fs and
// image fs) follow upstream's field names.
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

/** Upstream's FsStats: a filesystem's size (statfs) and what the object uses of it. */
export interface FsStats {
  time: string;
  availableBytes?: number;
  capacityBytes?: number;
  usedBytes?: number;
  inodesFree?: number;
  inodes?: number;
  inodesUsed?: number;
}

/** Upstream's InterfaceStats (counters of one network interface). */
export interface InterfaceStats {
  name: string;
  rxBytes?: number;
  rxErrors?: number;
  txBytes?: number;
  txErrors?: number;
}

/** Upstream's NetworkStats: the default interface's counters inline, and every interface. */
export interface NetworkStats extends InterfaceStats {
  time: string;
  interfaces?: InterfaceStats[];
}

export interface ContainerStats {
  name: string;
  startTime: string;
  cpu?: CPUStats;
  memory?: MemoryStats;
  rootfs?: FsStats;
  logs?: FsStats;
}

export interface PodStats {
  podRef: { name: string; namespace: string; uid: string };
  startTime: string;
  containers: ContainerStats[];
  cpu?: CPUStats;
  memory?: MemoryStats;
  network?: NetworkStats;
  'ephemeral-storage'?: FsStats;
}

export interface NodeStats {
  nodeName: string;
  startTime: string;
  cpu?: CPUStats;
  memory?: MemoryStats;
  network?: NetworkStats;
  fs?: FsStats;
  runtime?: { imageFs?: FsStats };
}

export interface Summary {
  node: NodeStats;
  pods: PodStats[];
}

/**
 * `/proc/net/dev` into interface counters (loopback left out, as cAdvisor does). The columns after
 * `name:` are rx bytes, packets, errs, … (8 in all), then tx bytes, packets, errs, ….
 */
export function parseNetDev(text: string): InterfaceStats[] {
  const out: InterfaceStats[] = [];
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    if (f.length < 16 || f.some(n => !Number.isFinite(n))) continue;
    out.push({ name: m[1]!, rxBytes: f[0]!, rxErrors: f[2]!, txBytes: f[8]!, txErrors: f[10]! });
  }
  return out;
}

/** NetworkStats with `eth0` (the pod's interface, upstream's default) inline when it is there. */
export function networkStats(time: number, ifaces: InterfaceStats[], defaultName = 'eth0'): NetworkStats | undefined {
  if (ifaces.length === 0) return undefined;
  const def = ifaces.find(i => i.name === defaultName);
  return { time: iso(time), ...(def ?? {}), interfaces: ifaces } as NetworkStats;
}

/** Node's statfs result into FsStats; `used` (bytes, inodes) of the object when it is not the whole fs. */
export function fsStats(time: number, st: { bsize: number; blocks: number; bavail: number; bfree: number; files: number; ffree: number }, used?: { bytes: number; inodes: number }): FsStats {
  return {
    time: iso(time),
    availableBytes: st.bavail * st.bsize, capacityBytes: st.blocks * st.bsize,
    usedBytes: used ? used.bytes : (st.blocks - st.bfree) * st.bsize,
    inodesFree: st.ffree, inodes: st.files, inodesUsed: used ? used.inodes : st.files - st.ffree,
  };
}

/**
 * The overlay upper directory of a container's rootfs, from /proc/self/mountinfo: containerd's shim
 * mounts it at `…/io.containerd.runtime.v2.task/<namespace>/<id>/rootfs`. What the container wrote
 * is its upper directory, which is what upstream reports as rootfs usedBytes.
 */
export function overlayUpperDirs(mountinfo: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const mountPoint = pre.split(' ')[4] ?? '';
    const m = /\/io\.containerd\.runtime\.v2\.task\/[^/]+\/([^/]+)\/rootfs$/.exec(mountPoint);
    const [fstype, , opts] = post.split(' ');
    if (!m || fstype !== 'overlay' || !opts) continue;
    const upper = opts.split(',').find(o => o.startsWith('upperdir='));
    if (upper) out.set(m[1]!, upper.slice('upperdir='.length));
  }
  return out;
}

/** The pod's ephemeral storage, as upstream sums it: its containers' rootfs and logs (emptyDirs aside). */
export function podEphemeral(containers: readonly ContainerStats[], now: number): FsStats | undefined {
  const parts = containers.flatMap(c => [c.rootfs, c.logs]).filter((x): x is FsStats => x !== undefined);
  if (parts.length === 0) return undefined;
  const first = parts[0]!;
  return {
    time: iso(now),
    ...(first.availableBytes !== undefined ? { availableBytes: first.availableBytes } : {}),
    ...(first.capacityBytes !== undefined ? { capacityBytes: first.capacityBytes } : {}),
    usedBytes: parts.reduce((a, p) => a + (p.usedBytes ?? 0), 0),
    ...(first.inodesFree !== undefined ? { inodesFree: first.inodesFree } : {}),
    ...(first.inodes !== undefined ? { inodes: first.inodes } : {}),
    inodesUsed: parts.reduce((a, p) => a + (p.inodesUsed ?? 0), 0),
  };
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

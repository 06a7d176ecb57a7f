// Reads the cgroups behind `/stats/summary` and keeps the previous sample of each one, so CPU use
// can be given as a rate (usageNanoCores) as upstream's cAdvisor does. A timer samples every
// `intervalMs` (default 10 s, cAdvisor's housekeeping interval) so a request has a recent
// baseline; a request also samples, and a sample newer than 1 s replaces nothing.
//
// Where the cgroups are: `ctr run` puts a container at `/<containerd namespace>/<id>`. On a
// cgroup v1 (or hybrid: v1 controllers plus an unused v2 mount at /sys/fs/cgroup/unified) host
// that is `cpuacct/<path>` and `memory/<path>` under /sys/fs/cgroup; on a unified v2 host
// (cgroup.controllers at the root) it is `/sys/fs/cgroup/<path>`. The node's numbers are those
// of the root cgroup.
//
// Network: a pod's counters are its namespace's /proc/net/dev, read with the thread switched into
// that namespace (/proc/self/net follows the reading thread's namespace); the node's are the
// agent's own. Filesystems: statfs for sizes, and a walk of the directory for what an object uses
// (container rootfs = its overlay upper directory, logs = its log directory), as cAdvisor does with
// du; walks are cached for `duTtlMs` (10 s, the sampling interval; cAdvisor also refreshes disk usage
// only periodically).
import { existsSync, lstatSync, readdirSync, readFileSync, statfsSync, type StatsFs } from 'node:fs';
import { join } from 'node:path';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { ContainerRecord } from './pod-plan.js';
import { withNetnsSync } from '../kernel/netns.js';
import {
  cpuStats, fsStats, memoryStats, networkStats, overlayUpperDirs, parseFlatKeyed, parseNetDev, podEphemeral, podTotals, sampleFromV1, sampleFromV2, usageNanoCores,
  type CgroupSample, type ContainerStats, type FsStats, type NetworkStats, type PodStats, type Summary,
} from './stats.js';

export class CgroupFs {
  readonly version: 1 | 2;

  constructor(private readonly root = '/sys/fs/cgroup') {
    this.version = existsSync(join(root, 'cgroup.controllers')) ? 2 : 1;
  }

  private read(...parts: string[]): string | undefined {
    try { return readFileSync(join(this.root, ...parts), 'utf8'); } catch { return undefined; }
  }

  /** The counters of the cgroup at `path` ('' for the root); undefined when it does not exist. */
  sample(path: string, now: number): CgroupSample | undefined {
    const p = path.replace(/^\/+/, '');
    if (this.version === 2) {
      const s = sampleFromV2(now, this.read(p, 'cpu.stat'), p ? this.read(p, 'memory.current') : undefined, this.read(p, 'memory.stat'));
      if (!p && s.cpuUsageNs === undefined) return undefined;
      // The v2 root has no memory.current: usage is what /proc/meminfo says is not available.
      if (!p) return { ...s, ...rootMemoryFromMeminfo() };
      return s.cpuUsageNs === undefined && s.memoryUsageBytes === undefined ? undefined : s;
    }
    const s = sampleFromV1(now, this.read('cpuacct', p, 'cpuacct.usage'), this.read('memory', p, 'memory.usage_in_bytes'), this.read('memory', p, 'memory.stat'));
    return s.cpuUsageNs === undefined && s.memoryUsageBytes === undefined ? undefined : s;
  }

  /**
   * How many processes the kernel OOM-killed in the cgroup at `path` (v2 memory.events, v1
   * memory.oom_control: `oom_kill N`); undefined when the cgroup does not exist.
   */
  oomKills(path: string): number | undefined {
    const p = path.replace(/^\/+/, '');
    const text = this.version === 2 ? this.read(p, 'memory.events') : this.read('memory', p, 'memory.oom_control');
    return text === undefined ? undefined : parseFlatKeyed(text).oom_kill ?? 0;
  }
}

function readFileSafe(path: string): string {
  try { return readFileSync(path, 'utf8'); } catch { return ''; }
}

function rootMemoryFromMeminfo(): Partial<CgroupSample> {
  try {
    const m = Object.fromEntries(readFileSync('/proc/meminfo', 'utf8').split('\n').map(l => /^(\w+):\s+(\d+)/.exec(l)).filter(x => x).map(x => [x![1], Number(x![2]) * 1024]));
    if (m.MemTotal === undefined || m.MemFree === undefined) return {};
    return { memoryUsageBytes: m.MemTotal - m.MemFree, memoryInactiveFileBytes: m['Inactive(file)'] ?? 0 };
  } catch {
    return {};
  }
}

export interface StatsSource {
  nodeName: string;
  nodeStartTime: number;
  memoryCapacityBytes: number;
  /** The pods bound to this node with their container records. */
  pods(): { pod: Pod; records: ContainerRecord[] }[];
  /** The cgroup of a container. */
  cgroupPath(id: string): string;
  /** A container's memory limit in bytes, if it has one. */
  memoryLimit(pod: Pod, container: string): number | undefined;
  /** The named network namespace of a pod; undefined for hostNetwork pods and pods without one. */
  podNetns?(pod: Pod): string | undefined;
  /** The directory of a container's log files. */
  containerLogDir?(pod: Pod, container: string): string;
  /** A directory on the node's filesystem (the data dir: upstream's node fs is the kubelet root's). */
  nodeFsPath?: string;
  /** The image store's directory (containerd's content store: image blobs), when the agent knows it. */
  imageFsPath?: string;
}

/** Bytes (allocated blocks, as du) and inodes under `dir`; hard links counted once. */
export function diskUsage(dir: string): { bytes: number; inodes: number } | undefined {
  const seen = new Set<number>();
  let bytes = 0;
  const walk = (p: string): void => {
    let st;
    try { st = lstatSync(p); } catch { return; }
    if (!seen.has(st.ino)) { seen.add(st.ino); bytes += st.blocks * 512; }
    if (!st.isDirectory()) return;
    let names: string[];
    try { names = readdirSync(p); } catch { return; }
    for (const n of names) walk(join(p, n));
  };
  if (!existsSync(dir)) return undefined;
  walk(dir);
  return { bytes, inodes: seen.size };
}

function statfsOf(path: string): StatsFs | undefined {
  try { return statfsSync(path); } catch { return undefined; }
}

/** The network counters of the namespace `netns` (undefined: the agent's own). */
function readNetDev(netns: string | undefined): NetworkStats | undefined {
  try {
    const text = netns ? withNetnsSync(netns, () => readFileSync('/proc/self/net/dev', 'utf8')) : readFileSync('/proc/self/net/dev', 'utf8');
    return networkStats(Date.now(), parseNetDev(text));
  } catch {
    return undefined;
  }
}

export class StatsProvider {
  private readonly last = new Map<string, { sample: CgroupSample; nanoCores?: number }>();
  private readonly du = new Map<string, { at: number; used: { bytes: number; inodes: number } | undefined }>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly source: StatsSource, private readonly fs = new CgroupFs(), private readonly now: () => number = Date.now, private readonly duTtlMs = 10_000) {}

  /** diskUsage(dir), at most once per `duTtlMs`. */
  private usage(dir: string, now: number): { bytes: number; inodes: number } | undefined {
    const e = this.du.get(dir);
    if (e && now - e.at < this.duTtlMs) return e.used;
    const used = diskUsage(dir);
    this.du.set(dir, { at: now, used });
    return used;
  }

  /** FsStats of `dir`'s filesystem with `dir`'s own usage (or the whole fs's when `whole`). */
  private fsOf(dir: string, now: number, whole = false): FsStats | undefined {
    const st = statfsOf(dir);
    if (!st) return undefined;
    if (whole) return fsStats(now, st);
    const used = this.usage(dir, now);
    return used ? fsStats(now, st, used) : undefined;
  }

  start(intervalMs = 10_000): void {
    this.summary();
    this.timer = setInterval(() => { this.summary(); }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Remembers the sample as the next baseline (if the last one is at least 1 s old) and gives the rate. */
  private observe(key: string, cur: CgroupSample): number | undefined {
    const e = this.last.get(key);
    if (!e) { this.last.set(key, { sample: cur }); return undefined; }
    if (cur.time - e.sample.time < 1000) return e.nanoCores;
    const n = usageNanoCores(e.sample, cur) ?? e.nanoCores;
    this.last.set(key, { sample: cur, ...(n !== undefined ? { nanoCores: n } : {}) });
    return n;
  }

  summary(): Summary {
    const now = this.now();
    const seen = new Set<string>(['node']);
    const nodeSample = this.fs.sample('', now);
    const node: Summary['node'] = { nodeName: this.source.nodeName, startTime: new Date(this.source.nodeStartTime).toISOString().replace(/\.\d{3}Z$/, 'Z') };
    if (nodeSample) {
      const cpu = cpuStats(nodeSample, this.observe('node', nodeSample));
      const memory = memoryStats(nodeSample, this.source.memoryCapacityBytes);
      if (cpu) node.cpu = cpu;
      if (memory) node.memory = memory;
    }
    const nodeNet = readNetDev(undefined);
    if (nodeNet) node.network = nodeNet;
    const nodeFs = this.source.nodeFsPath ? this.fsOf(this.source.nodeFsPath, now, true) : undefined;
    if (nodeFs) node.fs = nodeFs;
    const imageFs = this.source.imageFsPath ? this.fsOf(this.source.imageFsPath, now) : undefined;
    if (imageFs) node.runtime = { imageFs };
    let uppers: Map<string, string> | undefined;
    const upperDirs = () => (uppers ??= overlayUpperDirs(readFileSafe('/proc/self/mountinfo')));
    const pods: PodStats[] = [];
    for (const { pod, records } of this.source.pods()) {
      const containers: ContainerStats[] = [];
      for (const r of records) {
        if (r.init || r.state !== 'running') continue;
        const s = this.fs.sample(this.source.cgroupPath(r.id), now);
        if (!s) continue;
        seen.add(r.id);
        const cpu = cpuStats(s, this.observe(r.id, s));
        const memory = memoryStats(s, this.source.memoryLimit(pod, r.name));
        const upper = upperDirs().get(r.id);
        const rootfs = upper ? this.fsOf(upper, now) : undefined;
        const logs = this.source.containerLogDir ? this.fsOf(this.source.containerLogDir(pod, r.name), now) : undefined;
        containers.push({
          name: r.name, startTime: r.startedAt ?? new Date(now).toISOString(), ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}),
          ...(rootfs ? { rootfs } : {}), ...(logs ? { logs } : {}),
        });
      }
      const m = pod.metadata ?? {};
      const netns = this.source.podNetns?.(pod);
      // hostNetwork pods share the node's interfaces, which upstream reports for them too.
      const network = pod.spec?.hostNetwork ? nodeNet : netns ? readNetDev(netns) : undefined;
      const ephemeral = podEphemeral(containers, now);
      pods.push({
        podRef: { name: m.name ?? '', namespace: m.namespace ?? '', uid: m.uid ?? '' },
        startTime: pod.status?.startTime ?? m.creationTimestamp ?? new Date(now).toISOString(),
        containers, ...podTotals(containers, now),
        ...(network ? { network } : {}), ...(ephemeral ? { 'ephemeral-storage': ephemeral } : {}),
      });
    }
    for (const k of this.last.keys()) if (!seen.has(k)) this.last.delete(k);
    for (const [k, e] of this.du) if (now - e.at > 4 * this.duTtlMs) this.du.delete(k);
    return { node, pods };
  }
}

// The readings behind the eviction signals (agent/eviction.ts), taken as upstream's summary
// provider takes them for its eviction manager:
// - memory.available = node memory capacity − working set of the root cgroup (usage − inactive
//   file pages; on cgroup v2 the root's usage comes from /proc/meminfo), through CgroupFs and
//   memoryStats, the readers behind /stats/summary;
// - nodefs.* = statfs of the kubelet's root (the data dir), imagefs.* = statfs of containerd's
//   root (the same filesystem as nodefs when the runtime is external and its root unknown);
// - pid.available = min(kernel.pid_max, kernel.threads-max) − the tasks on the node (the total
//   of /proc/loadavg's fourth field), as upstream's pidlimit package.
// `PressureMonitor` keeps the transition-period state between readings.
import { readFileSync, statfsSync } from 'node:fs';
import { CgroupFs } from './stats-reader.js';
import { memoryStats } from './stats.js';
import { defaultPressureTransitionMs, thresholdsMet, trackPressure, type Observations, type PressureCondition, type PressureState, type Threshold } from './eviction.js';

export interface SignalSources {
  memoryCapacityBytes: number;
  /** The kubelet's root directory (nodefs). */
  nodeFsPath: string;
  /** containerd's root (imagefs); default: nodeFsPath. */
  imageFsPath?: string;
  /** The /proc to read (tests); default /proc. */
  proc?: string;
}

function readNumber(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch { return undefined; }
}

/** `/proc/loadavg`'s `running/total` field: the total is every task (thread) on the node. */
export function parseLoadavgTasks(text: string): number | undefined {
  const m = /^\S+ \S+ \S+ \d+\/(\d+) /.exec(text);
  return m ? Number(m[1]) : undefined;
}

function fsObservations(path: string, prefix: 'nodefs' | 'imagefs', out: Observations): void {
  let st;
  try { st = statfsSync(path); } catch { return; }
  out[`${prefix}.available`] = { available: st.bavail * st.bsize, capacity: st.blocks * st.bsize };
  if (st.files > 0) out[`${prefix}.inodesFree`] = { available: st.ffree, capacity: st.files };
}

/** One reading of every signal the node can observe; a signal that cannot be read is left out. */
export function readSignals(src: SignalSources, cgroups: CgroupFs, now: number): Observations {
  const out: Observations = {};
  const sample = cgroups.sample('', now);
  const mem = sample ? memoryStats(sample, src.memoryCapacityBytes) : undefined;
  if (mem?.availableBytes !== undefined) out['memory.available'] = { available: mem.availableBytes, capacity: src.memoryCapacityBytes };
  fsObservations(src.nodeFsPath, 'nodefs', out);
  fsObservations(src.imageFsPath ?? src.nodeFsPath, 'imagefs', out);
  const proc = src.proc ?? '/proc';
  const pidMax = readNumber(`${proc}/sys/kernel/pid_max`);
  const threadsMax = readNumber(`${proc}/sys/kernel/threads-max`);
  let tasks: number | undefined;
  try { tasks = parseLoadavgTasks(readFileSync(`${proc}/loadavg`, 'utf8')); } catch { /* left out */ }
  // Both sysctls cap the tasks on the node: the smaller one that can be read counts.
  const limits = [pidMax, threadsMax].filter((x): x is number => x !== undefined);
  const maxPID = limits.length ? Math.min(...limits) : undefined;
  if (maxPID !== undefined && tasks !== undefined) out['pid.available'] = { available: Math.max(0, maxPID - tasks), capacity: maxPID };
  return out;
}

/** The conditions under pressure now, from fresh readings and the transition period. */
export class PressureMonitor {
  private state: PressureState = {};
  private readonly cgroups: CgroupFs;

  constructor(
    private readonly src: SignalSources,
    private readonly thresholds: readonly Threshold[],
    private readonly transitionMs = defaultPressureTransitionMs,
    private readonly now: () => number = Date.now,
    private readonly read: (src: SignalSources, now: number) => Observations = (s, t) => readSignals(s, this.cgroups, t),
  ) {
    this.cgroups = new CgroupFs();
  }

  /** Reads the signals and gives the conditions under pressure. */
  observe(): ReadonlySet<PressureCondition> {
    const now = this.now();
    const met = this.thresholds.length ? thresholdsMet(this.thresholds, this.read(this.src, now)) : [];
    const { state, active } = trackPressure(this.state, met, now, this.transitionMs);
    this.state = state;
    return active;
  }
}

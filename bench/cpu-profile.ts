// Reads a V8 `.cpuprofile` (as written by `node --cpu-prof`) and ranks functions by self time, so a
// benchmark can print where a server spent its CPU without opening DevTools. Pure: the caller reads
// the file. Self time per sample is attributed to the node the sample landed in; functions are
// merged by name and location, since the same function appears once per distinct call path.

export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface HotSpot {
  /** `functionName (file:line)`, the file relative to the repository when it is inside it. */
  name: string;
  selfMs: number;
  /** Share of all sampled time, idle included. (For `topTotal`, selfMs holds the total time.) */
  selfPercent: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  gcMs: number;
  top: HotSpot[];
  /** By total time: the function or anything it called was on the stack (each sample counted once). */
  topTotal: HotSpot[];
}

export function summarizeCpuProfile(profile: CpuProfile, repoRoot: string, topN = 15): ProfileSummary {
  const byId = new Map<number, CpuProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; the sample's own duration is the next delta.
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i]!;
    const dur = deltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dur));
  }
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = (f: CpuProfileNode['callFrame']) => {
    const file = f.url.replace(/^file:\/\//, '').replace(`${repoRoot}/`, '');
    return f.url ? `${f.functionName || '(anonymous)'} (${file}:${f.lineNumber + 1})` : f.functionName || '(anonymous)';
  };
  const totals = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)?.callFrame;
      if (!f || f.functionName === '(root)' || f.functionName === '(idle)') continue;
      seen.add(keyOf(f));
    }
    for (const k of seen) totals.set(k, (totals.get(k) ?? 0) + us);
  }
  const merged = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  let gcUs = 0;
  for (const [id, us] of selfUs) {
    totalUs += us;
    const f = byId.get(id)?.callFrame;
    if (!f) continue;
    if (f.functionName === '(idle)') { idleUs += us; continue; }
    if (f.functionName === '(garbage collector)') gcUs += us;
    const key = keyOf(f);
    merged.set(key, (merged.get(key) ?? 0) + us);
  }
  const rank = (m: Map<string, number>) => [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, topN)
    .map(([name, us]) => ({ name, selfMs: Math.round(us / 1000), selfPercent: totalUs ? Math.round((us / totalUs) * 1000) / 10 : 0 }));
  return { totalMs: Math.round(totalUs / 1000), idleMs: Math.round(idleUs / 1000), gcMs: Math.round(gcUs / 1000), top: rank(merged), topTotal: rank(totals) };
}

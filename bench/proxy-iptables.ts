// Service rule programming, iptables mode: our compiler + planner + applier (iptables-restore
// through kernel/iptables) against the upstream kube-proxy iptables layout loaded with
// iptables-restore, in the same run, each into a fresh network namespace, for both backends
// (iptables-nft-restore, iptables-legacy-restore) (../shared/ANCHORS.md section 1).
//
// Design notes:
// - Workload S×E: S ClusterIP services (TCP/80, ClusterIPs from 10.96.0.0/12), each with E
//   endpoints (TCP/8080, addresses from 10.128.0.0/9): ./workload.ts, shared with proxy-nftables.ts.
// - Every measurement runs in its own child process (this file with `--case …`), so memory
//   figures are those of one case alone. Peak RSS is reported for our node process and for the
//   iptables-restore of the full load (GNU time's maxrss, through the Exec seam).
// - Ours: "full" = compile the model into a ruleset + plan (iptables-save of the fresh namespace,
//   restore input) + iptables-restore, waited for. The rule text is built while iptables-restore
//   reads it (proxy/iptables/plan.ts), so that work is inside the restore's time. Building the model from Service and
//   EndpointSlice objects is reported apart ("model"). "+1 svc" = one more service on top of the
//   loaded table, through the incremental compiler and a partial restore (median of 5);
//   "−1 endpoint" = one endpoint of one service goes away (median of 3).
// - Anchor: the upstream layout exactly as ANCHORS.md describes it (KUBE-SERVICES one rule per
//   service, KUBE-SVC-X with statistic rules, KUBE-SEP-Y with a masquerade mark and DNAT),
//   generated here and fed to iptables-restore; "+1 svc" as ANCHORS.md measures it (the new
//   chains and one `-A KUBE-SERVICES` rule, `--noflush`), and also as upstream's partial sync does
//   it (MinimizeIPTablesRestore: the new chains plus every rule of KUBE-SERVICES rewritten).
// - Medians of `--runs` fresh runs (default 3), ours and anchor interleaved.
// - This is the `iptables` part of `npm run bench:proxy` (./proxy.ts); the run/report loop is
//   ./workload.ts's.
//
// Usage: npm run bench:proxy-iptables [-- --sizes 1000,10000 --backends nft,legacy --runs 3 | --quick]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemExec, type Exec } from '../kernel/exec.js';
import { Iptables, type IptablesBackend } from '../kernel/iptables/restore.js';
import { execInNetns, run } from '../kernel/netns.js';
import { EndpointSliceChangeTracker, ServiceChangeTracker } from '../proxy/changes.js';
import { IptablesApplier } from '../proxy/iptables/apply.js';
import { IptablesCompiler } from '../proxy/iptables/compile.js';
import { ServicePortMap } from '../proxy/servicemap.js';
import { arg, benchEntry, timeChanges, withTempDir, E, fmt, hasFlag, median, medianOf, numbers, objects, runCase, runParts, runTimed, upstreamIptablesChains, upstreamIptablesRestore, withNetns, type Figure, type PartOutcome } from './workload.js';

/** The Exec seam with GNU time around each program: its peak RSS and CPU times are recorded. */
class TimedExec implements Exec {
  last = { rssMB: 0, userS: 0, sysS: 0 };
  async run(file: string, args: readonly string[], opts: Parameters<Exec['run']>[2] = {}): ReturnType<Exec['run']> {
    const r = await systemExec.run('/usr/bin/time', ['-f', 'BENCHTIME %M %U %S', file, ...args], opts);
    const m = /BENCHTIME (\d+) ([\d.]+) ([\d.]+)\n?$/.exec(r.stderr);
    if (m) this.last = { rssMB: Number(m[1]) / 1024, userS: Number(m[2]), sysS: Number(m[3]) };
    return { ...r, stderr: m ? r.stderr.slice(0, m.index) : r.stderr };
  }
}

interface OursResult {
  modelMs: number; fullMs: number; compileMs: number; planMs: number; restoreMs: number; fullLines: number; fullMB: number;
  restoreRssMB: number; restoreUserS: number; restoreSysS: number;
  addMs: number; addMaxMs: number; addRestoreMs: number; addLines: number; delEndpointMs: number; delEndpointLines: number;
  nodeRssMB: number; check: string;
}
interface AnchorResult { fullMs: number; rssMB: number; userS: number; sysS: number; addMs: number; addUpstreamMs: number; check: string }

/** The sync loop's own path: trackers → model → incremental compiler → applier. */
const caseOurs = (s: number, backend: IptablesBackend): Promise<OursResult> => withNetns(async (ns) => {
  const exec = new TimedExec();
  const applier = new IptablesApplier(new Iptables({ backend, netns: ns, exec }));
  const st = new ServiceChangeTracker();
  const et = new EndpointSliceChangeTracker();
  const map = new ServicePortMap();
  const compiler = new IptablesCompiler();
  const ctx = { nodeName: 'bench', nodeIPs: [] };
  const { services, slices } = objects(s);
  for (const x of services) st.update(undefined, x);
  for (const x of slices) et.update(x, false);
  let t = performance.now();
  const changes = map.apply(st.checkout(), et.checkout(), (k) => et.slicesOf(k));
  const modelMs = performance.now() - t;
  t = performance.now();
  const rs = compiler.update(ctx, changes);
  const compileMs = performance.now() - t;
  const full = await applier.sync(rs);
  const fullMs = performance.now() - t;
  const fullRestore = exec.last;
  const sync = async (): Promise<{ ms: number; restoreMs: number; lines: number; full: boolean }> => {
    const t0 = performance.now();
    const r = await applier.sync(compiler.update(ctx, map.apply(st.checkout(), et.checkout(), (k) => et.slicesOf(k))));
    return { ms: performance.now() - t0, restoreMs: r.kernelMs, lines: r.lines, full: r.full };
  };
  const ch = await timeChanges(s, st, et, sync, 5, 3);
  if (ch.adds.some((c) => c.r.full)) throw new Error('a one-service add took a full sync');
  const adds = ch.adds.map((c) => c.ms);
  const addRestore = ch.adds.map((c) => c.r.restoreMs);
  const addLines = ch.adds[ch.adds.length - 1]!.r.lines;
  const dels = ch.dels.map((c) => c.ms);
  const delLines = ch.dels[ch.dels.length - 1]!.r.lines;
  const save = await execInNetns(ns, `iptables-${backend}-save`, ['-t', 'nat']);
  const check = `nat KUBE-SERVICES has ${(save.match(/^-A KUBE-SERVICES .*-j KUBE-SVC-/gm) ?? []).length} service rules, ${(save.match(/^:KUBE-SEP-/gm) ?? []).length} endpoint chains`;
  return {
    modelMs, fullMs, compileMs, planMs: full.planMs, restoreMs: full.kernelMs, fullLines: full.lines, fullMB: full.bytes / 1e6,
    restoreRssMB: fullRestore.rssMB, restoreUserS: fullRestore.userS, restoreSysS: fullRestore.sysS,
    addMs: median(adds), addMaxMs: Math.max(...adds), addRestoreMs: median(addRestore), addLines,
    delEndpointMs: median(dels), delEndpointLines: delLines, nodeRssMB: process.resourceUsage().maxRSS / 1024, check,
  };
});

const restoreTimed = (ns: string, backend: IptablesBackend, file: string, noflush: boolean): ReturnType<typeof runTimed> =>
  runTimed(ns, `iptables-${backend}-restore`, `${noflush ? '--noflush ' : ''}--wait=5 < ${file}`);

const caseAnchor = (s: number, backend: IptablesBackend, dir: string): Promise<AnchorResult> => withNetns(async (ns) => {
  const fullFile = join(dir, `anchor-${backend}-${s}.rules`);
  writeFileSync(fullFile, upstreamIptablesRestore(s));
  const f = await restoreTimed(ns, backend, fullFile, false);
  // +1 service as ANCHORS.md measures it: new chains and one appended KUBE-SERVICES rule.
  const one = upstreamIptablesChains(1, s);
  const addFile = join(dir, `anchor-${backend}-${s}-add.rules`);
  writeFileSync(addFile, ['*nat', ...one.decl, ...one.services, ...one.rules, 'COMMIT', ''].join('\n'));
  const add = await restoreTimed(ns, backend, addFile, true);
  // +1 service as upstream's partial sync does it: KUBE-SERVICES declared (flushed) and every rule
  // of it written again, plus the new service's chains.
  const two = upstreamIptablesChains(1, s + 1);
  const all = upstreamIptablesChains(s + 2, 0).services;
  const upFile = join(dir, `anchor-${backend}-${s}-upstream.rules`);
  writeFileSync(upFile, ['*nat', ':KUBE-SERVICES - [0:0]', ...two.decl, ...all, ...two.rules, 'COMMIT', ''].join('\n'));
  const up = await restoreTimed(ns, backend, upFile, true);
  const save = await execInNetns(ns, `iptables-${backend}-save`, ['-t', 'nat']);
  const check = `nat KUBE-SERVICES has ${(save.match(/^-A KUBE-SERVICES /gm) ?? []).length} rules`;
  return { fullMs: f.ms, rssMB: f.rssMB, userS: f.userS, sysS: f.sysS, addMs: add.ms, addUpstreamMs: up.ms, check };
});

// ---------------------------------------------------------------------------------------------

export interface IptablesOptions { sizes: number[]; backends: IptablesBackend[]; runs: number }
export const iptablesOptions = (quick: boolean): IptablesOptions => ({
  sizes: numbers(arg('sizes', quick ? '300,1000' : '1000,10000')),
  backends: arg('backends', 'nft,legacy').split(',') as IptablesBackend[],
  runs: Number(arg('runs', quick ? '1' : '3')),
});

const self = import.meta.url;

export const iptablesPart = (o: IptablesOptions): Promise<PartOutcome> => withTempDir('k8ts-bench-proxy-ipt', async (dir) => {
  console.log((await run('iptables-nft', ['--version'])).trim());
  const rows: Record<string, unknown>[] = [];
  const figures: Figure[] = [];
  for (const s of o.sizes) {
    for (const backend of o.backends) {
      const oursRuns: OursResult[] = [];
      const anRuns: AnchorResult[] = [];
      // Interleaved, so drift in the machine's load hits both alike.
      for (let i = 0; i < o.runs; i++) {
        oursRuns.push(await runCase<OursResult>(self, 'ours', { s, backend, dir }));
        anRuns.push(await runCase<AnchorResult>(self, 'anchor', { s, backend, dir }));
      }
      const ours = medianOf(oursRuns);
      const an = medianOf(anRuns);
      const ratio = { full: an.fullMs / ours.fullMs, addVsAppend: an.addMs / ours.addMs, addVsUpstreamPartial: an.addUpstreamMs / ours.addMs };
      rows.push({ services: s, endpoints: s * E, backend, ours, anchor: an, ratio });
      console.log(`S=${s} iptables-${backend}-restore:
      ours   full ${fmt(ours.fullMs)} ms (compile ${fmt(ours.compileMs)} + plan ${fmt(ours.planMs)} + save/restore ${fmt(ours.restoreMs)} (rule text built as it streams); ${ours.fullLines} lines, ${ours.fullMB.toFixed(1)} MB; restore user ${ours.restoreUserS} s sys ${ours.restoreSysS} s, peak RSS ${fmt(ours.restoreRssMB)} MB; model ${fmt(ours.modelMs)} ms), +1 svc ${fmt(ours.addMs)} ms (restore ${fmt(ours.addRestoreMs)}, ${ours.addLines} lines; worst of 5 ${fmt(ours.addMaxMs)}), −1 endpoint ${fmt(ours.delEndpointMs)} ms (${ours.delEndpointLines} lines), node RSS ${fmt(ours.nodeRssMB)} MB [${ours.check}]
      anchor full ${fmt(an.fullMs)} ms (user ${an.userS} s, sys ${an.sysS} s, peak RSS ${fmt(an.rssMB)} MB), +1 svc appended ${fmt(an.addMs)} ms, +1 svc as upstream's partial sync ${fmt(an.addUpstreamMs)} ms [${an.check}]
      ratio anchor/ours: full ×${fmt(ratio.full)}, +1 svc ×${fmt(ratio.addVsAppend)} (appended) / ×${fmt(ratio.addVsUpstreamPartial)} (upstream partial)`);
      const part = `iptables (iptables-${backend}-restore)`;
      const w = `${s} × ${E}`;
      const anchorName = `upstream layout via iptables-${backend}-restore`;
      figures.push(
        { part, workload: w, figure: 'full sync', runs: o.runs, ours: `${fmt(ours.fullMs)} ms`, anchor: `${anchorName} ${fmt(an.fullMs)} ms`, ratio: ratio.full, goal: '≤ 1000 ms', met: ours.fullMs <= 1000 },
        { part, workload: w, figure: 'one-service change (+1 Service, partial sync)', runs: o.runs, ours: `${fmt(ours.addMs)} ms`, anchor: `upstream partial sync ${fmt(an.addUpstreamMs)} ms (appended only: ${fmt(an.addMs)} ms)`, ratio: ratio.addVsUpstreamPartial, goal: '≤ 10 ms', met: ours.addMs <= 10 },
        { part, workload: w, figure: 'peak RSS, full sync (iptables-restore; our node process)', runs: o.runs, ours: `${fmt(ours.restoreRssMB)} MB (node ${fmt(ours.nodeRssMB)} MB)`, anchor: `${fmt(an.rssMB)} MB`, ratio: an.rssMB / ours.restoreRssMB },
      );
    }
  }
  return { figures, details: rows };
});

const s0 = (): number => Number(arg('s', '1000'));
const backend0 = (): IptablesBackend => arg('backend', 'nft') as IptablesBackend;
await benchEntry(self, {
  ours: () => caseOurs(s0(), backend0()),
  anchor: () => caseAnchor(s0(), backend0(), arg('dir', '/tmp')),
}, async () => {
  const o = iptablesOptions(hasFlag('quick'));
  await runParts('proxy-iptables', [{ name: 'iptables', run: () => iptablesPart(o) }], { ...o });
});

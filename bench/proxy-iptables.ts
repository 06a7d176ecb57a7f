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
//   restore input) + iptables-restore, waited for. Building the model from Service and
//   EndpointSlice objects is reported apart ("model"). "+1 svc" = one more service on top of the
//   loaded table, through the incremental compiler and a partial restore (median of 5);
//   "−1 endpoint" = one endpoint of one service goes away (median of 3).
// - Anchor: the upstream layout exactly as ANCHORS.md describes it (KUBE-SERVICES one rule per
//   service, KUBE-SVC-X with statistic rules, KUBE-SEP-Y with a masquerade mark and DNAT),
//   generated here and fed to iptables-restore; "+1 svc" as ANCHORS.md measures it (the new
//   chains and one `-A KUBE-SERVICES` rule, `--noflush`), and also as upstream's partial sync does
//   it (MinimizeIPTablesRestore: the new chains plus every rule of KUBE-SERVICES rewritten).
// - Medians of 3 fresh runs.
//
// Usage: npm run bench:proxy-iptables [-- --sizes 1000,3000,10000 --backends nft,legacy --runs 3]
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemExec, type Exec } from '../kernel/exec.js';
import { Iptables, type IptablesBackend } from '../kernel/iptables/restore.js';
import { createNetns, deleteNetns, execInNetns } from '../kernel/netns.js';
import { EndpointSliceChangeTracker, ServiceChangeTracker } from '../proxy/changes.js';
import { IptablesApplier } from '../proxy/iptables/apply.js';
import { IptablesCompiler } from '../proxy/iptables/compile.js';
import { ServicePortMap } from '../proxy/servicemap.js';
import { E, median, objects, upstreamIptablesChains, upstreamIptablesRestore } from './workload.js';

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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The sync loop's own path: trackers → model → incremental compiler → applier. */
async function caseOurs(s: number, backend: IptablesBackend): Promise<OursResult> {
  const ns = `k8ts-t-bench-${randomBytes(3).toString('hex')}`;
  await createNetns(ns);
  try {
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
    const adds: number[] = [];
    const addRestore: number[] = [];
    let addLines = 0;
    for (let k = 0; k < 5; k++) {
      await sleep(250);
      const extra = objects(1, s + k);
      t = performance.now();
      st.update(undefined, extra.services[0]);
      et.update(extra.slices[0]!, false);
      const r = await sync();
      if (r.full) throw new Error('a one-service add took a full sync');
      adds.push(performance.now() - t);
      addRestore.push(r.restoreMs);
      addLines = r.lines;
    }
    const dels: number[] = [];
    let delLines = 0;
    for (let k = 0; k < 3; k++) {
      await sleep(250);
      const one = objects(1, k * 7).slices[0]!;
      t = performance.now();
      et.replace(one, { ...one, endpoints: one.endpoints.slice(1) });
      const r = await sync();
      dels.push(performance.now() - t);
      delLines = r.lines;
    }
    const save = await execInNetns(ns, `iptables-${backend}-save`, ['-t', 'nat']);
    const check = `nat KUBE-SERVICES has ${(save.match(/^-A KUBE-SERVICES .*-j KUBE-SVC-/gm) ?? []).length} service rules, ${(save.match(/^:KUBE-SEP-/gm) ?? []).length} endpoint chains`;
    return {
      modelMs, fullMs, compileMs, planMs: full.planMs, restoreMs: full.kernelMs, fullLines: full.lines, fullMB: full.bytes / 1e6,
      restoreRssMB: fullRestore.rssMB, restoreUserS: fullRestore.userS, restoreSysS: fullRestore.sysS,
      addMs: median(adds), addMaxMs: Math.max(...adds), addRestoreMs: median(addRestore), addLines,
      delEndpointMs: median(dels), delEndpointLines: delLines, nodeRssMB: process.resourceUsage().maxRSS / 1024, check,
    };
  } finally {
    await deleteNetns(ns);
  }
}

function restoreTimed(ns: string, backend: IptablesBackend, file: string, noflush: boolean): { ms: number; rssMB: number; userS: number; sysS: number } {
  const t = performance.now();
  const r = execFileSync('sh', ['-c', `ip netns exec ${ns} /usr/bin/time -f 'BENCHTIME %M %U %S' iptables-${backend}-restore ${noflush ? '--noflush ' : ''}--wait=5 < ${file} 2>&1`], { encoding: 'utf8' });
  const ms = performance.now() - t;
  const m = /BENCHTIME (\d+) ([\d.]+) ([\d.]+)/.exec(r);
  if (!m) throw new Error(`iptables-${backend}-restore ${file} failed: ${r.slice(0, 2000)}`);
  return { ms, rssMB: Number(m[1]) / 1024, userS: Number(m[2]), sysS: Number(m[3]) };
}

async function caseAnchor(s: number, backend: IptablesBackend, dir: string): Promise<AnchorResult> {
  const ns = `k8ts-t-bench-${randomBytes(3).toString('hex')}`;
  await createNetns(ns);
  try {
    const fullFile = join(dir, `anchor-${backend}-${s}.rules`);
    writeFileSync(fullFile, upstreamIptablesRestore(s));
    const f = restoreTimed(ns, backend, fullFile, false);
    // +1 service as ANCHORS.md measures it: new chains and one appended KUBE-SERVICES rule.
    const one = upstreamIptablesChains(1, s);
    const addFile = join(dir, `anchor-${backend}-${s}-add.rules`);
    writeFileSync(addFile, ['*nat', ...one.decl, ...one.services, ...one.rules, 'COMMIT', ''].join('\n'));
    const add = restoreTimed(ns, backend, addFile, true);
    // +1 service as upstream's partial sync does it: KUBE-SERVICES declared (flushed) and every rule
    // of it written again, plus the new service's chains.
    const two = upstreamIptablesChains(1, s + 1);
    const all = upstreamIptablesChains(s + 2, 0).services;
    const upFile = join(dir, `anchor-${backend}-${s}-upstream.rules`);
    writeFileSync(upFile, ['*nat', ':KUBE-SERVICES - [0:0]', ...two.decl, ...all, ...two.rules, 'COMMIT', ''].join('\n'));
    const up = restoreTimed(ns, backend, upFile, true);
    const save = await execInNetns(ns, `iptables-${backend}-save`, ['-t', 'nat']);
    const check = `nat KUBE-SERVICES has ${(save.match(/^-A KUBE-SERVICES /gm) ?? []).length} rules`;
    return { fullMs: f.ms, rssMB: f.rssMB, userS: f.userS, sysS: f.sysS, addMs: add.ms, addUpstreamMs: up.ms, check };
  } finally {
    await deleteNetns(ns);
  }
}

// ---------------------------------------------------------------------------------------------

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
};
const self = fileURLToPath(import.meta.url);

function child<T>(kind: string, s: number, backend: IptablesBackend, dir: string): T {
  const out = execFileSync(process.execPath, ['--max-old-space-size=4096', self, '--case', kind, '--s', String(s), '--backend', backend, '--dir', dir], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop()!) as T;
}

async function main(): Promise<void> {
  const kind = arg('case', '');
  if (kind) {
    const s = Number(arg('s', '1000'));
    const backend = arg('backend', 'nft') as IptablesBackend;
    const r = kind === 'ours' ? await caseOurs(s, backend) : await caseAnchor(s, backend, arg('dir', '/tmp'));
    process.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  const sizes = arg('sizes', '1000,3000,10000').split(',').map(Number);
  const backends = arg('backends', 'nft,legacy').split(',') as IptablesBackend[];
  const runs = Number(arg('runs', '3'));
  const dir = join('/tmp', `k8ts-bench-proxy-ipt-${randomBytes(3).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  const f = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  const version = execFileSync('iptables-nft', ['--version'], { encoding: 'utf8' }).trim();
  console.log(`proxy iptables bench: S services × ${E} endpoints, medians of ${runs}, ${new Date().toISOString()}, kernel ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}, ${version}`);
  const rows: Record<string, unknown>[] = [];
  for (const s of sizes) {
    for (const backend of backends) {
      const ours: OursResult[] = [];
      const an: AnchorResult[] = [];
      // Interleaved, so drift in the machine's load hits both alike.
      for (let i = 0; i < runs; i++) {
        ours.push(child<OursResult>('ours', s, backend, dir));
        an.push(child<AnchorResult>('anchor', s, backend, dir));
      }
      const m = (k: keyof OursResult): number => median(ours.map((o) => o[k] as number));
      const am = (k: keyof AnchorResult): number => median(an.map((o) => o[k] as number));
      const pick = <T>(o: (k: keyof T) => number, keys: (keyof T)[]): Record<string, number> => Object.fromEntries(keys.map((k) => [k, o(k)]));
      const row = {
        services: s, endpoints: s * E, backend,
        ours: { ...pick<OursResult>(m, ['modelMs', 'fullMs', 'compileMs', 'planMs', 'restoreMs', 'fullLines', 'fullMB', 'restoreRssMB', 'restoreUserS', 'restoreSysS', 'addMs', 'addMaxMs', 'addRestoreMs', 'addLines', 'delEndpointMs', 'delEndpointLines', 'nodeRssMB']), check: ours[0]!.check },
        anchor: { ...pick<AnchorResult>(am, ['fullMs', 'rssMB', 'userS', 'sysS', 'addMs', 'addUpstreamMs']), check: an[0]!.check },
        ratio: { full: am('fullMs') / m('fullMs'), addVsAppend: am('addMs') / m('addMs'), addVsUpstreamPartial: am('addUpstreamMs') / m('addMs') },
      };
      rows.push(row);
      console.log(`S=${s} iptables-${backend}-restore:
        ours   full ${f(m('fullMs'))} ms (compile ${f(m('compileMs'))} + plan ${f(m('planMs'))} + save/restore ${f(m('restoreMs'))}; ${m('fullLines')} lines, ${m('fullMB').toFixed(1)} MB; restore user ${m('restoreUserS')} s sys ${m('restoreSysS')} s, peak RSS ${f(m('restoreRssMB'))} MB; model ${f(m('modelMs'))} ms), +1 svc ${f(m('addMs'))} ms (restore ${f(m('addRestoreMs'))}, ${m('addLines')} lines; worst of 5 ${f(m('addMaxMs'))}), −1 endpoint ${f(m('delEndpointMs'))} ms (${m('delEndpointLines')} lines), node RSS ${f(m('nodeRssMB'))} MB [${ours[0]!.check}]
        anchor full ${f(am('fullMs'))} ms (user ${am('userS')} s, sys ${am('sysS')} s, peak RSS ${f(am('rssMB'))} MB), +1 svc appended ${f(am('addMs'))} ms, +1 svc as upstream's partial sync ${f(am('addUpstreamMs'))} ms [${an[0]!.check}]
        ratio anchor/ours: full ×${f(row.ratio.full)}, +1 svc ×${f(row.ratio.addVsAppend)} (appended) / ×${f(row.ratio.addVsUpstreamPartial)} (upstream partial)`);
    }
  }
  rmSync(dir, { recursive: true, force: true }); // the anchors' rule files: tens of MB at 10 000
  const resultsDir = join(dirname(self), '..', '..', 'bench', 'results');
  try {
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(join(resultsDir, `proxy-iptables-${new Date().toISOString().slice(0, 10)}.json`), JSON.stringify(rows, null, 2) + '\n');
  } catch { /* results are a convenience */ }
}

await main();

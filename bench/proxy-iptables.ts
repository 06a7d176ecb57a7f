// Service rule programming, iptables mode: our compiler + planner + applier (iptables-restore
// through kernel/iptables) against the upstream kube-proxy iptables layout loaded with
// iptables-restore, in the same run, each into a fresh network namespace, for both backends
// (iptables-nft-restore, iptables-legacy-restore) (../shared/ANCHORS.md section 1).
//
// Design notes:
// - Workload S×E: S ClusterIP services (TCP/80, ClusterIPs from 10.96.0.0/12), each with E
//   endpoints (TCP/8080, addresses from 10.128.0.0/9) — the same objects as bench/proxy-nftables.ts.
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
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { systemExec, type Exec } from '../kernel/exec.js';
import { Iptables, type IptablesBackend } from '../kernel/iptables/restore.js';
import { createNetns, deleteNetns, execInNetns } from '../kernel/netns.js';
import { EndpointSliceChangeTracker, ServiceChangeTracker } from '../proxy/changes.js';
import { IptablesApplier } from '../proxy/iptables/apply.js';
import { IptablesCompiler } from '../proxy/iptables/compile.js';
import { ServicePortMap } from '../proxy/servicemap.js';

const E = 10;
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
const ipOf = (base: number, i: number): string => {
  const n = (base + i) >>> 0;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
};
const VIP_BASE = (10 << 24) | (96 << 16);
const EP_BASE = ((10 << 24) | (128 << 16)) >>> 0;
const vip = (i: number): string => ipOf(VIP_BASE, i + 1);
const ep = (i: number, j: number): string => ipOf(EP_BASE, i * E + j + 1);

function objects(s: number, from = 0): { services: Service[]; slices: EndpointSlice[] } {
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = from; i < from + s; i++) {
    const name = `svc-${i}`;
    services.push({ metadata: { namespace: 'bench', name }, spec: { clusterIP: vip(i), clusterIPs: [vip(i)], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } });
    slices.push({
      metadata: { namespace: 'bench', name: `${name}-1`, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: Array.from({ length: E }, (_, j) => ({ addresses: [ep(i, j)], conditions: { ready: true } })),
    });
  }
  return { services, slices };
}

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

function hash16(s: string): string {
  // Any stable 16-character name does for the anchor; upstream's own hash is in proxy/iptables.
  let h1 = 2166136261;
  let h2 = 5381;
  for (let i = 0; i < s.length; i++) { h1 = Math.imul(h1 ^ s.charCodeAt(i), 16777619); h2 = Math.imul(h2, 33) ^ s.charCodeAt(i); }
  return ((h1 >>> 0).toString(36) + (h2 >>> 0).toString(36)).toUpperCase().padEnd(16, 'X').slice(0, 16);
}

/** The upstream iptables layout of ANCHORS.md for services [from, from+s). */
function anchorChains(s: number, from: number): { decl: string[]; rules: string[]; services: string[] } {
  const decl: string[] = [];
  const rules: string[] = [];
  const services: string[] = [];
  for (let i = from; i < from + s; i++) {
    const svc = `KUBE-SVC-${hash16(`bench/svc-${i}:httptcp`)}`;
    decl.push(`:${svc} - [0:0]`);
    services.push(`-A KUBE-SERVICES -d ${vip(i)}/32 -p tcp -m tcp --dport 80 -j ${svc}`);
    for (let j = 0; j < E; j++) {
      const e = ep(i, j);
      const sep = `KUBE-SEP-${hash16(`bench/svc-${i}:httptcp${e}:8080`)}`;
      decl.push(`:${sep} - [0:0]`);
      rules.push(j < E - 1 ? `-A ${svc} -m statistic --mode random --probability ${(1 / (E - j)).toFixed(10)} -j ${sep}` : `-A ${svc} -j ${sep}`);
      rules.push(`-A ${sep} -s ${e}/32 -j KUBE-MARK-MASQ`, `-A ${sep} -p tcp -m tcp -j DNAT --to-destination ${e}:8080`);
    }
  }
  return { decl, rules, services };
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
    const a = anchorChains(s, 0);
    const head = [':KUBE-SERVICES - [0:0]', ':KUBE-MARK-MASQ - [0:0]', ':KUBE-POSTROUTING - [0:0]'];
    const base = [
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
      '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
      '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
      '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
      '-A KUBE-POSTROUTING -j MASQUERADE --random-fully',
    ];
    const fullFile = join(dir, `anchor-${backend}-${s}.rules`);
    writeFileSync(fullFile, ['*nat', ...head, ...a.decl, ...base, ...a.services, ...a.rules, 'COMMIT', ''].join('\n'));
    const f = restoreTimed(ns, backend, fullFile, false);
    // +1 service as ANCHORS.md measures it: new chains and one appended KUBE-SERVICES rule.
    const one = anchorChains(1, s);
    const addFile = join(dir, `anchor-${backend}-${s}-add.rules`);
    writeFileSync(addFile, ['*nat', ...one.decl, ...one.services, ...one.rules, 'COMMIT', ''].join('\n'));
    const add = restoreTimed(ns, backend, addFile, true);
    // +1 service as upstream's partial sync does it: KUBE-SERVICES declared (flushed) and every rule
    // of it written again, plus the new service's chains.
    const two = anchorChains(1, s + 1);
    const all = anchorChains(s + 2, 0).services;
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

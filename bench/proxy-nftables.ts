// Service rule programming, nftables mode: our compiler + netlink applier against the upstream
// KEP-3866 nftables layout loaded with `nft -f`, in the same run, each into a fresh network
// namespace (../shared/ANCHORS.md section 1).
//
// Design notes:
// - Workload S×E: S ClusterIP services (TCP/80, ClusterIPs from 10.96.0.0/12), each with E
//   endpoints (TCP/8080, addresses from 10.128.0.0/9): ./workload.ts, shared with the other proxy benches.
// - Every measurement runs in its own child process (this file with `--case …`), so the peak RSS
//   reported is that of one full sync alone (getrusage maxrss of the child; for the anchor, of
//   `nft` via /usr/bin/time).
// - Ours: "full" = compile the model into a Ruleset + plan + encode + one netlink transaction,
//   waited until the kernel acknowledged every message. Building the model from Service and
//   EndpointSlice objects is reported apart ("model"). "+1 svc" = one more service on top of the
//   loaded table: compile (unchanged services are memoized) + plan + commit.
// - Anchor: the upstream layout as `nft -f` text generated here from its description (service
//   chains, endpoint chains, numgen vmaps, masquerade by mark); "+1 svc" is an `nft -f` that adds
//   one service's chains, rules and map element, as upstream's partial sync does.
// - Also our layout loaded as renderNft text through `nft -f`: the gap to "full" is what encoding
//   netlink ourselves buys, separately from what the layout buys.
// - Medians of 3 fresh runs. The anchor stops at 3 000 services (10 000 takes minutes).
//
// Usage: npm run bench:proxy [-- --sizes 1000,3000,10000 --anchor-sizes 1000,3000 --runs 3]
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNetns, deleteNetns, execInNetns } from '../kernel/netns.js';
import { NfTablesSocket } from '../kernel/nftables/socket.js';
import { buildServiceModel } from '../proxy/model.js';
import { renderNft } from '../kernel/nftables/render.js';
import { NftablesApplier } from '../proxy/nftables/apply.js';
import { compileServices, IncrementalCompiler } from '../proxy/nftables/compile.js';
import { EndpointSliceChangeTracker, ServiceChangeTracker } from '../proxy/changes.js';
import { ServicePortMap } from '../proxy/servicemap.js';
import { E, ep, median, objects, vip } from './workload.js';

interface OursResult { modelMs: number; fullMs: number; compileMs: number; planMs: number; encodeMs: number; kernelMs: number; bytes: number; messages: number; addMs: number; addMaxMs: number; delEndpointMs: number; addKernelMs: number; addCompileMs: number; addPlanMs: number; addOps: number; maxRssMB: number; check: string }
interface AnchorResult { fullMs: number; addMs: number; maxRssMB: number; userS: number; sysS: number }

async function caseOurs(s: number): Promise<OursResult> {
  const ns = `k8ts-t-bench-${randomBytes(3).toString('hex')}`;
  await createNetns(ns);
  const sock = NfTablesSocket.open(ns);
  try {
    const { services, slices } = objects(s);
    let t = performance.now();
    const model = buildServiceModel(services, slices);
    const modelMs = performance.now() - t;
    const applier = new NftablesApplier(sock);
    t = performance.now();
    const rs = compileServices({ services: model, nodeName: 'bench', nodeIPs: [] });
    const compileMs = performance.now() - t;
    const r = await applier.sync(rs, { full: true });
    const fullMs = performance.now() - t;
    // One more service on top, five times (median), reusing unchanged model objects as a
    // change tracker does.
    let current = model;
    const adds: number[] = [];
    const addKernel: number[] = [];
    const addCompile: number[] = [];
    const addPlan: number[] = [];
    let addOps = 0;
    for (let k = 0; k < 5; k++) {
      // Changes arrive spaced out (kube-proxy's minSyncPeriod is 1 s); 250 ms lets the collector
      // finish with the full sync's garbage, as it would in a running proxy.
      await new Promise((r) => setTimeout(r, 250));
      const extra = objects(1, s + k);
      current = [...current, ...buildServiceModel(extra.services, extra.slices)];
      t = performance.now();
      const next = compileServices({ services: current, nodeName: 'bench', nodeIPs: [] });
      addCompile.push(performance.now() - t);
      const a = await applier.sync(next);
      adds.push(performance.now() - t);
      addPlan.push(a.planMs);
      addKernel.push(a.kernelMs);
      addOps = a.ops;
    }
    const addMs = median(adds);
    const addMaxMs = Math.max(...adds);
    // One endpoint goes away from one service (three services in turn, median): its service moves
    // to the (E-1)-endpoint chain, its hairpin element is deleted.
    const dels: number[] = [];
    for (let k = 0; k < 3; k++) {
      await new Promise((r) => setTimeout(r, 250));
      const one = objects(1, k * 7);
      const shrunk = buildServiceModel(one.services, [{ ...one.slices[0]!, endpoints: one.slices[0]!.endpoints.slice(1) }])[0]!;
      current = current.map((sp) => (sp.id === shrunk.id ? shrunk : sp));
      t = performance.now();
      await applier.sync(compileServices({ services: current, nodeName: 'bench', nodeIPs: [] }));
      dels.push(performance.now() - t);
    }
    const delEndpointMs = median(dels);
    const list = await execInNetns(ns, 'nft', ['list', 'map', 'ip', 'k8ts-proxy', 'service-ips']);
    const check = `service-ips has ${(list.match(/ : goto /g) ?? []).length} elements after 5 adds`;
    return {
      modelMs, fullMs, compileMs, planMs: r.planMs, encodeMs: r.encodeMs, kernelMs: r.kernelMs, bytes: r.bytes, messages: r.messages,
      addMs, addMaxMs, delEndpointMs, addKernelMs: median(addKernel), addCompileMs: median(addCompile), addPlanMs: median(addPlan), addOps, maxRssMB: process.resourceUsage().maxRSS / 1024, check,
    };
  } finally {
    sock.close();
    await deleteNetns(ns);
  }
}

interface TrackedResult { fullMs: number; addMs: number; addMaxMs: number; addTrackMs: number; addCompileMs: number; addSyncMs: number; delEndpointMs: number; delEndpointMaxMs: number; delServiceMs: number; check: string }

/**
 * The sync loop's own path: watch events into the change trackers, the model updated for the
 * changed services only, the incremental compiler fed those, one netlink batch. "+1 svc" and
 * "−1 endpoint" are timed from the first event to the kernel's acknowledgement.
 */
async function caseTracked(s: number): Promise<TrackedResult> {
  const ns = `k8ts-t-bench-${randomBytes(3).toString('hex')}`;
  await createNetns(ns);
  const sock = NfTablesSocket.open(ns);
  try {
    const st = new ServiceChangeTracker();
    const et = new EndpointSliceChangeTracker();
    const map = new ServicePortMap();
    const compiler = new IncrementalCompiler();
    const applier = new NftablesApplier(sock);
    const ctx = { nodeName: 'bench', nodeIPs: [] };
    const sync = async (full = false): Promise<{ trackMs: number; compileMs: number; syncMs: number }> => {
      const t0 = performance.now();
      const changes = map.apply(st.checkout(), et.checkout(), (k) => et.slicesOf(k));
      const t1 = performance.now();
      const rs = compiler.update(ctx, changes);
      const t2 = performance.now();
      await applier.sync(rs, { full });
      return { trackMs: t1 - t0, compileMs: t2 - t1, syncMs: performance.now() - t2 };
    };
    const { services, slices } = objects(s);
    let t = performance.now();
    for (const x of services) st.update(undefined, x);
    for (const x of slices) et.update(x, false);
    await sync(true);
    const fullMs = performance.now() - t;
    compiler.settle(); // as the daemon does once the first sync is committed
    const adds: number[] = [], track: number[] = [], comp: number[] = [], syn: number[] = [];
    for (let k = 0; k < 5; k++) {
      await new Promise((r) => setTimeout(r, 250));
      const extra = objects(1, s + k);
      t = performance.now();
      st.update(undefined, extra.services[0]);
      et.update(extra.slices[0]!, false);
      const r = await sync();
      adds.push(performance.now() - t); track.push(r.trackMs); comp.push(r.compileMs); syn.push(r.syncMs);
    }
    const dels: number[] = [];
    for (let k = 0; k < 5; k++) {
      await new Promise((r) => setTimeout(r, 250));
      const one = objects(1, k * 7).slices[0]!;
      t = performance.now();
      et.replace(one, { ...one, endpoints: one.endpoints.slice(1) });
      await sync();
      dels.push(performance.now() - t);
    }
    await new Promise((r) => setTimeout(r, 250));
    t = performance.now();
    st.update(services[s >> 1], undefined);
    await sync();
    const delServiceMs = performance.now() - t;
    const list = await execInNetns(ns, 'nft', ['list', 'map', 'ip', 'k8ts-proxy', 'service-ips']);
    const check = `service-ips has ${(list.match(/ : goto /g) ?? []).length} elements after 5 adds and 1 delete`;
    return { fullMs, addMs: median(adds), addMaxMs: Math.max(...adds), addTrackMs: median(track), addCompileMs: median(comp), addSyncMs: median(syn), delEndpointMs: median(dels), delEndpointMaxMs: Math.max(...dels), delServiceMs, check };
  } finally {
    sock.close();
    await deleteNetns(ns);
  }
}

function hash8(s: string): string {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0).toString(36).toUpperCase().padStart(8, 'X').slice(0, 8);
}

/** The upstream nftables layout (KEP-3866) for services [from, from+s), as `nft -f` text. */
function anchorText(s: number, from: number, withBase: boolean): string {
  const L: string[] = [];
  const T = 'ip kube-proxy';
  if (withBase) {
    L.push(`add table ${T}`, `flush table ${T}`);
    L.push(`add map ${T} service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }`);
    L.push(`add chain ${T} mark-for-masquerade`, `add rule ${T} mark-for-masquerade mark set mark or 0x4000`);
    L.push(`add chain ${T} masquerading`, `add rule ${T} masquerading mark and 0x4000 == 0 return`,
      `add rule ${T} masquerading mark set mark xor 0x4000`, `add rule ${T} masquerading masquerade fully-random`);
    L.push(`add chain ${T} services`, `add rule ${T} services ip daddr . meta l4proto . th dport vmap @service-ips`);
    L.push(`add chain ${T} nat-prerouting { type nat hook prerouting priority dstnat ; }`, `add rule ${T} nat-prerouting jump services`);
    L.push(`add chain ${T} nat-output { type nat hook output priority -100 ; }`, `add rule ${T} nat-output jump services`);
    L.push(`add chain ${T} nat-postrouting { type nat hook postrouting priority srcnat ; }`, `add rule ${T} nat-postrouting jump masquerading`);
  }
  const elems: string[] = [];
  for (let i = from; i < from + s; i++) {
    const spn = `bench/svc-${i}/tcp/http`;
    const svcChain = `service-${hash8(spn)}-${spn}`;
    L.push(`add chain ${T} ${svcChain}`);
    const targets: string[] = [];
    for (let j = 0; j < E; j++) {
      const e = ep(i, j);
      const epChain = `endpoint-${hash8(`${spn}${e}`)}-${spn}__${e}/8080`;
      L.push(`add chain ${T} ${epChain}`,
        `add rule ${T} ${epChain} ip saddr ${e} jump mark-for-masquerade`,
        `add rule ${T} ${epChain} meta l4proto tcp dnat to ${e}:8080`);
      targets.push(`${j} : goto ${epChain}`);
    }
    L.push(`add rule ${T} ${svcChain} numgen random mod ${E} vmap { ${targets.join(' , ')} }`);
    elems.push(`${vip(i)} . tcp . 80 : goto ${svcChain}`);
  }
  for (let k = 0; k < elems.length; k += 1000) L.push(`add element ${T} service-ips { ${elems.slice(k, k + 1000).join(' , ')} }`);
  return L.join('\n') + '\n';
}

async function caseAnchor(s: number, dir: string): Promise<AnchorResult> {
  const ns = `k8ts-t-bench-${randomBytes(3).toString('hex')}`;
  await createNetns(ns);
  try {
    const full = join(dir, `anchor-${s}.nft`);
    const add = join(dir, `anchor-${s}-add.nft`);
    writeFileSync(full, anchorText(s, 0, true));
    writeFileSync(add, anchorText(1, s, false));
    const f = runWithTime(ns, full);
    const a = runWithTime(ns, add);
    return { fullMs: f.ms, addMs: a.ms, maxRssMB: f.rssMB, userS: f.user, sysS: f.sys };
  } finally {
    await deleteNetns(ns);
  }
}

function runWithTime(ns: string, file: string): { ms: number; rssMB: number; user: number; sys: number } {
  const t = performance.now();
  const r = execFileSync('sh', ['-c', `ip netns exec ${ns} /usr/bin/time -f 'TIME %M %U %S' nft -f ${file} 2>&1 >/dev/null`], { encoding: 'utf8' });
  const ms = performance.now() - t;
  const m = /TIME (\d+) ([\d.]+) ([\d.]+)/.exec(r);
  if (!m) throw new Error(`nft -f ${file} failed: ${r.slice(0, 2000)}`);
  return { ms, rssMB: Number(m[1]) / 1024, user: Number(m[2]), sys: Number(m[3]) };
}

/** Our layout, but loaded as `renderNft` text through `nft -f`: what the netlink encoder saves. */
async function caseOursViaNft(s: number, dir: string): Promise<AnchorResult> {
  const ns = `k8ts-t-bench-${randomBytes(3).toString('hex')}`;
  await createNetns(ns);
  try {
    const { services, slices } = objects(s);
    const file = join(dir, `ours-${s}.nft`);
    writeFileSync(file, renderNft(compileServices({ services: buildServiceModel(services, slices), nodeName: 'bench', nodeIPs: [] })));
    const f = runWithTime(ns, file);
    return { fullMs: f.ms, addMs: 0, maxRssMB: f.rssMB, userS: f.user, sysS: f.sys };
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

function child<T>(kind: string, s: number, dir: string): T {
  const out = execFileSync(process.execPath, ['--max-old-space-size=4096', self, '--case', kind, '--s', String(s), '--dir', dir], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop()!) as T;
}

async function main(): Promise<void> {
  const kind = arg('case', '');
  if (kind) {
    const s = Number(arg('s', '1000'));
    const dir = arg('dir', '/tmp');
    const r = kind === 'ours' ? await caseOurs(s) : kind === 'tracked' ? await caseTracked(s) : kind === 'ours-nft' ? await caseOursViaNft(s, dir) : await caseAnchor(s, dir);
    process.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  const sizes = arg('sizes', '1000,3000,10000').split(',').map(Number);
  const anchorSizes = new Set(arg('anchor-sizes', '1000,3000').split(',').filter(Boolean).map(Number));
  const runs = Number(arg('runs', '3'));
  const dir = join('/tmp', `k8ts-bench-proxy-${randomBytes(3).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  const rows: Record<string, unknown>[] = [];
  const f = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  console.log(`proxy nftables bench: S services × ${E} endpoints, medians of ${runs}, ${new Date().toISOString()}, kernel ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}`);
  for (const s of sizes) {
    const ours: OursResult[] = [];
    for (let i = 0; i < runs; i++) ours.push(child<OursResult>('ours', s, dir));
    const m = (k: keyof OursResult): number => median(ours.map((o) => o[k] as number));
    const row: Record<string, unknown> = {
      services: s, endpoints: s * E,
      ours: { fullMs: m('fullMs'), compileMs: m('compileMs'), planMs: m('planMs'), encodeMs: m('encodeMs'), kernelMs: m('kernelMs'), modelMs: m('modelMs'), bytes: m('bytes'), messages: m('messages'), addMs: m('addMs'), addMaxMs: m('addMaxMs'), delEndpointMs: m('delEndpointMs'), addCompileMs: m('addCompileMs'), addPlanMs: m('addPlanMs'), addKernelMs: m('addKernelMs'), addOps: m('addOps'), maxRssMB: m('maxRssMB'), check: ours[0]!.check },
    };
    let line = `S=${s}: ours full ${f(m('fullMs'))} ms (compile ${f(m('compileMs'))} + plan ${f(m('planMs'))} + encode ${f(m('encodeMs'))} + kernel ${f(m('kernelMs'))}; ${(m('bytes') / 1e6).toFixed(1)} MB in ${m('messages')} msgs; model ${f(m('modelMs'))} ms), +1 svc ${f(m('addMs'))} ms (compile ${f(m('addCompileMs'))} + plan ${f(m('addPlanMs'))} + kernel ${f(m('addKernelMs'))}; worst of 5 ${f(m('addMaxMs'))}), −1 endpoint ${f(m('delEndpointMs'))} ms, peak RSS ${f(m('maxRssMB'))} MB [${ours[0]!.check}]`;
    {
      const tr: TrackedResult[] = [];
      for (let i = 0; i < runs; i++) tr.push(child<TrackedResult>('tracked', s, dir));
      const tm = (k: keyof TrackedResult): number => median(tr.map((o) => o[k] as number));
      row.tracked = { fullMs: tm('fullMs'), addMs: tm('addMs'), addMaxMs: tm('addMaxMs'), addTrackMs: tm('addTrackMs'), addCompileMs: tm('addCompileMs'), addSyncMs: tm('addSyncMs'), delEndpointMs: tm('delEndpointMs'), delEndpointMaxMs: tm('delEndpointMaxMs'), delServiceMs: tm('delServiceMs'), check: tr[0]!.check };
      line += `\n        sync loop (trackers → model → incremental compiler → applier): full ${f(tm('fullMs'))} ms, +1 svc ${f(tm('addMs'))} ms (track+model ${f(tm('addTrackMs'))} + compile ${f(tm('addCompileMs'))} + plan/encode/kernel ${f(tm('addSyncMs'))}; worst of 5 ${f(tm('addMaxMs'))}), −1 endpoint ${f(tm('delEndpointMs'))} ms (worst ${f(tm('delEndpointMaxMs'))}), −1 svc ${f(tm('delServiceMs'))} ms [${tr[0]!.check}]`;
    }
    {
      const vn: AnchorResult[] = [];
      for (let i = 0; i < runs; i++) vn.push(child<AnchorResult>('ours-nft', s, dir));
      const vm = (k: keyof AnchorResult): number => median(vn.map((o) => o[k]));
      row.oursViaNft = { fullMs: vm('fullMs'), maxRssMB: vm('maxRssMB'), userS: vm('userS'), sysS: vm('sysS') };
      line += `\n        same layout as nft -f text (renderNft) full ${f(vm('fullMs'))} ms (user ${vm('userS')} s, sys ${vm('sysS')} s), peak RSS ${f(vm('maxRssMB'))} MB; nft -f time / ours = ×${f(vm('fullMs') / m('fullMs'))}`;
    }
    if (anchorSizes.has(s)) {
      const an: AnchorResult[] = [];
      for (let i = 0; i < runs; i++) an.push(child<AnchorResult>('anchor', s, dir));
      const am = (k: keyof AnchorResult): number => median(an.map((o) => o[k]));
      row.anchor = { fullMs: am('fullMs'), addMs: am('addMs'), maxRssMB: am('maxRssMB'), userS: am('userS'), sysS: am('sysS') };
      row.ratio = { full: am('fullMs') / m('fullMs'), add: am('addMs') / m('addMs') };
      line += `\n        anchor (KEP-3866 via nft -f) full ${f(am('fullMs'))} ms (user ${am('userS')} s, sys ${am('sysS')} s), +1 svc ${f(am('addMs'))} ms, peak RSS ${f(am('maxRssMB'))} MB` +
        `\n        ratio anchor/ours: full ×${f(am('fullMs') / m('fullMs'))}, +1 svc ×${f(am('addMs') / m('addMs'))}`;
    }
    console.log(line);
    rows.push(row);
  }
  const goals = rows.find((r) => r.services === 10000) as { ours: { fullMs: number; addMs: number } } | undefined;
  const tg = rows.find((r) => r.services === 10000) as { tracked?: { addMs: number; delEndpointMs: number } } | undefined;
  if (tg?.tracked) console.log(`sync loop at 10 000×10: one-service add ${f(tg.tracked.addMs)} ms, one-endpoint removal ${f(tg.tracked.delEndpointMs)} ms (goal ≤ 10 ms: ${Math.max(tg.tracked.addMs, tg.tracked.delEndpointMs) <= 10 ? 'MET' : 'MISSED'})`);
  if (goals) console.log(`goals at 10 000×10: full sync ≤ 1000 ms → ${f(goals.ours.fullMs)} ms ${goals.ours.fullMs <= 1000 ? 'MET' : 'MISSED'}; one-service change ≤ 10 ms → ${f(goals.ours.addMs)} ms ${goals.ours.addMs <= 10 ? 'MET' : 'MISSED'}`);
  const resultsDir = join(dirname(self), '..', '..', 'bench', 'results');
  try {
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(join(resultsDir, `proxy-nftables-${new Date().toISOString().slice(0, 10)}.json`), JSON.stringify(rows, null, 2) + '\n');
  } catch { /* results are a convenience */ }
}

await main();

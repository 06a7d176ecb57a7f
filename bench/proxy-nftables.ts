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
// - Medians of `--runs` fresh runs (default 3); the anchor above 3 000 services runs once (at
//   10 000 it takes minutes).
// - This is the `nftables` part of `npm run bench:proxy` (./proxy.ts); the run/report loop is
//   ./workload.ts's.
//
// Usage: npm run bench:proxy-nftables [-- --sizes 1000,10000 --anchor-sizes 1000,10000 --runs 3 | --quick]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execInNetns } from '../kernel/netns.js';
import { NfTablesSocket } from '../kernel/nftables/socket.js';
import { buildServiceModel } from '../proxy/model.js';
import { renderNft } from '../kernel/nftables/render.js';
import { NftablesApplier } from '../proxy/nftables/apply.js';
import { compileServices, IncrementalCompiler } from '../proxy/nftables/compile.js';
import { EndpointSliceChangeTracker, ServiceChangeTracker } from '../proxy/changes.js';
import { ServicePortMap } from '../proxy/servicemap.js';
import { arg, benchEntry, timeChanges, withTempDir, E, ep, fmt, hasFlag, median, medianOf, numbers, objects, runCase, runParts, runTimed, sleep, vip, withNetns, type Figure, type Part, type PartOutcome } from './workload.js';

interface OursResult { modelMs: number; fullMs: number; compileMs: number; planMs: number; encodeMs: number; kernelMs: number; bytes: number; messages: number; addMs: number; addMaxMs: number; delEndpointMs: number; addKernelMs: number; addCompileMs: number; addPlanMs: number; addOps: number; maxRssMB: number; check: string }
interface AnchorResult { fullMs: number; addMs: number; maxRssMB: number; userS: number; sysS: number }

const caseOurs = (s: number): Promise<OursResult> => withNetns(async (ns) => {
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
      await sleep(250);
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
      await sleep(250);
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
  }
});

interface TrackedResult { fullMs: number; addMs: number; addMaxMs: number; addTrackMs: number; addCompileMs: number; addSyncMs: number; delEndpointMs: number; delEndpointMaxMs: number; delServiceMs: number; check: string }

/**
 * The sync loop's own path: watch events into the change trackers, the model updated for the
 * changed services only, the incremental compiler fed those, one netlink batch. "+1 svc" and
 * "−1 endpoint" are timed from the first event to the kernel's acknowledgement.
 */
const caseTracked = (s: number): Promise<TrackedResult> => withNetns(async (ns) => {
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
    const ch = await timeChanges(s, st, et, () => sync(), 5, 5);
    const adds = ch.adds.map((c) => c.ms);
    const dels = ch.dels.map((c) => c.ms);
    const track = ch.adds.map((c) => c.r.trackMs), comp = ch.adds.map((c) => c.r.compileMs), syn = ch.adds.map((c) => c.r.syncMs);
    await sleep(250);
    t = performance.now();
    st.update(services[s >> 1], undefined);
    await sync();
    const delServiceMs = performance.now() - t;
    const list = await execInNetns(ns, 'nft', ['list', 'map', 'ip', 'k8ts-proxy', 'service-ips']);
    const check = `service-ips has ${(list.match(/ : goto /g) ?? []).length} elements after 5 adds and 1 delete`;
    return { fullMs, addMs: median(adds), addMaxMs: Math.max(...adds), addTrackMs: median(track), addCompileMs: median(comp), addSyncMs: median(syn), delEndpointMs: median(dels), delEndpointMaxMs: Math.max(...dels), delServiceMs, check };
  } finally {
    sock.close();
  }
});

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

const caseAnchor = (s: number, dir: string): Promise<AnchorResult> => withNetns(async (ns) => {
  const full = join(dir, `anchor-${s}.nft`);
  const add = join(dir, `anchor-${s}-add.nft`);
  writeFileSync(full, anchorText(s, 0, true));
  writeFileSync(add, anchorText(1, s, false));
  const f = await runTimed(ns, 'nft', `-f ${full}`);
  const a = await runTimed(ns, 'nft', `-f ${add}`);
  return { fullMs: f.ms, addMs: a.ms, maxRssMB: f.rssMB, userS: f.userS, sysS: f.sysS };
});

/** Our layout, but loaded as `renderNft` text through `nft -f`: what the netlink encoder saves. */
const caseOursViaNft = (s: number, dir: string): Promise<AnchorResult> => withNetns(async (ns) => {
  const { services, slices } = objects(s);
  const file = join(dir, `ours-${s}.nft`);
  writeFileSync(file, renderNft(compileServices({ services: buildServiceModel(services, slices), nodeName: 'bench', nodeIPs: [] })));
  const f = await runTimed(ns, 'nft', `-f ${file}`);
  return { fullMs: f.ms, addMs: 0, maxRssMB: f.rssMB, userS: f.userS, sysS: f.sysS };
});

// ---------------------------------------------------------------------------------------------

export interface NftablesOptions { sizes: number[]; anchorSizes: number[]; runs: number }
export const nftablesOptions = (quick: boolean): NftablesOptions => ({
  sizes: numbers(arg('sizes', quick ? '300,1000' : '1000,10000')),
  anchorSizes: numbers(arg('anchor-sizes', quick ? '300,1000' : '1000,10000')),
  runs: Number(arg('runs', quick ? '1' : '3')),
});

const self = import.meta.url;
/** Above this size the KEP-3866 anchor runs once: at 10 000 × 10 one load takes minutes. */
const ANCHOR_ONCE_ABOVE = 3000;

export const nftablesPart = (o: NftablesOptions): Promise<PartOutcome> => withTempDir('k8ts-bench-proxy', async (dir) => {
  const rows: Record<string, unknown>[] = [];
  const figures: Figure[] = [];
  const goal = (x: number, max: number): { goal: string; met: boolean } => ({ goal: `≤ ${max} ms`, met: x <= max });
  for (const s of o.sizes) {
    const w = `${s} × ${E}`;
    const times = async <T>(kind: string, n: number): Promise<T[]> => {
      const out: T[] = [];
      for (let i = 0; i < n; i++) out.push(await runCase<T>(self, kind, { s, dir }));
      return out;
    };
    const ours = medianOf(await times<OursResult>('ours', o.runs));
    const tracked = medianOf(await times<TrackedResult>('tracked', o.runs));
    const viaNft = medianOf(await times<AnchorResult>('ours-nft', o.runs));
    const anchorRuns = s > ANCHOR_ONCE_ABOVE ? 1 : o.runs;
    const anchor = o.anchorSizes.includes(s) ? medianOf(await times<AnchorResult>('anchor', anchorRuns)) : undefined;
    const row = { services: s, endpoints: s * E, ours, tracked, oursViaNft: viaNft, anchor, anchorRuns, ratio: anchor ? { full: anchor.fullMs / ours.fullMs, add: anchor.addMs / ours.addMs } : undefined };
    rows.push(row);
    console.log(`S=${s}: ours full ${fmt(ours.fullMs)} ms (compile ${fmt(ours.compileMs)} + plan ${fmt(ours.planMs)} + encode ${fmt(ours.encodeMs)} + kernel ${fmt(ours.kernelMs)}; ${(ours.bytes / 1e6).toFixed(1)} MB in ${ours.messages} msgs; model ${fmt(ours.modelMs)} ms), +1 svc ${fmt(ours.addMs)} ms (compile ${fmt(ours.addCompileMs)} + plan ${fmt(ours.addPlanMs)} + kernel ${fmt(ours.addKernelMs)}; worst of 5 ${fmt(ours.addMaxMs)}), −1 endpoint ${fmt(ours.delEndpointMs)} ms, peak RSS ${fmt(ours.maxRssMB)} MB [${ours.check}]
      sync loop (trackers → model → incremental compiler → applier): full ${fmt(tracked.fullMs)} ms, +1 svc ${fmt(tracked.addMs)} ms (track+model ${fmt(tracked.addTrackMs)} + compile ${fmt(tracked.addCompileMs)} + plan/encode/kernel ${fmt(tracked.addSyncMs)}; worst of 5 ${fmt(tracked.addMaxMs)}), −1 endpoint ${fmt(tracked.delEndpointMs)} ms (worst ${fmt(tracked.delEndpointMaxMs)}), −1 svc ${fmt(tracked.delServiceMs)} ms [${tracked.check}]
      same layout as nft -f text (renderNft) full ${fmt(viaNft.fullMs)} ms (user ${viaNft.userS} s, sys ${viaNft.sysS} s), peak RSS ${fmt(viaNft.maxRssMB)} MB; nft -f time / ours = ×${fmt(viaNft.fullMs / ours.fullMs)}` +
      (anchor ? `\n        anchor (KEP-3866 via nft -f, ${anchorRuns} run(s)) full ${fmt(anchor.fullMs)} ms (user ${anchor.userS} s, sys ${anchor.sysS} s), +1 svc ${fmt(anchor.addMs)} ms, peak RSS ${fmt(anchor.maxRssMB)} MB; ratio anchor/ours: full ×${fmt(anchor.fullMs / ours.fullMs)}, +1 svc ×${fmt(anchor.addMs / ours.addMs)}` : ''));
    const an = anchor ? 'KEP-3866 via `nft -f`' : undefined;
    const withAnchor = (value: number | undefined, oursValue: number, unit: string): Pick<Figure, 'anchor' | 'ratio'> =>
      value === undefined ? {} : { anchor: `${an} ${fmt(value)} ${unit}${anchorRuns !== o.runs ? ` (${anchorRuns} run)` : ''}`, ratio: value / oursValue };
    figures.push(
      { part: 'nftables', workload: w, figure: 'full sync', runs: o.runs, ours: `${fmt(ours.fullMs)} ms`, ...withAnchor(anchor?.fullMs, ours.fullMs, 'ms'), ...goal(ours.fullMs, 1000) },
      { part: 'nftables', workload: w, figure: 'one-service change (+1 Service, compile+commit)', runs: o.runs, ours: `${fmt(ours.addMs)} ms`, ...withAnchor(anchor?.addMs, ours.addMs, 'ms'), ...goal(ours.addMs, 10) },
      { part: 'nftables', workload: w, figure: 'sync loop: +1 Service / −1 endpoint', runs: o.runs, ours: `${fmt(tracked.addMs)} / ${fmt(tracked.delEndpointMs)} ms`, ...goal(Math.max(tracked.addMs, tracked.delEndpointMs), 10) },
      { part: 'nftables', workload: w, figure: 'peak RSS, full sync', runs: o.runs, ours: `${fmt(ours.maxRssMB)} MB`, ...withAnchor(anchor?.maxRssMB, ours.maxRssMB, 'MB') },
      { part: 'nftables', workload: w, figure: 'our layout as text via `nft -f` (what netlink saves)', runs: o.runs, ours: `${fmt(viaNft.fullMs)} ms via nft -f vs ${fmt(ours.fullMs)} over netlink` },
    );
  }
  return { figures, details: rows };
});

const s0 = (): number => Number(arg('s', '1000'));
await benchEntry(self, {
  ours: () => caseOurs(s0()),
  tracked: () => caseTracked(s0()),
  'ours-nft': () => caseOursViaNft(s0(), arg('dir', '/tmp')),
  anchor: () => caseAnchor(s0(), arg('dir', '/tmp')),
}, async () => {
  const o = nftablesOptions(hasFlag('quick'));
  const part: Part = { name: 'nftables', run: () => nftablesPart(o) };
  await runParts('proxy-nftables', [part], { ...o });
});

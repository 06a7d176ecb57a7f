// First-packet latency to a ClusterIP with few and with many Services (issue 5's benchmark list:
// "first-packet latency to a ClusterIP with 10 vs 10 000 services", goal: flat in the number of
// services), ours against the upstream iptables layout in the same run (../shared/ANCHORS.md
// section 1, "Connection set-up latency to the last of S ClusterIPs").
//
// Design notes:
// - One fresh network namespace per (layout, S). The workload is ./workload.ts's S×10 Services;
//   the rules for all of them are loaded, then a client in that namespace opens TCP connections
//   to the LAST Service's ClusterIP (the last rule of upstream's KUBE-SERVICES: its worst case)
//   and times each connect() until the handshake completes: the SYN's trip through the nat
//   OUTPUT hook, where the layout decides the cost, plus the answer. The last Service's 10
//   endpoint addresses and the client's own address sit on the namespace's loopback, where a
//   server listens on :8080; the service range is routed to loopback (source the client address,
//   so neither layout masquerades). Nothing leaves the namespace.
// - Layouts: `nftables` is ours (compileServices + the netlink applier, verdict map + per-count
//   load-balancing chains); `upstream-iptables` is kube-proxy's iptables layout loaded with
//   iptables-legacy-restore (one KUBE-SERVICES rule per service, walked in order); `direct` has
//   no rules and connects to an endpoint address: the floor (socket, loopback, Node's event loop).
//   `--layouts` may add `iptables` (our iptables mode, through its applier).
// - Each measurement is a child process inside the namespace (`ip netns exec`), 200 warm-up
//   connects, then `--connects` (default 2 000) one after another; p50/p99 in µs. Connects run
//   sequentially on an idle event loop, so Node's own overhead is the same for every layout.
//
// - Goal "flat": p50 at the largest S within ×1.2 of p50 at the smallest (p99 reported beside it;
//   on 2 shared cores it is mostly scheduling noise).
// - This is the `first-packet` part of `npm run bench:proxy` (./proxy.ts); the run/report loop is
//   ./workload.ts's.
// - `--fp-runs` rounds (default 3), every layout and size once per round; medians of p50/p99.
//
// Usage: npm run bench:proxy-first-packet [-- --fp-sizes 10,10000 --fp-runs 3 --connects 2000 --layouts nftables,iptables,upstream-iptables,direct | --quick]
import { writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Iptables } from '../kernel/iptables/restore.js';
import { execInNetns } from '../kernel/netns.js';
import { NfTablesSocket } from '../kernel/nftables/socket.js';
import { IptablesApplier } from '../proxy/iptables/apply.js';
import { compileIptables } from '../proxy/iptables/compile.js';
import { buildServiceModel } from '../proxy/model.js';
import { NftablesApplier } from '../proxy/nftables/apply.js';
import { compileServices } from '../proxy/nftables/compile.js';
import { arg, benchEntry, withTempDir, E, ep, hasFlag, medianOf, numbers, objects, quantile, runCase, runParts, spawnTracked, upstreamIptablesRestore, vip, withNetns, type Figure, type PartOutcome } from './workload.js';

const CLIENT = '10.1.0.1';
type Layout = 'nftables' | 'upstream-iptables' | 'iptables' | 'direct';
interface Latency { p50: number; p99: number; mean: number; n: number; loadMs: number }

const self = import.meta.url;

/** In the namespace: a server on :8080 and `n` timed connects to host:port (µs each). */
async function measure(host: string, port: number, n: number): Promise<number[]> {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(8080, '0.0.0.0', r));
  const one = (): Promise<number> => new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const s = connect({ host, port });
    s.once('connect', () => { const us = Number(process.hrtime.bigint() - t) / 1000; s.destroy(); resolve(us); });
    s.once('error', reject);
  });
  try {
    for (let i = 0; i < 200; i++) await one();
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(await one());
    return out;
  } finally {
    server.close();
  }
}

/** Loads the layout's rules for s services into `ns`; returns how long that took. */
async function load(layout: Layout, s: number, ns: string, dir: string): Promise<number> {
  const t = performance.now();
  if (layout === 'nftables' || layout === 'iptables') {
    const { services, slices } = objects(s);
    const state = { services: buildServiceModel(services, slices), nodeName: 'bench', nodeIPs: [] };
    if (layout === 'nftables') {
      const sock = NfTablesSocket.open(ns);
      try { await new NftablesApplier(sock).sync(compileServices(state)); } finally { sock.close(); }
    } else {
      await new IptablesApplier(new Iptables({ backend: 'legacy', netns: ns })).sync(compileIptables(state));
    }
  } else if (layout === 'upstream-iptables') {
    const file = join(dir, `upstream-${s}.rules`);
    writeFileSync(file, upstreamIptablesRestore(s));
    await spawnTracked('sh', ['-c', `ip netns exec ${ns} iptables-legacy-restore --wait=5 < ${file}`]);
  }
  return performance.now() - t;
}

const caseRun = (layout: Layout, s: number, n: number, dir: string): Promise<Latency> => withNetns(async (ns) => {
  const last = s - 1;
  for (const a of [CLIENT, ...Array.from({ length: E }, (_, j) => ep(last, j))]) await execInNetns(ns, 'ip', ['addr', 'add', `${a}/32`, 'dev', 'lo']);
  await execInNetns(ns, 'ip', ['route', 'add', '10.96.0.0/12', 'dev', 'lo', 'src', CLIENT]);
  const loadMs = await load(layout, s, ns, dir);
  const [host, port] = layout === 'direct' ? [ep(last, 0), 8080] : [vip(last), 80];
  const { stdout } = await spawnTracked('ip', ['netns', 'exec', ns, process.execPath, fileURLToPath(self), '--case', 'measure', '--host', host, '--port', String(port), '--connects', String(n)], { inheritStderr: true });
  const us = JSON.parse(stdout.trim().split('\n').pop()!) as number[];
  return { p50: quantile(us, 0.5), p99: quantile(us, 0.99), mean: us.reduce((a, b) => a + b, 0) / us.length, n: us.length, loadMs };
});

export interface FirstPacketOptions { sizes: number[]; layouts: Layout[]; connects: number; runs: number }
export const firstPacketOptions = (quick: boolean): FirstPacketOptions => ({
  sizes: numbers(arg('fp-sizes', quick ? '10,1000' : '10,10000')),
  layouts: arg('layouts', 'nftables,iptables,upstream-iptables,direct').split(',') as Layout[],
  connects: Number(arg('connects', quick ? '500' : '2000')),
  runs: Number(arg('fp-runs', quick ? '1' : '3')),
});

/** p50 at the largest S within this factor of p50 at the smallest counts as flat. */
const FLAT = 1.2;

export const firstPacketPart = (o: FirstPacketOptions): Promise<PartOutcome> => withTempDir('k8ts-bench-fp', async (dir) => {
  const f = (x: number): string => x.toFixed(0);
  console.log(`TCP connect to the last of S ClusterIPs (×${E} endpoints), ${o.connects} connects after 200 warm-up`);
  const rows: Record<string, unknown>[] = [];
  const by = new Map<Layout, Record<number, Latency>>();
  // Runs interleaved (every layout and size once per round), so drift in the machine's load
  // hits all alike; medians over the rounds.
  const raw = new Map<string, Latency[]>();
  for (let r = 0; r < o.runs; r++) {
    for (const s of o.sizes) {
      for (const layout of o.layouts) {
        // Its own process: the rules' loading (10 000 services) leaves nothing behind in this one.
        const x = await runCase<Latency>(self, 'run', { layout, s, connects: o.connects, dir });
        raw.set(`${layout}/${s}`, [...(raw.get(`${layout}/${s}`) ?? []), x]);
        rows.push({ layout, services: s, run: r, ...x });
      }
    }
  }
  for (const layout of o.layouts) {
    const bySize: Record<number, Latency> = {};
    for (const s of o.sizes) bySize[s] = medianOf(raw.get(`${layout}/${s}`)!);
    by.set(layout, bySize);
    const parts = o.sizes.map((s) => `S=${s}: p50 ${f(bySize[s]!.p50)} µs, p99 ${f(bySize[s]!.p99)} µs (rules loaded in ${f(bySize[s]!.loadMs)} ms)`);
    const lo = bySize[o.sizes[0]!]!;
    const hi = bySize[o.sizes[o.sizes.length - 1]!]!;
    console.log(`${layout.padEnd(18)} ${parts.join(' | ')}; p50 ×${(hi.p50 / lo.p50).toFixed(2)}, p99 ×${(hi.p99 / lo.p99).toFixed(2)} from S=${o.sizes[0]} to S=${o.sizes[o.sizes.length - 1]}`);
  }
  const lo = o.sizes[0]!;
  const hi = o.sizes[o.sizes.length - 1]!;
  const span = (b: Record<number, Latency>): string => `p50 ${f(b[lo]!.p50)} → ${f(b[hi]!.p50)} µs (×${(b[hi]!.p50 / b[lo]!.p50).toFixed(2)}), p99 ${f(b[lo]!.p99)} → ${f(b[hi]!.p99)} µs`;
  const up = by.get('upstream-iptables');
  const direct = by.get('direct');
  const figures: Figure[] = [];
  for (const layout of ['nftables', 'iptables'] as const) {
    const b = by.get(layout);
    if (!b) continue;
    const growth = b[hi]!.p50 / b[lo]!.p50;
    figures.push({
      part: `first-packet (${layout})`, workload: `S = ${lo} → ${hi}`, figure: `TCP connect to the last ClusterIP${direct ? ` (floor, no rules: p50 ${f(direct[lo]!.p50)} → ${f(direct[hi]!.p50)} µs)` : ''}`, ours: span(b),
      ...(up ? { anchor: `upstream iptables layout (legacy): ${span(up)}`, ratio: (up[hi]!.p50 / up[lo]!.p50) / growth } : {}),
      goal: `flat (p50 ×≤ ${FLAT})`, met: growth <= FLAT, runs: o.runs,
    });
  }
  return { figures, details: rows };
});

await benchEntry(self, {
  measure: () => measure(arg('host', ''), Number(arg('port', '80')), Number(arg('connects', '2000'))),
  run: () => caseRun(arg('layout', 'nftables') as Layout, Number(arg('s', '10')), Number(arg('connects', '2000')), arg('dir', '/tmp')),
}, async () => {
  const o = firstPacketOptions(hasFlag('quick'));
  await runParts('proxy-first-packet', [{ name: 'first-packet', run: () => firstPacketPart(o) }], { ...o });
});

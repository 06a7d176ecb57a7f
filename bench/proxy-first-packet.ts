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
// Usage: npm run bench:proxy-first-packet [-- --sizes 10,10000 --connects 2000 --layouts nftables,upstream-iptables,direct]
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Iptables } from '../kernel/iptables/restore.js';
import { createNetns, deleteNetns, execInNetns } from '../kernel/netns.js';
import { NfTablesSocket } from '../kernel/nftables/socket.js';
import { IptablesApplier } from '../proxy/iptables/apply.js';
import { compileIptables } from '../proxy/iptables/compile.js';
import { buildServiceModel } from '../proxy/model.js';
import { NftablesApplier } from '../proxy/nftables/apply.js';
import { compileServices } from '../proxy/nftables/compile.js';
import { E, ep, objects, upstreamIptablesRestore, vip } from './workload.js';

const CLIENT = '10.1.0.1';
type Layout = 'nftables' | 'upstream-iptables' | 'iptables' | 'direct';
interface Latency { p50: number; p99: number; mean: number; n: number; loadMs: number }

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
};
const self = fileURLToPath(import.meta.url);
const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

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
    const r = spawnSync('sh', ['-c', `ip netns exec ${ns} iptables-legacy-restore --wait=5 < ${file}`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`iptables-legacy-restore failed: ${r.stderr.slice(0, 500)}`);
  }
  return performance.now() - t;
}

async function caseRun(layout: Layout, s: number, n: number, dir: string): Promise<Latency> {
  const ns = `k8ts-t-fp-${randomBytes(3).toString('hex')}`;
  await createNetns(ns);
  try {
    const last = s - 1;
    await execInNetns(ns, 'ip', ['link', 'set', 'lo', 'up']);
    for (const a of [CLIENT, ...Array.from({ length: E }, (_, j) => ep(last, j))]) await execInNetns(ns, 'ip', ['addr', 'add', `${a}/32`, 'dev', 'lo']);
    await execInNetns(ns, 'ip', ['route', 'add', '10.96.0.0/12', 'dev', 'lo', 'src', CLIENT]);
    const loadMs = await load(layout, s, ns, dir);
    const [host, port] = layout === 'direct' ? [ep(last, 0), 8080] : [vip(last), 80];
    const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, self, '--case', 'measure', '--host', host, '--port', String(port), '--connects', String(n)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const us = (JSON.parse(out.trim().split('\n').pop()!) as number[]).sort((a, b) => a - b);
    return { p50: quantile(us, 0.5), p99: quantile(us, 0.99), mean: us.reduce((a, b) => a + b, 0) / us.length, n: us.length, loadMs };
  } finally {
    await deleteNetns(ns);
  }
}

async function main(): Promise<void> {
  const kind = arg('case', '');
  if (kind === 'measure') {
    process.stdout.write(JSON.stringify(await measure(arg('host', ''), Number(arg('port', '80')), Number(arg('connects', '2000')))) + '\n');
    return;
  }
  if (kind === 'run') {
    process.stdout.write(JSON.stringify(await caseRun(arg('layout', 'nftables') as Layout, Number(arg('s', '10')), Number(arg('connects', '2000')), arg('dir', '/tmp'))) + '\n');
    return;
  }
  const sizes = arg('sizes', '10,10000').split(',').map(Number);
  const layouts = arg('layouts', 'nftables,upstream-iptables,direct').split(',') as Layout[];
  const n = Number(arg('connects', '2000'));
  const dir = join('/tmp', `k8ts-bench-fp-${randomBytes(3).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  const f = (x: number): string => x.toFixed(0);
  console.log(`proxy first-packet bench: TCP connect to the last of S ClusterIPs (×${E} endpoints), ${n} connects after 200 warm-up, ${new Date().toISOString()}, kernel ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}`);
  const rows: Record<string, unknown>[] = [];
  try {
    for (const layout of layouts) {
      const bySize: Record<number, Latency> = {};
      for (const s of sizes) {
        // Its own process: the rules' loading (10 000 services) leaves nothing behind in this one.
        const out = execFileSync(process.execPath, ['--max-old-space-size=4096', self, '--case', 'run', '--layout', layout, '--s', String(s), '--connects', String(n), '--dir', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
        bySize[s] = JSON.parse(out.trim().split('\n').pop()!) as Latency;
        rows.push({ layout, services: s, ...bySize[s] });
      }
      const parts = sizes.map((s) => `S=${s}: p50 ${f(bySize[s]!.p50)} µs, p99 ${f(bySize[s]!.p99)} µs (rules loaded in ${f(bySize[s]!.loadMs)} ms)`);
      const lo = bySize[sizes[0]!]!;
      const hi = bySize[sizes[sizes.length - 1]!]!;
      console.log(`${layout.padEnd(18)} ${parts.join(' | ')}; p50 ×${(hi.p50 / lo.p50).toFixed(2)}, p99 ×${(hi.p99 / lo.p99).toFixed(2)} from S=${sizes[0]} to S=${sizes[sizes.length - 1]}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const resultsDir = join(dirname(self), '..', '..', 'bench', 'results');
  try {
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(join(resultsDir, `proxy-first-packet-${new Date().toISOString().slice(0, 10)}.json`), JSON.stringify(rows, null, 2) + '\n');
  } catch { /* results are a convenience */ }
}

await main();

// The S×E Service workload of ../shared/ANCHORS.md section 1, shared by the proxy benchmarks
// (proxy-nftables, proxy-iptables, proxy-first-packet): S ClusterIP Services (TCP/80, ClusterIPs
// from 10.96.0.0/12), each with E endpoints (TCP/8080, addresses from 10.128.0.0/9), as Service and
// EndpointSlice objects; and the upstream kube-proxy iptables layout of the same workload, the
// anchor the iptables benchmarks load with iptables-restore.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { createNetns, deleteNetns, run } from '../kernel/netns.js';
import type { EndpointSliceChangeTracker, ServiceChangeTracker } from '../proxy/changes.js';

/** Endpoints per service, unless a benchmark says otherwise. */
export const E = 10;

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const ipOf = (base: number, i: number): string => {
  const n = (base + i) >>> 0;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
};
const VIP_BASE = (10 << 24) | (96 << 16);
const EP_BASE = ((10 << 24) | (128 << 16)) >>> 0;
/** The ClusterIP of service i. */
export const vip = (i: number): string => ipOf(VIP_BASE, i + 1);
/** Endpoint j of service i. */
export const ep = (i: number, j: number, e = E): string => ipOf(EP_BASE, i * e + j + 1);

/** Services [from, from+s) and one EndpointSlice each, in namespace `bench`. */
export function objects(s: number, from = 0, e = E): { services: Service[]; slices: EndpointSlice[] } {
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = from; i < from + s; i++) {
    const name = `svc-${i}`;
    services.push({ metadata: { namespace: 'bench', name }, spec: { clusterIP: vip(i), clusterIPs: [vip(i)], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } });
    slices.push({
      metadata: { namespace: 'bench', name: `${name}-1`, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: Array.from({ length: e }, (_, j) => ({ addresses: [ep(i, j, e)], conditions: { ready: true } })),
    });
  }
  return { services, slices };
}

/**
 * The one-object changes the sync-loop cases time, one at a time and spaced out (kube-proxy's
 * minSyncPeriod is 1 s; 250 ms lets the collector finish with the previous sync's garbage):
 * `adds` new Services (s, s+1, …), then `dels` times one endpoint less for Services 0, 7, 14, …
 * Each is fed to the change trackers and timed from the first event to `sync`'s return.
 */
export async function timeChanges<R>(s: number, st: ServiceChangeTracker, et: EndpointSliceChangeTracker, sync: () => Promise<R>, adds: number, dels: number): Promise<{ adds: { ms: number; r: R }[]; dels: { ms: number; r: R }[] }> {
  const step = async (change: () => void): Promise<{ ms: number; r: R }> => {
    await sleep(250);
    const t = performance.now();
    change();
    const r = await sync();
    return { ms: performance.now() - t, r };
  };
  const out: { adds: { ms: number; r: R }[]; dels: { ms: number; r: R }[] } = { adds: [], dels: [] };
  for (let k = 0; k < adds; k++) {
    const extra = objects(1, s + k);
    out.adds.push(await step(() => { st.update(undefined, extra.services[0]); et.update(extra.slices[0]!, false); }));
  }
  for (let k = 0; k < dels; k++) {
    const one = objects(1, k * 7).slices[0]!;
    out.dels.push(await step(() => et.replace(one, { ...one, endpoints: one.endpoints.slice(1) })));
  }
  return out;
}

function hash16(s: string): string {
  // Any stable 16-character name does for the anchor; upstream's own hash is in proxy/iptables.
  let h1 = 2166136261;
  let h2 = 5381;
  for (let i = 0; i < s.length; i++) { h1 = Math.imul(h1 ^ s.charCodeAt(i), 16777619); h2 = Math.imul(h2, 33) ^ s.charCodeAt(i); }
  return ((h1 >>> 0).toString(36) + (h2 >>> 0).toString(36)).toUpperCase().padEnd(16, 'X').slice(0, 16);
}

/**
 * The upstream iptables layout of ANCHORS.md for services [from, from+s): chain declarations,
 * the KUBE-SERVICES rules (one per service) and the service and endpoint chains' rules.
 */
export function upstreamIptablesChains(s: number, from: number, e = E): { decl: string[]; rules: string[]; services: string[] } {
  const decl: string[] = [];
  const rules: string[] = [];
  const services: string[] = [];
  for (let i = from; i < from + s; i++) {
    const svc = `KUBE-SVC-${hash16(`bench/svc-${i}:httptcp`)}`;
    decl.push(`:${svc} - [0:0]`);
    services.push(`-A KUBE-SERVICES -d ${vip(i)}/32 -p tcp -m tcp --dport 80 -j ${svc}`);
    for (let j = 0; j < e; j++) {
      const a = ep(i, j, e);
      const sep = `KUBE-SEP-${hash16(`bench/svc-${i}:httptcp${a}:8080`)}`;
      decl.push(`:${sep} - [0:0]`);
      rules.push(j < e - 1 ? `-A ${svc} -m statistic --mode random --probability ${(1 / (e - j)).toFixed(10)} -j ${sep}` : `-A ${svc} -j ${sep}`);
      rules.push(`-A ${sep} -s ${a}/32 -j KUBE-MARK-MASQ`, `-A ${sep} -p tcp -m tcp -j DNAT --to-destination ${a}:8080`);
    }
  }
  return { decl, rules, services };
}

/** A whole `*nat` table of the upstream layout for s services, as iptables-restore input. */
export function upstreamIptablesRestore(s: number, e = E): string {
  const a = upstreamIptablesChains(s, 0, e);
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
  return ['*nat', ...head, ...a.decl, ...base, ...a.services, ...a.rules, 'COMMIT', ''].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The run/report loop shared by the proxy benchmarks (proxy.ts runs them all in one run; each
// proxy-*.ts is a thin entry for one part): flags, child processes per case, fresh network
// namespaces that are removed also on SIGINT/SIGTERM or failure, /usr/bin/time around the anchors'
// loaders, the load average per part, one summary table and one results file.

export const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined && !process.argv[i + 1]!.startsWith('--') ? process.argv[i + 1]! : dflt;
};
export const hasFlag = (name: string): boolean => process.argv.includes(`--${name}`);
export const numbers = (s: string): number[] => s.split(',').filter(Boolean).map(Number);
export const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
/** 3 significant-ish digits: 1.23, 12.3, 123. */
export const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** `p`, or what `onTimeout` gives after `ms`; the timer is cleared so it cannot hold the process. */
export async function within<T, U>(p: Promise<T>, ms: number, onTimeout: () => U): Promise<T | U> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<U>((resolve, reject) => { timer = setTimeout(() => { try { resolve(onTimeout()); } catch (e) { reject(e as Error); } }, ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

// Cleanups run on SIGINT/SIGTERM (Node's default would exit at once and skip every `finally`).
const cleanups = new Set<() => Promise<unknown> | unknown>();
const live = new Set<ChildProcess>();
/** Registers a cleanup for a signal; returns its removal, to call once the resource is gone. */
export function onSignalCleanup(fn: () => Promise<unknown> | unknown): () => void {
  cleanups.add(fn);
  return () => { cleanups.delete(fn); };
}
let signalled = false;
async function cleanupAndExit(signal: string): Promise<void> {
  if (signalled) return;
  signalled = true;
  for (const c of live) c.kill('SIGTERM');
  for (const fn of [...cleanups].reverse()) { try { await fn(); } catch { /* keep cleaning */ } }
  if (isTop) await sweepNetns();
  console.error(`bench: ${signal}, cleaned up`);
  process.exit(130);
}

// Every namespace of one bench run carries the run's tag (inherited by the child processes), so
// the top process can sweep whatever a killed child left behind.
// Only the top process sweeps: its children run one at a time under it.
const isTop = !process.env.K8TS_BENCH_TAG;
if (isTop) process.env.K8TS_BENCH_TAG = randomBytes(2).toString('hex');
const nsPrefix = (): string => `k8ts-t-b${process.env.K8TS_BENCH_TAG!}-`;

/** Runs `fn` with a fresh network namespace of this run, deleted afterwards (also on a signal). */
export async function withNetns<T>(fn: (ns: string) => Promise<T>): Promise<T> {
  const ns = `${nsPrefix()}${randomBytes(3).toString('hex')}`;
  await createNetns(ns);
  const off = onSignalCleanup(() => deleteNetns(ns));
  try {
    return await fn(ns);
  } finally {
    await deleteNetns(ns);
    off();
  }
}

/** Runs `fn` with a fresh directory under /tmp (the anchors' rule files), removed afterwards (also on a signal). */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const off = onSignalCleanup(() => rmSync(dir, { recursive: true, force: true }));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true }); // tens of MB at 10 000 services
    off();
  }
}

/** Deletes every namespace of this run still there (a child killed before its `finally`). */
export async function sweepNetns(): Promise<string[]> {
  const list = await run('ip', ['netns', 'list']).catch(() => '');
  const left = list.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(nsPrefix()));
  for (const ns of left) await deleteNetns(ns).catch(() => undefined);
  return left;
}

/** Spawns a process (killed on a signal); resolves with its stdout and stderr once it exits 0. */
export function spawnTracked(file: string, args: readonly string[], opts: { inheritStderr?: boolean } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(file, args, { stdio: ['ignore', 'pipe', opts.inheritStderr ? 'inherit' : 'pipe'] });
    live.add(c);
    let stdout = '';
    let stderr = '';
    c.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    c.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    c.once('error', (e) => { live.delete(c); reject(e); });
    c.once('close', (code, sig) => {
      live.delete(c);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${file} ${args.join(' ').slice(0, 300)} failed (${sig ?? `exit ${String(code)}`}): ${stderr.slice(-2000)}`));
    });
  });
}

/** Runs one `--case` of a bench module in its own Node process (memory figures of that case alone). */
export async function runCase<T>(moduleUrl: string, kind: string, args: Record<string, string | number>): Promise<T> {
  const flat = Object.entries(args).flatMap(([k, v]) => [`--${k}`, String(v)]);
  const { stdout } = await spawnTracked(process.execPath, ['--max-old-space-size=4096', fileURLToPath(moduleUrl), '--case', kind, ...flat], { inheritStderr: true });
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
}

export interface Timed { ms: number; rssMB: number; userS: number; sysS: number }
/** `sh -c cmd` inside `ns`, its program under GNU time: wall time, peak RSS and CPU times. */
export async function runTimed(ns: string, program: string, rest: string): Promise<Timed> {
  const t = performance.now();
  const { stdout } = await spawnTracked('sh', ['-c', `ip netns exec ${ns} /usr/bin/time -f 'BENCHTIME %M %U %S' ${program} ${rest} 2>&1 >/dev/null`]);
  const ms = performance.now() - t;
  const m = /BENCHTIME (\d+) ([\d.]+) ([\d.]+)/.exec(stdout);
  if (!m) throw new Error(`${program} ${rest} failed: ${stdout.slice(0, 2000)}`);
  return { ms, rssMB: Number(m[1]) / 1024, userS: Number(m[2]), sysS: Number(m[3]) };
}

/** Medians over runs of every numeric field (strings from the first run). */
export function medianOf<T extends object>(runs: readonly T[]): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(runs[0]!)) {
    out[k] = typeof v === 'number' ? median(runs.map((r) => (r as Record<string, number>)[k]!)) : v;
  }
  return out as T;
}

/** One row of the summary table. `ratio` is anchor/ours: how many times better ours is. */
export interface Figure {
  part: string; workload: string; figure: string; ours: string;
  anchor?: string; ratio?: number; goal?: string; met?: boolean; runs?: number;
}
export interface PartOutcome { figures: Figure[]; details: unknown }
export interface Part { name: string; run: () => Promise<PartOutcome> }
interface PartRecord { name: string; startedAt: string; durationS: number; loadavgStart: number[]; loadavgEnd: number[]; figures: Figure[]; details: unknown; error?: string }

const round2 = (x: number): number => Math.round(x * 100) / 100;
const cell = (s: string | undefined): string => (s ?? '–').replace(/\|/g, '\\|');

/** The summary as a markdown table, plus the load per part. */
export function summaryTable(parts: readonly PartRecord[]): string {
  const L = ['| part | workload | figure | runs | ours | anchor (same run) | anchor/ours | goal | met |', '|---|---|---|---|---|---|---|---|---|'];
  for (const p of parts) {
    for (const f of p.figures) {
      L.push(`| ${cell(f.part)} | ${cell(f.workload)} | ${cell(f.figure)} | ${f.runs ?? 1} | ${cell(f.ours)} | ${cell(f.anchor)} | ${f.ratio === undefined ? '–' : `×${fmt(f.ratio)}`} | ${cell(f.goal)} | ${f.met === undefined ? '–' : f.met ? '**met**' : '**not met**'} |`);
    }
    if (p.error) L.push(`| ${cell(p.name)} | – | FAILED: ${cell(p.error.split('\n')[0]!.slice(0, 200))} | – | – | – | – | – | **not met** |`);
  }
  L.push('', '| part | duration | load (1/5/15 min) at start | at end |', '|---|---|---|---|');
  for (const p of parts) L.push(`| ${p.name} | ${p.durationS.toFixed(0)} s | ${p.loadavgStart.join(' ')} | ${p.loadavgEnd.join(' ')} |`);
  return L.join('\n');
}

/**
 * Runs the parts one after another (a failed part is recorded and the next one still runs),
 * prints the summary table and writes bench/results/<name>-<date>.json.
 */
export async function runParts(name: string, parts: readonly Part[], settings: Record<string, unknown>): Promise<void> {
  const started = new Date();
  const kernel = (await run('uname', ['-r'])).trim();
  console.log(`bench ${name}: ${parts.map((p) => p.name).join(', ')}; ${started.toISOString()}, kernel ${kernel}, ${cpus().length} cores; settings ${JSON.stringify(settings)}`);
  const records: PartRecord[] = [];
  for (const p of parts) {
    const loadavgStart = loadavg().map(round2);
    const t = performance.now();
    const rec: PartRecord = { name: p.name, startedAt: new Date().toISOString(), durationS: 0, loadavgStart, loadavgEnd: [], figures: [], details: null };
    console.log(`\n## ${p.name} (load ${loadavgStart.join(' ')})`);
    try {
      const o = await p.run();
      rec.figures = o.figures;
      rec.details = o.details;
    } catch (e) {
      rec.error = e instanceof Error ? e.stack ?? e.message : String(e);
      console.error(`part ${p.name} failed: ${rec.error}`);
    }
    const left = await sweepNetns();
    if (left.length) console.error(`part ${p.name} left namespaces behind (now deleted): ${left.join(' ')}`);
    rec.durationS = (performance.now() - t) / 1000;
    rec.loadavgEnd = loadavg().map(round2);
    records.push(rec);
  }
  const totalS = (Date.now() - started.getTime()) / 1000;
  console.log(`\n# ${name}: summary (${started.toISOString()}, ${totalS.toFixed(0)} s in all, kernel ${kernel})\n`);
  console.log(summaryTable(records));
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  // A --quick run never overwrites the day's full run.
  const file = join(dir, `${name}${hasFlag('quick') ? '-quick' : ''}-${started.toISOString().slice(0, 10)}.json`);
  writeFileSync(file, JSON.stringify({ bench: name, startedAt: started.toISOString(), totalS, kernel, cpus: cpus().length, settings, parts: records }, null, 1) + '\n');
  console.log(`\nwritten to ${file}`);
  if (records.some((r) => r.error)) process.exitCode = 1;
}

/**
 * The entry of a bench module run as a script: `--case KIND` runs one case and prints its result
 * as the last line of JSON (runCase reads it); otherwise `main`. Does nothing when imported.
 */
export async function benchEntry(moduleUrl: string, cases: Record<string, () => Promise<unknown>>, main: () => Promise<void>): Promise<void> {
  if (process.argv[1] !== fileURLToPath(moduleUrl)) return;
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => { void cleanupAndExit(s); });
  try {
    const kind = arg('case', '');
    if (kind) {
      const c = cases[kind];
      if (!c) throw new Error(`unknown --case ${kind}`);
      process.stdout.write(JSON.stringify(await c()) + '\n');
    } else {
      await main();
    }
  } catch (e) {
    console.error(e instanceof Error ? e.stack ?? e.message : e);
    process.exitCode = 1;
  } finally {
    if (isTop) await sweepNetns();
  }
}

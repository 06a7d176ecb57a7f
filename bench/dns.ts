// Cluster DNS throughput, latency and memory (issue 7).
//
// Design notes:
// - The zone holds 10 000 ClusterIP Services (two named ports each) and 10 000 EndpointSlices,
//   fed through the add-on's real informer path (ZoneSync over the in-memory FakeClusterClient,
//   so the figure is the add-on's, not an apiserver's). Memory is the V8 heap growth after a full
//   GC: informer caches + zone, and the zone alone (rebuilt from the caches).
// - Load comes from Debian's `dnsperf` (a separate C process, so the generator does not share our
//   event loop): one run for queries/s at saturation, then one with `-v` (per-query latencies) for
//   the p99. Without dnsperf, a Node load generator in a worker thread stands in.
// - Two query sets: cluster names (random Services, 3/4 A and 1/4 SRV) and forwarded names (100
//   outside names, answered by a fake upstream on 127.0.0.2 once, then from the cache); cluster
//   names once more over TCP (4 connections).
// - Our server is one Node thread, so the fair comparison with CoreDNS is per core: we report
//   queries per CPU-second of this process (process.cpuUsage over the run) next to the total.
// - Anchor (stated, not re-run: no CoreDNS on this machine): CoreDNS's own scaling guide
//   (coredns/deployment, kubernetes/Scaling_CoreDNS.md) measured 33 669 QPS for internal names on
//   a GCE n1-standard-2 with both vCPUs pegged at ~1900m (≈ 17 700 QPS per core), 33 667 QPS
//   server-side for external (cached) names, and memory ≈ (Pods + Services) × 0.000858 + 49.1 MB.
//
// Usage: npm run bench:dns [-- --services N] [--seconds S]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { FakeClusterClient } from '../api/client/fake.js';
import { resources } from '../api/client/types.js';
import { ZoneSync } from '../addons/dns/index.js';
import { DnsCache } from '../addons/dns/cache.js';
import { Forwarder } from '../addons/dns/forward.js';
import { compileService } from '../addons/dns/records.js';
import { DnsServer } from '../addons/dns/server.js';
import { FakeUpstream, udpQuery } from '../addons/dns/testing.js';
import { Zone } from '../addons/dns/zone.js';

const arg = (name: string, dflt: number) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const N = arg('services', 10_000);
const SECONDS = arg('seconds', 5);
const H = '127.0.0.1';
const MB = 1024 * 1024;

const gc = (globalThis as { gc?: () => void }).gc;
function heap(): number { gc?.(); gc?.(); return process.memoryUsage().heapUsed; }

function service(i: number): Service {
  return {
    metadata: { name: `svc-${i}`, namespace: `ns-${i % 100}` },
    spec: { type: 'ClusterIP', clusterIP: `10.43.${(i >> 8) & 255}.${i & 255}`, clusterIPs: [`10.43.${(i >> 8) & 255}.${i & 255}`], ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'metrics', port: 9090, protocol: 'TCP' }] },
  };
}
function slice(i: number): EndpointSlice {
  return {
    metadata: { name: `svc-${i}-abc`, namespace: `ns-${i % 100}`, labels: { 'kubernetes.io/service-name': `svc-${i}` } },
    addressType: 'IPv4',
    endpoints: [0, 1, 2].map(k => ({ addresses: [`10.${42 + k}.${(i >> 8) & 255}.${i & 255}`], conditions: { ready: true } })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

interface Run { responseCodes?: string; qps: number; completed: number; lost: number; avgMs: number; p50Ms?: number; p99Ms?: number; cpuSeconds: number; qpsPerCpuSecond: number; tool: string }

function runProcess(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    p.stdout.on('data', (c: Buffer) => out.push(c));
    p.stderr.on('data', (c: Buffer) => out.push(c));
    p.on('error', reject);
    p.on('close', () => resolve(Buffer.concat(out).toString('utf8')));
  });
}

async function hasDnsperf(): Promise<boolean> {
  try { return /DNS Performance Testing Tool/.test(await runProcess('dnsperf', ['-h'])); } catch { return false; }
}

function quantile(sorted: number[], q: number): number { return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN; }

async function dnsperf(port: number, file: string, mode: 'udp' | 'tcp'): Promise<Run> {
  const common = ['-m', mode, '-s', H, '-p', String(port), '-d', file, '-c', '4', '-q', '256', '-t', '2'];
  const c0 = process.cpuUsage();
  const out = await runProcess('dnsperf', [...common, '-l', String(SECONDS)]);
  const cpu = process.cpuUsage(c0);
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  const completed = num(/Queries completed:\s+(\d+)/);
  const qps = num(/Queries per second:\s+([\d.]+)/);
  const lost = num(/Queries lost:\s+(\d+)/);
  const avgMs = num(/Average Latency \(s\):\s+([\d.]+)/) * 1000;
  if (!Number.isFinite(qps)) throw new Error(`dnsperf output not understood:\n${out}`);
  // Per-query latencies: `-v` prints "> NOERROR name type latency" for each.
  const verbose = await runProcess('dnsperf', [...common, '-l', String(Math.max(2, Math.floor(SECONDS / 2))), '-v']);
  const lat = [...verbose.matchAll(/^> \S+ \S+ \S+ ([\d.]+)$/gm)].map(m => Number(m[1]) * 1000).sort((a, b) => a - b);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    tool: `dnsperf -m ${mode}`, responseCodes: /Response codes:\s+(.*)/.exec(out)?.[1]?.trim() ?? '?', qps, completed, lost, avgMs, cpuSeconds, qpsPerCpuSecond: completed / cpuSeconds,
    ...(lat.length ? { p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99) } : {}),
  };
}

/** The fallback generator: a worker thread keeping `window` queries in flight over UDP. */
async function nodeLoad(port: number, names: [string, string][]): Promise<Run> {
  const src = `
    const { parentPort, workerData } = require('node:worker_threads');
    const dgram = require('node:dgram');
    const dnsPacket = require(workerData.dnsPacket);
    const { port, names, seconds, window } = workerData;
    const s = dgram.createSocket('udp4');
    const sent = new Map(); const lat = []; let id = 0, done = 0, lost = 0;
    const end = Date.now() + seconds * 1000;
    function send() {
      if (Date.now() > end) return;
      id = (id + 1) & 0xffff; const [name, type] = names[id % names.length];
      sent.set(id, process.hrtime.bigint());
      s.send(dnsPacket.encode({ id, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type }] }), port, '${H}');
    }
    s.on('message', m => { const t = sent.get(m.readUInt16BE(0)); if (t === undefined) return; sent.delete(m.readUInt16BE(0)); lat.push(Number(process.hrtime.bigint() - t) / 1e6); done++; send(); });
    for (let i = 0; i < window; i++) send();
    setInterval(() => { const now = process.hrtime.bigint(); for (const [k, t] of sent) if (now - t > 2000000000n) { sent.delete(k); lost++; send(); } }, 200);
    setTimeout(() => { parentPort.postMessage({ done, lost, lat }); process.exit(0); }, seconds * 1000 + 300);
  `;
  const c0 = process.cpuUsage();
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const res = await new Promise<{ done: number; lost: number; lat: number[] }>((resolve, reject) => {
    const w = new Worker(src, { eval: true, workerData: { port, names, seconds: SECONDS, window: 256, dnsPacket: require.resolve('dns-packet') } });
    w.on('message', resolve);
    w.on('error', reject);
  });
  const cpu = process.cpuUsage(c0);
  const lat = res.lat.sort((a, b) => a - b);
  // The worker's CPU is counted in process.cpuUsage too; this figure is pessimistic.
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return { tool: 'node-udp-generator', qps: res.done / SECONDS, completed: res.done, lost: res.lost, avgMs: lat.reduce((a, b) => a + b, 0) / Math.max(1, lat.length), p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99), cpuSeconds, qpsPerCpuSecond: res.done / cpuSeconds };
}

async function main(): Promise<void> {
  if (!gc) process.stderr.write('note: run with --expose-gc for exact heap figures\n');
  // --- memory: 10 000 Services through the informer path
  const client = new FakeClusterClient();
  for (let i = 0; i < N; i++) {
    await client.create(resources.services, `ns-${i % 100}`, service(i));
    await client.create(resources.endpointslices, `ns-${i % 100}`, slice(i));
  }
  const h0 = heap();
  const zone = new Zone({ domain: 'cluster.local', nsIPs: ['10.43.0.10'] });
  const t0 = performance.now();
  const sync = new ZoneSync(client, zone);
  await sync.start();
  const syncMs = performance.now() - t0;
  const h1 = heap();
  const zoneOnly = new Zone({ domain: 'cluster.local' });
  const hz0 = heap();
  const t1 = performance.now();
  for (const s of sync.services.list()) {
    const key = `${s.metadata?.namespace}/${s.metadata?.name}`;
    zoneOnly.set(`svc/${key}`, compileService(s, sync.slices.byIndex('service', key), 'cluster.local'));
  }
  const compileMs = performance.now() - t1;
  const hz1 = heap();
  const memory = {
    services: N, endpointSlices: N, zoneNames: zone.nameCount,
    informersPlusZoneMB: +((h1 - h0) / MB).toFixed(1), zoneOnlyMB: +((hz1 - hz0) / MB).toFixed(1),
    rssMB: +(process.memoryUsage().rss / MB).toFixed(1),
    initialSyncMs: +syncMs.toFixed(0), fullCompileMs: +compileMs.toFixed(0),
    coreDnsFormulaMB: +(N * 0.000858 + 49.1).toFixed(1),
  };

  // --- serving
  const upstreamNames = Array.from({ length: 100 }, (_, i) => `host-${i}.example.com`);
  const upstream = new FakeUpstream('127.0.0.2', Object.fromEntries(upstreamNames.map(n => [n, [{ name: n, type: 'A' as const, ttl: 300, class: 'IN' as const, data: '192.0.2.7' }]])));
  await upstream.start();
  const forwarder = new Forwarder({ upstreams: [{ host: '127.0.0.2', port: upstream.port }], cache: new DnsCache({ maxTtl: 300 }) });
  const server = new DnsServer({ zone, forwarder, host: H, port: 0 });
  await server.start();
  for (const n of upstreamNames) await udpQuery(H, server.port, n); // warm the cache
  const check = await udpQuery(H, server.port, 'svc-42.ns-42.svc.cluster.local');
  if (check.answers?.length !== 1) throw new Error('the zone does not answer svc-42');

  const dir = mkdtempSync(join(tmpdir(), 'k8ts-bench-dns-'));
  const clusterNames: [string, string][] = Array.from({ length: 2000 }, (_, k) => {
    const i = (k * 7919) % N;
    return k % 4 === 3 ? [`_http._tcp.svc-${i}.ns-${i % 100}.svc.cluster.local`, 'SRV'] : [`svc-${i}.ns-${i % 100}.svc.cluster.local`, 'A'];
  });
  const forwardedNames: [string, string][] = upstreamNames.map(n => [n, 'A']);
  const useDnsperf = await hasDnsperf();
  const runs: Record<string, Run> = {};
  for (const [label, names, mode] of [['cluster', clusterNames, 'udp'], ['forwarded-cached', forwardedNames, 'udp'], ['cluster-tcp', clusterNames, 'tcp']] as const) {
    const file = join(dir, `${label}.txt`);
    writeFileSync(file, names.map(([n, t]) => `${n} ${t}`).join('\n') + '\n');
    if (useDnsperf) runs[label] = await dnsperf(server.port, file, mode);
    else if (mode === 'udp') runs[label] = await nodeLoad(server.port, [...names]);
  }
  await server.stop();
  forwarder.close();
  await upstream.stop();
  sync.stop();

  const anchor = {
    source: 'coredns/deployment kubernetes/Scaling_CoreDNS.md (CoreDNS 1.2.5, GCE n1-standard-2, both vCPUs pegged ~1900m)',
    internalQps: 33669, internalAvgMs: 2.608, externalServerSideQps: 33667, cores: 1.9,
    internalQpsPerCore: Math.round(33669 / 1.9), memoryFormula: 'MB = (Pods + Services) * 0.000858 + 49.1',
  };
  const result = { date: new Date().toISOString(), cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, seconds: SECONDS, memory, runs, anchor, serverStats: server.stats };
  const line = (k: string, r: Run) => `${k.padEnd(18)} ${r.qps.toFixed(0).padStart(8)} q/s  avg ${r.avgMs.toFixed(2)} ms  p99 ${r.p99Ms?.toFixed(2) ?? '?'} ms  lost ${r.lost}  ${r.responseCodes ?? ''}  ${r.qpsPerCpuSecond.toFixed(0)} q per CPU-s (${r.tool})`;
  process.stdout.write([
    `cluster DNS, ${N} Services + ${N} EndpointSlices (${memory.zoneNames} names), ${cpus().length} CPUs, ${SECONDS} s per run`,
    ...Object.entries(runs).map(([k, r]) => line(k, r)),
    `memory: informers + zone ${memory.informersPlusZoneMB} MB heap, zone alone ${memory.zoneOnlyMB} MB heap (process RSS ${memory.rssMB} MB incl. the fake API's copy); initial sync ${memory.initialSyncMs} ms, full compile ${memory.fullCompileMs} ms`,
    `anchor: CoreDNS ${anchor.internalQps} q/s internal on ~1.9 cores ≈ ${anchor.internalQpsPerCore} q/s per core, ${anchor.externalServerSideQps} q/s external (cached, server side); memory formula for ${N} Services: ${memory.coreDnsFormulaMB} MB RSS`,
    `  [${anchor.source}]`,
  ].join('\n') + '\n');
  mkdirSync('bench/results', { recursive: true });
  const out = `bench/results/dns-${result.date.slice(0, 10)}.json`;
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(`wrote ${out}\n`);
}

main().catch(err => { process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`); process.exit(1); });

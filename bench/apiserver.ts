// apiserver end to end: a real `k8ts server` (./bin/k8ts, started by the e2e harness) measured over
// HTTPS with the admin client certificate, exactly as kubectl and client-node reach it, once on the
// embedded SQLite store and once on a real single-member etcd (/usr/bin/etcd), in the same run.
//
// Design notes:
// - The load loops use raw `node:https` with one keep-alive Agent, not client-node: its per-call
//   overhead (object (de)serialization, middleware, promise layers) would make the client the
//   bottleneck on this 2-core machine, where client and server already share the cores.
// - The harness's capture of the server's log is switched off once the server is ready (see
//   quietHarnessOutput): it made the client, not the server, the bottleneck.
// - Every phase records the CPU time the server (and etcd) used, from /proc/<pid>/stat, so the
//   output shows who was saturated: a server near 100 % of one core is the bottleneck (Node runs
//   the apiserver on one thread).
// - Throughput phases run several rounds and report medians; the machine is shared and noisy.
// - Watch latency is measured from the moment the create request is sent until the watcher has
//   the event's line and has parsed it. All 100 watchers live in this process, so the figure
//   includes the client's own event-loop delay; that makes it a pessimistic bound.
// - The upstream anchors for an apiserver (sig-scalability SLOs) are stated, not re-run: there is
//   no kube-apiserver on this machine. The goals from the issue stand beside the figures.
//
// Usage: npm run bench:apiserver [-- --backend sqlite|etcd] [--rounds N] [--cpu-prof]
//   --cpu-prof profiles the server (V8's sampling profiler, see cpu-prof-preload.ts) and prints its
//   hottest functions per backend (such a run's figures are distorted and not written to results/).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { EtcdCluster, etcdAvailable, ETCD_BIN } from '../control/store/testing/etcd-cluster.js';
import { TestServer } from '../test/e2e/harness.js';
import { summarizeCpuProfile, type CpuProfile, type ProfileSummary } from './cpu-profile.js';

// ---------------------------------------------------------------------------------------------
// Workload sizes (the issue's minimums) and goals.

const CREATE_COUNT = 2_000;
const CONCURRENCY = 16;
const WARMUP_COUNT = 300;
const LIST_PODS = 10_000;
const LIST_REPEATS = 5;
const PAGE_LIMIT = 500;
const WATCHERS = 100;
const WATCH_OBJECTS = 200;
const WATCH_RATE_PER_S = 50;

const GOALS = {
  sqliteCreatesPerSecond: 2_000,
  watchP99Ms: 50,
  mutatingP99SloMs: 1_000,
};

// ---------------------------------------------------------------------------------------------
// Small helpers.

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;
const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms));
const now = () => performance.now();

/** utime+stime of a process in seconds (clock ticks are 100 Hz on Linux). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMiB(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? round1(Number(m[1]) / 1024) : NaN;
}

/** The server's pid: the process whose command line names its (unique, temporary) data dir. */
function serverPid(dataDir: string): number {
  let out = '';
  try {
    out = execFileSync('pgrep', ['-f', '--', `--data-dir ${dataDir}`], { encoding: 'utf8' });
  } catch {
    throw new Error(`no process found with "--data-dir ${dataDir}" in its command line`);
  }
  const pids = out.split('\n').filter(Boolean).map(Number);
  const node = pids.find(pid => {
    try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('cli/main.js'); } catch { return false; }
  });
  if (node === undefined) throw new Error(`no node process among ${pids.join(', ')} for "${dataDir}"`);
  return node;
}

// ---------------------------------------------------------------------------------------------
// HTTPS client with the admin certificate from the kubeconfig the server wrote.

interface Credentials { host: string; port: number; ca: string; cert: string; key: string }

function loadCredentials(kubeconfigPath: string): Credentials {
  const doc = parseYaml(readFileSync(kubeconfigPath, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
  };
  const cluster = doc.clusters[0]?.cluster;
  const user = doc.users[0]?.user;
  if (!cluster || !user) throw new Error(`the kubeconfig "${kubeconfigPath}" has no cluster or no user`);
  const url = new URL(cluster.server);
  const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
  return { host: url.hostname, port: Number(url.port), ca: b64(cluster['certificate-authority-data']), cert: b64(user['client-certificate-data']), key: b64(user['client-key-data']) };
}

interface Response { status: number; body: Buffer }

class Client {
  readonly agent: https.Agent;

  constructor(private readonly creds: Credentials, maxSockets: number) {
    this.agent = new https.Agent({ keepAlive: true, maxSockets, ca: creds.ca, cert: creds.cert, key: creds.key });
  }

  request(method: string, path: string, body?: unknown): Promise<Response> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = https.request({
        host: this.creds.host, port: this.creds.port, path, method, agent: this.agent,
        headers: { Accept: 'application/json', ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}) },
      }, res => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  async expect(method: string, path: string, status: number, body?: unknown): Promise<Response> {
    const res = await this.request(method, path, body);
    if (res.status !== status) throw new Error(`${method} ${path} answered ${res.status}, expected ${status}: ${res.body.toString('utf8').slice(0, 500)}`);
    return res;
  }

  close(): void {
    this.agent.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Phases.

const configMap = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { key: 'value' } });
const pod = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });

interface CreateResult {
  objects: number;
  concurrency: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** CPU the server used during the phase, in cores (1.0 = one core busy all the time). */
  serverCores: number;
  etcdCores?: number;
  clientCores: number;
  othersCores: number;
}

interface Pids { server: number; etcd?: number }

/** Busy CPU seconds of the whole machine (all cores, idle and iowait excluded) from /proc/stat. */
function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - (f[3] ?? 0) - (f[4] ?? 0)) / 100;
}

function cpuSnapshot(pids: Pids) {
  return { t: now(), server: cpuSeconds(pids.server), etcd: pids.etcd ? cpuSeconds(pids.etcd) : 0, client: process.cpuUsage(), machine: machineBusySeconds() };
}

function cpuSince(pids: Pids, s: ReturnType<typeof cpuSnapshot>) {
  const wall = (now() - s.t) / 1000;
  const client = process.cpuUsage(s.client);
  const server = cpuSeconds(pids.server) - s.server;
  const etcd = pids.etcd ? cpuSeconds(pids.etcd) - s.etcd : 0;
  const clientSeconds = (client.user + client.system) / 1e6;
  return {
    serverCores: round2(server / wall),
    ...(pids.etcd ? { etcdCores: round2(etcd / wall) } : {}),
    clientCores: round2(clientSeconds / wall),
    // Everything else on this shared machine (other engineers' builds and tests), plus the kernel.
    othersCores: round2(Math.max(0, machineBusySeconds() - s.machine - server - etcd - clientSeconds) / wall),
  };
}

async function createMany(client: Client, pids: Pids, path: string, make: (name: string) => unknown, prefix: string, count: number, concurrency: number): Promise<CreateResult> {
  const latencies: number[] = new Array<number>(count);
  let next = 0;
  const snap = cpuSnapshot(pids);
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const body = make(`${prefix}${i}`);
      const t0 = now();
      await client.expect('POST', path, 201, body);
      latencies[i] = now() - t0;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (now() - snap.t) / 1000;
  return {
    objects: count, concurrency, seconds: round2(seconds), perSecond: Math.round(count / seconds),
    p50Ms: round2(percentile(latencies, 50)), p99Ms: round2(percentile(latencies, 99)), maxMs: round2(Math.max(...latencies)),
    ...cpuSince(pids, snap),
  };
}

interface ListResult {
  items: number;
  fullMs: number[];
  fullMedianMs: number;
  fullBytes: number;
  /** Set when the full list failed: status code and the server's message. */
  fullError?: string;
  pagedMs: number[];
  pagedMedianMs: number;
  pages: number;
}

async function listPods(client: Client, ns: string, expected: number): Promise<ListResult> {
  const path = `/api/v1/namespaces/${ns}/pods`;
  const fullMs: number[] = [];
  let fullBytes = 0;
  let fullError: string | undefined;
  for (let i = 0; i < LIST_REPEATS; i++) {
    const t0 = now();
    const res = await client.request('GET', path);
    if (res.status !== 200) {
      // A failing full list is a finding, not a reason to lose the rest of the run.
      const message = (JSON.parse(res.body.toString('utf8')) as { message?: string }).message ?? res.body.toString('utf8').slice(0, 300);
      fullError = `${res.status}: ${message}`;
      break;
    }
    const items = (JSON.parse(res.body.toString('utf8')) as { items: unknown[] }).items.length;
    fullMs.push(now() - t0);
    fullBytes = res.body.length;
    if (items !== expected) throw new Error(`the full list returned ${items} pods, expected ${expected}`);
  }
  const pagedMs: number[] = [];
  let pages = 0;
  for (let i = 0; i < LIST_REPEATS; i++) {
    const t0 = now();
    let cont = '';
    let items = 0;
    pages = 0;
    do {
      const res = await client.expect('GET', `${path}?limit=${PAGE_LIMIT}${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`, 200);
      const list = JSON.parse(res.body.toString('utf8')) as { items: unknown[]; metadata: { continue?: string } };
      items += list.items.length;
      cont = list.metadata.continue ?? '';
      pages++;
    } while (cont);
    pagedMs.push(now() - t0);
    if (items !== expected) throw new Error(`the paged list returned ${items} pods, expected ${expected}`);
  }
  return {
    items: expected, fullMs: fullMs.map(round1), fullMedianMs: round1(median(fullMs)), fullBytes, ...(fullError ? { fullError } : {}),
    pagedMs: pagedMs.map(round1), pagedMedianMs: round1(median(pagedMs)), pages,
  };
}

interface WatchResult {
  watchers: number;
  objects: number;
  ratePerSecond: number;
  deliveries: number;
  expectedDeliveries: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Latency of the create calls made during the phase. */
  createP50Ms: number;
  createP99Ms: number;
  serverCores: number;
  etcdCores?: number;
  clientCores: number;
  othersCores: number;
}

async function watchLatency(client: Client, creds: Credentials, pids: Pids, ns: string): Promise<WatchResult> {
  const listRes = await client.expect('GET', `/api/v1/namespaces/${ns}/configmaps`, 200);
  const rv = (JSON.parse(listRes.body.toString('utf8')) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const watchAgent = new https.Agent({ keepAlive: false, maxSockets: Infinity, ca: creds.ca, cert: creds.cert, key: creds.key });
  const requests: ReturnType<typeof https.request>[] = [];
  let allDelivered: () => void = () => {};
  const done = new Promise<void>(r => { allDelivered = r; });
  const expected = WATCHERS * WATCH_OBJECTS;
  try {
    await Promise.all(Array.from({ length: WATCHERS }, () => new Promise<void>((resolve, reject) => {
      const req = https.request({
        host: creds.host, port: creds.port, method: 'GET', agent: watchAgent,
        path: `/api/v1/namespaces/${ns}/configmaps?watch=true&resourceVersion=${rv}`,
        headers: { Accept: 'application/json' },
      }, (res: IncomingMessage) => {
        if (res.statusCode !== 200) { reject(new Error(`watch answered ${res.statusCode}`)); return; }
        resolve();
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const arrived = now();
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (!line) continue;
            const ev = JSON.parse(line) as { type: string; object: { metadata?: { name?: string } } };
            if (ev.type !== 'ADDED') continue;
            const sent = sentAt.get(ev.object.metadata?.name ?? '');
            if (sent === undefined) continue;
            latencies.push(arrived - sent);
            if (latencies.length === expected) allDelivered();
          }
        });
        res.on('error', () => { /* destroyed at the end */ });
      });
      req.on('error', err => { if (!req.destroyed) reject(err); });
      req.end();
      requests.push(req);
    })));
    // Give the server a moment to register every watcher with the store.
    await sleep(200);

    const snap = cpuSnapshot(pids);
    const createLatencies: number[] = [];
    const interval = 1000 / WATCH_RATE_PER_S;
    const start = now();
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < WATCH_OBJECTS; i++) {
      const due = start + i * interval;
      const wait = due - now();
      if (wait > 0) await sleep(wait);
      const name = `w-${i}`;
      const body = configMap(name);
      const t0 = now();
      sentAt.set(name, t0);
      // Open loop: the next create goes out on schedule whether or not this one has returned.
      inflight.push(client.expect('POST', `/api/v1/namespaces/${ns}/configmaps`, 201, body).then(() => { createLatencies.push(now() - t0); }));
    }
    await Promise.all(inflight);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>(r => { timer = setTimeout(r, 15_000); })]);
    clearTimeout(timer);
    const cpu = cpuSince(pids, snap);
    return {
      watchers: WATCHERS, objects: WATCH_OBJECTS, ratePerSecond: WATCH_RATE_PER_S,
      deliveries: latencies.length, expectedDeliveries: expected,
      p50Ms: round2(percentile(latencies, 50)), p99Ms: round2(percentile(latencies, 99)), maxMs: round2(Math.max(...latencies)),
      createP50Ms: round2(percentile(createLatencies, 50)), createP99Ms: round2(percentile(createLatencies, 99)),
      ...cpu,
    };
  } finally {
    for (const req of requests) req.destroy();
    watchAgent.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// One backend, start to finish.

interface BackendResult {
  backend: 'sqlite' | 'etcd';
  rssIdleMiB: number;
  warmup: CreateResult;
  createSequential: CreateResult[];
  createConcurrent: CreateResult[];
  createSequentialMedian: ReturnType<typeof medianOf>;
  createConcurrentMedian: ReturnType<typeof medianOf>;
  podCreates: CreateResult;
  list: ListResult;
  rssAfterListMiB: number;
  etcdRssAfterListMiB?: number;
  watch: WatchResult;
  rssPeakMiB: number;
  profile?: ProfileSummary;
}

const medianOf = (runs: CreateResult[]) => ({
  perSecond: Math.round(median(runs.map(r => r.perSecond))),
  p50Ms: round2(median(runs.map(r => r.p50Ms))),
  p99Ms: round2(median(runs.map(r => r.p99Ms))),
  serverCores: round2(median(runs.map(r => r.serverCores))),
  etcdCores: round2(median(runs.map(r => r.etcdCores ?? 0))),
  clientCores: round2(median(runs.map(r => r.clientCores))),
  othersCores: round2(median(runs.map(r => r.othersCores))),
  /** Creates per CPU-second of the server: the figure least disturbed by other load. */
  perServerCpuSecond: Math.round(median(runs.map(r => r.perSecond / r.serverCores))),
});

/** Everything a run has started, stopped in reverse order even when a phase fails. */
const cleanups: (() => Promise<void> | void)[] = [];

async function cleanupAll(): Promise<void> {
  await unwindTo(0);
}

async function unwindTo(mark: number): Promise<void> {
  while (cleanups.length > mark) {
    const step = cleanups.pop()!;
    try { await step(); } catch (err) { console.error(`cleanup step failed: ${(err as Error).message}`); }
  }
}

async function runBackend(backend: 'sqlite' | 'etcd', rounds: number, profileDir: string | undefined): Promise<BackendResult> {
  const log = (msg: string) => console.error(`[${backend}] ${msg}`);
  const mark = cleanups.length;
  let etcd: EtcdCluster | undefined;
  if (backend === 'etcd') {
    etcd = await EtcdCluster.start({ members: 1 });
    const e = etcd;
    cleanups.push(() => e.stop());
    log(`etcd ${ETCD_BIN} on ${etcd.url}`);
  }
  const server = new TestServer(etcd ? ['--datastore-endpoint', etcd.url] : [], undefined, { logLevel: 'info' });
  cleanups.push(() => server.stop());
  if (profileDir) cleanups.push(() => server.kill('SIGTERM'));
  await server.start(60_000);
  server.discardOutput();
  const pids: Pids = { server: serverPid(server.dataDir), ...(etcd?.members[0]?.process?.pid ? { etcd: etcd.members[0].process.pid } : {}) };
  log(`server pid ${pids.server} at ${server.url}, data dir ${server.dataDir}`);
  const creds = loadCredentials(server.kubeconfig);
  const client = new Client(creds, CONCURRENCY);
  cleanups.push(() => client.close());
  const rssIdleMiB = rssMiB(pids.server);

  for (const ns of ['bench-create', 'bench-list', 'bench-watch']) {
    await client.expect('POST', '/api/v1/namespaces', 201, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  }
  const cmPath = '/api/v1/namespaces/bench-create/configmaps';

  log(`warm-up: ${WARMUP_COUNT} ConfigMaps`);
  const warmup = await createMany(client, pids, cmPath, configMap, 'warm-', WARMUP_COUNT, 4);

  const createSequential: CreateResult[] = [];
  const createConcurrent: CreateResult[] = [];
  for (let r = 0; r < rounds; r++) {
    const seq = await createMany(client, pids, cmPath, configMap, `s${r}-`, CREATE_COUNT, 1);
    createSequential.push(seq);
    const conc = await createMany(client, pids, cmPath, configMap, `c${r}-`, CREATE_COUNT, CONCURRENCY);
    createConcurrent.push(conc);
    log(`round ${r + 1}/${rounds}: sequential ${seq.perSecond}/s (p99 ${seq.p99Ms} ms), ${CONCURRENCY} clients ${conc.perSecond}/s (p99 ${conc.p99Ms} ms)`);
  }

  log(`creating ${LIST_PODS} Pods`);
  const podCreates = await createMany(client, pids, '/api/v1/namespaces/bench-list/pods', pod, 'p-', LIST_PODS, CONCURRENCY);
  log(`  ${podCreates.perSecond}/s; listing`);
  const list = await listPods(client, 'bench-list', LIST_PODS);
  const rssAfterListMiB = rssMiB(pids.server);
  const etcdRssAfterListMiB = pids.etcd ? rssMiB(pids.etcd) : undefined;
  log(`  full ${list.fullError ? `FAILED ${list.fullError}` : `${list.fullMedianMs} ms`}, paged ${list.pagedMedianMs} ms, RSS ${rssAfterListMiB} MiB`);

  log(`watch: ${WATCHERS} watchers, ${WATCH_OBJECTS} creates at ${WATCH_RATE_PER_S}/s`);
  const watch = await watchLatency(client, creds, pids, 'bench-watch');
  log(`  p50 ${watch.p50Ms} ms, p99 ${watch.p99Ms} ms, ${watch.deliveries}/${watch.expectedDeliveries} delivered`);
  const rssPeakMiB = rssMiB(pids.server, 'VmHWM');

  const result: BackendResult = {
    backend, rssIdleMiB, warmup, createSequential, createConcurrent,
    createSequentialMedian: medianOf(createSequential), createConcurrentMedian: medianOf(createConcurrent),
    podCreates, list, rssAfterListMiB, ...(etcdRssAfterListMiB !== undefined ? { etcdRssAfterListMiB } : {}), watch, rssPeakMiB,
  };
  await unwindTo(mark);
  if (profileDir) {
    const file = readdirSync(profileDir).find(f => f.endsWith('.cpuprofile'));
    if (file) {
      result.profile = summarizeCpuProfile(JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as CpuProfile, process.cwd(), 25);
      rmSync(join(profileDir, file));
    } else {
      log('no .cpuprofile was written');
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Report.

const cpuCell = (c: { serverCores: number; etcdCores?: number; clientCores: number; othersCores: number }) =>
  `${c.serverCores} / ${c.etcdCores ? c.etcdCores : '–'} / ${c.clientCores} / ${c.othersCores}`;

function table(results: BackendResult[]): string {
  const by = (b: 'sqlite' | 'etcd') => results.find(r => r.backend === b);
  const s = by('sqlite');
  const e = by('etcd');
  const rows: [string, (r: BackendResult) => string, string][] = [
    ['ConfigMap creates/s, 1 client (sequential)', r => String(r.createSequentialMedian.perSecond), ''],
    ['  p50 / p99 latency (ms)', r => `${r.createSequentialMedian.p50Ms} / ${r.createSequentialMedian.p99Ms}`, 'p99 ≪ 1000 (SLO)'],
    ['  CPU: server / etcd / bench client / other (cores)', r => cpuCell(r.createSequentialMedian), ''],
    ['  creates per server CPU-second', r => String(r.createSequentialMedian.perServerCpuSecond), ''],
    [`ConfigMap creates/s, ${CONCURRENCY} clients`, r => String(r.createConcurrentMedian.perSecond), `≥ ${GOALS.sqliteCreatesPerSecond} (SQLite)`],
    ['  p50 / p99 latency (ms)', r => `${r.createConcurrentMedian.p50Ms} / ${r.createConcurrentMedian.p99Ms}`, 'p99 ≪ 1000 (SLO)'],
    ['  CPU: server / etcd / bench client / other (cores)', r => cpuCell(r.createConcurrentMedian), ''],
    ['  creates per server CPU-second', r => String(r.createConcurrentMedian.perServerCpuSecond), ''],
    [`Pod creates/s, ${CONCURRENCY} clients (${LIST_PODS})`, r => String(r.podCreates.perSecond), ''],
    ['  p50 / p99 latency (ms)', r => `${r.podCreates.p50Ms} / ${r.podCreates.p99Ms}`, 'p99 ≪ 1000 (SLO)'],
    [`List ${LIST_PODS} pods, full (ms, median of ${LIST_REPEATS})`, r => (r.list.fullError ? `FAILED (${r.list.fullError.slice(0, 3)})` : `${r.list.fullMedianMs} (${(r.list.fullBytes / 1048576).toFixed(1)} MiB)`), ''],
    [`List ${LIST_PODS} pods, limit=${PAGE_LIMIT} (ms, all ${LIST_PODS / PAGE_LIMIT} pages)`, r => String(r.list.pagedMedianMs), ''],
    [`Watch delivery, ${WATCHERS} watchers, p50 (ms)`, r => String(r.watch.p50Ms), ''],
    [`Watch delivery p99 / max (ms)`, r => `${r.watch.p99Ms} / ${r.watch.maxMs}`, `p99 ≤ ${GOALS.watchP99Ms}`],
    ['  events delivered', r => `${r.watch.deliveries}/${r.watch.expectedDeliveries}`, 'all'],
    ['  CPU: server / etcd / bench client / other (cores)', r => cpuCell(r.watch), ''],
    ['Server RSS idle (MiB)', r => String(r.rssIdleMiB), ''],
    [`Server RSS after list, ${LIST_PODS} pods (MiB)`, r => String(r.rssAfterListMiB), 'k3s: 512–1024 (docs)'],
    ['Server peak RSS (MiB)', r => String(r.rssPeakMiB), ''],
    ['etcd RSS after list (MiB)', r => (r.etcdRssAfterListMiB !== undefined ? String(r.etcdRssAfterListMiB) : '–'), ''],
  ];
  const header = ['', 'SQLite', 'etcd', 'goal / anchor'];
  const cells = rows.map(([label, f, goal]) => [label, s ? f(s) : 'not run', e ? f(e) : 'not run', goal]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map(c => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join(' | ')} |`;
  return [line(header), `|${widths.map(w => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

function verdicts(results: BackendResult[]): string[] {
  const out: string[] = [];
  const s = results.find(r => r.backend === 'sqlite');
  if (s) {
    const best = Math.max(s.createSequentialMedian.perSecond, s.createConcurrentMedian.perSecond);
    out.push(`SQLite creates/s ≥ ${GOALS.sqliteCreatesPerSecond}: ${best >= GOALS.sqliteCreatesPerSecond ? 'met' : 'NOT met'} (best ${best}/s, ${round1(best / GOALS.sqliteCreatesPerSecond * 100)} % of the goal)`);
  }
  for (const r of results) {
    if (r.list.fullError) out.push(`${r.backend}: the full list of ${LIST_PODS} pods FAILED with ${r.list.fullError}`);
    out.push(`${r.backend}: watch p99 ≤ ${GOALS.watchP99Ms} ms: ${r.watch.p99Ms <= GOALS.watchP99Ms && r.watch.deliveries === r.watch.expectedDeliveries ? 'met' : 'NOT met'} (${r.watch.p99Ms} ms)`);
    const worst = Math.max(r.createSequentialMedian.p99Ms, r.createConcurrentMedian.p99Ms, r.podCreates.p99Ms);
    out.push(`${r.backend}: mutating p99 vs the 1 s SLO: worst ${worst} ms = ${round1(worst / GOALS.mutatingP99SloMs * 100)} % of it`);
  }
  return out;
}

function printProfile(r: BackendResult): void {
  const p = r.profile;
  if (!p) return;
  console.log(`\nServer CPU profile (${r.backend}): ${p.totalMs} ms sampled, ${p.idleMs} ms idle, ${p.gcMs} ms GC. Top self time:`);
  for (const h of p.top) console.log(`  ${String(h.selfMs).padStart(7)} ms ${String(h.selfPercent).padStart(5)} %  ${h.name}`);
  console.log('Top total time (the function and what it called):');
  for (const h of p.topTotal) console.log(`  ${String(h.selfMs).padStart(7)} ms ${String(h.selfPercent).padStart(5)} %  ${h.name}`);
}

// ---------------------------------------------------------------------------------------------
// Main.

function parseArgs(argv: string[]): { backends: ('sqlite' | 'etcd')[]; rounds: number; cpuProf: boolean } {
  let backends: ('sqlite' | 'etcd')[] = ['sqlite', 'etcd'];
  let rounds = 3;
  let cpuProf = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--backend') {
      const v = argv[++i];
      if (v !== 'sqlite' && v !== 'etcd') throw new Error(`--backend must be "sqlite" or "etcd", not "${v ?? ''}"`);
      backends = [v];
    } else if (a === '--rounds') {
      rounds = Number(argv[++i]);
      if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, not "${argv[i] ?? ''}"`);
    } else if (a === '--cpu-prof') {
      cpuProf = true;
    } else {
      throw new Error(`unknown argument "${a ?? ''}" (use --backend sqlite|etcd, --rounds N, --cpu-prof)`);
    }
  }
  return { backends, rounds, cpuProf };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.backends.includes('etcd') && !etcdAvailable()) throw new Error(`etcd is not installed at "${ETCD_BIN}"`);
  const startedAt = new Date();
  const load = loadavg();
  const results: BackendResult[] = [];
  for (const backend of args.backends) {
    let profileDir: string | undefined;
    if (args.cpuProf) {
      profileDir = mkdtempSync(join(tmpdir(), 'k8ts-bench-prof-'));
      const dir = profileDir;
      process.env['NODE_OPTIONS'] = `--import ${join(import.meta.dirname, 'cpu-prof-preload.js')}`;
      process.env['K8TS_BENCH_CPU_PROF_DIR'] = dir;
      cleanups.unshift(() => rmSync(dir, { recursive: true, force: true }));
    }
    results.push(await runBackend(backend, args.rounds, profileDir));
    delete process.env['NODE_OPTIONS'];
    delete process.env['K8TS_BENCH_CPU_PROF_DIR'];
  }
  const etcdVersion = args.backends.includes('etcd') ? execFileSync(ETCD_BIN, ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? '' : '';
  const machine = {
    cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', node: process.version, etcd: etcdVersion,
    loadavgAtStart: load.map(round2),
    note: `client (this process) and server share the ${cpus().length} cores; the client uses raw node:https with a keep-alive agent`,
  };

  console.log(`\nk8ts apiserver over HTTPS (admin client cert), ${startedAt.toISOString()}`);
  console.log(`machine: ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}${etcdVersion ? `, ${etcdVersion}` : ''}, load at start ${machine.loadavgAtStart.join(' ')}`);
  console.log(`NOTE: ${machine.note}; the server logs at info level (no per-request lines).`);
  console.log(`creates: ${args.rounds} rounds × ${CREATE_COUNT} ConfigMaps per mode after a ${WARMUP_COUNT}-object warm-up, medians of the rounds; watch: ${WATCH_OBJECTS} creates at ${WATCH_RATE_PER_S}/s, latency from sending the create to the watcher parsing the event.\n`);
  console.log(table(results));
  console.log('');
  for (const v of verdicts(results)) console.log(v);
  for (const r of results) printProfile(r);

  if (!args.cpuProf) {
    const dir = join(process.cwd(), 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `apiserver-${startedAt.toISOString().slice(0, 10)}.json`);
    writeFileSync(file, JSON.stringify({ benchmark: 'apiserver', startedAt: startedAt.toISOString(), machine, goals: GOALS, rounds: args.rounds, results }, null, 2) + '\n');
    console.log(`\nwrote ${file}`);
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void cleanupAll().finally(() => process.exit(130)); });
}

main().then(
  async () => { await cleanupAll(); },
  async (err: unknown) => {
    console.error(err instanceof Error ? err.stack ?? err.message : err);
    await cleanupAll();
    process.exitCode = 1;
  },
);

// The agent under load: a real `k8ts server` (e2e harness) and a real agent process (its own
// containerd, CNI bridge in a private network namespace) on this machine; 100 pods with the local
// busybox test image bound to the agent's node; create→Running latency per pod (from just before
// the POST to the watch event that first shows phase Running) and the agent's RSS once all 100 run.
//
// Design notes:
// - Two shapes, in the same run: "paced" creates one pod every 1000/rate ms (upstream's density
//   test creates at a fixed rate too), "burst" posts all 100 at once. A burst on 2 cores measures
//   queueing behind ~5 processes per pod (ip netns add, 2 CNI plugins, ctr run per container).
// - The image is imported and one warm-up pod run first: the goal is for "once the image is present".
// - RSS is the agent process alone (VmRSS), containerd's and the shims' are reported beside it.
// - Anchors: upstream's pod start-up SLO is p99 ≤ 5 s; k3s documents ~275 MB for its agent.
//
// Usage: npm run build && node dist/bench/kubelet.js [--pods 100] [--rate 5] [--shapes paced,burst]
//   [--parallel-starts N] [--node-flags=--max-semi-space-size=1] [--out FILE]
//   (without --node-flags the agent runs with the V8 flags bin/k8ts gives it)
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { TestServer, repoRoot } from '../test/e2e/harness.js';
import { TestAgent, testImageName } from '../test/e2e/agent-harness.js';

const { values } = parseArgs({ options: { pods: { type: 'string' }, rate: { type: 'string' }, shapes: { type: 'string' }, 'node-flags': { type: 'string' }, 'agent-log-level': { type: 'string' }, 'parallel-starts': { type: 'string' }, out: { type: 'string' } } });
const SHAPES = (values.shapes ?? 'paced,burst').split(',') as ('paced' | 'burst')[];
const PODS = Number(values.pods ?? 100);
const RATE = Number(values.rate ?? 5);

function rssKiB(pid: number | undefined): number {
  if (!pid) return 0;
  try { return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0); } catch { return 0; }
}

function pidsOf(pattern: RegExp): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try { if (pattern.test(readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' '))) out.push(Number(d)); } catch { /* gone */ }
  }
  return out;
}

/**
 * The V8 flags `bin/k8ts agent` (and so the installed service) runs the agent with. The RSS goal is
 * about the agent as users run it, so the bench takes them from the launcher, its one source.
 */
function agentNodeFlags(): string[] {
  const launcher = readFileSync(join(repoRoot, 'bin/k8ts'), 'utf8');
  const line = /^\s*agent\) exec "\$node" (.*) "\$here/m.exec(launcher)?.[1];
  if (line === undefined) throw new Error('bin/k8ts: no agent launch line found');
  return line.split(' ').filter((f) => f.startsWith('--') && f !== '--enable-source-maps');
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

class Watcher {
  readonly runningAt = new Map<string, number>();
  readonly goneAt = new Map<string, number>();
  private req: ReturnType<typeof https.request> | undefined;
  constructor(private readonly server: TestServer, private readonly agent: https.Agent) {}
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.req = https.request({ host: '127.0.0.1', port: this.server.port, path: '/api/v1/namespaces/default/pods?watch=1', agent: this.agent, headers: { Accept: 'application/json' } }, res => {
        let rest = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          rest += c;
          let nl: number;
          while ((nl = rest.indexOf('\n')) >= 0) {
            const line = rest.slice(0, nl);
            rest = rest.slice(nl + 1);
            try {
              const ev = JSON.parse(line) as { type: string; object: { metadata: { name: string }; status?: { phase?: string } } };
              const name = ev.object.metadata.name;
              if (ev.type === 'DELETED') this.goneAt.set(name, performance.now());
              else if (ev.object.status?.phase === 'Running' && !this.runningAt.has(name)) this.runningAt.set(name, performance.now());
            } catch { /* partial */ }
          }
        });
        resolve();
      });
      this.req.on('error', err => { if (this.req) reject(err); });
      this.req.end();
    });
  }
  stop(): void { const r = this.req; this.req = undefined; r?.destroy(); }
}

async function post(agent: https.Agent, port: number, path: string, body: unknown, method = 'POST'): Promise<number> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path, method, agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } }, res => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function waitUntil(pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) return false;
    await new Promise(r => setTimeout(r, 20));
  }
  return true;
}

interface Phase { shape: string; pods: number; p50Ms: number; p99Ms: number; maxMs: number; running: number; agentRssMiB: number; containerdRssMiB: number; shimsRssMiB: number; deleteAllMs: number; agentCpuSec: number }

function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function runPhase(shape: 'paced' | 'burst', server: TestServer, agent: TestAgent, http: https.Agent): Promise<Phase> {
  const watcher = new Watcher(server, http);
  await watcher.start();
  const createdAt = new Map<string, number>();
  const cpu0 = cpuSeconds(agent.pid);
  const pod = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { bench: 'kubelet' } }, spec: { nodeName: agent.nodeName, terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: testImageName, command: ['sleep', '3600'] }] } });
  const names = Array.from({ length: PODS }, (_, i) => `${shape}-${i}`);
  if (shape === 'paced') {
    for (const n of names) {
      const t = performance.now();
      createdAt.set(n, t);
      const code = await post(http, server.port, '/api/v1/namespaces/default/pods', pod(n));
      if (code !== 201) throw new Error(`create ${n}: ${code}`);
      const next = t + 1000 / RATE - performance.now();
      if (next > 0) await new Promise(r => setTimeout(r, next));
    }
  } else {
    await Promise.all(names.map(async n => {
      createdAt.set(n, performance.now());
      const code = await post(http, server.port, '/api/v1/namespaces/default/pods', pod(n));
      if (code !== 201) throw new Error(`create ${n}: ${code}`);
    }));
  }
  await waitUntil(() => names.every(n => watcher.runningAt.has(n)), 180_000);
  const lat = names.filter(n => watcher.runningAt.has(n)).map(n => watcher.runningAt.get(n)! - createdAt.get(n)!);
  await new Promise(r => setTimeout(r, 2000)); // let the agent settle before reading RSS
  const agentRss = rssKiB(agent.pid);
  const ctd = pidsOf(new RegExp(`containerd --config ${agent.dataDir}`)).reduce((s, p) => s + rssKiB(p), 0);
  const shims = pidsOf(/containerd-shim-runc-v2 -namespace k8ts/).reduce((s, p) => s + rssKiB(p), 0);
  const cpu1 = cpuSeconds(agent.pid);
  const t0 = performance.now();
  await Promise.all(names.map(n => post(http, server.port, `/api/v1/namespaces/default/pods/${n}`, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 }, 'DELETE')));
  await waitUntil(() => names.every(n => watcher.goneAt.has(n)), 180_000);
  // Gone from the API after the agent's final delete; containers and networks are gone before it.
  const deleteAllMs = performance.now() - t0;
  watcher.stop();
  return {
    shape, pods: PODS, running: lat.length,
    p50Ms: Math.round(percentile(lat, 50)), p99Ms: Math.round(percentile(lat, 99)), maxMs: Math.round(Math.max(...lat)),
    agentRssMiB: Math.round(agentRss / 1024), containerdRssMiB: Math.round(ctd / 1024), shimsRssMiB: Math.round(shims / 1024),
    deleteAllMs: Math.round(deleteAllMs), agentCpuSec: Math.round((cpu1 - cpu0) * 10) / 10,
  };
}

const server = new TestServer();
let agent: TestAgent | undefined;
try {
  await server.start();
  agent = new TestAgent(server, ['--relist-period', '10s', ...(values['parallel-starts'] ? ['--parallel-starts', values['parallel-starts']] : [])], values['agent-log-level'] ?? 'info', values['node-flags']?.split(' ').filter(Boolean) ?? agentNodeFlags());
  await agent.start();
  agent.stopLogCapture();
  await agent.importImage();
  const kc = parseYaml(readFileSync(server.kubeconfig, 'utf8')) as { clusters: { cluster: Record<string, string> }[]; users: { user: Record<string, string> }[] };
  const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64');
  const http = new https.Agent({ keepAlive: true, maxSockets: 32, ca: b64(kc.clusters[0]!.cluster['certificate-authority-data']), cert: b64(kc.users[0]!.user['client-certificate-data']), key: b64(kc.users[0]!.user['client-key-data']) });
  // Warm-up: the first container unpacks the image's snapshot.
  await post(http, server.port, '/api/v1/namespaces/default/pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'warmup' }, spec: { nodeName: agent.nodeName, terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: testImageName, command: ['true'] }], restartPolicy: 'Never' } });
  await new Promise(r => setTimeout(r, 3000));
  await post(http, server.port, '/api/v1/namespaces/default/pods/warmup', { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 }, 'DELETE');
  const idleRss = Math.round(rssKiB(agent.pid) / 1024);
  const phases: Phase[] = [];
  for (const shape of SHAPES) phases.push(await runPhase(shape, server, agent, http));
  const result = { date: new Date().toISOString(), pods: PODS, parallelStarts: Number(values['parallel-starts'] ?? 4), agentNodeFlags: values['node-flags'] ?? agentNodeFlags().join(' '), ratePerSec: RATE, agentIdleRssMiB: idleRss, phases, goals: { p99Ms: 1000, agentRssMiB: 100 }, anchors: { upstreamPodStartupSloP99Ms: 5000, k3sAgentRssMiB: 275 } };
  console.log(JSON.stringify(result, null, 2));
  const dir = join(repoRoot, 'bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(values.out ?? join(dir, `kubelet-${result.date.slice(0, 10)}.json`), JSON.stringify(result, null, 2) + '\n');
  http.destroy();
} finally {
  await agent?.cleanup();
  await server.stop();
}

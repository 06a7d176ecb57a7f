// A real `k8ts agent` (dist/agent/main.js) against a TestServer, on a real containerd it starts
// itself, with everything private to the test: data dir, containerd socket, CNI conf dir and IPAM
// dir, a bridge with a random name inside a "node" network namespace of its own (so the host's
// root namespace is never touched), a private netns prefix and pod log dir. `cleanup()` removes
// all of it, even after a failed test: containers, tasks, namespaces, IPs, containerd.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createServer as createHttp2Server, type Http2Server } from 'node:http2';
import { execa } from 'execa';
import { decodeHealthCheckRequest, encodeHealthCheckResponse, frame, healthCheckPath, unframe } from '../../agent/grpc-health.js';
import { withNetnsSync } from '../../kernel/netns.js';
import { CtrRuntime } from '../../agent/ctr.js';
import { defaultRunDir } from '../../agent/cli.js';
import { buildBusyboxImage, ensureBusyboxImage, testImageName } from '../images/build-busybox-image.js';
import type { Pod, PodStatus } from 'kubernetes-types/core/v1.js';
import { eventually, repoRoot, type TestServer } from './harness.js';

export const agentMain = join(repoRoot, 'dist/agent/main.js');
export { testImageName };

export class TestAgent {
  readonly id = randomBytes(3).toString('hex');
  readonly nodeName = `node-${this.id}`;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'k8ts-agent-'));
  readonly nodeNetns = `k8ts-e2e-node-${this.id}`;
  readonly netnsPrefix = `k8ts-e2e-${this.id}-`;
  readonly bridge = `k8e${this.id}`;
  readonly podCIDR: string;
  private proc: ChildProcess | undefined;
  private output = '';
  private capture = true;

  constructor(private readonly server: TestServer, private readonly extraArgs: string[] = [], private readonly logLevel = 'debug', private readonly nodeFlags: string[] = []) {
    this.podCIDR = `10.244.${(parseInt(this.id.slice(0, 2), 16) % 250) + 1}.0/24`;
  }

  get runDir(): string { return defaultRunDir(this.dataDir); }
  get socket(): string { return join(this.runDir, 'containerd.sock'); }
  get logDir(): string { return join(this.dataDir, 'pod-logs'); }
  get ipamDir(): string { return join(this.dataDir, 'cni-ipam', 'k8ts'); }
  get logs(): string { return this.output; }
  get pid(): number | undefined { return this.proc?.pid; }
  runtime(): CtrRuntime { return new CtrRuntime({ address: this.socket, namespace: 'k8ts' }); }

  async start(timeoutMs = 30_000): Promise<void> {
    if (!existsSync(`/run/netns/${this.nodeNetns}`)) await execa('ip', ['netns', 'add', this.nodeNetns]);
    this.output = '';
    this.capture = true;
    const proc = spawn(process.execPath, [...this.nodeFlags, agentMain, 'agent',
      '--server', this.server.url, '--token-file', join(this.server.dataDir, 'token'), '--server-ca', join(this.server.dataDir, 'tls/ca.crt'),
      '--node-name', this.nodeName, '--node-ip', '127.0.0.1', '--data-dir', this.dataDir,
      '--cni-conf-dir', join(this.dataDir, 'cni-conf'), '--cni-netns', this.nodeNetns, '--cni-bridge', this.bridge, '--pod-cidr', this.podCIDR,
      '--pod-log-dir', this.logDir, '--netns-prefix', this.netnsPrefix, '--log-format', 'json', ...this.extraArgs,
    ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, K8TS_LOG_LEVEL: this.logLevel } });
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent not ready after ${timeoutMs} ms:\n${this.output.slice(-4000)}`)), timeoutMs);
      const onData = (c: Buffer) => {
        if (process.env.K8TS_AGENT_LOG) appendFileSync(process.env.K8TS_AGENT_LOG, c);
        if (!this.capture) return;
        this.output += c.toString();
        if (this.output.includes('k8ts agent is ready')) { clearTimeout(timer); resolve(); }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', code => { clearTimeout(timer); reject(new Error(`agent exited with ${code}:\n${this.output.slice(-4000)}`)); });
    });
  }

  /** Stops keeping the agent's output (long runs); the pipes are still drained. */
  stopLogCapture(): void {
    this.capture = false;
  }

  /** SIGTERM and wait: the agent stops its containerd; containers keep running in their shims. */
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>(resolve => { proc.once('exit', () => resolve()); proc.kill('SIGTERM'); });
  }

  async importImage(): Promise<void> {
    const archive = join(tmpdir(), 'k8ts-busybox-test-image.tar');
    await ensureBusyboxImage(archive);
    const r = await execa(process.execPath, [agentMain, 'images', 'import', archive, '--data-dir', this.dataDir], { reject: false });
    if (r.exitCode !== 0) throw new Error(`image import failed: ${r.stderr}`);
  }

  /** Builds the test image under another name with `user` as its USER, and imports it. */
  async importImageWithUser(name: string, user: string): Promise<void> {
    const archive = join(this.dataDir, `image-${name.replace(/[^\w.-]/g, '_')}.tar`);
    await buildBusyboxImage(archive, { name, user });
    const r = await execa(process.execPath, [agentMain, 'images', 'import', archive, '--data-dir', this.dataDir], { reject: false });
    rmSync(archive, { force: true });
    if (r.exitCode !== 0) throw new Error(`image import failed: ${r.stderr}`);
  }

  /** The log of a container attempt, as the agent wrote it. */
  containerLog(namespace: string, pod: string, uid: string, container: string, attempt = 0): string {
    const f = join(this.logDir, `${namespace}_${pod}_${uid}`, container, `${attempt}.log`);
    // The agent writes CRI lines (`<time> <stream> <F|P> <text>`); tests read the text.
    return existsSync(f) ? readFileSync(f, 'utf8').replace(/^\S+ (?:stdout|stderr) F ?/gm, '') : '';
  }

  /** Network namespaces this agent created for pods. */
  podNetns(): string[] {
    return existsSync('/run/netns') ? readdirSync('/run/netns').filter(n => n.startsWith(this.netnsPrefix)) : [];
  }

  /** IPs host-local holds for this agent's network. */
  allocatedIPs(): string[] {
    return existsSync(this.ipamDir) ? readdirSync(this.ipamDir).filter(f => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : [];
  }

  /** Removes everything, whatever state the test left: run from afterAll. */
  async cleanup(): Promise<void> {
    await this.stop().catch(() => undefined);
    // A containerd of our own for the clean-up, so containers can be removed even if the agent died.
    const { ContainerdSupervisor } = await import('../../agent/containerd.js');
    const ctd = new ContainerdSupervisor({ dataDir: this.dataDir, runDir: this.runDir });
    try {
      await ctd.start(30_000);
      const rt = this.runtime();
      for (const id of await rt.listContainers()) {
        await rt.kill(id, 'SIGKILL').catch(() => undefined);
        for (let i = 0; i < 50 && (await rt.listTasks()).some(t => t.id === id && t.status === 'RUNNING'); i++) await new Promise(r => setTimeout(r, 100));
        await rt.deleteTask(id).catch(() => undefined);
        await rt.deleteContainer(id).catch(() => undefined);
      }
    } catch (err) {
      process.stderr.write(`agent clean-up: containerd: ${String(err)}\n`);
    } finally {
      await ctd.stop();
    }
    // Shims of tasks containerd could not delete would outlive it: end those of our socket only.
    for (const pid of readdirSync('/proc').filter(d => /^\d+$/.test(d))) {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        if (cmd[0]?.endsWith('containerd-shim-runc-v2') && cmd.includes(this.socket)) process.kill(Number(pid), 'SIGKILL');
      } catch { /* gone */ }
    }
    for (const n of this.podNetns()) await execa('ip', ['netns', 'delete', n], { reject: false });
    await execa('ip', ['netns', 'delete', this.nodeNetns], { reject: false });
    // Pod UTS namespaces (bind mounts under the data dir) of pods the agent had no time to remove.
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map(l => l.split(' ')[4] ?? '')
      .filter(m => m.startsWith(`${this.dataDir}/`) || m.startsWith(`${this.runDir}/`)).sort().reverse();
    for (const m of mounts) await execa('umount', [m], { reject: false });
    rmSync(this.runDir, { recursive: true, force: true });
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Starts the server and an agent on it, with the test image imported, once the Node is Ready. */
export async function startNodeWithAgent(server: TestServer, agentArgs: string[]): Promise<TestAgent> {
  await server.start();
  const agent = new TestAgent(server, agentArgs);
  try {
    await agent.start();
    await agent.importImage();
    await eventually('the Node to be Ready', async () => {
      const r = await server.request('GET', `/api/v1/nodes/${agent.nodeName}`);
      const n = r.body as { status?: { conditions?: { type: string; status: string }[] } };
      return n.status?.conditions?.some(c => c.type === 'Ready' && c.status === 'True') ? true : undefined;
    });
  } catch (err) {
    await agent.cleanup().catch(() => undefined); // the caller never gets it to clean up
    throw err;
  }
  return agent;
}

/** Deletes the pods, removes everything the agent made, and stops the server — also after a failure. */
export async function stopNodeWithAgent(server: TestServer, agent: TestAgent | undefined): Promise<void> {
  try {
    const r = await server.request('GET', '/api/v1/namespaces/default/pods');
    for (const p of (r.body as { items?: Pod[] }).items ?? []) await server.request('DELETE', `/api/v1/namespaces/default/pods/${p.metadata!.name}?gracePeriodSeconds=0`);
  } catch { /* the server may be gone */ }
  try {
    await agent?.cleanup();
  } finally {
    await server.stop();
  }
}

/** The pod helpers every agent e2e file uses, bound to one server and the node of an agent. */
export function podHelpers(server: TestServer, nodeName: () => string, defaults: { terminationGracePeriodSeconds?: number } = {}) {
  const grace = defaults.terminationGracePeriodSeconds ?? 1;
  async function getPod(name: string): Promise<Pod | undefined> {
    const r = await server.request('GET', `/api/v1/namespaces/default/pods/${name}`);
    return r.status === 200 ? r.body as Pod : undefined;
  }
  async function createPod(name: string, spec: Record<string, unknown>): Promise<Pod> {
    const r = await server.request('POST', '/api/v1/namespaces/default/pods', {
      apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { nodeName: nodeName(), terminationGracePeriodSeconds: grace, ...spec },
    });
    if (r.status !== 201) throw new Error(`creating pod ${name}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as Pod;
  }
  function waitStatus(name: string, pred: (s: PodStatus) => boolean, timeoutMs?: number): Promise<Pod> {
    return eventually(`pod ${name}`, async () => {
      const p = await getPod(name);
      return p?.status && pred(p.status) ? p : undefined;
    }, timeoutMs);
  }
  return { getPod, createPod, waitStatus };
}

/**
 * A gRPC health server (grpc.health.v1.Health/Check over h2c) listening on `port` inside the
 * network namespace `netns`, answering from `statuses` (service → ServingStatus number); an
 * unknown service gets NOT_FOUND and any other method UNIMPLEMENTED, as grpc-go's health server.
 * The listening socket is created with the thread in the namespace (a listen without a host
 * binds synchronously), so it serves there.
 */
export function startGrpcHealthServer(netns: string, port: number, statuses: Map<string, number>): Promise<Http2Server> {
  const server = createHttp2Server();
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const trailersOnly = (code: number, message: string) => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeURIComponent(message) }, { endStream: true });
    if (headers[':path'] !== healthCheckPath) { stream.resume(); trailersOnly(12, `unknown service ${String(headers[':path'])}`); return; }
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const service = decodeHealthCheckRequest(unframe(Buffer.concat(chunks)));
      const st = statuses.get(service);
      if (st === undefined) { trailersOnly(5, 'unknown service'); return; }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(frame(encodeHealthCheckResponse(st)));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => resolve(server));
    withNetnsSync(netns, () => server.listen(port));
  });
}

// `k8ts lab`: a real multi-node k8ts cluster on this machine, one network namespace per node,
// cabled by veth to an underlay switch (a bridge in a namespace of its own). The layout is in
// plan.ts; this file makes it real and takes it down again.
//
// Design notes.
// - Nothing in the root network namespace changes: every link is created inside the switch
//   namespace (its peer moved straight into the node's), and the kubeconfig reaches the apiserver
//   through a forwarder process that inherits a listening socket bound to 127.0.0.1 in the root
//   namespace (made here, passed as fd 3) while it runs — and connects — inside node 1's
//   namespace. No address, route or rule is added to the host.
// - Node processes run under `nsenter --net` only (not `ip netns exec`, which also unshares the
//   mount namespace and would hide the pods' namespace mounts from the host and from `down`).
//   They are detached from the terminal; their pids (with their start times, so a reused pid is
//   never killed) go into the state file before anything else is made, so `down` works after a
//   crash of `up` or of the machine's processes.
// - `down` also finds what the records may miss: every process inside one of the lab's network
//   namespaces, every containerd or shim of a node's run dir, every mount under its folders.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync, writeFileSync, renameSync, copyFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Node } from 'kubernetes-types/core/v1.js';
import { clientFromKubeconfig } from '../../api/client/https.js';
import { resources } from '../../api/client/types.js';
import { defaultRunDir } from '../../agent/cli.js';
import { ContainerdSupervisor } from '../../agent/containerd.js';
import { CtrRuntime } from '../../agent/ctr.js';
import { run } from '../../kernel/netns.js';
import { installCni } from '../../cni/install.js';
import { ensureBusyboxImage } from '../../test/images/build-busybox-image.js';
import { agentArgs, checkLabName, labRoot, LabError, pickIndex, planLab, proxyArgs, serverArgs, switchSysctls, withServer, findNode, type LabNetwork, type LabPlan, type LabProxy, type LabCni, type NodePlan } from './plan.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The checkout's launcher (dist/test-vm/lab → bin/k8ts). */
export const k8tsBin = join(here, '../../../bin/k8ts');
const forwarderMain = join(here, 'forwarder.js');
export const testImageArchive = join(tmpdir(), 'k8ts-busybox-test-image.tar');

interface ProcRecord { what: string; pid: number; start: string }

export interface LabState {
  version: 1;
  plan: LabPlan;
  createdAt: string;
  procs: ProcRecord[];
  apiPort?: number;
  kubeconfig?: string;
  /** Wall time from the start of `up` to every node Ready, ms. */
  upMs?: number;
}

export type Out = (line: string) => void;

// ───────────────────────────── state ─────────────────────────────

function stateFileOf(name: string): string { return join(labRoot, name, 'lab.json'); }

export function readState(name: string): LabState | undefined {
  checkLabName(name);
  try { return JSON.parse(readFileSync(stateFileOf(name), 'utf8')) as LabState; } catch { return undefined; }
}

function saveState(st: LabState): void {
  mkdirSync(st.plan.dir, { recursive: true });
  writeFileSync(`${st.plan.stateFile}.tmp`, JSON.stringify(st, null, 2));
  renameSync(`${st.plan.stateFile}.tmp`, st.plan.stateFile);
}

export function listLabs(): LabState[] {
  if (!existsSync(labRoot)) return [];
  return readdirSync(labRoot).map(n => { try { return readState(n); } catch { return undefined; } }).filter((s): s is LabState => s !== undefined);
}

// ───────────────────────────── processes ─────────────────────────────

/** A process' start time (clock ticks since boot): with the pid, it names one process for good. */
function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function isAlive(p: ProcRecord): boolean {
  if (procStart(p.pid) !== p.start) return false;
  try {
    const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z'; // a zombie is dead, only not yet reaped
  } catch {
    return false;
  }
}

function signal(p: ProcRecord, sig: NodeJS.Signals): void {
  if (isAlive(p)) try { process.kill(p.pid, sig); } catch { /* gone */ }
}

function spawnDetached(what: string, netns: string, argv: string[], logFile: string, extraFds: number[] = []): ProcRecord {
  mkdirSync(dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn('nsenter', [`--net=/run/netns/${netns}`, '--', ...argv], { detached: true, stdio: ['ignore', fd, fd, ...extraFds] });
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new LabError(`could not start ${what}`);
    return { what, pid, start: procStart(pid) ?? '' };
  } finally {
    closeSync(fd);
  }
}

async function sleep(ms: number): Promise<void> { await new Promise(r => setTimeout(r, ms)); }

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, logHint?: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) {
      let tail = '';
      if (logHint && existsSync(logHint)) tail = `\n--- ${logHint} (last lines) ---\n${readFileSync(logHint, 'utf8').split('\n').slice(-25).join('\n')}`;
      throw new LabError(`timed out after ${timeoutMs} ms waiting for ${what}${tail}`);
    }
    await sleep(100);
  }
}

// ───────────────────────────── up ─────────────────────────────

export interface UpOptions {
  name: string;
  nodes: number;
  network: LabNetwork;
  proxy: LabProxy;
  /** The CNI plugin (default k8ts). */
  cni?: LabCni;
  kubeconfig?: string;
  /** Load the test image (docker.io/k8ts/busybox:test) on every node (default true). */
  loadTestImage?: boolean;
  timeoutMs?: number;
  /** More flags for node 1's `k8ts server` (tests: short node-monitor grace periods and the like). */
  serverArgs?: string[];
}

async function ip(netns: string, lines: string[]): Promise<void> {
  await run('ip', ['-n', netns, '-batch', '-'], `${lines.join('\n')}\n`);
}

/** `sysctl -w` in `netns`; with `ignoreUnknown`, keys the kernel does not have are skipped (`-e`). */
async function sysctlIn(netns: string, settings: readonly string[], ignoreUnknown = false): Promise<void> {
  await run('nsenter', [`--net=/run/netns/${netns}`, 'sysctl', ignoreUnknown ? '-eqw' : '-qw', ...settings]);
}

/**
 * The underlay: the switch namespace with its bridge, and every node namespace cabled to it.
 * Exported for bench/network, whose bare-topology ceiling is built on this very underlay.
 */
export async function buildUnderlay(p: LabPlan): Promise<void> {
  await run('ip', ['netns', 'add', p.switchNetns]);
  await ip(p.switchNetns, ['link set lo up', `link add ${p.bridge} type bridge`, `addr add ${p.gateway}/24 dev ${p.bridge}`, `link set ${p.bridge} up`]);
  await sysctlIn(p.switchNetns, switchSysctls.required);
  await sysctlIn(p.switchNetns, switchSysctls.optional, true);
  await Promise.all(p.nodes_.map(n => cableNode(p, n)));
}

/** A node's namespace, cabled to the switch. */
async function cableNode(p: LabPlan, n: NodePlan): Promise<void> {
  await run('ip', ['netns', 'add', n.netns]);
  await ip(p.switchNetns, [`link add ${n.switchPort} type veth peer name eth0 netns ${n.netns}`, `link set ${n.switchPort} master ${p.bridge}`, `link set ${n.switchPort} up`]);
  await ip(n.netns, ['link set lo up', `addr add ${n.ip}/24 dev eth0`, 'link set eth0 up', `route add default via ${p.gateway}`]);
  await sysctlIn(n.netns, ['net.ipv4.ip_forward=1']);
}

/** A socket listening on 127.0.0.1 in this (the root) namespace, for the forwarder to inherit. */
async function listenLoopback(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, () => resolve());
  });
  return server;
}

function listeningFd(server: Server): number {
  const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new LabError('cannot pass the listening socket to the forwarder');
  return fd;
}

function nodeReady(n: Node): boolean {
  return n.status?.conditions?.some(c => c.type === 'Ready' && c.status === 'True') ?? false;
}

export async function labUp(o: UpOptions, out: Out): Promise<LabState> {
  const t0 = Date.now();
  checkLabName(o.name);
  const existing = readState(o.name);
  if (existing) throw new LabError(`lab "${o.name}" exists (created ${existing.createdAt}); remove it with: k8ts lab down --name ${o.name}`);
  if (existsSync(join(labRoot, o.name))) throw new LabError(`${join(labRoot, o.name)} exists without a state file: remove it (k8ts lab down --name ${o.name})`);
  // `down` removes the file again: never take over one that was there before.
  if (o.kubeconfig && existsSync(o.kubeconfig)) throw new LabError(`--kubeconfig ${o.kubeconfig} exists: the lab writes (and \`down\` removes) a file of its own`);
  const index = pickIndex(listLabs().map(s => s.plan.index));
  const p = planLab({ name: o.name, nodes: o.nodes, network: o.network, proxy: o.proxy, cni: o.cni ?? 'k8ts', index });
  const st: LabState = { version: 1, plan: p, createdAt: new Date().toISOString(), procs: [] };
  saveState(st);
  const timeoutMs = o.timeoutMs ?? 120_000;
  try {
    const image = o.loadTestImage === false ? undefined : ensureBusyboxImage(testImageArchive);
    image?.catch(() => undefined); // reported where the loads await it
    if (p.cni === 'k8ts') installCni({ binDir: p.cniBinDir });
    await buildUnderlay(p);
    out(`underlay ${p.subnet} with ${p.nodes_.length} node namespaces (${Date.now() - t0} ms)`);

    // Node 1: the server, with its own agent and proxy.
    const n1 = p.nodes_[0]!;
    for (const n of p.nodes_) mkdirSync(n.dir, { recursive: true });
    st.procs.push(spawnDetached('server', n1.netns, [k8tsBin, ...serverArgs(p), ...(o.serverArgs ?? [])], n1.log));
    saveState(st);
    const adminKubeconfig = join(p.serverDataDir, 'kubeconfig.yaml');
    await waitFor('the server', () => {
      if (!isAlive(st.procs[0]!)) throw new LabError(`the server exited; see ${n1.log}:\n${readFileSync(n1.log, 'utf8').split('\n').slice(-20).join('\n')}`);
      // The server writes it in place (not renamed into place): an empty file may be seen first.
      return existsSync(adminKubeconfig) && readFileSync(adminKubeconfig, 'utf8').includes('client-key-data') ? true : undefined;
    }, timeoutMs, n1.log);
    out(`server ready on ${n1.name} (${Date.now() - t0} ms)`);

    // In-lab kubeconfig (the proxies, `lab exec`), and the host's one through the forwarder.
    const inLab = join(p.dir, 'kubeconfig-internal.yaml');
    writeFileSync(inLab, withServer(readFileSync(adminKubeconfig, 'utf8'), p.serverURL), { mode: 0o600 });
    for (const n of p.nodes_.slice(1)) {
      st.procs.push(spawnDetached(`agent ${n.name}`, n.netns, [k8tsBin, ...agentArgs(p, n)], n.log));
      st.procs.push(spawnDetached(`proxy ${n.name}`, n.netns, [k8tsBin, ...proxyArgs(p, n, inLab)], n.proxyLog));
    }
    saveState(st);
    const listener = await listenLoopback(0);
    const apiPort = (listener.address() as { port: number }).port;
    try {
      st.procs.push(spawnDetached('forwarder', n1.netns, [process.execPath, forwarderMain, n1.ip, String(p.serverURL.split(':').pop())], join(p.dir, 'forwarder.log'), [listeningFd(listener)]));
    } finally {
      listener.close();
    }
    st.apiPort = apiPort;
    const kubeconfig = o.kubeconfig ?? join(p.dir, 'kubeconfig.yaml');
    mkdirSync(dirname(kubeconfig), { recursive: true });
    writeFileSync(kubeconfig, withServer(readFileSync(adminKubeconfig, 'utf8'), `https://127.0.0.1:${apiPort}`), { mode: 0o600 });
    st.kubeconfig = kubeconfig;
    saveState(st);

    // The test image, on each node as soon as its containerd answers (while the nodes come up).
    const loads = Promise.all(image ? p.nodes_.map(async n => {
      const archive = await image.then(() => testImageArchive);
      const sock = join(defaultRunDir(n.agentDataDir), 'containerd.sock');
      await waitFor(`containerd on ${n.name}`, () => (existsSync(sock) ? true : undefined), timeoutMs, n.log);
      await importWithRetry(new CtrRuntime({ address: sock, namespace: 'k8ts' }), archive);
    }) : []);
    // Awaited below; if the nodes fail first, that error is the one to report.
    loads.catch(() => undefined);

    const { client, transport } = clientFromKubeconfig(kubeconfig, { userAgent: 'k8ts-lab' });
    try {
      await waitFor(`${p.nodes_.length} Ready nodes`, async () => {
        for (const pr of st.procs) if (!isAlive(pr)) throw new LabError(`${pr.what} exited; see the logs under ${p.dir}`);
        try {
          const nodes = (await client.list<Node>(resources.nodes, undefined)).items;
          return nodes.length === p.nodes_.length && nodes.every(nodeReady) ? true : undefined;
        } catch {
          return undefined;
        }
      }, timeoutMs);
    } finally {
      transport.close();
    }
    await loads;
    st.upMs = Date.now() - t0;
    saveState(st);
    out(`lab "${p.name}" is up: ${p.nodes_.length} nodes Ready (network ${p.network}, CNI ${p.cni === 'k8ts' ? 'k8ts-cni' : 'reference plugins'}, proxy ${p.proxy}) in ${(st.upMs / 1000).toFixed(1)} s`);
    out('');
    out(`  export KUBECONFIG=${kubeconfig}     # the API at https://127.0.0.1:${apiPort}, forwarded into ${n1.name}`);
    out('  kubectl get nodes -o wide');
    out(`  k8ts lab exec --name ${p.name} n2 -- ip route          # a shell command on a node (KUBECONFIG set there too)`);
    out(`  k8ts lab load --name ${p.name} IMAGE.tar               # an image on every node`);
    out(`  k8ts lab down --name ${p.name}`);
    return st;
  } catch (err) {
    out(`lab up failed: ${err instanceof Error ? err.message : String(err)}; removing what was made (logs kept in ${tmpdir()}/k8ts-lab-${p.name}-logs)`);
    keepLogs(p);
    await labDown(o.name, () => undefined);
    throw err;
  }
}

function keepLogs(p: LabPlan): void {
  const to = join(tmpdir(), `k8ts-lab-${p.name}-logs`);
  try {
    mkdirSync(to, { recursive: true });
    for (const n of p.nodes_) for (const f of [n.log, n.proxyLog]) if (existsSync(f)) copyFileSync(f, join(to, `${n.name}-${f.split('/').pop()}`));
  } catch { /* best effort */ }
}

async function importWithRetry(rt: CtrRuntime, archive: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rt.importImage(archive);
      return;
    } catch (err) {
      // The socket file appears a moment before containerd serves on it.
      if (attempt >= 20) throw err;
      await sleep(250);
    }
  }
}

// ───────────────────────────── load, exec ─────────────────────────────

function mustRead(name: string): LabState {
  const st = readState(name);
  if (!st) throw new LabError(`no lab "${name}" (see ${labRoot}); create one with: k8ts lab up --name ${name}`);
  return st;
}

/** `k8ts lab load`: the archives' images in every node's containerd. */
export async function labLoad(name: string, files: string[], out: Out): Promise<void> {
  const st = mustRead(name);
  await Promise.all(st.plan.nodes_.map(async n => {
    const rt = new CtrRuntime({ address: join(defaultRunDir(n.agentDataDir), 'containerd.sock'), namespace: 'k8ts' });
    for (const f of files) {
      const names = await rt.importImage(f);
      out(`${n.name}: ${names.join(', ')}`);
    }
  }));
}

/** `k8ts lab exec`: a command in a node's network namespace; resolves with its exit code. */
export async function labExec(name: string, node: string, argv: string[]): Promise<number> {
  const st = mustRead(name);
  const n = findNode(st.plan, node);
  if (argv.length === 0) argv = ['sh'];
  const child = spawn('nsenter', [`--net=/run/netns/${n.netns}`, '--', ...argv], {
    stdio: 'inherit', env: { ...process.env, KUBECONFIG: join(st.plan.dir, 'kubeconfig-internal.yaml') },
  });
  return new Promise(resolve => {
    child.once('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1)));
    child.once('error', () => resolve(127));
  });
}

// ───────────────────────────── add, stop a node ─────────────────────────────

/**
 * A node joining a running lab (what a new machine running `k8ts agent` does): the next node of
 * the layout, cabled, with its agent and proxy; resolves once it is Ready with the test image.
 * The state file records it first, so `down` removes it like the others.
 */
export async function labAddNode(name: string, out: Out, o: { loadTestImage?: boolean; timeoutMs?: number } = {}): Promise<NodePlan> {
  const t0 = Date.now();
  const st = mustRead(name);
  if (!st.kubeconfig) throw new LabError(`lab "${name}" is not up`);
  const p = planLab({ name: st.plan.name, nodes: st.plan.nodes_.length + 1, network: st.plan.network, proxy: st.plan.proxy, cni: st.plan.cni, index: st.plan.index });
  const n = p.nodes_[p.nodes_.length - 1]!;
  st.plan = p;
  saveState(st);
  const timeoutMs = o.timeoutMs ?? 120_000;
  mkdirSync(n.dir, { recursive: true });
  await cableNode(p, n);
  st.procs.push(spawnDetached(`agent ${n.name}`, n.netns, [k8tsBin, ...agentArgs(p, n)], n.log));
  st.procs.push(spawnDetached(`proxy ${n.name}`, n.netns, [k8tsBin, ...proxyArgs(p, n, join(p.dir, 'kubeconfig-internal.yaml'))], n.proxyLog));
  saveState(st);
  if (o.loadTestImage !== false) {
    const sock = join(defaultRunDir(n.agentDataDir), 'containerd.sock');
    await waitFor(`containerd on ${n.name}`, () => (existsSync(sock) ? true : undefined), timeoutMs, n.log);
    await importWithRetry(new CtrRuntime({ address: sock, namespace: 'k8ts' }), await ensureBusyboxImage(testImageArchive).then(() => testImageArchive));
  }
  const { client, transport } = clientFromKubeconfig(st.kubeconfig, { userAgent: 'k8ts-lab' });
  try {
    await waitFor(`${n.name} Ready`, async () => {
      for (const pr of st.procs.slice(-2)) if (!isAlive(pr)) throw new LabError(`${pr.what} exited; see ${n.log}`);
      const node = await client.get<Node>(resources.nodes, undefined, n.name).catch(() => undefined);
      return node && nodeReady(node) ? true : undefined;
    }, timeoutMs, n.log);
  } finally {
    transport.close();
  }
  out(`${n.name} joined lab "${name}" (${Date.now() - t0} ms)`);
  return n;
}

/**
 * A node's agent and proxy killed, as if the machine went away: its kubelet stops renewing the
 * Lease. Its containers stay (nothing stops them, as on a partitioned machine); `down` removes them.
 */
export function labStopNode(name: string, node: string): NodePlan {
  const st = mustRead(name);
  const n = findNode(st.plan, node);
  if (n.role === 'server') throw new LabError(`${n.name} runs the server: stop an agent node`);
  for (const pr of st.procs) if (pr.what === `agent ${n.name}` || pr.what === `proxy ${n.name}`) signal(pr, 'SIGKILL');
  return n;
}

// ───────────────────────────── down ─────────────────────────────

function netnsInode(name: string): number | undefined {
  try { return statSync(`/run/netns/${name}`).ino; } catch { return undefined; }
}

const uidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The lab's namespaces that exist: switch, nodes, and pods (a node's prefix + a pod uid). */
function labNetns(p: LabPlan): string[] {
  const all = existsSync('/run/netns') ? readdirSync('/run/netns') : [];
  const mine = new Set([p.switchNetns, ...p.nodes_.map(n => n.netns)]);
  return all.filter(ns => mine.has(ns) || p.nodes_.some(n => ns.startsWith(n.netnsPrefix) && uidRe.test(ns.slice(n.netnsPrefix.length))));
}

/** Pids of every process inside one of these namespaces, or whose command line names one of `marks`. */
function strayProcesses(inodes: Set<number>, marks: string[]): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const net = /net:\[(\d+)\]/.exec(readlinkSafe(`/proc/${d}/ns/net`))?.[1];
      if (net && inodes.has(Number(net))) { out.push(Number(d)); continue; }
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (marks.some(m => cmd.includes(m))) out.push(Number(d));
    } catch { /* gone, or not ours to read */ }
  }
  return out;
}

function readlinkSafe(path: string): string {
  try { return readlinkSync(path); } catch { return ''; }
}

/** Removes the lab's containers through its node's containerd (the running one, or one for the purpose). */
async function removeContainers(n: NodePlan): Promise<void> {
  const runDir = defaultRunDir(n.agentDataDir);
  if (!existsSync(join(n.agentDataDir, 'containerd'))) return;
  const ctd = new ContainerdSupervisor({ dataDir: n.agentDataDir, runDir });
  try {
    await ctd.start(15_000);
    const rt = new CtrRuntime({ address: ctd.address, namespace: 'k8ts' });
    const ids = await rt.listContainers();
    await Promise.all(ids.map(id => rt.kill(id, 'SIGKILL').catch(() => undefined)));
    for (let i = 0; i < 50; i++) {
      const running = (await rt.listTasks()).filter(t => ids.includes(t.id) && t.status === 'RUNNING');
      if (running.length === 0) break;
      await sleep(100);
    }
    await Promise.all(ids.map(async id => { await rt.deleteTask(id).catch(() => undefined); await rt.deleteContainer(id).catch(() => undefined); }));
  } catch {
    /* the sweep below kills whatever is left */
  } finally {
    // No graceful shutdown to wait for: the lab's state is deleted next.
    await ctd.stop(300).catch(() => undefined);
  }
}

/**
 * `k8ts lab down`: removes every process, container, mount, namespace (with the links, routes and
 * rules inside) and folder of the lab. Idempotent; works from the state file after any crash.
 */
export async function labDown(name: string, out: Out): Promise<void> {
  checkLabName(name);
  const st = readState(name);
  if (!st) {
    const dir = join(labRoot, name);
    if (existsSync(dir)) { rmSync(dir, { recursive: true, force: true }); out(`removed ${dir} (no state file)`); } else out(`no lab "${name}"`);
    return;
  }
  const p = st.plan;
  const t0 = Date.now();
  // Freeze the node processes so no kubelet restarts what is removed under it.
  for (const pr of st.procs) signal(pr, 'SIGSTOP');
  await Promise.all(p.nodes_.map(n => removeContainers(n)));
  if (process.env.K8TS_LAB_DEBUG) out(`containers removed (${Date.now() - t0} ms)`);
  // Nothing of a node process' state outlives the lab: no graceful shutdown to wait for.
  for (const pr of st.procs) signal(pr, 'SIGKILL');

  const runDirs = p.nodes_.map(n => defaultRunDir(n.agentDataDir));
  for (let i = 0; i < 250 && st.procs.some(isAlive); i++) await sleep(20);
  for (let round = 0; round < 3; round++) {
    const inodes = new Set(labNetns(p).map(netnsInode).filter((x): x is number => x !== undefined));
    const stray = strayProcesses(inodes, [`${p.dir}/`, ...runDirs.map(d => `${d}/`)]);
    if (stray.length === 0) break;
    for (const pid of stray) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    await sleep(200);
  }
  if (process.env.K8TS_LAB_DEBUG) out(`processes ended (${Date.now() - t0} ms)`);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map(l => l.split(' ')[4] ?? '')
    .filter(m => m.startsWith(`${p.dir}/`) || runDirs.some(d => m === d || m.startsWith(`${d}/`))).sort().reverse();
  for (const m of mounts) await run('umount', ['-l', m]).catch(() => undefined);
  for (const ns of labNetns(p)) await run('ip', ['netns', 'delete', ns]).catch(() => undefined);
  for (const d of runDirs) rmSync(d, { recursive: true, force: true });
  if (st.kubeconfig && !st.kubeconfig.startsWith(`${p.dir}/`)) rmSync(st.kubeconfig, { force: true });
  rmSync(p.dir, { recursive: true, force: true });
  try { rmdirSync(labRoot); } catch { /* other labs */ }
  out(`lab "${name}" removed (${Date.now() - t0} ms)`);
}

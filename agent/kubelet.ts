// The kubelet loop: an informer over the pods bound to this node, one worker per pod (a single
// pending-update slot, latest wins, syncs never overlap), and a runtime cache fed by containerd's
// event stream plus a periodic relist (the PLEG). Every sync recomputes from the current pod and
// the current records (level-triggered); events only say which pod to look at.
//
// Design notes:
// - Container records are rebuilt from containerd alone: labels carry pod uid/namespace/name,
//   container name, attempt (= restartCount) and start time; an exit is written back as labels
//   before its task is deleted. Restarting the agent therefore adopts running containers as they
//   are (same task, same restart count) and remembers how finished ones ended.
// - The pod's network (namespace + CNI result) is a small JSON file per pod under the data dir,
//   so CNI DEL gets the ADD's result even after a restart.
// - The dead container of the previous attempt is kept (for `lastState` after a restart); older
//   ones are deleted when a new attempt starts.
// - Events (Pulled, Created, Started, Killing, Unhealthy, BackOff…, texts in kubelet-events.ts)
//   are handed to the shared recorder, which writes them in the background: recording never
//   waits for the apiserver and never fails a sync.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, totalmem, uptime } from 'node:os';
import { join } from 'node:path';
import type { ConfigMap, Container, PersistentVolume, PersistentVolumeClaim, Pod, PodStatus, Secret, Volume } from 'kubernetes-types/core/v1.js';
import { nullRecorder, type EventRecorder } from '../api/client/events.js';
import { Semaphore } from '../api/client/semaphore.js';
import { Informer } from '../api/client/informer.js';
import { toBytes, toMillis, tryParseQuantity } from '../api/quantity.js';
import { isNotFound } from '../api/client/rest.js';
import { resources, type ClusterClient, type ResourceType } from '../api/client/types.js';
import type { NetnsCli } from '../kernel/netns-cli.js';
import { resultIPv4, type CniClient, type CniResult, type PortMapping } from './cni.js';
import { podPortMappings } from './host-ports.js';
import { ConfigError, containerArgv, resolveEnv, type Lookup, type NodeAllocatable } from './pod-env.js';
import { containerFieldPath, kubeletEvents, nodeObject, podObject, type KubeletEvent } from './kubelet-events.js';
import { computePodStatus, containersInBackoff, defaultBackoff, groupRecords, planPod, type BackoffPolicy, type ContainerRecord, type StartAction } from './pod-plan.js';
import { diffRelist } from './relist.js';
import type { KubeletMetricsSink } from './metrics.js';
import { Prober, realChecks, runHandler, type ProbeChecks } from './prober.js';
import { probeOf, probeTarget, type ProbeKind } from './probes.js';
import { compilePodDns, missingClusterDNS, parseResolvConf, renderResolvConf } from './resolv.js';
import { StatsProvider } from './stats-reader.js';
import { ensureRuncWrapper, needsImageUserCheck, planRunAs, runAsToAnnotations, verifyRunAsNonRoot } from './run-as.js';
import type { Summary } from './stats.js';
import { labels as L, RuntimeError, type ContainerConfig, type Mount, type Runtime, type RuntimeEvent } from './runtime.js';

export interface Logger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
  debug(obj: Record<string, unknown>, msg: string): void;
}

/** The node's allocatable CPUs and memory as agent/node.ts reports them (memory less 100 Mi): the default limits. */
function nodeAllocatable(): NodeAllocatable {
  return { cpu: availableParallelism(), memory: Math.max(0, Math.floor(totalmem() / 1024) - 100 * 1024) * 1024 };
}

/**
 * A volume that cannot be set up (a missing ConfigMap, Secret or claim, a bad path). Upstream's
 * volume manager keeps such a pod in ContainerCreating and says why in a FailedMount event; the
 * agent records that event and also puts the message into the waiting state.
 */
class VolumeError extends ConfigError {}

/**
 * CPU shares from the CPU request (or the limit when there is no request), as upstream's
 * MilliCPUToShares: millicores × 1024 / 1000, at least 2. Upstream gives best-effort containers
 * (neither) 2 shares inside their QoS cgroup; this agent has no QoS cgroups, so such containers
 * keep the runtime's default weight rather than 2 shares against every process on the node.
 */
export function cpuSharesOf(c: Container): { cpuShares?: number } {
  const q = c.resources?.requests?.cpu ?? c.resources?.limits?.cpu;
  if (q === undefined) return {};
  const parsed = tryParseQuantity(String(q));
  if (!parsed) return {};
  const milli = toMillis(parsed);
  return { cpuShares: Math.max(2, Math.floor(milli * 1024 / 1000)) };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };

export interface KubeletOptions {
  nodeName: string;
  client: ClusterClient;
  runtime: Runtime;
  cni: CniClient;
  netns: NetnsCli;
  /** Pod directories (volumes, network state) live in `<dataDir>/pods/<uid>`. */
  dataDir: string;
  logDir: string;
  /** The CRI log writer (agent/logs-writer.ts); containers log raw without one. */
  logWriter?: string;
  hostIP: string;
  backoff?: BackoffPolicy;
  relistMs?: number;
  /** Prefix of the network namespaces this agent creates. */
  netnsPrefix?: string;
  /** Pods being started at once (sandbox + containers); default 4. */
  parallelStarts?: number;
  log?: Logger;
  now?: () => number;
  /** How probes and lifecycle hooks reach containers; default: the runtime and the pod's netns. */
  probeChecks?: ProbeChecks;
  /** `--cluster-dns`: the cluster DNS addresses ClusterFirst pods use (empty: the node's resolver). */
  clusterDNS?: string[];
  /** `--cluster-domain`, default cluster.local. */
  clusterDomain?: string;
  /** The node's resolver configuration (`--resolv-conf`), default /etc/resolv.conf. */
  resolvConf?: string;
  /** Registries (`host[:port]`) spoken to over plain HTTP (`--insecure-registry`). */
  insecureRegistries?: string[];
  /** Pod start and relist metrics (agent/metrics.ts). */
  metrics?: KubeletMetricsSink;
  /** Where the kubelet's Events go (agent/kubelet-events.ts); default: nowhere. */
  recorder?: EventRecorder;
}

interface Sandbox {
  netns: string;
  /** Bind-mounted UTS namespace with the pod's hostname. */
  uts?: string;
  ip?: string;
  result?: CniResult;
  /** hostPorts given to CNI ADD, for the DEL. */
  portMappings?: PortMapping[];
}

const uidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const terminalPhases = new Set(['Succeeded', 'Failed']);
const secrets: ResourceType = { group: '', version: 'v1', resource: 'secrets', kind: 'Secret', namespaced: true };

export function containerId(podUID: string, name: string, init: boolean, attempt: number): string {
  const h = createHash('sha256').update(`${init ? 'init:' : ''}${name}`).digest('hex').slice(0, 8);
  return `${podUID}-${h}-${attempt}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function podKey(pod: Pod): string {
  return `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
}

/** A record rebuilt from a container's labels and its task (undefined: not one of ours). */
export function recordFromLabels(id: string, l: Record<string, string>, task: { pid: number; status: string } | undefined): ContainerRecord | undefined {
  const podUID = l[L.podUID];
  const name = l[L.containerName];
  if (!podUID || !name) return undefined;
  const base = { id, podUID, name, attempt: Number(l[L.attempt] ?? 0), init: l[L.init] === 'true', image: '', ...(l[L.startedAt] ? { startedAt: l[L.startedAt] } : {}), ...(l[L.runAs] ? { user: l[L.runAs] } : {}) };
  if (task?.status === 'RUNNING' || task?.status === 'PAUSED' || task?.status === 'CREATED') return { ...base, state: 'running', pid: task.pid };
  const code = l[L.exitCode];
  return {
    ...base, state: 'exited',
    exitCode: code !== undefined ? Number(code) : (task ? 0 : 137),
    ...(l[L.finishedAt] ? { finishedAt: l[L.finishedAt] } : {}),
    ...(l['io.k8ts.exit.reason'] ? { reason: l['io.k8ts.exit.reason'] } : code === undefined && !task ? { reason: 'ContainerStatusUnknown', message: 'The container could not be located when the pod was terminated' } : {}),
  };
}

class PodWorker {
  pod: Pod;
  deleted = false;
  private running = false;
  private dirty = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  lastStatus = '';
  done = false;
  readonly waiting = new Map<string, { reason: string; message: string }>();
  /** Image pull back-off by image ref (upstream's is keyed by pod uid and image, as this is). */
  readonly imageBackoff = new Map<string, { until: number; delayMs: number }>();
  /** MissingClusterDNS is recorded once per pod (upstream: once per sandbox). */
  dnsWarned = false;
  /**
   * The attempt whose back-off each container's BackOff event was recorded for: once per wait.
   * Upstream records one per sync, but its syncs ignore the pod's own status updates, which
   * trigger syncs here; once per wait gives the count upstream shows (about one per restart).
   */
  readonly backoffNoted = new Map<string, number>();
  private idle: (() => void)[] = [];

  constructor(private readonly k: Kubelet, pod: Pod) {
    this.pod = pod;
  }

  update(pod: Pod | undefined): void {
    if (pod) this.pod = pod;
    else this.deleted = true;
    this.kick();
  }

  kick(): void {
    if (this.done) return;
    this.dirty = true;
    if (!this.running) void this.loop();
  }

  recheckAt(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = undefined; this.kick(); }, Math.max(0, at - this.k.now()) + 5);
  }

  whenIdle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise(r => this.idle.push(r));
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.dirty && !this.done) {
        this.dirty = false;
        try {
          await this.k.syncPod(this);
        } catch (err) {
          this.k.log.warn({ pod: podKey(this.pod), err: String(err) }, 'pod sync failed; retrying');
          this.recheckAt(this.k.now() + 1000);
        }
      }
    } finally {
      this.running = false;
      if (this.done && this.timer) clearTimeout(this.timer);
      for (const r of this.idle.splice(0)) r();
    }
  }
}

export class Kubelet {
  readonly log: Logger;
  readonly now: () => number;
  private readonly records = new Map<string, ContainerRecord>();
  private readonly pendingExits = new Map<string, RuntimeEvent & { type: 'exit' }>();
  private readonly oomed = new Set<string>();
  private readonly workers = new Map<string, PodWorker>();
  private readonly informer: Informer<Pod>;
  private readonly backoff: BackoffPolicy;
  private readonly prefix: string;
  private images = new Set<string>();
  private events: { stop(): void } | undefined;
  private relistTimer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  private relisting: Promise<void> | undefined;
  /** Containers whose exit is being recorded (labels, task delete): one at a time per container. */
  private readonly finishing = new Map<string, Promise<void>>();
  /** Containers between `ctr run` and its return: a relist may see them without a task yet. */
  private readonly starting = new Set<string>();
  private readonly startLimit: Semaphore;
  /** When each record was created, in relist generations (see doRelist). */
  private readonly recordSeq = new Map<string, number>();
  private seq = 0;
  private readonly checks: ProbeChecks;
  private readonly prober: Prober;
  private readonly stats: StatsProvider;
  private readonly recorder: EventRecorder;

  constructor(private readonly o: KubeletOptions) {
    this.recorder = o.recorder ?? nullRecorder;
    this.log = o.log ?? silentLogger;
    this.now = o.now ?? Date.now;
    this.backoff = o.backoff ?? defaultBackoff;
    this.prefix = o.netnsPrefix ?? 'k8ts-';
    this.startLimit = new Semaphore(o.parallelStarts ?? 4);
    this.informer = new Informer<Pod>(o.client, resources.pods, { fieldSelector: `spec.nodeName=${o.nodeName}` });
    this.checks = o.probeChecks ?? realChecks(o.runtime);
    this.prober = new Prober({
      checks: this.checks, now: this.now,
      onChange: uid => this.workers.get(uid)?.kick(),
      onKill: (uid, id, kind, message) => { void this.killForProbe(uid, id, kind, message); },
      onFailure: (uid, c, kind, message) => {
        const w = this.workers.get(uid);
        if (w) this.podEvent(w.pod, kubeletEvents.unhealthy(kind, message), containerFieldPath(c.name, false));
      },
      log: (msg, f) => this.log.debug(f, msg),
    });
    this.stats = new StatsProvider({
      nodeName: o.nodeName, nodeStartTime: Date.now() - uptime() * 1000, memoryCapacityBytes: totalmem(),
      pods: () => this.informer.list().map(pod => ({ pod, records: this.recordsOf(pod.metadata?.uid ?? '') })),
      cgroupPath: id => o.runtime.cgroupPath(id),
      memoryLimit: (pod, name) => {
        const mem = pod.spec?.containers?.find(c => c.name === name)?.resources?.limits?.memory;
        return bytesOf(mem);
      },
      podNetns: pod => (pod.spec?.hostNetwork ? undefined : this.readSandbox(pod.metadata?.uid ?? '')?.netns),
      containerLogDir: (pod, name) => this.containerLogDir(pod, name),
      nodeFsPath: o.dataDir,
      // The content store of the agent's own containerd (absent with an external one: no imageFs).
      imageFsPath: join(o.dataDir, 'containerd', 'io.containerd.content.v1.content'),
    });
  }

  /** Records an event about the pod, or one of its containers with `fieldPath`; never throws, never waits. */
  private podEvent(pod: Pod, e: KubeletEvent, fieldPath?: string): void {
    this.recorder.event(podObject(pod), e.type, e.reason, e.message, fieldPath);
  }

  /** The Summary API document (`/stats/summary`): node, pod and container CPU and memory. */
  statsSummary(): Summary {
    return this.stats.summary();
  }

  /** The pods bound to this node, from the informer's cache (the kubelet API's `/pods`). */
  pods(): Pod[] {
    return this.informer.list();
  }

  /** A pod bound to this node, from the informer's cache (the kubelet API's lookup). */
  pod(namespace: string, name: string): Pod | undefined {
    return this.informer.getBy(namespace, name);
  }

  /** The directory of a container's logs, one `<attempt>.log` per attempt. */
  containerLogDir(pod: Pod, container: string): string {
    return join(this.o.logDir, `${pod.metadata!.namespace}_${pod.metadata!.name}_${pod.metadata!.uid}`, container);
  }

  /** Running pods (with a running container) and containers, for kubelet_running_* (agent/metrics.ts). */
  runningCounts(): { pods: number; containers: number } {
    const pods = new Set<string>();
    let containers = 0;
    for (const r of this.records.values()) if (r.state === 'running') { containers++; pods.add(r.podUID); }
    return { pods: pods.size, containers };
  }

  /** Records by pod uid (a copy), for tests and the kubelet API. */
  recordsOf(uid: string): ContainerRecord[] {
    return [...this.records.values()].filter(r => r.podUID === uid);
  }

  async start(): Promise<void> {
    this.subscribe();
    await this.relist();
    this.images = new Set(await this.o.runtime.listImages());
    this.informer.on({
      add: pod => this.onPod(pod),
      update: (_old, pod) => this.onPod(pod),
      delete: pod => this.workers.get(pod.metadata?.uid ?? '')?.update(undefined),
    });
    await this.informer.start();
    await this.cleanupOrphans();
    this.stats.start();
    this.relistTimer = setInterval(() => { void this.periodic(); }, this.o.relistMs ?? 10_000);
  }

  /** Stops watching and syncing; containers keep running (a restarted agent adopts them). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.relistTimer) clearInterval(this.relistTimer);
    this.informer.stop();
    this.prober.stop();
    this.stats.stop();
    // Workers finish the sync in hand (a teardown completes; queued starts are skipped), with the
    // event stream still feeding them exits.
    for (const w of this.workers.values()) w.done = true;
    await Promise.all([...this.workers.values()].map(w => w.whenIdle()));
    this.events?.stop();
    await Promise.all(this.finishing.values());
  }

  /** Stops syncing and removes every pod of this agent: containers, networks, pod dirs. */
  async removeAll(): Promise<void> {
    this.stopped = true;
    if (this.relistTimer) clearInterval(this.relistTimer);
    this.informer.stop();
    this.prober.stop();
    this.stats.stop();
    for (const w of this.workers.values()) w.done = true;
    await Promise.all([...this.workers.values()].map(w => w.whenIdle()));
    await this.relist().catch(() => undefined);
    const uids = new Set<string>([...this.records.values()].map(r => r.podUID));
    for (const uid of this.ownNetns()) uids.add(uid);
    const podsDir = join(this.o.dataDir, 'pods');
    if (existsSync(podsDir)) for (const d of readdirSync(podsDir)) if (uidRe.test(d)) uids.add(d);
    for (const uid of uids) await this.teardown(uid, 0);
    await this.stop();
  }

  /** Pod uids of the network namespaces this agent created (prefix + a uid, nothing else). */
  private ownNetns(): string[] {
    return this.o.netns.list(this.prefix).map(n => n.slice(this.prefix.length)).filter(u => uidRe.test(u));
  }

  private subscribe(): void {
    if (this.stopped) return;
    this.events = this.o.runtime.events(e => this.onRuntimeEvent(e), err => {
      if (this.stopped) return;
      this.log.warn({ err: String(err) }, 'runtime event stream ended; resubscribing');
      setTimeout(() => {
        this.subscribe();
        this.relist().catch(e => this.log.warn({ err: String(e) }, 'relist failed'));
      }, 1000).unref();
    });
  }

  private onPod(pod: Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid || this.stopped) return;
    let w = this.workers.get(uid);
    if (!w) {
      w = new PodWorker(this, pod);
      this.workers.set(uid, w);
      // A pod with containers already (adopted after a restart) is not a start to time.
      if (this.o.metrics && !terminalPhases.has(pod.status?.phase ?? '') && this.recordsOf(uid).length === 0) this.o.metrics.podSeen(uid);
    }
    w.update(pod);
  }

  private onRuntimeEvent(e: RuntimeEvent): void {
    if (e.type === 'oom') {
      // After the exit it is not needed (recordExit read the cgroup's counter) and would linger.
      if (this.records.get(e.id)?.state !== 'exited') this.oomed.add(e.id);
      return;
    }
    if (e.type !== 'exit') return;
    const r = this.records.get(e.id);
    if (!r) { this.pendingExits.set(e.id, e); return; }
    this.recordExit(r, e.exitCode, e.exitedAt);
  }

  private recordExit(r: ContainerRecord, exitCode: number, finishedAt: string): void {
    if (r.state === 'exited') return;
    r.state = 'exited';
    r.exitCode = exitCode;
    r.finishedAt = finishedAt;
    // The event may not have come yet: the cgroup's counter decides (its task is not deleted yet).
    if (this.oomed.delete(r.id) || this.o.runtime.oomKilled(r.id)) r.reason = 'OOMKilled';
    delete r.pid;
    this.finish(r);
    this.workers.get(r.podUID)?.kick();
  }

  /** Writes the exit into the container's labels, then deletes its task (the shim goes with it). */
  private finish(r: ContainerRecord): void {
    const prev = this.finishing.get(r.id) ?? Promise.resolve();
    const next = prev.then(async () => {
      try {
        await this.o.runtime.setLabels(r.id, {
          [L.exitCode]: String(r.exitCode ?? 0), [L.finishedAt]: r.finishedAt ?? iso(this.now()),
          ...(r.reason ? { 'io.k8ts.exit.reason': r.reason } : {}),
        });
        await this.o.runtime.deleteTask(r.id);
      } catch (err) {
        this.log.debug({ id: r.id, err: String(err) }, 'recording an exit failed');
      }
    }).finally(() => { if (this.finishing.get(r.id) === next) this.finishing.delete(r.id); });
    this.finishing.set(r.id, next);
  }

  /** Lists containers and tasks, adopts unknown containers, notices exits the stream missed. */
  relist(): Promise<void> {
    const t0 = performance.now();
    this.relisting ??= this.doRelist().then(() => this.o.metrics?.relisted((performance.now() - t0) / 1000)).finally(() => { this.relisting = undefined; });
    return this.relisting;
  }

  private async doRelist(): Promise<void> {
    // Records created while the lists are taken may be missing from them: leave those alone.
    const seqAtStart = this.seq;
    const startingAtStart = new Set(this.starting);
    const [ids, tasks] = await Promise.all([this.o.runtime.listContainers(), this.o.runtime.listTasks()]);
    const settled = new Map([...this.records].filter(([id]) => (this.recordSeq.get(id) ?? 0) <= seqAtStart && !startingAtStart.has(id) && !this.starting.has(id)));
    const diff = diffRelist(settled, ids, tasks);
    const taskById = new Map(tasks.map(t => [t.id, t]));
    const queue = [...diff.unknown];
    const adopt = async () => {
      for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
        const info = await this.o.runtime.containerInfo(id);
        if (!info || this.records.has(id)) continue;
        const rec = recordFromLabels(id, info.labels, taskById.get(id));
        if (!rec) continue;
        rec.image = info.image;
        this.records.set(id, rec);
        if (rec.state === 'exited' && taskById.has(id)) {
          // Stopped while nobody watched: the task still holds the exit code (and its cgroup the OOM kill).
          if (this.o.runtime.oomKilled(id)) rec.reason = 'OOMKilled';
          const code = await this.o.runtime.deleteTask(id).catch(() => undefined);
          rec.exitCode = code ?? rec.exitCode ?? 0;
          rec.finishedAt ??= iso(this.now());
          this.finish(rec);
        }
        const pending = this.pendingExits.get(id);
        if (pending) { this.pendingExits.delete(id); this.recordExit(rec, pending.exitCode, pending.exitedAt); }
        this.workers.get(rec.podUID)?.kick();
      }
    };
    await Promise.all(Array.from({ length: 8 }, adopt));
    for (const id of diff.stopped) {
      if (this.starting.has(id)) continue;
      const r = this.records.get(id);
      if (!r || r.state !== 'running') continue;
      // Deleting the task removes its cgroup: read the OOM kill first.
      if (this.o.runtime.oomKilled(id)) this.oomed.add(id);
      const code = await this.o.runtime.deleteTask(id).catch(() => undefined);
      this.recordExit(r, code ?? 0, iso(this.now()));
    }
    for (const t of tasks) {
      const r = this.records.get(t.id);
      if (r?.state === 'running' && t.status === 'RUNNING') r.pid = t.pid;
    }
    for (const id of diff.vanished) {
      const r = this.records.get(id);
      if (!r) continue;
      this.records.delete(id);
      this.recordSeq.delete(id);
      this.workers.get(r.podUID)?.kick();
    }
  }

  private async periodic(): Promise<void> {
    const m = process.memoryUsage();
    this.log.debug({ rssMiB: Math.round(m.rss / 2 ** 20), heapUsedMiB: Math.round(m.heapUsed / 2 ** 20), heapTotalMiB: Math.round(m.heapTotal / 2 ** 20), externalMiB: Math.round(m.external / 2 ** 20), pods: this.workers.size, records: this.records.size }, 'agent memory');
    try {
      await this.relist();
      await this.cleanupOrphans();
      for (const w of this.workers.values()) w.kick();
    } catch (err) {
      this.log.warn({ err: String(err) }, 'relist failed');
    }
  }

  /** Tears down containers and networks of pods that are no longer bound to this node. */
  private async cleanupOrphans(): Promise<void> {
    if (!this.informer.hasSynced) return;
    const live = new Set(this.informer.list().map(p => p.metadata?.uid ?? ''));
    const uids = new Set<string>();
    for (const r of this.records.values()) uids.add(r.podUID);
    for (const uid of this.ownNetns()) uids.add(uid);
    const podsDir = join(this.o.dataDir, 'pods');
    if (existsSync(podsDir)) for (const d of readdirSync(podsDir)) if (uidRe.test(d)) uids.add(d);
    for (const uid of uids) {
      if (live.has(uid) || this.workers.has(uid)) continue;
      this.log.info({ uid }, 'removing an orphaned pod');
      await this.teardown(uid, 2);
    }
  }

  // ───────────────────────────── per-pod sync ─────────────────────────────

  private podDir(uid: string): string {
    return join(this.o.dataDir, 'pods', uid);
  }

  private readSandbox(uid: string): Sandbox | undefined {
    const f = join(this.podDir(uid), 'sandbox.json');
    if (!existsSync(f)) return undefined;
    try { return JSON.parse(readFileSync(f, 'utf8')) as Sandbox; } catch { return undefined; }
  }

  private async ensureSandbox(pod: Pod): Promise<Sandbox> {
    const uid = pod.metadata!.uid!;
    const have = this.readSandbox(uid);
    if (have?.ip && existsSync(this.o.netns.path(have.netns))) return have;
    const uts = join(this.podDir(uid), 'uts');
    await this.o.netns.ensureUts(uts, (pod.spec?.hostname ?? pod.metadata!.name!).slice(0, 63));
    const name = `${this.prefix}${uid}`;
    mkdirSync(this.podDir(uid), { recursive: true });
    const portMappings = podPortMappings(pod);
    const pm = portMappings.length ? { portMappings } : {};
    // Written before the ADD so a crash in between still leads to a DEL.
    writeFileSync(join(this.podDir(uid), 'sandbox.json'), JSON.stringify({ netns: name, ...pm }));
    const path = await this.o.netns.ensure(name);
    await this.o.cni.loopback(uid, path);
    const result = await this.o.cni.add(uid, path, 'eth0', pm);
    const ip = resultIPv4(result);
    const sb: Sandbox = { netns: name, uts, ...(ip ? { ip } : {}), result, ...pm };
    writeFileSync(join(this.podDir(uid), 'sandbox.json'), JSON.stringify(sb));
    return sb;
  }

  private async teardownNetwork(uid: string): Promise<void> {
    const sb = this.readSandbox(uid);
    const name = sb?.netns ?? `${this.prefix}${uid}`;
    const path = this.o.netns.path(name);
    if (sb || existsSync(path)) {
      try {
        await this.o.cni.del(uid, path, sb?.result, 'eth0', sb?.portMappings ? { portMappings: sb.portMappings } : {});
      } catch (err) {
        this.log.warn({ uid, err: String(err) }, 'CNI DEL failed');
      }
    }
    await this.o.netns.remove(name);
    await this.o.netns.removeUts(join(this.podDir(uid), 'uts'));
    if (sb) rmSync(join(this.podDir(uid), 'sandbox.json'), { force: true });
  }

  /** Stops every container of the pod (SIGTERM, grace, SIGKILL), removes them and its network. */
  async teardown(uid: string, graceSeconds: number, pod?: Pod): Promise<void> {
    await this.killAll(uid, graceSeconds, pod);
    for (const r of this.recordsOf(uid)) {
      await this.finishing.get(r.id);
      await this.o.runtime.deleteTask(r.id).catch(() => undefined);
      await this.o.runtime.deleteContainer(r.id);
      this.records.delete(r.id);
      this.recordSeq.delete(r.id);
    }
    // Containers created behind our back or whose records were lost.
    await this.teardownNetwork(uid);
    rmSync(this.podDir(uid), { recursive: true, force: true });
    // The pod's logs (`<ns>_<name>_<uid>`) go with it, as upstream's kubelet removes them.
    if (existsSync(this.o.logDir)) for (const d of readdirSync(this.o.logDir)) if (d.endsWith(`_${uid}`)) rmSync(join(this.o.logDir, d), { recursive: true, force: true });
  }

  /** Stops the pod's running containers at once, each with its preStop hook first (given the pod). */
  private async killAll(uid: string, graceSeconds: number, pod?: Pod): Promise<void> {
    const running = this.recordsOf(uid).filter(r => r.state === 'running');
    await Promise.all(running.map(r => this.stopContainer(r, graceSeconds, pod)));
  }

  /**
   * Upstream's killContainer: the preStop hook, then SIGTERM, then SIGKILL once the grace period
   * (which the hook's time counts against) is over. A hook that used the whole period earns the
   * container 2 s more after SIGTERM, as upstream grants.
   */
  private async stopContainer(r: ContainerRecord, graceSeconds: number, pod?: Pod, message?: string): Promise<void> {
    const stillRunning = () => (r.state === 'running' && this.records.get(r.id) === r ? [r] : []);
    if (stillRunning().length === 0) return;
    // As upstream's killContainer: the Killing event names why, "Stopping container X" by default.
    if (pod) this.podEvent(pod, kubeletEvents.killing(message ?? kubeletEvents.stopping(r.name)), containerFieldPath(r.name, r.init));
    const deadline = this.now() + graceSeconds * 1000;
    const hook = !r.init && graceSeconds > 0 ? pod?.spec?.containers?.find(c => c.name === r.name)?.lifecycle?.preStop : undefined;
    if (hook && pod && await this.runHook(pod, r, 'PreStop', hook, graceSeconds * 1000)) {
      this.podEvent(pod, kubeletEvents.failedPreStop(), containerFieldPath(r.name, false));
    }
    const left = graceSeconds > 0 ? Math.max(deadline - this.now(), hook ? 2000 : 0) : 0;
    await this.o.runtime.kill(r.id, left > 0 ? 'SIGTERM' : 'SIGKILL').catch(() => undefined);
    if (!(await this.waitStopped(stillRunning, left))) {
      await this.o.runtime.kill(r.id, 'SIGKILL').catch(() => undefined);
      await this.waitStopped(stillRunning, 10_000);
    }
  }

  /** Runs a lifecycle hook handler for a container; resolves with its failure message, if any. */
  private async runHook(pod: Pod, r: ContainerRecord, name: 'PreStop' | 'PostStart', h: NonNullable<NonNullable<Container['lifecycle']>['preStop']>, timeoutMs: number): Promise<string | undefined> {
    const c = pod.spec?.containers?.find(x => x.name === r.name);
    if (!c) return undefined;
    const started = this.now();
    let message: string | undefined;
    if (h.sleep) {
      await new Promise(res => setTimeout(res, Math.min(h.sleep!.seconds * 1000, timeoutMs)));
    } else {
      const hostNetwork = pod.spec?.hostNetwork === true;
      const sb = hostNetwork ? undefined : this.readSandbox(r.podUID);
      const ip = hostNetwork ? this.o.hostIP : sb?.ip ?? '127.0.0.1';
      try {
        const res = await runHandler(this.checks, probeTarget(h, c, ip), r.id, sb?.netns, Math.max(1, timeoutMs), r.user);
        if (!res.ok) message = res.message;
      } catch (err) {
        message = String(err);
      }
    }
    this.log.info({ pod: podKey(pod), container: r.name, hook: name, ms: this.now() - started, ...(message ? { err: message } : {}) }, message ? `${name} hook failed` : `${name} hook ran`);
    return message;
  }

  /** A failed liveness or startup probe: stop the container; its restart follows restartPolicy. */
  private async killForProbe(uid: string, id: string, kind: ProbeKind, message: string): Promise<void> {
    const w = this.workers.get(uid);
    const r = this.records.get(id);
    if (!w || !r || r.state !== 'running') return;
    const c = w.pod.spec?.containers?.find(x => x.name === r.name);
    const probe = c ? probeOf(c, kind) : undefined;
    const grace = probe?.terminationGracePeriodSeconds ?? w.pod.spec?.terminationGracePeriodSeconds ?? 30;
    this.log.info({ pod: podKey(w.pod), container: r.name, probe: kind, message }, `Container ${r.name} failed ${kind} probe, will be restarted`);
    try {
      await this.stopContainer(r, grace, w.pod, kubeletEvents.probeKill(r.name, kind));
    } catch (err) {
      this.log.warn({ pod: podKey(w.pod), container: r.name, err: String(err) }, 'killing a container for a failed probe failed');
    }
    w.kick();
  }

  private async waitStopped(running: () => ContainerRecord[], ms: number): Promise<boolean> {
    const deadline = this.now() + ms;
    let polls = 0;
    while (running().length > 0) {
      if (this.now() >= deadline) return false;
      await new Promise(r => setTimeout(r, 50));
      // The event stream is the fast path; a relist now and then covers a broken stream.
      if (++polls % 20 === 0) await this.relist().catch(() => undefined);
    }
    return true;
  }

  async syncPod(w: PodWorker): Promise<void> {
    const pod = w.pod;
    const uid = pod.metadata!.uid!;
    if (w.deleted || pod.metadata?.deletionTimestamp) {
      const grace = w.deleted ? 0 : pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
      this.prober.forget(uid);
      await this.teardown(uid, grace, w.deleted ? undefined : pod);
      w.done = true;
      this.workers.delete(uid);
      if (!w.deleted) {
        try {
          await this.o.client.delete(resources.pods, pod.metadata!.namespace, pod.metadata!.name!, { gracePeriodSeconds: 0, preconditions: { uid } });
        } catch (err) {
          if (!isNotFound(err) && !(err instanceof Error && /Precondition/.test(err.message))) throw err;
        }
      }
      this.log.info({ pod: podKey(pod) }, 'pod removed');
      return;
    }
    const hostNetwork = pod.spec?.hostNetwork === true;
    const terminalBefore = terminalPhases.has(pod.status?.phase ?? '');
    let sandbox: Sandbox | undefined;
    if (terminalBefore) {
      this.prober.forget(uid);
      await this.killAll(uid, 0);
      if (!hostNetwork) await this.teardownNetwork(uid);
    } else {
      const needsSandbox = !hostNetwork && !this.readSandbox(uid)?.ip;
      const plan = planPod(pod, this.recordsOf(uid), this.now(), this.backoff);
      const records = this.recordsOf(uid);
      for (const b of containersInBackoff(pod, records, this.now(), this.backoff)) {
        const key = `${b.init ? 'init:' : ''}${b.name}`;
        const attempt = groupRecords(records).get(key)?.[0]?.attempt ?? 0;
        if (w.backoffNoted.get(key) === attempt) continue;
        w.backoffNoted.set(key, attempt);
        this.podEvent(pod, kubeletEvents.backOffRestart(b.name, pod), containerFieldPath(b.name, b.init));
      }
      if (needsSandbox || plan.starts.length > 0) {
        // Starting is bounded: on a small machine a burst of pods otherwise thrashes the cores
        // with a few processes each, and every pod waits for all of them (FIFO keeps p50 low).
        await this.startLimit.run(async () => {
          // The pod may have been deleted (or the agent stopped) while this start waited its turn.
          if (w.done || w.deleted || w.pod.metadata?.deletionTimestamp || this.stopped) return;
          if (!hostNetwork) {
            try {
              sandbox = await this.ensureSandbox(pod);
            } catch (err) {
              this.podEvent(pod, kubeletEvents.failedSandbox(err instanceof Error ? err.message : String(err)));
              throw err;
            }
          }
          const inits = plan.starts.filter(s => s.init);
          for (const s of inits) await this.startContainer(w, pod, s, sandbox);
          await Promise.all(plan.starts.filter(s => !s.init).map(s => this.startContainer(w, pod, s, sandbox)));
        });
      } else if (!hostNetwork) {
        sandbox = this.readSandbox(uid);
      }
      if (plan.recheckAt !== undefined) w.recheckAt(plan.recheckAt);
      const sb = hostNetwork ? undefined : sandbox ?? this.readSandbox(uid);
      this.prober.sync(w.pod, this.recordsOf(uid), hostNetwork ? this.o.hostIP : sb?.ip, sb?.netns);
    }
    await this.writeStatus(w, sandbox?.ip ?? this.readSandbox(uid)?.ip);
    const after = planPod(w.pod, this.recordsOf(uid), this.now(), this.backoff);
    if (after.terminal) this.prober.forget(uid);
    if (!terminalBefore && after.terminal && !hostNetwork) {
      // Nothing will run again: release the IP now, as upstream kills the sandbox.
      await this.teardownNetwork(uid);
    }
  }

  private async writeStatus(w: PodWorker, podIP: string | undefined): Promise<void> {
    const pod = w.pod;
    const status: PodStatus = computePodStatus({
      pod, records: this.recordsOf(pod.metadata!.uid!), now: this.now(), backoff: this.backoff, waiting: w.waiting, probes: this.prober.statuses(pod.metadata!.uid!),
      hostIP: this.o.hostIP, ...(pod.spec?.hostNetwork ? { podIP: this.o.hostIP } : podIP ? { podIP } : {}),
    });
    const comparable = JSON.stringify({ ...status, conditions: status.conditions?.map(c => ({ ...c, lastTransitionTime: undefined })) });
    if (comparable === w.lastStatus) return;
    try {
      const updated = await this.o.client.patch<Pod>(resources.pods, pod.metadata!.namespace, pod.metadata!.name!, 'merge', { status }, { subresource: 'status' });
      w.lastStatus = comparable;
      this.o.metrics?.podPhase(pod.metadata!.uid!, status.phase);
      if (updated.metadata?.uid === pod.metadata?.uid && !w.deleted) w.pod = { ...w.pod, status: updated.status ?? status };
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private lookup(): Lookup {
    const get = async <T>(type: ResourceType, ns: string, name: string): Promise<T | undefined> => {
      try { return await this.o.client.get(type, ns, name) as T; } catch (err) { if (isNotFound(err)) return undefined; throw err; }
    };
    return {
      configMap: (ns, name) => get<ConfigMap>(resources.configmaps, ns, name),
      secret: (ns, name) => get<Secret>(secrets, ns, name),
    };
  }

  /**
   * Upstream's EnsureImageExists, with its events: the image is used as it is, pulled, or (after a
   * failed pull) left alone until its back-off (base doubling to max, per pod and image) is over.
   */
  private async ensureImage(w: PodWorker, pod: Pod, name: string, image: string, policy: string | undefined, fieldPath: string): Promise<boolean> {
    const ref = normalizeImage(image);
    const event = (e: KubeletEvent) => this.podEvent(pod, e, fieldPath);
    const always = policy === 'Always' || (policy === undefined && (image.endsWith(':latest') || !/:[^/]+$/.test(image.split('@')[0]!)));
    if (this.images.has(ref) && !always) { event(kubeletEvents.alreadyPresent(image)); return true; }
    if (!this.images.has(ref)) this.images = new Set(await this.o.runtime.listImages());
    if (this.images.has(ref) && policy !== 'Always') { event(kubeletEvents.alreadyPresent(image)); return true; }
    if (policy === 'Never') {
      const e = kubeletEvents.neverPull(image);
      event(e);
      event(kubeletEvents.error('ErrImageNeverPull'));
      w.waiting.set(name, { reason: 'ErrImageNeverPull', message: e.message });
      return false;
    }
    const backoff = w.imageBackoff.get(ref);
    if (backoff && this.now() < backoff.until) {
      const e = kubeletEvents.backOffPull(image);
      event(e);
      event(kubeletEvents.error('ImagePullBackOff'));
      w.waiting.set(name, { reason: 'ImagePullBackOff', message: e.message });
      w.recheckAt(backoff.until);
      return false;
    }
    event(kubeletEvents.pulling(image));
    const started = this.now();
    try {
      await this.o.runtime.pullImage(ref, { plainHttp: (this.o.insecureRegistries ?? []).includes(ref.split('/')[0]!) });
      this.images.add(ref);
      w.imageBackoff.delete(ref);
      // No queue in front of ctr: the pull and the wait for it are the same time.
      const ms = this.now() - started;
      const size = await this.o.runtime.imageSize?.(ref).catch(() => undefined);
      event(kubeletEvents.pulled(image, ms, ms, size));
      return true;
    } catch (err) {
      if (this.images.has(ref)) return true; // Always with a local copy: use it, as the digest may match
      const message = err instanceof Error ? err.message : String(err);
      event(kubeletEvents.failedPull(image, message));
      event(kubeletEvents.error('ErrImagePull'));
      const delayMs = backoff ? Math.min(this.backoff.maxMs, backoff.delayMs * 2) : this.backoff.baseMs;
      w.imageBackoff.set(ref, { until: this.now() + delayMs, delayMs });
      w.waiting.set(name, { reason: 'ErrImagePull', message });
      w.recheckAt(this.now() + delayMs);
      return false;
    }
  }

  private async startContainer(w: PodWorker, pod: Pod, s: StartAction, sandbox: Sandbox | undefined): Promise<void> {
    const uid = pod.metadata!.uid!;
    const c = s.container;
    const fieldPath = containerFieldPath(c.name, s.init);
    if (!(await this.ensureImage(w, pod, c.name, c.image ?? '', c.imagePullPolicy, fieldPath))) return;
    const image = normalizeImage(c.image ?? '');
    let env: string[];
    let mounts: Mount[];
    let runAs: Pick<ContainerConfig, 'annotations' | 'runcBinary'> = {};
    let user: string | undefined;
    try {
      let ids;
      try { ids = planRunAs(pod, c); } catch (err) { throw new ConfigError((err as Error).message); }
      if (needsImageUserCheck(pod, c)) {
        const refused = verifyRunAsNonRoot(pod, c, (await this.o.runtime.imageConfig(image)).user ?? '');
        if (refused) throw new ConfigError(refused);
      }
      if (ids) {
        const runcBinary = ensureRuncWrapper(this.o.dataDir);
        if (!runcBinary) throw new ConfigError('runAsUser, runAsGroup and supplementalGroups need /usr/bin/perl and runc on the node');
        runAs = { annotations: runAsToAnnotations(ids), runcBinary };
        if (ids.uid !== undefined || ids.gid !== undefined) user = `${ids.uid ?? 0}:${ids.gid ?? 0}`;
      }
      env = await resolveEnv(pod, c, this.lookup(), sandbox?.ip ?? (pod.spec?.hostNetwork ? this.o.hostIP : undefined), this.o.hostIP, nodeAllocatable());
      mounts = await this.prepareVolumes(pod, c.volumeMounts ?? []);
      if (!mounts.some(m => m.destination === '/etc/resolv.conf')) mounts.push({ source: this.ensureResolvConf(pod), destination: '/etc/resolv.conf', readOnly: false });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      // Upstream: the volume manager's FailedMount on the pod, or the runtime manager's "Error: …".
      if (err instanceof VolumeError) this.podEvent(pod, kubeletEvents.failedMount(err.message));
      else this.podEvent(pod, kubeletEvents.error(err.message), fieldPath);
      w.waiting.set(c.name, { reason: err instanceof VolumeError ? 'ContainerCreating' : 'CreateContainerConfigError', message: err.message });
      w.recheckAt(this.now() + this.backoff.baseMs);
      return;
    }
    w.waiting.delete(c.name);
    const needImageConfig = !c.command?.length && !!c.args?.length;
    const argv = containerArgv(c, needImageConfig ? await this.o.runtime.imageConfig(image) : undefined, env);
    const id = containerId(uid, c.name, s.init, s.attempt);
    const logDir = join(this.o.logDir, `${pod.metadata!.namespace}_${pod.metadata!.name}_${uid}`, c.name);
    mkdirSync(logDir, { recursive: true });
    const startedAt = iso(this.now());
    const mem = c.resources?.limits?.memory;
    const cpu = c.resources?.limits?.cpu;
    if (this.records.has(id)) await this.removeContainer(id);
    const rec: ContainerRecord = { id, podUID: uid, name: c.name, attempt: s.attempt, init: s.init, image, state: 'running', startedAt, ...(user ? { user } : {}) };
    this.records.set(id, rec);
    this.recordSeq.set(id, ++this.seq);
    this.starting.add(id);
    try {
      const pid = await this.runReplacingLeftover({
        id, image, args: argv, env, mounts, hostNetwork: pod.spec?.hostNetwork === true,
        ...(sandbox ? { netnsPath: this.o.netns.path(sandbox.netns) } : {}),
        ...(sandbox?.uts ? { utsPath: sandbox.uts } : {}),
        ...(c.workingDir ? { cwd: c.workingDir } : {}),
        logPath: join(logDir, `${s.attempt}.log`),
        ...(this.o.logWriter ? { logWriter: this.o.logWriter } : {}),
        labels: {
          [L.podUID]: uid, [L.podName]: pod.metadata!.name!, [L.podNamespace]: pod.metadata!.namespace!,
          [L.containerName]: c.name, [L.attempt]: String(s.attempt), [L.init]: String(s.init), [L.startedAt]: startedAt,
          ...(user ? { [L.runAs]: user } : {}),
        },
        ...(bytesOf(mem) !== undefined ? { memoryLimitBytes: bytesOf(mem)! } : {}),
        // Upstream's MilliCPUToQuota: millicores × period / 1000.
        ...(millisOf(cpu) !== undefined ? { cpuQuota: millisOf(cpu)! * 100, cpuPeriod: 100_000 } : {}),
        ...cpuSharesOf(c),
        privileged: c.securityContext?.privileged === true,
        ...runAs,
      });
      if (rec.state === 'running') rec.pid = pid;
      // `ctr run` creates and starts in one step: both events once it returns.
      this.podEvent(pod, kubeletEvents.created(c.name), fieldPath);
      this.podEvent(pod, kubeletEvents.started(c.name), fieldPath);
      const pending = this.pendingExits.get(id);
      if (pending) { this.pendingExits.delete(id); this.recordExit(rec, pending.exitCode, pending.exitedAt); }
      this.log.debug({ pod: podKey(pod), container: c.name, attempt: s.attempt, pid }, 'container started');
      const postStart = s.init ? undefined : c.lifecycle?.postStart;
      if (postStart && rec.state === 'running') {
        // As upstream: the hook runs right after the start, and a failed hook kills the container.
        const failed = await this.runHook(pod, rec, 'PostStart', postStart, (pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000);
        if (failed) {
          // Upstream leaves the hook's output out of the event (it may hold secrets).
          this.podEvent(pod, kubeletEvents.failedPostStart(), fieldPath);
          await this.stopContainer(rec, pod.spec?.terminationGracePeriodSeconds ?? 30, pod, 'FailedPostStartHook');
        }
      }
    } catch (err) {
      if (!(err instanceof RuntimeError)) throw err;
      // Upstream's StartError: exit code 128 with the runtime's message; the container object stays
      // (labelled) so its attempt survives a restart.
      rec.state = 'exited';
      rec.exitCode = 128;
      rec.reason = 'StartError';
      rec.message = err.message.replace(/^starting container "[^"]*" failed: /, '');
      // As upstream when the runtime created the container but could not start it.
      this.podEvent(pod, kubeletEvents.created(c.name), fieldPath);
      this.podEvent(pod, kubeletEvents.error(rec.message), fieldPath);
      rec.finishedAt = iso(this.now());
      await this.o.runtime.setLabels(id, { [L.exitCode]: '128', [L.finishedAt]: rec.finishedAt, 'io.k8ts.exit.reason': 'StartError' }).catch(() => undefined);
      this.log.info({ pod: podKey(pod), container: c.name, err: rec.message }, 'container failed to start');
    } finally {
      this.starting.delete(id);
    }
    // Keep the previous attempt for lastState; older ones go.
    for (const old of groupRecords(this.recordsOf(uid)).get(`${s.init ? 'init:' : ''}${c.name}`) ?? []) {
      if (old.attempt >= s.attempt - 1) continue;
      await this.finishing.get(old.id);
      await this.o.runtime.deleteContainer(old.id).catch(() => undefined);
      this.records.delete(old.id);
      this.recordSeq.delete(old.id);
    }
  }

  /**
   * `ctr run`, and once more after removing a leftover container of the same id (an agent that
   * crashed between run and record): checking first would cost a process on every start.
   */
  private async runReplacingLeftover(c: ContainerConfig): Promise<number> {
    try {
      return await this.o.runtime.run(c);
    } catch (err) {
      if (!(err instanceof RuntimeError && /already exists/.test(err.message))) throw err;
      // Seen under load: a snapshot (or container) of this id from a `ctr run` that failed late.
      this.log.info({ id: c.id, err: err.message }, 'replacing a leftover container');
      const rec = this.records.get(c.id);
      await this.removeContainer(c.id);
      if (rec) { this.records.set(c.id, rec); this.recordSeq.set(c.id, ++this.seq); }
      await this.o.runtime.removeSnapshot(c.id).catch(() => undefined);
      return this.o.runtime.run(c);
    }
  }

  private async removeContainer(id: string): Promise<void> {
    await this.o.runtime.kill(id, 'SIGKILL').catch(() => undefined);
    await this.finishing.get(id);
    await this.o.runtime.deleteTask(id).catch(() => undefined);
    await this.o.runtime.deleteContainer(id).catch(() => undefined);
    this.records.delete(id);
    this.recordSeq.delete(id);
  }

  /** Writes the pod's resolv.conf (agent/resolv.ts) into its directory; returns the path. */
  private ensureResolvConf(pod: Pod): string {
    let host = '';
    try { host = readFileSync(this.o.resolvConf ?? '/etc/resolv.conf', 'utf8'); } catch { /* no node resolver: empty */ }
    const settings = { clusterDNS: this.o.clusterDNS ?? [], clusterDomain: this.o.clusterDomain ?? 'cluster.local' };
    const w = this.workers.get(pod.metadata!.uid!);
    if (w && !w.dnsWarned && missingClusterDNS(pod, settings)) {
      w.dnsWarned = true;
      const e = kubeletEvents.missingClusterDNSNode();
      this.recorder.event(nodeObject(this.o.nodeName), e.type, e.reason, e.message);
      this.podEvent(pod, kubeletEvents.missingClusterDNSPod(pod));
    }
    const cfg = compilePodDns(pod, settings, parseResolvConf(host));
    const dir = this.podDir(pod.metadata!.uid!);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'resolv.conf');
    writeFileSync(file, renderResolvConf(cfg));
    return file;
  }

  private async prepareVolumes(pod: Pod, mounts: readonly { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[]): Promise<Mount[]> {
    const uid = pod.metadata!.uid!;
    const byName = new Map((pod.spec?.volumes ?? []).map(v => [v.name, v] as [string, Volume]));
    const out: Mount[] = [];
    for (const m of mounts) {
      const v = byName.get(m.name);
      if (!v) throw new ConfigError(`volume "${m.name}" is mounted but not defined`);
      let dir;
      try {
        dir = await this.ensureVolume(pod, uid, v);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        throw new VolumeError(`MountVolume.SetUp failed for volume "${v.name}" : ${err.message}`);
      }
      out.push({ source: m.subPath ? join(dir.path, m.subPath) : dir.path, destination: m.mountPath, readOnly: dir.readOnly || m.readOnly === true });
    }
    return out;
  }

  private async ensureVolume(pod: Pod, uid: string, v: Volume): Promise<{ path: string; readOnly: boolean }> {
    const base = join(this.podDir(uid), 'volumes');
    const ns = pod.metadata!.namespace!;
    const writeFiles = (dir: string, files: Record<string, Buffer>, items?: readonly { key: string; path: string }[]) => {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      const entries: [string, Buffer][] = items?.length ? items.filter(i => files[i.key]).map(i => [i.path, files[i.key]!]) : Object.entries(files);
      for (const [p, data] of entries) {
        mkdirSync(join(dir, p, '..'), { recursive: true });
        writeFileSync(join(dir, p), data);
      }
    };
    if (v.emptyDir) {
      const p = join(base, 'empty-dir', v.name);
      mkdirSync(p, { recursive: true });
      return { path: p, readOnly: false };
    }
    if (v.hostPath) {
      if (v.hostPath.type === 'DirectoryOrCreate' || !existsSync(v.hostPath.path)) mkdirSync(v.hostPath.path, { recursive: true });
      return { path: v.hostPath.path, readOnly: false };
    }
    if (v.configMap) {
      const cm = await this.lookup().configMap(ns, v.configMap.name ?? '');
      if (!cm && !v.configMap.optional) throw new ConfigError(`configmap "${v.configMap.name}" not found`);
      const files: Record<string, Buffer> = {};
      for (const [k, val] of Object.entries(cm?.data ?? {})) files[k] = Buffer.from(val);
      for (const [k, val] of Object.entries(cm?.binaryData ?? {})) files[k] = Buffer.from(val, 'base64');
      const p = join(base, 'configmap', v.name);
      writeFiles(p, files, v.configMap.items);
      return { path: p, readOnly: true };
    }
    if (v.secret) {
      const s = await this.lookup().secret(ns, v.secret.secretName ?? '');
      if (!s && !v.secret.optional) throw new ConfigError(`secret "${v.secret.secretName}" not found`);
      const files: Record<string, Buffer> = {};
      for (const [k, val] of Object.entries(s?.data ?? {})) files[k] = Buffer.from(val, 'base64');
      const p = join(base, 'secret', v.name);
      writeFiles(p, files, v.secret.items);
      return { path: p, readOnly: true };
    }
    if (v.downwardAPI) {
      const files: Record<string, Buffer> = {};
      const { fieldValue, formatMap, resourceFieldValue } = await import('./pod-env.js');
      for (const item of v.downwardAPI.items ?? []) {
        const f = item.fieldRef?.fieldPath;
        if (f === 'metadata.labels' || f === 'metadata.annotations') files[item.path] = Buffer.from(formatMap(f === 'metadata.labels' ? pod.metadata?.labels : pod.metadata?.annotations));
        else if (f) files[item.path] = Buffer.from(fieldValue(pod, f) ?? '');
        else if (item.resourceFieldRef) {
          // A volume names the container explicitly (upstream's validation requires it).
          const r = resourceFieldValue(pod, item.resourceFieldRef, nodeAllocatable(), item.resourceFieldRef.containerName ?? '');
          if (r === undefined) throw new ConfigError(`unsupported container resource: ${item.resourceFieldRef.resource}`);
          files[item.path] = Buffer.from(r);
        }
      }
      const p = join(base, 'downward-api', v.name);
      writeFiles(p, files);
      return { path: p, readOnly: true };
    }
    if (v.persistentVolumeClaim) {
      const claim = v.persistentVolumeClaim.claimName;
      const get = async <T>(type: ResourceType, ns: string | undefined, name: string): Promise<T | undefined> => {
        try { return await this.o.client.get(type, ns, name) as T; } catch (err) { if (isNotFound(err)) return undefined; throw err; }
      };
      const pvc = await get<PersistentVolumeClaim>(resources.persistentvolumeclaims, ns, claim);
      if (!pvc) throw new ConfigError(`persistentvolumeclaim "${claim}" not found`);
      const pvName = pvc.spec?.volumeName;
      if (pvc.status?.phase !== 'Bound' || !pvName) throw new ConfigError(`persistentvolumeclaim "${claim}" is not bound`);
      const pv = await get<PersistentVolume>(resources.persistentvolumes, undefined, pvName);
      if (!pv) throw new ConfigError(`persistentvolume "${pvName}" of claim "${claim}" not found`);
      const source = planPvSource(pv);
      if ('error' in source) throw new ConfigError(source.error);
      if (source.create) mkdirSync(source.path, { recursive: true });
      else if (!existsSync(source.path)) throw new ConfigError(`path "${source.path}" of persistentvolume "${pvName}" does not exist on this node`);
      return { path: source.path, readOnly: v.persistentVolumeClaim.readOnly === true || pv.spec?.accessModes?.every(m => m === 'ReadOnlyMany') === true };
    }
    throw new ConfigError(`volume "${v.name}" has a type the agent does not support`);
  }
}

/**
 * Where a bound PersistentVolume lives on this node: hostPath (created for DirectoryOrCreate, as
 * the local-path provisioner's volumes are) or local. Other sources need a volume plugin.
 */
export function planPvSource(pv: PersistentVolume): { path: string; create: boolean } | { error: string } {
  const name = pv.metadata?.name ?? '';
  if (pv.spec?.hostPath?.path) return { path: pv.spec.hostPath.path, create: pv.spec.hostPath.type === 'DirectoryOrCreate' || !pv.spec.hostPath.type };
  if (pv.spec?.local?.path) return { path: pv.spec.local.path, create: false };
  return { error: `persistentvolume "${name}" has a source the agent cannot mount (only hostPath and local)` };
}

/** `busybox` → `docker.io/library/busybox:latest`, as containerd names images. */
export function normalizeImage(image: string): string {
  let ref = image;
  const first = ref.split('/')[0]!;
  if (!ref.includes('/')) ref = `docker.io/library/${ref}`;
  else if (!first.includes('.') && !first.includes(':') && first !== 'localhost') ref = `docker.io/${ref}`;
  const lastSegment = ref.slice(ref.lastIndexOf('/') + 1);
  if (!lastSegment.includes(':') && !ref.includes('@')) ref += ':latest';
  return ref;
}

/** Bytes of a memory quantity (`64Mi`, `1G`); undefined when absent or not a quantity (the apiserver validates them). */
function bytesOf(q: unknown): number | undefined {
  const parsed = q === undefined || q === null ? undefined : tryParseQuantity(String(q));
  return parsed ? toBytes(parsed) : undefined;
}

/** Millicores of a CPU quantity (`500m`, `1.5`); undefined as bytesOf. */
function millisOf(q: unknown): number | undefined {
  const parsed = q === undefined || q === null ? undefined : tryParseQuantity(String(q));
  return parsed ? toMillis(parsed) : undefined;
}

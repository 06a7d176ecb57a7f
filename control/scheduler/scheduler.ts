// The scheduler's shell: informers over pods and nodes feed a cache of `NodeInfo`s and the
// scheduling queue; one loop pops a pod, runs the pure `ScheduleAlgorithm`, assumes the pod on
// the chosen node (so the next decision already counts it) and binds it through `pods/binding`
// asynchronously, with a bounded number of bindings in flight, as kube-scheduler's binding cycle
// does. When nothing fits, the pod gets `PodScheduled=False` with reason `Unschedulable` and the
// fit error as message (written only when it changes) and waits in the queue for a cluster event.
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { Informer } from '../../api/client/informer.js';
import { ApiEventRecorder, nullRecorder, type EventRecorder } from '../../api/client/events.js';
import { isConflict, isNotFound } from '../../api/client/rest.js';
import { resources, type ClusterClient } from '../../api/client/types.js';
import { NodeInfo, newPodInfo, podKey, type PodInfo } from './nodeinfo.js';
import { SchedulingQueue, type QueueOptions } from './queue.js';
import { ScheduleAlgorithm, type ScheduleOptions } from './schedule.js';
import { defaultFilters } from './plugins.js';
import { VolumeBinding } from './volumebinding.js';

export interface SchedulerLogger { info(o: object, m?: string): void; warn(o: object, m?: string): void }

/** Where attempts are counted (control/controllers/metrics.ts: upstream's scheduler_* metrics). */
export interface SchedulerMetrics {
  /** One scheduling attempt ended; `seconds` from its start to its end (binding included when bound). */
  attempted(result: 'scheduled' | 'unschedulable' | 'error', seconds: number): void;
}

export interface SchedulerOptions {
  client: ClusterClient;
  schedulerName?: string;
  /** Bindings in flight at once. */
  bindConcurrency?: number;
  recordEvents?: boolean;
  /** Events being written at once; more are dropped (counted), so events never slow scheduling much. */
  maxEventsInflight?: number;
  algorithm?: ScheduleOptions;
  queue?: QueueOptions;
  logger?: SchedulerLogger;
  now?: () => Date;
  /** Called after each successful binding, for benchmarks. */
  onBound?: (pod: Pod, node: string) => void;
  metrics?: SchedulerMetrics;
}

const isTerminal = (p: Pod) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

export class Scheduler {
  readonly queue: SchedulingQueue;
  private readonly algorithm: ScheduleAlgorithm;
  private readonly nodes = new Map<string, NodeInfo>();
  private nodeList: NodeInfo[] = [];
  private readonly podNode = new Map<string, string>(); // pod key → node it occupies (bound or assumed)
  private readonly assumed = new Set<string>();
  private readonly podInformer: Informer<Pod>;
  private readonly nodeInformer: Informer<Node>;
  private readonly recorder: EventRecorder;
  private readonly volumeBinding: VolumeBinding;
  private inflight = 0;
  private slotWaiters: (() => void)[] = [];
  private stopped = false;
  private loop: Promise<void> | undefined;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  readonly stats = { attempts: 0, scheduled: 0, unschedulable: 0, bindErrors: 0 };

  constructor(private readonly opts: SchedulerOptions) {
    this.queue = new SchedulingQueue(opts.queue ?? {});
    // Claim, volume and class changes can make an unschedulable pod fit (upstream's cluster events).
    this.volumeBinding = new VolumeBinding(opts.client, { onChange: () => this.queue.moveAllToActiveOrBackoff(), nodeLabels: n => this.nodeInformer.getBy(undefined, n)?.metadata?.labels });
    this.algorithm = new ScheduleAlgorithm({ ...(opts.algorithm ?? {}), filters: opts.algorithm?.filters ?? [...defaultFilters, this.volumeBinding.plugin] });
    this.podInformer = new Informer<Pod>(opts.client, resources.pods, { pageSize: 1000 });
    this.nodeInformer = new Informer<Node>(opts.client, resources.nodes, {});
    this.recorder = opts.recordEvents === false ? nullRecorder : new ApiEventRecorder(opts.client, 'default-scheduler', opts.maxEventsInflight ?? 4);
    this.nodeInformer.on({
      add: n => this.onNodeAdd(n),
      update: (_, n) => this.onNodeUpdate(n),
      delete: n => this.onNodeDelete(n),
    });
    this.podInformer.on({
      add: p => this.onPodUpsert(p),
      update: (_, p) => this.onPodUpsert(p),
      delete: p => this.onPodDelete(p),
    });
  }

  private get schedulerName(): string { return this.opts.schedulerName ?? 'default-scheduler'; }

  // ---- cache -------------------------------------------------------------------------------

  private nodeInfo(name: string): NodeInfo {
    let ni = this.nodes.get(name);
    if (!ni) { ni = new NodeInfo({ metadata: { name } }); this.nodes.set(name, ni); }
    return ni;
  }

  private rebuildNodeList(): void {
    this.nodeList = [...this.nodes.values()].filter(ni => this.nodeInformer.getBy(undefined, ni.name) !== undefined);
  }

  private onNodeAdd(n: Node): void {
    this.nodeInfo(n.metadata?.name ?? '').setNode(n);
    this.rebuildNodeList();
    this.queue.moveAllToActiveOrBackoff();
  }

  private onNodeUpdate(n: Node): void {
    this.nodeInfo(n.metadata?.name ?? '').setNode(n);
    this.queue.moveAllToActiveOrBackoff();
  }

  private onNodeDelete(n: Node): void {
    const ni = this.nodes.get(n.metadata?.name ?? '');
    if (ni && ni.pods.size === 0) this.nodes.delete(ni.name);
    this.rebuildNodeList();
  }

  private placePod(pi: PodInfo, node: string): void {
    const prev = this.podNode.get(pi.key);
    if (prev !== undefined) this.nodes.get(prev)?.removePod(pi.key);
    this.nodeInfo(node).addPod(pi);
    this.podNode.set(pi.key, node);
  }

  private unplacePod(key: string): void {
    const prev = this.podNode.get(key);
    if (prev === undefined) return;
    this.podNode.delete(key);
    const ni = this.nodes.get(prev);
    ni?.removePod(key);
    if (ni && ni.pods.size === 0 && !this.nodeInformer.getBy(undefined, prev)) this.nodes.delete(prev);
  }

  private onPodUpsert(p: Pod): void {
    const key = podKey(p);
    if (isTerminal(p)) {
      this.queue.delete(key);
      if (this.podNode.has(key)) { this.unplacePod(key); this.queue.moveAllToActiveOrBackoff(); }
      return;
    }
    const nodeName = p.spec?.nodeName;
    if (nodeName) {
      this.queue.delete(key);
      this.assumed.delete(key);
      this.placePod(newPodInfo(p), nodeName);
      return;
    }
    if (this.assumed.has(key)) return; // our binding is on its way
    if (p.metadata?.deletionTimestamp) { this.queue.delete(key); return; }
    if ((p.spec?.schedulerName ?? 'default-scheduler') !== this.schedulerName) return;
    this.queue.add(newPodInfo(p));
  }

  private onPodDelete(p: Pod): void {
    const key = podKey(p);
    this.queue.delete(key);
    this.assumed.delete(key);
    if (this.podNode.has(key)) { this.unplacePod(key); this.queue.moveAllToActiveOrBackoff(); }
  }

  // ---- loop --------------------------------------------------------------------------------

  async start(): Promise<void> {
    await Promise.all([this.nodeInformer.start(), this.podInformer.start(), this.volumeBinding.start()]);
    this.loop = this.run();
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.stopped) return;
    const next = this.queue.flush();
    this.flushTimer = setTimeout(() => this.scheduleFlush(), Math.min(next ?? 1000, 1000));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.queue.close();
    for (const w of this.slotWaiters.splice(0)) w();
    this.podInformer.stop();
    this.nodeInformer.stop();
    this.volumeBinding.stop();
    await this.loop;
  }

  private async run(): Promise<void> {
    let sinceYield = 0;
    while (!this.stopped) {
      while (this.inflight >= (this.opts.bindConcurrency ?? 32) && !this.stopped) await new Promise<void>(r => this.slotWaiters.push(r));
      const q = await this.queue.pop();
      if (!q) return;
      this.scheduleOne(q.info);
      // Let I/O (watch events, binding responses) run between decisions.
      if (++sinceYield >= 16) { sinceYield = 0; await new Promise(r => setImmediate(r)); }
    }
  }

  /** One scheduling cycle; exposed for tests. */
  scheduleOne(pi: PodInfo): void {
    this.stats.attempts++;
    const t0 = performance.now();
    const current = this.podInformer.get(pi.key) ?? pi.pod;
    if (current.spec?.nodeName || current.metadata?.deletionTimestamp) { this.queue.done(pi.key); return; }
    const result = this.algorithm.schedule(pi, this.nodeList);
    if (result.node === undefined) {
      this.stats.unschedulable++;
      this.opts.metrics?.attempted('unschedulable', (performance.now() - t0) / 1000);
      this.queue.requeue(pi.key, true);
      void this.markUnschedulable(current, result.message);
      return;
    }
    this.assumed.add(pi.key);
    this.placePod(pi, result.node);
    this.inflight++;
    void this.bind(current, pi, result.node, t0).finally(() => { this.inflight--; this.slotWaiters.shift()?.(); });
  }

  private async bind(pod: Pod, pi: PodInfo, node: string, t0: number): Promise<void> {
    const ns = pod.metadata?.namespace ?? 'default';
    const name = pod.metadata?.name ?? '';
    try {
      await this.volumeBinding.preBind(pod, node);
      await this.opts.client.createSubresource(resources.pods, ns, name, 'binding', {
        apiVersion: 'v1', kind: 'Binding',
        metadata: { name, namespace: ns, ...(pod.metadata?.uid ? { uid: pod.metadata.uid } : {}) },
        target: { apiVersion: 'v1', kind: 'Node', name: node },
      });
      this.stats.scheduled++;
      this.opts.metrics?.attempted('scheduled', (performance.now() - t0) / 1000);
      this.queue.done(pi.key);
      this.opts.onBound?.(pod, node);
      this.recorder.event({ ...pod, apiVersion: 'v1', kind: 'Pod' }, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${name} to ${node}`);
    } catch (err) {
      this.stats.bindErrors++;
      this.assumed.delete(pi.key);
      if (this.podNode.get(pi.key) === node && !this.podInformer.get(pi.key)?.spec?.nodeName) this.unplacePod(pi.key);
      this.opts.metrics?.attempted('error', (performance.now() - t0) / 1000);
      if (isNotFound(err) || isConflict(err)) { this.queue.done(pi.key); return; }
      this.opts.logger?.warn({ err, pod: pi.key, node }, `binding pod "${pi.key}" to node "${node}" failed`);
      this.queue.requeue(pi.key, false);
    }
  }

  private async markUnschedulable(pod: Pod, message: string): Promise<void> {
    const have = pod.status?.conditions?.find(c => c.type === 'PodScheduled');
    if (have?.status === 'False' && have.reason === 'Unschedulable' && have.message === message) return;
    const now = (this.opts.now?.() ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    this.recorder.event({ ...pod, apiVersion: 'v1', kind: 'Pod' }, 'Warning', 'FailedScheduling', message);
    try {
      await this.opts.client.patch(resources.pods, pod.metadata?.namespace, pod.metadata?.name ?? '', 'strategic', {
        status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null, lastTransitionTime: have?.status === 'False' ? have.lastTransitionTime : now }] },
      }, { subresource: 'status' });
    } catch (err) {
      if (!isNotFound(err)) this.opts.logger?.warn({ err, pod: podKey(pod) }, `recording that pod "${podKey(pod)}" is unschedulable failed`);
    }
  }

  /** For tests: what the cache believes. */
  get eventsDropped(): number { return this.recorder instanceof ApiEventRecorder ? this.recorder.dropped : 0; }

  nodeOf(key: string): string | undefined { return this.podNode.get(key); }
  get nodeCount(): number { return this.nodeList.length; }
}

// The controller manager and the scheduler as `k8ts server` runs them: each on its own HTTPS
// client (so they reach the apiserver exactly as they would from another process), each behind
// its own leader-election Lease in kube-system (`kube-controller-manager`, `kube-scheduler`), so
// two servers on one datastore never both act. `startControlPlane` returns a handle whose `stop()`
// releases the leases and stops every informer and worker, in reverse order of start.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { ClusterClient } from '../../api/client/types.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { newContext, type ControllerContext } from './context.js';
import { DeploymentController } from './deployment.js';
import { EndpointSliceController } from './endpointslice.js';
import { GarbageCollector } from './garbagecollector.js';
import { LeaderElector } from './leaderelection.js';
import { PodGCController, type PodGCOptions } from './podgc.js';
import { NodeIpamController } from './nodeipam.js';
import { ReplicaSetController, replicationControllerKind } from './replicaset.js';
import { JobController } from './job.js';
import { CronJobController } from './cronjob.js';
import { DaemonSetController } from './daemonset.js';
import { NamespaceController, transportDiscovery, type Discovery } from './namespace.js';
import { StatefulSetController } from './statefulset.js';
import { PersistentVolumeController } from './persistentvolume.js';
import { LocalPathProvisioner, type LocalPathOptions } from './localpath.js';
import { NodeLifecycleController, type NodeLifecycleOptions } from './nodelifecycle.js';
import { HorizontalPodAutoscalerController, type HpaOptions } from './hpa.js';
import { realClock, setWorkqueueMetricsProvider, silentLogger, type Logger } from './runtime.js';
import type { ControlPlaneMetrics } from './metrics.js';
import { HttpsTransport } from '../../api/client/https.js';
import { RestClusterClient } from '../../api/client/rest.js';

export interface Credentials { cert: string; key: string }

export interface ControlPlaneOptions {
  /** https://host:port of the apiserver. */
  server: string;
  caPem: string;
  /** Client certificate of `system:kube-controller-manager`. */
  controllerManager: Credentials;
  /** Client certificate of `system:kube-scheduler`; defaults to the controller manager's. */
  scheduler?: Credentials;
  /** The cluster CIDR nodes get their /24 podCIDRs from (--cluster-cidr). */
  clusterCidr: string;
  nodeCidrMaskSize?: number;
  logger?: Logger;
  /** Set false to run without leader election (tests with one server). Default true. */
  leaderElection?: boolean;
  /** Set false to skip the scheduler. */
  enableScheduler?: boolean;
  /** Set false to skip the controllers (run only the scheduler). */
  enableControllers?: boolean;
  identity?: string;
  /** Node lifecycle timing (--node-monitor-grace-period, --node-monitor-period). */
  nodeLifecycle?: NodeLifecycleOptions;
  /** Where local-path volumes live on the nodes. */
  localPath?: LocalPathOptions;
  /** Upstream's --controllers: `*` for all, `name` to enable one, `-name` to disable one. Default `['*']`. */
  controllers?: readonly string[];
  /** --horizontal-pod-autoscaler-sync-period, -downscale-stabilization, -tolerance. */
  hpa?: HpaOptions;
  /** --terminated-pod-gc-threshold. */
  podGC?: PodGCOptions;
  /** Workqueue and scheduler metrics go here (the server's /metrics); none without. */
  metrics?: ControlPlaneMetrics;
}

export interface ControlPlane {
  stop(): Promise<void>;
  readonly client: ClusterClient;
}

interface Component { start(): void | Promise<void>; stop(): void | Promise<void> }

/** The controllers of the controller manager over one context. */
export function controllerSet(ctx: ControllerContext, clusterCidr: string, nodeMaskSize = 24, discovery?: Discovery, more: { nodeLifecycle?: NodeLifecycleOptions; localPath?: LocalPathOptions; controllers?: readonly string[]; hpa?: HpaOptions; podGC?: PodGCOptions } = {}): Component {
  // By upstream's controller names; a disabled controller is never built, so its informers never start.
  const factories: [string, () => Component][] = [
    ['replicaset', () => new ReplicaSetController(ctx)],
    ['replicationcontroller', () => new ReplicaSetController(ctx, replicationControllerKind)],
    ['deployment', () => new DeploymentController(ctx)],
    ['endpointslice', () => new EndpointSliceController(ctx)],
    ['nodeipam', () => new NodeIpamController(ctx, clusterCidr, nodeMaskSize)],
    ['garbagecollector', () => new GarbageCollector(ctx)],
    ['job', () => new JobController(ctx)],
    ['cronjob', () => new CronJobController(ctx)],
    ['daemonset', () => new DaemonSetController(ctx)],
    ['namespace', () => new NamespaceController(ctx, discovery)],
    ['statefulset', () => new StatefulSetController(ctx)],
    ['persistentvolume-binder', () => new PersistentVolumeController(ctx)],
    ['local-path-provisioner', () => new LocalPathProvisioner(ctx, more.localPath)],
    ['nodelifecycle', () => new NodeLifecycleController(ctx, more.nodeLifecycle)],
    ['podgc', () => new PodGCController(ctx, more.podGC)],
    ['horizontalpodautoscaling', () => new HorizontalPodAutoscalerController(ctx, more.hpa)],
  ];
  const controllers = factories.filter(([name]) => controllerEnabled(name, more.controllers)).map(([, make]) => make());
  return {
    start: async () => {
      await ctx.informers.start();
      for (const c of controllers) c.start();
    },
    stop: async () => {
      for (const c of [...controllers].reverse()) await c.stop();
      ctx.informers.stop();
    },
  };
}

/** Upstream's --controllers rule: `-name` disables, `name` or `*` enables. */
export function controllerEnabled(name: string, list: readonly string[] = ['*']): boolean {
  if (list.includes(`-${name}`)) return false;
  return list.includes(name) || list.includes('*');
}

function campaign(client: ClusterClient, name: string, identity: string, logger: Logger, make: () => Component, enabled: boolean): { start(): void; stop(): Promise<void> } {
  let running: Component | undefined;
  const begin = async () => { running = make(); await running.start(); };
  const end = async () => { const r = running; running = undefined; await r?.stop(); };
  if (!enabled) return { start: () => void begin(), stop: end };
  const elector = new LeaderElector({ client, name, identity, logger, clock: realClock, onStartedLeading: begin, onStoppedLeading: end });
  return { start: () => elector.start(), stop: () => elector.stop() };
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const logger = opts.logger ?? silentLogger;
  const identity = opts.identity ?? `${hostname()}_${randomUUID()}`;
  const cmTransport = new HttpsTransport({ server: opts.server, ca: opts.caPem, cert: opts.controllerManager.cert, key: opts.controllerManager.key, userAgent: 'k8ts-controller-manager' });
  const cmClient = new RestClusterClient(cmTransport);
  const sc = opts.scheduler ?? opts.controllerManager;
  const schedTransport = new HttpsTransport({ server: opts.server, ca: opts.caPem, cert: sc.cert, key: sc.key, userAgent: 'k8ts-scheduler', maxSockets: 64 });
  const schedClient = new RestClusterClient(schedTransport);
  const le = opts.leaderElection !== false;
  const metrics = opts.metrics;
  if (metrics) setWorkqueueMetricsProvider(metrics.workqueues);

  const cm = opts.enableControllers === false ? undefined : campaign(cmClient, 'kube-controller-manager', identity, logger, () => controllerSet(newContext(cmClient, { logger }), opts.clusterCidr, opts.nodeCidrMaskSize, transportDiscovery(cmTransport), { ...(opts.nodeLifecycle ? { nodeLifecycle: opts.nodeLifecycle } : {}), ...(opts.localPath ? { localPath: opts.localPath } : {}), ...(opts.controllers ? { controllers: opts.controllers } : {}), ...(opts.hpa ? { hpa: opts.hpa } : {}), ...(opts.podGC ? { podGC: opts.podGC } : {}) }), le);
  const sched = opts.enableScheduler === false ? undefined : campaign(schedClient, 'kube-scheduler', identity, logger, () => {
    const s = new Scheduler({ client: schedClient, logger, ...(metrics ? { metrics } : {}) });
    if (metrics) metrics.pendingPods = () => s.queue.length;
    return { start: () => s.start(), stop: () => s.stop() };
  }, le);
  cm?.start();
  sched?.start();
  return {
    client: cmClient,
    stop: async () => {
      await sched?.stop();
      await cm?.stop();
      schedTransport.close();
      cmTransport.close();
    },
  };
}

// The agent's Prometheus metrics. Two registries, as upstream splits them by component:
// - the kubelet's, served on the kubelet API (`/metrics` on 10250, authenticated like the rest of
//   it, and through the apiserver at `nodes/NODE/proxy/metrics`): pod start latency, running pods
//   and containers, relist (PLEG) duration — upstream's `kubelet_*` names;
// - the node network's, served on kube-proxy's metrics address (127.0.0.1:10249, plain HTTP,
//   loopback): the in-process kube-proxy's `kubeproxy_*` (proxy/metrics.ts) and the netplugins'
//   sync metrics. Flannel and kube-router export nothing upstream, so those names are ours
//   (`k8ts_netplugin_*`); `k8ts status` reads their last sync from there.
//
// Pod start latency follows the kubelet's pod startup tracker: from the first time the kubelet
// sees a pod (that has no containers yet: a pod adopted after a restart is not a start) to the
// first status it writes with phase Running.
import { Gauge, Histogram, type Registry } from 'prom-client';

/** Upstream's buckets for kubelet_pod_start_duration_seconds. */
const podStartBuckets = [0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600];
/** Upstream's PLEG relist buckets (exponential from 5 ms). */
const relistBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const syncBuckets = [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096];

/** What the kubelet reports; the agent's Kubelet calls these. */
export interface KubeletMetricsSink {
  /** A pod the kubelet will start (not one it adopts). */
  podSeen(uid: string): void;
  /** The phase of a status the kubelet wrote for the pod. */
  podPhase(uid: string, phase: string | undefined): void;
  relisted(seconds: number): void;
}

export class KubeletMetrics implements KubeletMetricsSink {
  private readonly podStart: Histogram;
  private readonly relist: Histogram;
  private readonly relistLastSeen: Gauge;
  /** Pods seen and not yet Running, with when they were first seen (bounded). */
  private readonly starting = new Map<string, number>();

  /** `running` is read at each scrape (the kubelet's records are the truth, not a counter). */
  constructor(registry: Registry, nodeName: string, running: () => { pods: number; containers: number }, private readonly now: () => number = Date.now) {
    const registers = [registry];
    this.podStart = new Histogram({ name: 'kubelet_pod_start_duration_seconds', help: 'Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run', buckets: podStartBuckets, registers });
    this.relist = new Histogram({ name: 'kubelet_pleg_relist_duration_seconds', help: 'Duration in seconds for relisting pods in PLEG', buckets: relistBuckets, registers });
    this.relistLastSeen = new Gauge({ name: 'kubelet_pleg_last_seen_seconds', help: 'Timestamp in seconds when PLEG was last seen active', registers });
    new Gauge({ name: 'kubelet_node_name', help: 'The node\'s name. The count is always 1', labelNames: ['node'], registers }).set({ node: nodeName }, 1);
    new Gauge({
      name: 'kubelet_running_pods', help: 'Number of pods that have a running container', registers,
      collect() { this.set(running().pods); },
    });
    new Gauge({
      name: 'kubelet_running_containers', help: 'Number of containers currently running', labelNames: ['container_state'], registers,
      collect() { this.set({ container_state: 'running' }, running().containers); },
    });
  }

  podSeen(uid: string): void {
    if (this.starting.has(uid)) return;
    if (this.starting.size >= 10_000) this.starting.delete(this.starting.keys().next().value!); // pods deleted before they ran
    this.starting.set(uid, this.now());
  }

  podPhase(uid: string, phase: string | undefined): void {
    const seen = this.starting.get(uid);
    if (seen === undefined || phase === 'Pending' || phase === undefined) return;
    this.starting.delete(uid);
    // A pod that failed or finished before it was seen Running did not start: not observed.
    if (phase === 'Running') this.podStart.observe((this.now() - seen) / 1000);
  }

  relisted(seconds: number): void {
    this.relist.observe(seconds);
    this.relistLastSeen.set(this.now() / 1000);
  }
}

/** The netplugins' sync metrics (vxlan, routed, netpol), in the node network registry. */
export class NetpluginMetrics {
  private readonly duration: Histogram<'plugin'>;
  private readonly last: Gauge<'plugin'>;

  constructor(registry: Registry, private readonly now: () => number = Date.now) {
    const registers = [registry];
    this.duration = new Histogram({ name: 'k8ts_netplugin_sync_duration_seconds', help: 'Duration in seconds of a successful netplugin sync', labelNames: ['plugin'], buckets: syncBuckets, registers });
    this.last = new Gauge({ name: 'k8ts_netplugin_sync_last_timestamp_seconds', help: 'The last time the netplugin synced successfully', labelNames: ['plugin'], registers });
  }

  synced(plugin: string, ms: number): void {
    this.duration.observe({ plugin }, ms / 1000);
    this.last.set({ plugin }, this.now() / 1000);
  }
}

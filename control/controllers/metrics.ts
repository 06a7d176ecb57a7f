// The controller manager's and the scheduler's Prometheus metrics, under upstream's names:
// client-go's workqueue metrics per controller queue (`name` label) and kube-scheduler's attempt
// counters and latencies. `k8ts server` registers them in the apiserver's registry, so one
// `/metrics` shows the whole control plane (upstream serves each component on its own port).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { SchedulerMetrics } from '../scheduler/scheduler.js';
import type { WorkqueueMetrics, WorkqueueMetricsProvider } from './runtime.js';

/** client-go's buckets for work duration: 1 µs × 10^n up to 10 s. */
const workBuckets = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1, 10];
/** kube-scheduler's attempt buckets: exponential from 1 ms, ×2, 15 of them. */
const schedulerBuckets = Array.from({ length: 15 }, (_, i) => 0.001 * 2 ** i);

export class ControlPlaneMetrics implements SchedulerMetrics {
  private readonly depth: Gauge<'name'>;
  private readonly adds: Counter<'name'>;
  private readonly retries: Counter<'name'>;
  private readonly work: Histogram<'name'>;
  private readonly attempts: Counter<'result' | 'profile'>;
  private readonly attemptDuration: Histogram<'result' | 'profile'>;
  private readonly e2e: Histogram<'result' | 'profile'>;
  /** The scheduler's pending pods, once it runs (it starts and stops with its lease). */
  pendingPods: (() => number) | undefined;

  constructor(registry: Registry) {
    const registers = [registry];
    this.depth = new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames: ['name'], registers });
    this.adds = new Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames: ['name'], registers });
    this.retries = new Counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames: ['name'], registers });
    this.work = new Histogram({ name: 'workqueue_work_duration_seconds', help: 'How long in seconds processing an item from workqueue takes', labelNames: ['name'], buckets: workBuckets, registers });
    this.attempts = new Counter({ name: 'scheduler_schedule_attempts_total', help: 'Number of attempts to schedule pods, by the result', labelNames: ['result', 'profile'], registers });
    this.attemptDuration = new Histogram({ name: 'scheduler_scheduling_attempt_duration_seconds', help: 'Scheduling attempt latency in seconds (scheduling algorithm + binding)', labelNames: ['result', 'profile'], buckets: schedulerBuckets, registers });
    this.e2e = new Histogram({ name: 'scheduler_e2e_scheduling_duration_seconds', help: 'E2e scheduling latency in seconds (scheduling algorithm + binding)', labelNames: ['result', 'profile'], buckets: schedulerBuckets, registers });
    const pending = (): number => this.pendingPods?.() ?? 0;
    new Gauge({
      name: 'scheduler_pending_pods', help: 'Number of pending pods in the scheduling queue', registers,
      collect() { this.set(pending()); },
    });
  }

  /** The provider to hand to `setWorkqueueMetricsProvider`. */
  readonly workqueues: WorkqueueMetricsProvider = {
    forQueue: (name: string): WorkqueueMetrics => {
      // Upstream's queues report zero until used; so do ours, so a scrape lists every controller.
      this.depth.set({ name }, 0);
      this.adds.inc({ name }, 0);
      this.retries.inc({ name }, 0);
      return {
        added: () => this.adds.inc({ name }),
        depth: n => this.depth.set({ name }, n),
        retried: () => this.retries.inc({ name }),
        worked: s => this.work.observe({ name }, s),
      };
    },
  };

  attempted(result: 'scheduled' | 'unschedulable' | 'error', seconds: number): void {
    const labels = { result, profile: 'default-scheduler' };
    this.attempts.inc(labels);
    this.attemptDuration.observe(labels, seconds);
    this.e2e.observe(labels, seconds);
  }
}

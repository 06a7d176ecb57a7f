// The HorizontalPodAutoscaler controller against the in-memory API: a Deployment's scale, its pods
// and their `metrics.k8s.io` PodMetrics are objects in the fake store, the clock is the test's, and
// each case runs `sync` as the workqueue would, then reads back what a user sees: the target's
// replicas, the HPA's status (currentMetrics, desiredReplicas, the AbleToScale / ScalingActive /
// ScalingLimited conditions with upstream's reasons) and the events.
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { HorizontalPodAutoscaler, HorizontalPodAutoscalerBehavior, MetricSpec } from 'kubernetes-types/autoscaling/v2.js';
import type { EventRecorder } from '../../api/client/events.js';
import { FakeClusterClient } from '../../api/client/fake.js';
import { resources, type ResourceType } from '../../api/client/types.js';
import type { KubeObject } from '../../api/object.js';
import { newContext, type ControllerContext } from './context.js';
import { HorizontalPodAutoscalerController, type HpaOptions } from './hpa.js';
import type { Clock } from './runtime.js';

const hpaType: ResourceType = { group: 'autoscaling', version: 'v2', resource: 'horizontalpodautoscalers', kind: 'HorizontalPodAutoscaler', namespaced: true };
const podMetricsType: ResourceType = { group: 'metrics.k8s.io', version: 'v1beta1', resource: 'pods', kind: 'PodMetrics', namespaced: true };
const T0 = Date.parse('2026-11-26T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The test's clock: time moves only when the test says; timers are never due on their own. */
class ManualClock implements Clock {
  constructor(public t: number) {}
  now(): number { return this.t; }
  setTimeout(): unknown { return undefined; }
  clearTimeout(): void { /* nothing is ever scheduled */ }
}

interface Harness {
  c: FakeClusterClient;
  ctx: ControllerContext;
  clock: ManualClock;
  hpa: HorizontalPodAutoscalerController;
  events: string[];
  /** One sync of the HPA, as the workqueue runs it, once the informers have seen every write. */
  sync(): Promise<void>;
  /** Sets every pod's CPU usage (millicores), stamped a second before now. */
  usage(milli: number): Promise<void>;
  replicas(): number;
  status(): NonNullable<HorizontalPodAutoscaler['status']>;
  condition(type: string): { status?: string; reason?: string; message?: string } | undefined;
  stop(): void;
}

const tick = () => new Promise(r => setTimeout(r, 5));

async function setup(o: { replicas: number; min?: number; max: number; metrics?: MetricSpec[]; behavior?: HorizontalPodAutoscalerBehavior; opts?: HpaOptions; target?: string; withPods?: boolean }): Promise<Harness> {
  const c = new FakeClusterClient();
  const clock = new ManualClock(T0);
  c.now = () => new Date(clock.t);
  const events: string[] = [];
  const recorder: EventRecorder = { event: (_obj, type, reason, message) => { events.push(`${type} ${reason} ${message}`); } };
  const ctx: ControllerContext = { ...newContext(c, { events: false, clock }), recorder };
  await c.create(resources.deployments, 'default', {
    metadata: { name: 'web' },
    spec: { replicas: o.replicas, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } },
  } as KubeObject);
  const pods: string[] = [];
  if (o.withPods !== false) {
    for (let i = 0; i < o.replicas; i++) {
      const name = `web-${i}`;
      pods.push(name);
      const long = iso(T0 - 3_600_000);
      await c.create(resources.pods, 'default', {
        metadata: { name, labels: { app: 'web' } },
        spec: { containers: [{ name: 'c', image: 'x', resources: { requests: { cpu: '100m' } } }] },
        status: { phase: 'Running', startTime: long, conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: long }] },
      } as Pod);
    }
  }
  await c.create(hpaType, 'default', {
    metadata: { name: 'web' },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: o.target ?? 'web' },
      ...(o.min !== undefined ? { minReplicas: o.min } : {}), maxReplicas: o.max,
      metrics: o.metrics ?? [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }],
      ...(o.behavior ? { behavior: o.behavior } : {}),
    },
  } as KubeObject);
  const hpa = new HorizontalPodAutoscalerController(ctx, o.opts ?? {});
  await ctx.informers.start();
  const informer = ctx.informers.for<HorizontalPodAutoscaler>(hpaType);
  const get = () => c.peek<HorizontalPodAutoscaler>(hpaType, 'default', 'web')!;
  return {
    c, ctx, clock, hpa, events,
    async sync() {
      for (let i = 0; i < 200 && informer.get('default/web')?.metadata?.resourceVersion !== get().metadata?.resourceVersion; i++) await tick();
      await hpa.sync('default/web');
    },
    async usage(milli) {
      for (const name of pods) {
        const m = { metadata: { name, namespace: 'default', labels: { app: 'web' } }, timestamp: iso(clock.t - 1000), window: '15s', containers: [{ name: 'c', usage: { cpu: `${milli}m`, memory: '1Mi' } }] };
        if (c.peek(podMetricsType, 'default', name)) await c.delete(podMetricsType, 'default', name);
        await c.create(podMetricsType, 'default', m as KubeObject);
      }
    },
    replicas: () => (c.peek<KubeObject>(resources.deployments, 'default', 'web')!.spec as { replicas: number }).replicas,
    status: () => get().status ?? { desiredReplicas: 0 },
    condition: type => get().status?.conditions?.find(x => x.type === type),
    stop: () => ctx.informers.stop(),
  };
}

describe('HorizontalPodAutoscalerController', () => {
  it('scales a Deployment up by the usage-to-target ratio and reports it as upstream does', async () => {
    const h = await setup({ replicas: 2, min: 1, max: 10 });
    await h.usage(100); // 100% of a 100m request against a 50% target: twice the pods
    await h.sync();
    expect(h.replicas()).toBe(4);
    expect(h.status()).toMatchObject({
      currentReplicas: 2, desiredReplicas: 4, lastScaleTime: iso(T0),
      currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 100, averageValue: '100m' } } }],
    });
    expect(h.condition('AbleToScale')).toMatchObject({ status: 'True', reason: 'SucceededRescale', message: 'the HPA controller was able to update the target scale to 4' });
    expect(h.condition('ScalingActive')).toMatchObject({ status: 'True', reason: 'ValidMetricFound', message: 'the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)' });
    expect(h.condition('ScalingLimited')).toMatchObject({ status: 'False', reason: 'DesiredWithinRange' });
    expect(h.events).toEqual(['Normal SuccessfulRescale New size: 4; reason: cpu resource utilization (percentage of request) above target']);
    h.stop();
  });

  it('leaves the count alone within the tolerance, and a wider --horizontal-pod-autoscaler-tolerance widens it', async () => {
    const h = await setup({ replicas: 2, max: 10 });
    await h.usage(54); // 54% against 50%: a ratio of 1.08, inside the default 0.1
    await h.sync();
    expect(h.replicas()).toBe(2);
    expect(h.status()).toMatchObject({ currentReplicas: 2, desiredReplicas: 2 });
    expect(h.condition('AbleToScale')).toMatchObject({ status: 'True', reason: 'ReadyForNewScale' });
    expect(h.events).toEqual([]);
    h.stop();

    const wide = await setup({ replicas: 2, max: 10, opts: { tolerance: 0.5 } });
    await wide.usage(70); // 1.4: beyond 0.1 but within 0.5
    await wide.sync();
    expect(wide.replicas()).toBe(2);
    wide.stop();
  });

  it('caps at maxReplicas with ScalingLimited TooManyReplicas', async () => {
    const h = await setup({ replicas: 2, max: 3 });
    await h.usage(500); // asks for 20
    await h.sync();
    expect(h.replicas()).toBe(3);
    expect(h.condition('ScalingLimited')).toMatchObject({ status: 'True', reason: 'TooManyReplicas', message: 'the desired replica count is more than the maximum replica count' });
    h.stop();
  });

  it('without behavior, a scale-up goes at most to max(2 × current, 4): ScaleUpLimit', async () => {
    const h = await setup({ replicas: 3, max: 50 });
    await h.usage(500); // asks for 30
    await h.sync();
    expect(h.replicas()).toBe(6);
    expect(h.condition('ScalingLimited')).toMatchObject({ status: 'True', reason: 'ScaleUpLimit' });
    h.stop();
  });

  it('floors at minReplicas with ScalingLimited TooFewReplicas, and raises a target below it without metrics', async () => {
    const h = await setup({ replicas: 4, min: 3, max: 10, opts: { downscaleStabilizationMs: 0 } });
    await h.usage(1); // asks for 1
    await h.sync();
    expect(h.replicas()).toBe(3);
    expect(h.condition('ScalingLimited')).toMatchObject({ status: 'True', reason: 'TooFewReplicas', message: 'the desired replica count is less than the minimum replica count' });
    expect(h.events).toEqual(['Normal SuccessfulRescale New size: 3; reason: All metrics below target']);
    h.stop();

    const low = await setup({ replicas: 1, min: 2, max: 5, withPods: false });
    await low.sync();
    expect(low.replicas()).toBe(2);
    expect(low.events).toEqual(['Normal SuccessfulRescale New size: 2; reason: Current number of replicas below Spec.MinReplicas']);
    low.stop();
  });

  it('holds a scale-down for the stabilization window, then takes the highest recent recommendation', async () => {
    const h = await setup({ replicas: 2, max: 10, opts: { downscaleStabilizationMs: 60_000 } });
    await h.usage(100);
    await h.sync();
    expect(h.replicas()).toBe(4);
    // Load drops: the recommendation is 1, but 4 was recommended less than a minute ago.
    h.clock.t += 30_000;
    await h.usage(10);
    await h.sync();
    expect(h.replicas()).toBe(4);
    expect(h.condition('AbleToScale')).toMatchObject({ status: 'True', reason: 'ScaleDownStabilized' });
    // Past the window only the low recommendations remain.
    h.clock.t += 45_000;
    await h.sync();
    expect(h.replicas()).toBe(1);
    expect(h.condition('AbleToScale')).toMatchObject({ status: 'True', reason: 'SucceededRescale' });
    h.stop();
  });

  it('follows behavior: a scale-up stabilization window and a one-pod-per-minute policy', async () => {
    const behavior: HorizontalPodAutoscalerBehavior = {
      scaleUp: { stabilizationWindowSeconds: 20, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] },
      scaleDown: { selectPolicy: 'Disabled' },
    };
    const h = await setup({ replicas: 2, max: 10, behavior });
    await h.usage(10); // a recommendation of 1, which the Disabled scale-down never applies
    await h.sync();
    expect(h.replicas()).toBe(2);
    h.clock.t += 5_000;
    await h.usage(400); // asks for 8, but 1 was recommended within the 20 s up-window
    await h.sync();
    expect(h.replicas()).toBe(2);
    expect(h.condition('AbleToScale')).toMatchObject({ status: 'True', reason: 'ScaleUpStabilized', message: 'recent recommendations were lower than current one, applying the lowest recent recommendation' });
    h.clock.t += 20_000;
    await h.sync();
    expect(h.replicas()).toBe(3); // one pod per minute
    expect(h.condition('ScalingLimited')).toMatchObject({ status: 'True', reason: 'ScaleUpLimit', message: 'the desired replica count is increasing faster than the maximum scale rate' });
    h.clock.t += 30_000;
    await h.sync();
    expect(h.replicas()).toBe(3); // that pod was added less than a minute ago
    h.clock.t += 31_000;
    await h.sync();
    expect(h.replicas()).toBe(4);
    h.stop();
  });

  it('counts a scale-down inside the period against a scale-up policy, as upstream', async () => {
    const behavior: HorizontalPodAutoscalerBehavior = {
      scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] },
      scaleDown: { stabilizationWindowSeconds: 0 },
    };
    const h = await setup({ replicas: 2, max: 10, behavior });
    await h.usage(10);
    await h.sync();
    expect(h.replicas()).toBe(1);
    h.clock.t += 5_000;
    await h.usage(400);
    await h.sync();
    // The period started at 2 replicas (1 removed within it): one pod more than that is 3.
    expect(h.replicas()).toBe(3);
    h.stop();
  });

  it('a selectPolicy Min scale-down takes the smaller step of its policies', async () => {
    const behavior: HorizontalPodAutoscalerBehavior = {
      scaleDown: { stabilizationWindowSeconds: 0, selectPolicy: 'Min', policies: [{ type: 'Pods', value: 3, periodSeconds: 60 }, { type: 'Percent', value: 10, periodSeconds: 60 }] },
    };
    const h = await setup({ replicas: 10, max: 20, behavior });
    await h.usage(5); // asks for 1
    await h.sync();
    expect(h.replicas()).toBe(9); // 10 % of 10 = 1 pod, less than 3 pods
    expect(h.condition('ScalingLimited')).toMatchObject({ status: 'True', reason: 'ScaleDownLimit' });
    h.stop();
  });

  it('reports ScalingDisabled for a target scaled to zero and never scales it', async () => {
    const h = await setup({ replicas: 0, max: 5 });
    await h.sync();
    expect(h.replicas()).toBe(0);
    expect(h.condition('ScalingActive')).toMatchObject({ status: 'False', reason: 'ScalingDisabled', message: 'scaling is disabled since the replica count of the target is zero' });
    expect(h.status()).toMatchObject({ currentReplicas: 0, desiredReplicas: 0 });
    h.stop();
  });

  it('reports AbleToScale False FailedGetScale when the target does not exist', async () => {
    const h = await setup({ replicas: 2, max: 5, target: 'missing' });
    await h.sync();
    expect(h.condition('AbleToScale')).toMatchObject({ status: 'False', reason: 'FailedGetScale' });
    expect(h.condition('AbleToScale')!.message).toMatch(/^the HPA controller was unable to get the target's current scale: /);
    expect(h.events[0]).toMatch(/^Warning FailedGetScale /);
    h.stop();
  });

  it('reports ScalingActive False when metrics are missing or of a type this cluster does not serve, and keeps the scale', async () => {
    const h = await setup({ replicas: 2, max: 5 });
    await h.sync(); // no PodMetrics at all
    expect(h.replicas()).toBe(2);
    expect(h.condition('ScalingActive')).toMatchObject({ status: 'False', reason: 'FailedGetResourceMetric', message: 'the HPA was unable to compute the replica count: did not receive metrics for targeted pods (pods might be unready)' });
    expect(h.events).toEqual(['Warning FailedComputeMetricsReplicas invalid metrics (1 invalid out of 1), first error is: did not receive metrics for targeted pods (pods might be unready)']);
    h.stop();

    const custom = await setup({ replicas: 2, max: 5, metrics: [{ type: 'Pods', pods: { metric: { name: 'qps' }, target: { type: 'AverageValue', averageValue: '10' } } }] });
    await custom.usage(100);
    await custom.sync();
    expect(custom.replicas()).toBe(2);
    expect(custom.condition('ScalingActive')).toMatchObject({ status: 'False', reason: 'FailedGetExternalMetric' });
    custom.stop();
  });

  it('takes the highest count any metric asks for (CPU and memory AverageValue)', async () => {
    const h = await setup({
      replicas: 2, max: 10,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } },
        { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '256Ki' } } },
      ],
    });
    await h.usage(50); // CPU on target (2); memory 1Mi per pod against 256Ki → 8
    await h.sync();
    expect(h.replicas()).toBe(4); // 8, limited to max(2 × 2, 4) without behavior
    expect(h.condition('ScalingActive')).toMatchObject({ reason: 'ValidMetricFound', message: 'the HPA was able to successfully calculate a replica count from memory resource' });
    expect(h.status().currentMetrics).toHaveLength(2);
    h.stop();
  });
});

import { afterEach, describe, expect, test } from '@jest/globals';
import { Registry } from 'prom-client';
import { ControlPlaneMetrics } from './metrics.js';
import { Controller, setWorkqueueMetricsProvider, WorkQueue } from './runtime.js';

async function sample(r: Registry, name: string): Promise<number | undefined> {
  const line = (await r.metrics()).split('\n').find(l => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

afterEach(() => setWorkqueueMetricsProvider({ forQueue: () => ({ added() {}, depth() {}, retried() {}, worked() {} }) }));

describe('control plane metrics', () => {
  test('a named work queue reports its depth and adds (deduplicated adds are not counted) as client-go does', async () => {
    const r = new Registry();
    setWorkqueueMetricsProvider(new ControlPlaneMetrics(r).workqueues);
    const q = new WorkQueue({ name: 'ReplicaSet' });
    expect(await sample(r, 'workqueue_depth{name="ReplicaSet"}')).toBe(0);
    q.add('a'); q.add('b'); q.add('a');
    expect(await sample(r, 'workqueue_adds_total{name="ReplicaSet"}')).toBe(2);
    expect(await sample(r, 'workqueue_depth{name="ReplicaSet"}')).toBe(2);
    const k = await q.get();
    expect(await sample(r, 'workqueue_depth{name="ReplicaSet"}')).toBe(1);
    q.add(k!); // while processing: counted, queued again when done
    expect(await sample(r, 'workqueue_adds_total{name="ReplicaSet"}')).toBe(3);
    q.done(k!);
    expect(await sample(r, 'workqueue_depth{name="ReplicaSet"}')).toBe(2);
    q.shutDown();
  });

  test('a controller whose sync fails counts a retry and the time it worked', async () => {
    const r = new Registry();
    setWorkqueueMetricsProvider(new ControlPlaneMetrics(r).workqueues);
    let calls = 0;
    const c = new Controller({ name: 'Job', workers: 1, baseDelayMs: 1 }, async () => { if (++calls === 1) throw new Error('conflict'); });
    c.start();
    c.enqueue('ns/j');
    for (let i = 0; i < 100 && calls < 2; i++) await new Promise(res => setTimeout(res, 5));
    await c.stop();
    expect(calls).toBe(2);
    expect(await sample(r, 'workqueue_retries_total{name="Job"}')).toBe(1);
    expect(await sample(r, 'workqueue_work_duration_seconds_count{name="Job"}')).toBe(2);
  });

  test('scheduling attempts are counted by result, with their latency, and the pending pods read at scrape', async () => {
    const r = new Registry();
    const m = new ControlPlaneMetrics(r);
    m.attempted('scheduled', 0.004);
    m.attempted('unschedulable', 0.001);
    m.attempted('scheduled', 0.002);
    m.pendingPods = () => 7;
    expect(await sample(r, 'scheduler_schedule_attempts_total{result="scheduled",profile="default-scheduler"}')).toBe(2);
    expect(await sample(r, 'scheduler_schedule_attempts_total{result="unschedulable",profile="default-scheduler"}')).toBe(1);
    expect(await sample(r, 'scheduler_e2e_scheduling_duration_seconds_count{result="scheduled",profile="default-scheduler"}')).toBe(2);
    expect(await sample(r, 'scheduler_pending_pods')).toBe(7);
  });
});

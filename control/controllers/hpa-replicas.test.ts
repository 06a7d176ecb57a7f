import { MetricError, normalizeReplicas, resourceReplicas, type PodSample, type PodUsage } from './hpa-replicas.js';

const NOW = Date.parse('2026-11-26T12:00:00Z');
const longAgo = NOW - 60 * 60_000;
const pod = (name: string, over: Partial<PodSample> = {}): PodSample => ({
  name, phase: 'Running', deleting: false, startTimeMs: longAgo, ready: { status: 'True', lastTransitionMs: longAgo }, requestMilli: 100, ...over,
});
const usage = (entries: Record<string, number>): Map<string, PodUsage> =>
  new Map(Object.entries(entries).map(([k, v]) => [k, { valueMilli: v, timestampMs: NOW - 1000, windowMs: 15_000 }]));
const cpu50 = { type: 'Utilization' as const, averageUtilization: 50 };

describe('resourceReplicas (upstream replica calculator)', () => {
  it('scales by the ratio of utilization to target over ready pods', () => {
    const p = resourceReplicas({ currentReplicas: 2, resource: 'cpu', target: cpu50, pods: [pod('a'), pod('b')], metrics: usage({ a: 100, b: 100 }), nowMs: NOW });
    expect(p).toMatchObject({ replicas: 4, utilization: 100, averageValueMilli: 100 });
  });

  it('keeps the count within the 10% tolerance', () => {
    const p = resourceReplicas({ currentReplicas: 2, resource: 'cpu', target: cpu50, pods: [pod('a'), pod('b')], metrics: usage({ a: 54, b: 54 }), nowMs: NOW });
    expect(p.replicas).toBe(2);
    expect(p.utilization).toBe(54);
  });

  it('on a scale-down counts pods without metrics as using their whole request', () => {
    // 20% + 20% + (missing → 100%) = 46% against 50%: inside tolerance, so no scale-down at all.
    const p = resourceReplicas({ currentReplicas: 3, resource: 'cpu', target: cpu50, pods: [pod('a'), pod('b'), pod('c')], metrics: usage({ a: 20, b: 20 }), nowMs: NOW });
    expect(p.replicas).toBe(3);
    // Without the missing pod the same two samples ask for 2 replicas.
    expect(resourceReplicas({ currentReplicas: 3, resource: 'cpu', target: cpu50, pods: [pod('a'), pod('b')], metrics: usage({ a: 20, b: 20 }), nowMs: NOW }).replicas).toBe(1);
  });

  it('on a scale-up counts unready pods as using nothing', () => {
    const pods = [pod('a'), pod('b'), pod('c', { phase: 'Pending' }), pod('d', { phase: 'Pending' })];
    // 100% on two ready pods alone would ask for 4; with the two pending at 0% the average is 50%.
    expect(resourceReplicas({ currentReplicas: 4, resource: 'cpu', target: cpu50, pods, metrics: usage({ a: 100, b: 100 }), nowMs: NOW }).replicas).toBe(4);
    const hot = resourceReplicas({ currentReplicas: 4, resource: 'cpu', target: cpu50, pods, metrics: usage({ a: 200, b: 200 }), nowMs: NOW });
    expect(hot.replicas).toBe(8);
  });

  it('ignores CPU of a pod that became ready less than a metric window ago during start-up', () => {
    const starting = pod('b', { startTimeMs: NOW - 60_000, ready: { status: 'True', lastTransitionMs: NOW - 5_000 } });
    const p = resourceReplicas({ currentReplicas: 2, resource: 'cpu', target: cpu50, pods: [pod('a'), starting], metrics: usage({ a: 50, b: 1000 }), nowMs: NOW });
    expect(p.utilization).toBe(50);
    expect(p.replicas).toBe(2);
  });

  it('leaves out deleting and failed pods', () => {
    const pods = [pod('a'), pod('b', { deleting: true }), pod('c', { phase: 'Failed' })];
    expect(resourceReplicas({ currentReplicas: 3, resource: 'cpu', target: cpu50, pods, metrics: usage({ a: 100, b: 900, c: 900 }), nowMs: NOW }).utilization).toBe(100);
  });

  it('AverageValue targets divide the average usage by the target value', () => {
    const p = resourceReplicas({ currentReplicas: 2, resource: 'memory', target: { type: 'AverageValue', averageValueMilli: 100_000 }, pods: [pod('a'), pod('b')], metrics: usage({ a: 300_000, b: 300_000 }), nowMs: NOW });
    expect(p).toMatchObject({ replicas: 6, averageValueMilli: 300_000 });
    expect(p.utilization).toBeUndefined();
  });

  it('fails with upstream messages when requests or metrics are missing', () => {
    const noRequest = () => resourceReplicas({ currentReplicas: 1, resource: 'cpu', target: cpu50, pods: [pod('a', { requestMilli: undefined, containerWithoutRequest: 'app' })], metrics: usage({ a: 10 }), nowMs: NOW });
    expect(noRequest).toThrow(new MetricError('FailedGetResourceMetric', 'missing request for cpu in container app of Pod a'));
    const noMetrics = () => resourceReplicas({ currentReplicas: 1, resource: 'cpu', target: cpu50, pods: [pod('a', { phase: 'Pending' })], metrics: usage({}), nowMs: NOW });
    expect(noMetrics).toThrow('did not receive metrics for targeted pods (pods might be unready)');
  });
});

describe('normalizeReplicas', () => {
  const base = { min: 1, max: 20, nowMs: NOW, recommendations: [], scaleUpEvents: [], scaleDownEvents: [] };

  it('without behavior, scales up at most to max(2×current, 4)', () => {
    const n = normalizeReplicas({ ...base, current: 1, proposed: 10, behavior: undefined });
    expect(n.replicas).toBe(4);
    expect(n.scalingLimited).toMatchObject({ status: 'True', reason: 'ScaleUpLimit' });
    expect(n.ableToScale.reason).toBe('ReadyForNewScale');
  });

  it('holds a scale-down to the highest recommendation of the stabilization window', () => {
    const n = normalizeReplicas({ ...base, current: 5, proposed: 2, behavior: undefined, recommendations: [{ replicas: 5, atMs: NOW - 60_000 }, { replicas: 9, atMs: NOW - 600_000 }] });
    expect(n.replicas).toBe(5);
    expect(n.ableToScale).toMatchObject({ reason: 'ScaleDownStabilized' });
    // The 10-minute-old recommendation is outside the 5-minute window and is dropped.
    expect(n.recommendations).toEqual([{ replicas: 5, atMs: NOW - 60_000 }, { replicas: 2, atMs: NOW }]);
    const later = normalizeReplicas({ ...base, current: 5, proposed: 2, behavior: undefined, recommendations: n.recommendations, nowMs: NOW + 5 * 60_000 });
    expect(later.replicas).toBe(2);
  });

  it('applies scaleDown policies: one pod per minute', () => {
    const behavior = { scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } };
    const first = normalizeReplicas({ ...base, current: 5, proposed: 1, behavior });
    expect(first.replicas).toBe(4);
    expect(first.scalingLimited).toMatchObject({ status: 'True', reason: 'ScaleDownLimit' });
    // One pod already removed within the period: no further step until it has passed.
    const second = normalizeReplicas({ ...base, current: 4, proposed: 1, behavior, scaleDownEvents: [{ change: 1, atMs: NOW - 10_000 }] });
    expect(second.replicas).toBe(4);
  });

  it('default scale-up rules allow the larger of +4 pods and +100% per 15 s, capped by maxReplicas', () => {
    expect(normalizeReplicas({ ...base, current: 2, proposed: 50, behavior: {} }).replicas).toBe(6);
    expect(normalizeReplicas({ ...base, current: 10, proposed: 50, behavior: {} }).replicas).toBe(20);
    const capped = normalizeReplicas({ ...base, current: 10, proposed: 50, max: 12, behavior: {} });
    expect(capped).toMatchObject({ replicas: 12, scalingLimited: { status: 'True', reason: 'TooManyReplicas' } });
  });

  it('a Disabled scale-down policy never lowers the count', () => {
    const n = normalizeReplicas({ ...base, current: 6, proposed: 1, behavior: { scaleDown: { selectPolicy: 'Disabled', stabilizationWindowSeconds: 0 } } });
    expect(n.replicas).toBe(6);
  });
});

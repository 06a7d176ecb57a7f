import type * as v1 from 'kubernetes-types/autoscaling/v1.js';
import type * as v2 from 'kubernetes-types/autoscaling/v2.js';
import { BEHAVIOR_ANNOTATION, CONDITIONS_ANNOTATION, METRIC_SPECS_ANNOTATION, METRIC_STATUSES_ANNOTATION, hpaFromV1, hpaToV1 } from './conversion.js';

const ref = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' };

describe('autoscaling/v1 conversion', () => {
  it('maps the CPU utilization target both ways without annotations', () => {
    const stored: v2.HorizontalPodAutoscaler = {
      apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'web', namespace: 'default' },
      spec: { scaleTargetRef: ref, minReplicas: 1, maxReplicas: 5, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }] },
      status: { currentReplicas: 2, desiredReplicas: 2 },
    };
    const old = hpaToV1(stored);
    expect(old).toEqual({
      apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscaler', metadata: { name: 'web', namespace: 'default' },
      spec: { scaleTargetRef: ref, minReplicas: 1, maxReplicas: 5, targetCPUUtilizationPercentage: 70 },
      status: { currentReplicas: 2, desiredReplicas: 2 },
    });
    expect(hpaFromV1(old)).toEqual(stored);
  });

  it('defaults 80% CPU for a v1 object without a target', () => {
    const created: v1.HorizontalPodAutoscaler = { metadata: { name: 'web' }, spec: { scaleTargetRef: ref, maxReplicas: 3 } };
    expect(hpaFromV1(created).spec?.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }]);
  });

  it('keeps other metrics, current metrics, conditions and behavior in round-trip annotations', () => {
    const stored: v2.HorizontalPodAutoscaler = {
      metadata: { name: 'web', annotations: { team: 'a' } },
      spec: {
        scaleTargetRef: ref, minReplicas: 2, maxReplicas: 10,
        metrics: [
          { type: 'Pods', pods: { metric: { name: 'qps' }, target: { type: 'AverageValue', averageValue: '1k' } } },
          { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } },
        ],
        behavior: { scaleDown: { selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] } },
      },
      status: {
        currentReplicas: 3, desiredReplicas: 4,
        currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 75, averageValue: '300m' } } }],
        conditions: [{ type: 'AbleToScale', status: 'True', reason: 'SucceededGetScale' }],
      },
    };
    const old = hpaToV1(stored);
    const a = old.metadata!.annotations!;
    expect(a.team).toBe('a');
    expect(JSON.parse(a[METRIC_SPECS_ANNOTATION]!)).toEqual([{ type: 'Pods', pods: { metricName: 'qps', targetAverageValue: '1k' } }]);
    expect(JSON.parse(a[METRIC_STATUSES_ANNOTATION]!)).toEqual([{ type: 'Resource', resource: { name: 'cpu', currentAverageUtilization: 75, currentAverageValue: '300m' } }]);
    expect(a[BEHAVIOR_ANNOTATION]).toBe('{"ScaleUp":null,"ScaleDown":{"StabilizationWindowSeconds":null,"SelectPolicy":"Max","Policies":[{"Type":"Percent","Value":100,"PeriodSeconds":15}]}}');
    expect(JSON.parse(a[CONDITIONS_ANNOTATION]!)).toEqual([{ type: 'AbleToScale', status: 'True', reason: 'SucceededGetScale' }]);
    expect(old.spec?.targetCPUUtilizationPercentage).toBe(60);
    expect(old.status?.currentCPUUtilizationPercentage).toBe(75);
    const back = hpaFromV1(old);
    expect(back.metadata?.annotations).toEqual({ team: 'a' });
    expect(back.spec).toEqual(stored.spec);
    expect(back.status).toEqual(stored.status);
  });

  it('drops stale round-trip annotations when converting to v1', () => {
    const stored: v2.HorizontalPodAutoscaler = { metadata: { name: 'x', annotations: { [METRIC_SPECS_ANNOTATION]: '[]' } }, spec: { scaleTargetRef: ref, maxReplicas: 1 } };
    expect(hpaToV1(stored).metadata).toEqual({ name: 'x' });
  });
});

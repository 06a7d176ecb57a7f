import type { KubeObject } from '../../../api/object.js';
import type { RegistryContext } from '../types.js';
import { formatHPAMetrics, horizontalpodautoscalers as hpas } from './horizontalpodautoscalers.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date('2026-01-01T00:02:00Z') };
const messages = (errs: { message(): string }[]) => errs.map(e => e.message());

function hpa(spec: Record<string, unknown> = {}): KubeObject {
  const obj: KubeObject = {
    apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, maxReplicas: 5, ...spec },
  };
  hpas.applyDefaults!(obj, ctx);
  return obj;
}

describe('horizontalpodautoscalers defaulting', () => {
  it('defaults minReplicas 1 and 80% CPU', () => {
    const s = hpa().spec as Record<string, unknown>;
    expect(s.minReplicas).toBe(1);
    expect(s.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }]);
    expect(s.behavior).toBeUndefined();
  });

  it('fills a given behavior with the default rules', () => {
    const s = hpa({ behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } }).spec as Record<string, unknown>;
    expect(s.behavior).toEqual({
      scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }] },
      scaleDown: { stabilizationWindowSeconds: 60, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
    });
  });
});

describe('horizontalpodautoscalers validation', () => {
  it('accepts the defaulted object', () => {
    expect(hpas.validate(hpa(), ctx)).toEqual([]);
  });

  it('requires min <= max, max > 0 and a scale target', () => {
    const h = hpa({ minReplicas: 3, maxReplicas: 2, scaleTargetRef: { kind: '', name: 'a/b' } });
    expect(messages(hpas.validate(h, ctx))).toEqual([
      'spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`',
      'spec.scaleTargetRef.kind: Required value',
      "spec.scaleTargetRef.name: Invalid value: \"a/b\": may not contain '/'",
    ]);
    expect(messages(hpas.validate(hpa({ minReplicas: 0, maxReplicas: 0 }), ctx))).toEqual([
      'spec.minReplicas: Invalid value: 0: must be greater than or equal to 1',
      'spec.maxReplicas: Invalid value: 0: must be greater than 0',
    ]);
  });

  it('validates metric sources and targets', () => {
    const h = hpa({ metrics: [
      { type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization' } } },
      { type: 'Pods', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 0 } } },
    ] });
    expect(messages(hpas.validate(h, ctx))).toEqual([
      'spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or a target utilization',
      'spec.metrics[1].resource.target.averageUtilization: Invalid value: 0: must be greater than 0',
      'spec.metrics[1].pods: Required value: must populate information for the given metric source',
    ]);
  });

  it('validates scaling policies', () => {
    const h = hpa({ behavior: { scaleUp: { selectPolicy: 'Sometimes', stabilizationWindowSeconds: 4000, policies: [{ type: 'Nodes', value: 0, periodSeconds: 2000 }] } } });
    expect(messages(hpas.validate(h, ctx))).toEqual([
      'spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 4000: must be less than or equal to 3600',
      'spec.behavior.scaleUp.selectPolicy: Unsupported value: "Sometimes": supported values: "Disabled", "Max", "Min"',
      'spec.behavior.scaleUp.policies[0].type: Unsupported value: "Nodes": supported values: "Percent", "Pods"',
      'spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero',
      'spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 2000: must be less than or equal to 1800',
    ]);
  });
});

describe('horizontalpodautoscalers table', () => {
  it('prints REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE', () => {
    const h = hpa();
    h.status = { currentReplicas: 2, desiredReplicas: 2, currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 45 } } }] };
    expect(hpas.tableColumns.map(c => c.name)).toEqual(['Name', 'Reference', 'Targets', 'MinPods', 'MaxPods', 'Replicas', 'Age']);
    expect(hpas.tableRow(h, ctx.now())).toEqual(['web', 'Deployment/web', 'cpu: 45%/80%', '1', 5, 2, '2m']);
  });

  it('formats the other metric kinds and truncates after two', () => {
    expect(formatHPAMetrics([
      { type: 'Pods', pods: { metric: { name: 'qps' }, target: { type: 'AverageValue', averageValue: '1k' } } },
      { type: 'External', external: { metric: { name: 'queue' }, target: { type: 'AverageValue', averageValue: '30' } } },
      { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '500Mi' } } },
    ], [])).toBe('<unknown>/1k, <unknown>/30 (avg) + 1 more...');
    expect(formatHPAMetrics([{ type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '500Mi' } } }], [
      { type: 'Resource', resource: { name: 'memory', current: { averageValue: '200Mi' } } },
    ])).toBe('memory: 200Mi/500Mi');
    expect(formatHPAMetrics([], [])).toBe('<none>');
  });
});

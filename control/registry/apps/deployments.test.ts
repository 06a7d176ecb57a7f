import type { KubeObject } from '../../../api/object.js';
import { deepCopy } from '../../../api/object.js';
import type { RegistryContext } from '../types.js';
import { deployments } from './deployments.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date('2026-01-01T00:00:00Z') };

function deployment(overrides: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.25' }] } },
      ...overrides,
    },
  };
}

function defaulted(obj: KubeObject): KubeObject {
  deployments.applyDefaults!(obj, ctx);
  return obj;
}

const messages = (errs: { message(): string }[]) => errs.map(e => e.message());

describe('deployments defaulting', () => {
  it('fills replicas, a 25%/25% rolling update, history limit and progress deadline', () => {
    const d = defaulted(deployment());
    const spec = d.spec as Record<string, unknown>;
    expect(spec.replicas).toBe(1);
    expect(spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
    expect(spec.revisionHistoryLimit).toBe(10);
    expect(spec.progressDeadlineSeconds).toBe(600);
  });

  it('keeps explicit values, including zero replicas and a Recreate strategy without rollingUpdate', () => {
    const d = defaulted(deployment({ replicas: 0, strategy: { type: 'Recreate' }, revisionHistoryLimit: 0 }));
    const spec = d.spec as Record<string, unknown>;
    expect(spec.replicas).toBe(0);
    expect(spec.strategy).toEqual({ type: 'Recreate' });
    expect(spec.revisionHistoryLimit).toBe(0);
  });

  it('applies pod defaults to the template', () => {
    const d = defaulted(deployment());
    const pod = (d.spec as { template: { spec: Record<string, unknown> } }).template.spec;
    expect(pod.restartPolicy).toBe('Always');
    expect(pod.dnsPolicy).toBe('ClusterFirst');
    expect((pod.containers as Record<string, unknown>[])[0]!.imagePullPolicy).toBe('IfNotPresent');
  });
});

describe('deployments validation', () => {
  it('accepts a defaulted deployment', () => {
    expect(messages(deployments.validate(defaulted(deployment()), ctx))).toEqual([]);
  });

  it('accepts what `kubectl create deployment` sends', () => {
    const body = JSON.parse(`{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"nginx","namespace":"default","creationTimestamp":null,"labels":{"app":"nginx"}},
      "spec":{"replicas":1,"selector":{"matchLabels":{"app":"nginx"}},"template":{"metadata":{"creationTimestamp":null,"labels":{"app":"nginx"}},
      "spec":{"containers":[{"name":"nginx","image":"nginx","resources":{}}]}},"strategy":{}},"status":{}}`) as KubeObject;
    const d = defaulted(body);
    expect(messages(deployments.validate(d, ctx))).toEqual([]);
    expect((d.spec as Record<string, unknown>).strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
  });

  it('requires a selector and reports the template labels it cannot match, as kubectl shows', () => {
    const d = defaulted(deployment({ selector: undefined }));
    expect(messages(deployments.validate(d, ctx))).toEqual([
      'spec.selector: Required value',
      'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`',
    ]);
  });

  it('rejects a selector that does not match the template labels', () => {
    const d = defaulted(deployment({ selector: { matchLabels: { app: 'other' } } }));
    expect(messages(deployments.validate(d, ctx))).toEqual([
      'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`',
    ]);
  });

  it('rejects an empty selector', () => {
    const d = defaulted(deployment({ selector: {} }));
    expect(messages(deployments.validate(d, ctx))).toEqual([
      'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment',
    ]);
  });

  it('rejects negative replicas and a bad operator in matchExpressions', () => {
    const d = defaulted(deployment({ replicas: -1, selector: { matchExpressions: [{ key: 'app', operator: 'Is', values: ['web'] }] } }));
    expect(messages(deployments.validate(d, ctx))).toEqual([
      'spec.replicas: Invalid value: -1: must be greater than or equal to 0',
      'spec.selector.matchExpressions[0].operator: Invalid value: "Is": not a valid selector operator',
      'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"app", Operator:"Is", Values:[]string{"web"}}}}: invalid label selector',
    ]);
  });

  it('matches In/NotIn/Exists expressions against the template labels', () => {
    const ok = defaulted(deployment({ selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['api', 'web'] }, { key: 'tier', operator: 'DoesNotExist' }] } }));
    expect(messages(deployments.validate(ok, ctx))).toEqual([]);
  });

  it('checks the rolling update parameters', () => {
    const d = defaulted(deployment({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 0 } } }));
    expect(messages(deployments.validate(d, ctx))).toEqual([
      'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: may not be 0 when `maxSurge` is 0',
    ]);
    const e = defaulted(deployment({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '150%', maxSurge: 'x' } } }));
    expect(messages(deployments.validate(e, ctx))).toEqual([
      "spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"x\"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
      'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"150%"}: must not be greater than 100%',
    ]);
  });

  it('forbids rollingUpdate with Recreate and unknown strategy types', () => {
    const d = defaulted(deployment({ strategy: { type: 'Recreate', rollingUpdate: { maxSurge: 1 } } }));
    expect(messages(deployments.validate(d, ctx))).toEqual(["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]);
    const e = defaulted(deployment({ strategy: { type: 'Canary' } }));
    expect(messages(deployments.validate(e, ctx))).toEqual(['spec.strategy: Unsupported value: {"type":"Canary"}: supported values: "Recreate", "RollingUpdate"']);
  });

  it('requires progressDeadlineSeconds above minReadySeconds and pods that restart Always', () => {
    const d = defaulted(deployment({ minReadySeconds: 600 }));
    (d.spec as { template: { spec: Record<string, unknown> } }).template.spec.restartPolicy = 'Never';
    expect(messages(deployments.validate(d, ctx))).toEqual([
      'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
      'spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds',
    ]);
  });

  it('validates the name as a DNS subdomain', () => {
    const d = defaulted(deployment());
    d.metadata!.name = 'Web';
    expect(messages(deployments.validate(d, ctx))[0]).toMatch(/^metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain/);
  });

  it('keeps the selector immutable on update', () => {
    const old = defaulted(deployment());
    const next = deepCopy(old);
    (next.spec as Record<string, unknown>).selector = { matchLabels: { app: 'web', v: '2' } };
    (next.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels.v = '2';
    expect(messages(deployments.validateUpdate(next, old, ctx))).toEqual([
      'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "v":"2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable',
    ]);
    const same = deepCopy(old);
    (same.spec as Record<string, unknown>).replicas = 5;
    expect(deployments.validateUpdate(same, old, ctx)).toEqual([]);
  });

  it('validates status counters on /status updates', () => {
    const old = defaulted(deployment());
    const next = deepCopy(old);
    next.status = { replicas: 1, readyReplicas: 2, availableReplicas: -1 };
    expect(messages(deployments.validateStatusUpdate!(next, old, ctx))).toEqual([
      'status.availableReplicas: Invalid value: -1: must be greater than or equal to 0',
      'status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas',
    ]);
  });
});

describe('deployments status updates', () => {
  it('refuses more updated replicas than replicas and a decremented collision count', () => {
    const old = defaulted(deployment());
    old.status = { replicas: 2, collisionCount: 2 };
    const next = deepCopy(old);
    next.status = { replicas: 2, updatedReplicas: 3, collisionCount: 1 };
    expect(messages(deployments.validateStatusUpdate!(next, old, ctx))).toEqual([
      'status.updatedReplicas: Invalid value: 3: cannot be greater than status.replicas',
      'status.collisionCount: Invalid value: 1: cannot be decremented',
    ]);
  });
});

describe('deployments status and generation', () => {
  it('clears status on create', () => {
    const d = deployment();
    d.status = { replicas: 3 };
    deployments.prepareForCreate!(d);
    expect(d.status).toEqual({});
  });

  it('keeps the old status and bumps generation on spec or annotation changes only', () => {
    const old = defaulted(deployment());
    old.metadata!.generation = 4;
    old.status = { replicas: 1 };
    const labelsOnly = deepCopy(old);
    labelsOnly.metadata!.labels = { a: 'b' };
    labelsOnly.status = { replicas: 9 };
    deployments.prepareForUpdate!(labelsOnly, old);
    expect(labelsOnly.status).toEqual({ replicas: 1 });
    expect(labelsOnly.metadata!.generation).toBe(4);
    const scaled = deepCopy(old);
    (scaled.spec as Record<string, unknown>).replicas = 3;
    deployments.prepareForUpdate!(scaled, old);
    expect(scaled.metadata!.generation).toBe(5);
    const annotated = deepCopy(old);
    annotated.metadata!.annotations = { note: 'x' };
    deployments.prepareForUpdate!(annotated, old);
    expect(annotated.metadata!.generation).toBe(5);
  });
});

describe('deployments table', () => {
  it('has the upstream columns with NAME first and wide columns at priority 1', () => {
    expect(deployments.tableColumns.map(c => [c.name, c.type, c.priority])).toEqual([
      ['Name', 'string', 0], ['Ready', 'string', 0], ['Up-to-date', 'string', 0], ['Available', 'string', 0], ['Age', 'string', 0],
      ['Containers', 'string', 1], ['Images', 'string', 1], ['Selector', 'string', 1],
    ]);
    expect(deployments.tableColumns[0]!.format).toBe('name');
  });

  it('renders READY as ready/desired and the selector as a string', () => {
    const d = defaulted(deployment({ replicas: 3, selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod', 'dev'] }] } }));
    d.metadata!.creationTimestamp = '2025-12-31T23:55:00Z';
    d.status = { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 1 };
    expect(deployments.tableRow(d, ctx.now())).toEqual(['web', '2/3', 3, 1, '5m', 'nginx', 'nginx:1.25', 'app=web,env notin (dev,prod)']);
  });

  it('renders an object without status as 0/N', () => {
    const d = defaulted(deployment());
    expect(deployments.tableRow(d, ctx.now()).slice(0, 5)).toEqual(['web', '0/1', 0, 0, '<unknown>']);
  });
});

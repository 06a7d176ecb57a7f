import { deepCopy, type KubeObject } from '../../../api/object.js';
import type { RegistryContext, ResourceDef } from '../types.js';
import { controllerrevisions } from './controllerrevisions.js';
import { daemonsets } from './daemonsets.js';
import { replicasets } from './replicasets.js';
import { statefulsets } from './statefulsets.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date('2026-01-01T00:00:00Z') };
const messages = (errs: { message(): string }[]) => errs.map(e => e.message());

function workload(kind: string, spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1', kind,
    metadata: { name: 'app', namespace: 'default', creationTimestamp: '2025-12-31T22:00:00Z' },
    spec: {
      selector: { matchLabels: { app: 'db' } },
      template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'pg', image: 'postgres:16' }] } },
      ...spec,
    },
  };
}

function defaulted(def: ResourceDef, obj: KubeObject): KubeObject {
  def.applyDefaults!(obj, ctx);
  return obj;
}

describe('replicasets', () => {
  it('defaults replicas to 1 and validates a good object', () => {
    const rs = defaulted(replicasets, workload('ReplicaSet'));
    expect((rs.spec as Record<string, unknown>).replicas).toBe(1);
    expect(replicasets.validate(rs, ctx)).toEqual([]);
  });

  it('reuses the deployment wording for an empty selector, as upstream does', () => {
    const rs = defaulted(replicasets, workload('ReplicaSet', { selector: { matchLabels: {} } }));
    expect(messages(replicasets.validate(rs, ctx))).toEqual([
      'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment',
    ]);
  });

  it('keeps the selector immutable and forbids activeDeadlineSeconds', () => {
    const old = defaulted(replicasets, workload('ReplicaSet'));
    const next = deepCopy(old);
    (next.spec as { selector: unknown }).selector = { matchExpressions: [{ key: 'app', operator: 'Exists' }] };
    (next.spec as { template: { spec: Record<string, unknown> } }).template.spec.activeDeadlineSeconds = 5;
    expect(messages(replicasets.validateUpdate(next, old, ctx))).toEqual([
      'spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported',
      'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"app", Operator:"Exists", Values:[]string(nil)}}}: field is immutable',
    ]);
  });

  it('prints DESIRED CURRENT READY AGE and the wide columns', () => {
    const rs = defaulted(replicasets, workload('ReplicaSet', { replicas: 3 }));
    rs.status = { replicas: 3, readyReplicas: 2 };
    expect(replicasets.tableColumns.map(c => c.name)).toEqual(['Name', 'Desired', 'Current', 'Ready', 'Age', 'Containers', 'Images', 'Selector']);
    expect(replicasets.tableRow(rs, ctx.now())).toEqual(['app', 3, 3, 2, '120m', 'pg', 'postgres:16', 'app=db']);
  });

  it('checks status counters against status.replicas', () => {
    const old = defaulted(replicasets, workload('ReplicaSet'));
    const next = deepCopy(old);
    next.status = { replicas: 1, readyReplicas: 2, availableReplicas: 1 };
    expect(messages(replicasets.validateStatusUpdate!(next, old, ctx))).toEqual(['status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas']);
  });
});

describe('statefulsets', () => {
  it('defaults OrderedReady, RollingUpdate partition 0, Retain policies, replicas, history and claim templates', () => {
    const sts = defaulted(statefulsets, workload('StatefulSet', {
      serviceName: 'db',
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
    }));
    const spec = sts.spec as Record<string, unknown>;
    expect(spec.podManagementPolicy).toBe('OrderedReady');
    expect(spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
    expect(spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    expect(spec.replicas).toBe(1);
    expect(spec.revisionHistoryLimit).toBe(10);
    expect(spec.volumeClaimTemplates).toEqual([{
      apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeMode: 'Filesystem' },
      status: { phase: 'Pending' },
    }]);
    expect(statefulsets.validate(sts, ctx)).toEqual([]);
  });

  it('lets containers mount the volumeClaimTemplates, and only those or declared volumes', () => {
    const mounts = (name: string) => ({ containers: [{ name: 'pg', image: 'postgres:16', volumeMounts: [{ name, mountPath: '/data' }] }] });
    const ok = defaulted(statefulsets, workload('StatefulSet', {
      serviceName: 'db', template: { metadata: { labels: { app: 'db' } }, spec: mounts('data') },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
    }));
    expect(statefulsets.validate(ok, ctx)).toEqual([]);
    const bad = defaulted(statefulsets, workload('StatefulSet', { serviceName: 'db', template: { metadata: { labels: { app: 'db' } }, spec: mounts('nope') } }));
    expect(messages(statefulsets.validate(bad, ctx)).join('\n')).toContain('volumeMounts[0].name');
  });

  it('keeps an OnDelete strategy without rollingUpdate', () => {
    const sts = defaulted(statefulsets, workload('StatefulSet', { updateStrategy: { type: 'OnDelete' } }));
    expect((sts.spec as Record<string, unknown>).updateStrategy).toEqual({ type: 'OnDelete' });
  });

  it('names are DNS labels and policies are checked', () => {
    const sts = defaulted(statefulsets, workload('StatefulSet', { podManagementPolicy: 'Random', updateStrategy: { type: 'OnDelete', rollingUpdate: { partition: 1 } } }));
    sts.metadata!.name = 'a.b';
    expect(messages(statefulsets.validate(sts, ctx))).toEqual([
      "metadata.name: Invalid value: \"a.b\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
      "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'",
      'spec.updateStrategy.rollingUpdate: Invalid value: {"partition":1}: only allowed for updateStrategy \'RollingUpdate\'',
    ]);
  });

  it('rejects negative partitions and, like upstream, leaves claim templates to PVC creation', () => {
    const sts = defaulted(statefulsets, workload('StatefulSet', {
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: -1 } },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { resources: { requests: { storage: '1Gi' } } } }],
    }));
    expect(messages(statefulsets.validate(sts, ctx))).toEqual([
      'spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0',
    ]);
  });

  it('allows updating replicas, template and strategy but nothing else in spec', () => {
    const old = defaulted(statefulsets, workload('StatefulSet', { serviceName: 'db' }));
    const ok = deepCopy(old);
    Object.assign(ok.spec as object, { replicas: 3, minReadySeconds: 5, updateStrategy: { type: 'OnDelete' } });
    (ok.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image = 'postgres:17';
    expect(statefulsets.validateUpdate(ok, old, ctx)).toEqual([]);
    const bad = deepCopy(old);
    (bad.spec as Record<string, unknown>).serviceName = 'other';
    expect(messages(statefulsets.validateUpdate(bad, old, ctx))).toEqual([
      "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    ]);
  });

  it('prints READY as ready/desired', () => {
    const sts = defaulted(statefulsets, workload('StatefulSet', { replicas: 3 }));
    sts.status = { replicas: 3, readyReplicas: 1 };
    expect(statefulsets.tableColumns.map(c => c.name)).toEqual(['Name', 'Ready', 'Age', 'Containers', 'Images']);
    expect(statefulsets.tableRow(sts, ctx.now())).toEqual(['app', '1/3', '120m', 'pg', 'postgres:16']);
  });
});

describe('daemonsets', () => {
  it('defaults a RollingUpdate of maxUnavailable 1 and maxSurge 0', () => {
    const ds = defaulted(daemonsets, workload('DaemonSet'));
    const spec = ds.spec as Record<string, unknown>;
    expect(spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
    expect(spec.revisionHistoryLimit).toBe(10);
    expect(daemonsets.validate(ds, ctx)).toEqual([]);
  });

  it('requires exactly one of maxSurge and maxUnavailable', () => {
    const both = defaulted(daemonsets, workload('DaemonSet', { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: '10%' } } }));
    expect(messages(daemonsets.validate(both, ctx))).toEqual([
      'spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"10%"}: may not be set when maxUnavailable is non-zero',
    ]);
    const none = defaulted(daemonsets, workload('DaemonSet', { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 0 } } }));
    expect(messages(daemonsets.validate(none, ctx))).toEqual(['spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0']);
  });

  it('requires a selector matching the template and an empty selector is invalid', () => {
    const ds = defaulted(daemonsets, workload('DaemonSet', { selector: undefined }));
    expect(messages(daemonsets.validate(ds, ctx))).toEqual([
      'spec.template.metadata.labels: Invalid value: map[string]string{"app":"db"}: `selector` does not match template `labels`',
    ]);
    const empty = defaulted(daemonsets, workload('DaemonSet', { selector: {} }));
    expect(messages(daemonsets.validate(empty, ctx))).toEqual([
      'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for daemonset',
    ]);
  });

  it('prints the node selector and counters', () => {
    const ds = defaulted(daemonsets, workload('DaemonSet'));
    (ds.spec as { template: { spec: Record<string, unknown> } }).template.spec.nodeSelector = { 'kubernetes.io/os': 'linux' };
    ds.status = { desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 2, updatedNumberScheduled: 3, numberAvailable: 2, numberMisscheduled: 0 };
    expect(daemonsets.tableColumns.map(c => c.name)).toEqual(['Name', 'Desired', 'Current', 'Ready', 'Up-to-date', 'Available', 'Node Selector', 'Age', 'Containers', 'Images', 'Selector']);
    expect(daemonsets.tableRow(ds, ctx.now())).toEqual(['app', 3, 3, 2, 3, 2, 'kubernetes.io/os=linux', '120m', 'pg', 'postgres:16', 'app=db']);
    const bare = defaulted(daemonsets, workload('DaemonSet'));
    expect(daemonsets.tableRow(bare, ctx.now()).slice(1, 7)).toEqual([0, 0, 0, 0, 0, '<none>']);
  });
});

describe('controllerrevisions', () => {
  const revision = (): KubeObject => ({
    apiVersion: 'apps/v1', kind: 'ControllerRevision',
    metadata: { name: 'app-5d8f', namespace: 'default', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'app', uid: 'u1', controller: true }] },
    data: { spec: {} }, revision: 2,
  });

  it('requires data and keeps it immutable', () => {
    const r = revision();
    delete r.data;
    expect(messages(controllerrevisions.validate(r, ctx))).toEqual(['data: Required value: data is mandatory']);
    const next = revision();
    next.data = { spec: { x: 1 } };
    expect(messages(controllerrevisions.validateUpdate(next, revision(), ctx))).toEqual(['data: Invalid value: {"spec":{"x":1}}: field is immutable']);
  });

  it('prints the controller as kind.group/name', () => {
    expect(controllerrevisions.tableRow(revision(), ctx.now()).slice(0, 3)).toEqual(['app-5d8f', 'statefulset.apps/app', 2]);
  });
});

describe('replicasets field selectors', () => {
  it('offers status.replicas, as upstream', () => {
    const rs = defaulted(replicasets, workload('ReplicaSet'));
    expect(replicasets.fieldSelectorAttributes!(rs)).toEqual({ 'status.replicas': '0' });
  });
});

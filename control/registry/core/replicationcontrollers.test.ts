import type { ReplicationController } from 'kubernetes-types/core/v1.js';
import type { FieldError } from '../../../api/errors.js';
import { deepCopy, type KubeObject } from '../../../api/object.js';
import type { RegistryContext } from '../types.js';
import { replicationcontrollers as rcs } from './replicationcontrollers.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date() };
const msgs = (errs: FieldError[]) => errs.map(e => e.message());

function rc(spec: Record<string, unknown>): KubeObject {
  const o = { apiVersion: 'v1', kind: 'ReplicationController', metadata: { name: 'web', namespace: 'default', creationTimestamp: '2024-01-01T00:00:00Z' }, spec } as unknown as KubeObject;
  rcs.prepareForCreate!(o);
  rcs.applyDefaults!(o, ctx);
  return o;
}
const template = (labels: Record<string, string>) => ({ metadata: { labels }, spec: { containers: [{ name: 'app', image: 'nginx:1.25' }] } });

describe('replicationcontrollers', () => {
  it('defaults replicas, selector, labels and the pod template', () => {
    const o = rc({ template: template({ app: 'web' }) }) as unknown as ReplicationController;
    expect(o.spec!.replicas).toBe(1);
    expect(o.spec!.selector).toEqual({ app: 'web' });
    expect(o.metadata!.labels).toEqual({ app: 'web' });
    expect(o.spec!.template!.spec!.restartPolicy).toBe('Always');
    expect(o.spec!.template!.spec!.containers[0]!.imagePullPolicy).toBe('IfNotPresent');
    expect(o.status).toEqual({ replicas: 0 });
    expect(rcs.validate(o as unknown as KubeObject, ctx)).toEqual([]);
  });

  it('requires the selector to match the template labels', () => {
    const o = rc({ selector: { app: 'other' }, template: template({ app: 'web' }) });
    expect(msgs(rcs.validate(o, ctx))).toEqual(['spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`']);
  });

  it('requires a selector and template, and restartPolicy Always', () => {
    expect(msgs(rcs.validate(rc({ replicas: -1 }), ctx))).toEqual([
      'spec.selector: Required value', 'spec.replicas: Invalid value: -1: must be greater than or equal to 0', 'spec.template: Required value',
    ]);
    const t = template({ app: 'web' });
    (t.spec as Record<string, unknown>)['restartPolicy'] = 'Never';
    (t.spec as Record<string, unknown>)['activeDeadlineSeconds'] = 5;
    expect(msgs(rcs.validate(rc({ template: t }), ctx))).toEqual([
      'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
      'spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicationController is not Supported',
    ]);
  });

  it('validates updates like creates, with metadata rules', () => {
    const old = rc({ template: template({ app: 'web' }) });
    old.metadata!.resourceVersion = '3';
    const upd = deepCopy(old);
    (upd as unknown as ReplicationController).spec!.selector = { app: 'other' };
    upd.metadata!.name = 'renamed';
    expect(msgs(rcs.validateUpdate(upd, old, ctx))).toEqual([
      'metadata.name: Invalid value: "renamed": field is immutable',
      'spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`',
    ]);
  });

  it('keeps status and labels the user gave', () => {
    const o = rc({ template: template({ app: 'web' }) });
    const labelled = { apiVersion: 'v1', kind: 'ReplicationController', metadata: { name: 'x', namespace: 'd', labels: { own: 'yes' } }, spec: { template: template({ app: 'web' }) } } as unknown as KubeObject;
    rcs.applyDefaults!(labelled, ctx);
    expect(labelled.metadata!.labels).toEqual({ own: 'yes' });
    const upd = deepCopy(o);
    upd['status'] = { replicas: 5 };
    rcs.prepareForUpdate!(upd, o);
    expect(upd['status']).toEqual({ replicas: 0 });
  });

  it('validates status counts', () => {
    const old = rc({ template: template({ app: 'web' }) });
    const upd = deepCopy(old);
    upd['status'] = { replicas: 1, readyReplicas: 2, availableReplicas: 1 };
    expect(msgs(rcs.validateStatusUpdate!(upd, old, ctx))).toEqual(['status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas']);
  });

  it('maps scale to the map selector', () => {
    expect(rcs.scale).toEqual({ specReplicas: 'spec.replicas', statusReplicas: 'status.replicas', selector: 'spec.selector', selectorIsMap: true });
    expect(rcs.subresources).toEqual(['status', 'scale']);
  });

  it('prints DESIRED CURRENT READY AGE and the wide columns', () => {
    const o = rc({ template: template({ app: 'web' }), replicas: 3 });
    o['status'] = { replicas: 2, readyReplicas: 1 };
    expect(rcs.tableColumns.map(c => c.name)).toEqual(['Name', 'Desired', 'Current', 'Ready', 'Age', 'Containers', 'Images', 'Selector']);
    expect(rcs.tableRow(o, new Date('2024-01-01T00:03:02Z'))).toEqual(['web', 3, 2, 1, '3m2s', 'app', 'nginx:1.25', 'app=web']);
  });
});

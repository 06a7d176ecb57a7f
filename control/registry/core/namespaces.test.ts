import type { Namespace } from 'kubernetes-types/core/v1.js';
import type { FieldError } from '../../../api/errors.js';
import { deepCopy, type KubeObject } from '../../../api/object.js';
import type { RegistryContext } from '../types.js';
import { namespaces, prepareForFinalize, validateNamespaceFinalizeUpdate } from './namespaces.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date() };
const msgs = (errs: FieldError[]) => errs.map(e => e.message());

function created(name = 'team-a', extra: Partial<Namespace> = {}): KubeObject {
  const obj = { apiVersion: 'v1', kind: 'Namespace', metadata: { name, creationTimestamp: '2024-01-01T00:00:00Z' }, ...extra } as unknown as KubeObject;
  namespaces.prepareForCreate!(obj);
  namespaces.applyDefaults!(obj, ctx);
  return obj;
}

describe('namespaces', () => {
  it('is cluster-scoped with status and finalize subresources', () => {
    expect(namespaces).toMatchObject({ namespaced: false, shortNames: ['ns'], subresources: ['status', 'finalize'] });
  });

  it('starts Active with the kubernetes finalizer and the name label', () => {
    const ns = created('team-a', { spec: { finalizers: ['example.com/x'] }, status: { phase: 'Terminating' } }) as unknown as Namespace;
    expect(ns.status).toEqual({ phase: 'Active' });
    expect(ns.spec!.finalizers).toEqual(['example.com/x', 'kubernetes']);
    expect(ns.metadata!.labels).toEqual({ 'kubernetes.io/metadata.name': 'team-a' });
    expect(namespaces.validate(ns as unknown as KubeObject, ctx)).toEqual([]);
  });

  it('requires a DNS label name and forbids metadata.namespace', () => {
    const obj = created('Team.A');
    obj.metadata!.namespace = 'default';
    expect(namespaces.validate(obj, ctx).map(e => e.field)).toEqual(['metadata.name', 'metadata.namespace']);
  });

  it('rejects non-standard finalizer names', () => {
    const obj = created();
    (obj as unknown as Namespace).spec!.finalizers = ['custom'];
    expect(msgs(namespaces.validate(obj, ctx))).toEqual(['spec.finalizers: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified']);
  });

  it('keeps spec.finalizers and status on main-resource updates', () => {
    const old = created();
    const upd = deepCopy(old) as unknown as Namespace;
    upd.spec!.finalizers = [];
    (upd as unknown as Record<string, unknown>)['status'] = { phase: 'Terminating' };
    namespaces.prepareForUpdate!(upd as unknown as KubeObject, old);
    expect(upd.spec!.finalizers).toEqual(['kubernetes']);
    expect(upd.status).toEqual({ phase: 'Active' });
  });

  it('finalize changes only spec.finalizers', () => {
    const old = created();
    const upd = deepCopy(old) as unknown as Namespace;
    upd.spec!.finalizers = [];
    (upd as unknown as Record<string, unknown>)['status'] = { phase: 'Gone' };
    prepareForFinalize(upd as unknown as KubeObject, old);
    expect(upd.spec!.finalizers).toEqual([]);
    expect(upd.status).toEqual({ phase: 'Active' });
    expect(validateNamespaceFinalizeUpdate(upd as unknown as KubeObject, old)).toEqual([]);
    upd.spec!.finalizers = ['kubernetes', 'bad'];
    expect(msgs(validateNamespaceFinalizeUpdate(upd as unknown as KubeObject, old))).toEqual([
      'spec.finalizers[1]: Invalid value: "bad": name is neither a standard finalizer name nor is it fully qualified',
    ]);
  });

  it('status phase must agree with deletionTimestamp', () => {
    const old = created();
    const upd = deepCopy(old);
    (upd as Record<string, unknown>)['status'] = { phase: 'Terminating' };
    expect(msgs(namespaces.validateStatusUpdate!(upd, old, ctx))).toEqual(['status.Phase: Invalid value: "Terminating": may only be \'Active\' if `deletionTimestamp` is empty']);
    const deleting = deepCopy(old);
    deleting.metadata!.deletionTimestamp = '2024-01-02T00:00:00Z';
    const upd2 = deepCopy(deleting);
    expect(msgs(namespaces.validateStatusUpdate!(upd2, deleting, ctx))).toEqual(['status.Phase: Invalid value: "Active": may only be \'Terminating\' if `deletionTimestamp` is not empty']);
  });

  it('prints NAME STATUS AGE', () => {
    expect(namespaces.tableColumns.map(c => c.name)).toEqual(['Name', 'Status', 'Age']);
    expect(namespaces.tableRow(created(), new Date('2024-01-02T23:00:00Z'))).toEqual(['team-a', 'Active', '47h']);
    expect(namespaces.fieldSelectorAttributes!(created())).toEqual({ 'status.phase': 'Active' });
  });
});

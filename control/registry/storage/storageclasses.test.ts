import { deepCopy, type KubeObject } from '../../../api/object.js';
import type { RegistryContext } from '../types.js';
import { storageclasses } from './storageclasses.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date('2026-01-02T00:00:00Z') };
const messages = (errs: { message(): string }[]) => errs.map(e => e.message());
function sc(fields: Record<string, unknown> = {}): KubeObject {
  const obj: KubeObject = {
    apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass',
    metadata: { name: 'local-path', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' }, creationTimestamp: '2026-01-01T00:00:00Z' },
    provisioner: 'rancher.io/local-path',
    ...fields,
  };
  storageclasses.applyDefaults!(obj, ctx);
  return obj;
}

describe('storageclasses', () => {
  it('defaults Delete and Immediate and validates', () => {
    const s = sc();
    expect([s.reclaimPolicy, s.volumeBindingMode]).toEqual(['Delete', 'Immediate']);
    expect(storageclasses.validate(s, ctx)).toEqual([]);
    expect(messages(storageclasses.validate(sc({ provisioner: '', reclaimPolicy: 'Recycle' }), ctx))).toEqual([
      'provisioner: Required value',
      'reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"',
    ]);
  });

  it('forbids changing provisioner, parameters and binding mode', () => {
    const old = sc();
    const next = deepCopy(old);
    Object.assign(next, { provisioner: 'other.io/x', parameters: { a: 'b' }, volumeBindingMode: 'WaitForFirstConsumer' });
    expect(messages(storageclasses.validateUpdate(next, old, ctx))).toEqual([
      'parameters: Forbidden: updates to parameters are forbidden.',
      'provisioner: Forbidden: updates to provisioner are forbidden.',
      'volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable',
    ]);
  });

  it('marks the default class in the NAME cell', () => {
    expect(storageclasses.tableRow(sc(), ctx.now())).toEqual(['local-path (default)', 'rancher.io/local-path', 'Delete', 'Immediate', false, '24h']);
  });
});

import type { PersistentVolume, PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import type { FieldError } from '../../../api/errors.js';
import { deepCopy, type KubeObject } from '../../../api/object.js';
import type { RegistryContext } from '../types.js';
import { accessModesString, persistentvolumeclaims as pvcs, persistentvolumes as pvs } from './persistentvolumes.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date() };
const msgs = (errs: FieldError[]) => errs.map(e => e.message());
const now = new Date('2024-01-01T00:10:00Z');

function claim(spec: Record<string, unknown>): KubeObject {
  const o = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', namespace: 'default', creationTimestamp: '2024-01-01T00:00:00Z', resourceVersion: '1' }, spec } as unknown as KubeObject;
  pvcs.prepareForCreate!(o);
  pvcs.applyDefaults!(o, ctx);
  return o;
}
function volume(spec: Record<string, unknown>): KubeObject {
  const o = { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'pv1', creationTimestamp: '2024-01-01T00:00:00Z', resourceVersion: '1' }, spec } as unknown as KubeObject;
  pvs.prepareForCreate!(o);
  pvs.applyDefaults!(o, ctx);
  return o;
}
const goodClaim = { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } };

describe('persistentvolumeclaims', () => {
  it('defaults phase Pending and volumeMode Filesystem', () => {
    const o = claim(goodClaim) as unknown as PersistentVolumeClaim;
    expect(o.status).toEqual({ phase: 'Pending' });
    expect(o.spec!.volumeMode).toBe('Filesystem');
    expect(pvcs.validate(o as unknown as KubeObject, ctx)).toEqual([]);
  });

  it('requires access modes and a positive storage request', () => {
    expect(msgs(pvcs.validate(claim({}), ctx))).toEqual([
      'spec.accessModes: Required value: at least 1 access mode is required',
      'spec.resources[storage]: Required value',
    ]);
    expect(msgs(pvcs.validate(claim({ accessModes: ['ReadWriteOncePod', 'ReadWriteOnce', 'Sometimes'], resources: { requests: { storage: '0' } }, volumeMode: 'Raw' }), ctx))).toEqual([
      'spec.accessModes: Unsupported value: "Sometimes": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
      'spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes',
      'spec.resources[storage]: Invalid value: "0": must be greater than zero',
      'spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"',
    ]);
  });

  it('allows binding once and growing storage, nothing else', () => {
    const old = claim(goodClaim);
    const bound = deepCopy(old) as unknown as PersistentVolumeClaim;
    bound.spec!.volumeName = 'pv1';
    bound.spec!.resources!.requests!['storage'] = '2Gi';
    expect(pvcs.validateUpdate(bound as unknown as KubeObject, old, ctx)).toEqual([]);
    const shrink = deepCopy(old) as unknown as PersistentVolumeClaim;
    shrink.spec!.resources!.requests!['storage'] = '500Mi';
    expect(msgs(pvcs.validateUpdate(shrink as unknown as KubeObject, old, ctx))).toEqual(['spec.resources.requests.storage: Forbidden: field can not be less than previous value']);
    const other = deepCopy(old) as unknown as PersistentVolumeClaim;
    other.spec!.accessModes = ['ReadWriteMany'];
    expect(msgs(pvcs.validateUpdate(other as unknown as KubeObject, old, ctx))).toEqual(['spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims']);
  });

  it('lets an unbound claim without a class get one later (retroactive default class), once', () => {
    const old = claim(goodClaim);
    delete (old.spec as { storageClassName?: string }).storageClassName;
    const classed = deepCopy(old) as unknown as PersistentVolumeClaim;
    classed.spec!.storageClassName = 'local-path';
    expect(pvcs.validateUpdate(classed as unknown as KubeObject, old, ctx)).toEqual([]);
    const changed = deepCopy(classed) as unknown as PersistentVolumeClaim;
    changed.spec!.storageClassName = 'other';
    expect(msgs(pvcs.validateUpdate(changed as unknown as KubeObject, classed as unknown as KubeObject, ctx))).toEqual(['spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims']);
  });

  it('prints NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE', () => {
    expect(pvcs.tableColumns.map(c => c.name)).toEqual(['Name', 'Status', 'Volume', 'Capacity', 'Access Modes', 'StorageClass', 'VolumeAttributesClass', 'Age', 'VolumeMode']);
    const pending = claim({ ...goodClaim, storageClassName: 'local' });
    expect(pvcs.tableRow(pending, now)).toEqual(['data', 'Pending', '', '', '', 'local', '<unset>', '10m', 'Filesystem']);
    const bound = claim({ ...goodClaim, volumeName: 'pv1' });
    bound['status'] = { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '1Gi' } };
    expect(pvcs.tableRow(bound, now).slice(1, 5)).toEqual(['Bound', 'pv1', '1Gi', 'RWO']);
  });
});

describe('persistentvolumes', () => {
  const good = { accessModes: ['ReadWriteOnce'], capacity: { storage: '5Gi' }, hostPath: { path: '/data' } };

  it('defaults Retain, Filesystem and phase Pending', () => {
    const o = volume(good) as unknown as PersistentVolume;
    expect(o.spec).toMatchObject({ persistentVolumeReclaimPolicy: 'Retain', volumeMode: 'Filesystem', hostPath: { path: '/data', type: '' } });
    expect(o.status).toEqual({ phase: 'Pending' });
    expect(pvs.validate(o as unknown as KubeObject, ctx)).toEqual([]);
  });

  it('requires access modes, capacity and exactly one source', () => {
    expect(msgs(pvs.validate(volume({}), ctx))).toEqual([
      'spec.accessModes: Required value: must specify at least 1 access mode',
      'spec.capacity: Required value',
      'spec: Required value: must specify a volume type',
    ]);
    expect(msgs(pvs.validate(volume({ ...good, capacity: { storage: '1Gi', cpu: '1' }, nfs: { server: 's', path: '/p' } }), ctx))).toEqual([
      'spec.capacity[cpu]: Unsupported value: "cpu": supported values: "storage"',
      'spec.nfs: Forbidden: may not specify more than 1 volume type',
    ]);
  });

  it('keeps the source immutable', () => {
    const old = volume(good);
    const upd = deepCopy(old) as unknown as PersistentVolume;
    upd.spec!.hostPath = { path: '/other', type: '' };
    expect(msgs(pvs.validateUpdate(upd as unknown as KubeObject, old, ctx))).toEqual(['spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation']);
  });

  it('prints capacity, modes, policy, status and claim', () => {
    const o = volume({ ...good, claimRef: { namespace: 'default', name: 'data' }, storageClassName: 'local' });
    o['status'] = { phase: 'Bound' };
    expect(pvs.tableRow(o, now)).toEqual(['pv1', '5Gi', 'RWO', 'Retain', 'Bound', 'default/data', 'local', '<unset>', '', '10m', 'Filesystem']);
  });

  it('formats access modes in upstream order', () => {
    expect(accessModesString(['ReadWriteMany', 'ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteOncePod'])).toBe('RWO,ROX,RWX,RWOP');
    expect(accessModesString([])).toBe('');
  });
});

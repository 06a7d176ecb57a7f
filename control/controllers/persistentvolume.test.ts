import type { PersistentVolume, PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import { FakeClusterClient } from '../../api/client/fake.js';
import { resources } from '../../api/client/types.js';
import { newContext } from './context.js';
import { LocalPathProvisioner, localPathVolume, localPathStorageClass } from './localpath.js';
import { PersistentVolumeController, findMatchingVolume } from './persistentvolume.js';

const tick = (ms = 10) => new Promise(r => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  for (let t = 0; t < ms && !cond(); t += 10) await tick();
  if (!cond()) throw new Error('condition not met');
}

const claim = (name: string, size: string, cls?: string): PersistentVolumeClaim => ({
  metadata: { name, namespace: 'default', uid: `uid-${name}` },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: size } }, ...(cls !== undefined ? { storageClassName: cls } : {}) },
});
const volume = (name: string, size: string, cls = 'manual', extra: Partial<NonNullable<PersistentVolume['spec']>> = {}): PersistentVolume => ({
  metadata: { name },
  spec: { capacity: { storage: size }, accessModes: ['ReadWriteOnce'], storageClassName: cls, hostPath: { path: `/tmp/${name}` }, ...extra },
  status: { phase: 'Available' },
});

describe('findMatchingVolume', () => {
  it('picks the smallest volume of the class that is big enough', () => {
    const vols = [volume('big', '10Gi'), volume('small', '1Gi'), volume('mid', '5Gi'), volume('other', '2Gi', 'fast')];
    expect(findMatchingVolume(claim('c', '2Gi', 'manual'), vols)?.metadata?.name).toBe('mid');
    expect(findMatchingVolume(claim('c', '20Gi', 'manual'), vols)).toBeUndefined();
  });
  it('prefers a volume pre-bound to the claim and skips ones claimed by others', () => {
    const vols = [volume('taken', '1Gi', 'manual', { claimRef: { namespace: 'default', name: 'x' } }), volume('mine', '9Gi', 'manual', { claimRef: { namespace: 'default', name: 'c', uid: 'uid-c' } }), volume('free', '1Gi')];
    expect(findMatchingVolume(claim('c', '1Gi', 'manual'), vols)?.metadata?.name).toBe('mine');
    expect(findMatchingVolume(claim('d', '1Gi', 'manual'), vols)?.metadata?.name).toBe('free');
  });
});

describe('localPathVolume', () => {
  it('is a DirectoryOrCreate hostPath under the storage root, pinned to the node and pre-bound', () => {
    const v = localPathVolume(claim('data', '1Gi', 'local-path'), localPathStorageClass(), 'node-1', 'node-1', '/var/lib/k8ts/storage');
    expect(v.metadata?.name).toBe('pvc-uid-data');
    expect(v.spec?.hostPath).toEqual({ path: '/var/lib/k8ts/storage/pvc-uid-data_default_data', type: 'DirectoryOrCreate' });
    expect(v.spec?.nodeAffinity?.required?.nodeSelectorTerms[0]?.matchExpressions).toEqual([{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-1'] }]);
    expect(v.spec?.claimRef).toMatchObject({ name: 'data', namespace: 'default', uid: 'uid-data' });
    expect(v.spec?.persistentVolumeReclaimPolicy).toBe('Delete');
  });
});

describe('PersistentVolumeController with the local-path provisioner', () => {
  it('defaults the class, waits for a node, provisions, binds both sides, and deletes the volume after the claim', async () => {
    const c = new FakeClusterClient();
    const ctx = newContext(c, { events: false });
    const binder = new PersistentVolumeController(ctx);
    const prov = new LocalPathProvisioner(ctx);
    await ctx.informers.start();
    binder.start(); prov.start();
    await until(() => Boolean(c.peek<StorageClass>(resources.storageclasses, undefined, 'local-path')));
    await c.create(resources.persistentvolumeclaims, 'default', claim('data', '1Gi'));
    await until(() => c.peek<PersistentVolumeClaim>(resources.persistentvolumeclaims, 'default', 'data')?.spec?.storageClassName === 'local-path');
    await tick(100);
    expect(c.all(resources.persistentvolumes)).toHaveLength(0); // WaitForFirstConsumer
    // The scheduler's VolumeBinding picks a node.
    await c.patch(resources.persistentvolumeclaims, 'default', 'data', 'merge', { metadata: { annotations: { 'volume.kubernetes.io/selected-node': 'node-1' } } });
    await until(() => c.peek<PersistentVolumeClaim>(resources.persistentvolumeclaims, 'default', 'data')?.status?.phase === 'Bound');
    const pvc = c.peek<PersistentVolumeClaim>(resources.persistentvolumeclaims, 'default', 'data')!;
    const pv = c.all<PersistentVolume>(resources.persistentvolumes)[0]!;
    expect(pvc.spec?.volumeName).toBe(pv.metadata?.name);
    expect(pvc.metadata?.annotations?.['pv.kubernetes.io/bind-completed']).toBe('yes');
    expect(pvc.status?.capacity).toEqual({ storage: '1Gi' });
    await until(() => c.peek<PersistentVolume>(resources.persistentvolumes, undefined, pv.metadata!.name!)?.status?.phase === 'Bound');
    await c.delete(resources.persistentvolumeclaims, 'default', 'data');
    await until(() => c.all(resources.persistentvolumes).length === 0);
    await binder.stop(); await prov.stop(); ctx.informers.stop();
  });

  it('binds an Immediate claim to a matching static volume', async () => {
    const c = new FakeClusterClient();
    const ctx = newContext(c, { events: false });
    const binder = new PersistentVolumeController(ctx);
    await c.create(resources.persistentvolumes, undefined, volume('pv1', '2Gi'));
    await c.create(resources.persistentvolumeclaims, 'default', claim('c', '1Gi', 'manual'));
    await ctx.informers.start();
    binder.start();
    await until(() => c.peek<PersistentVolumeClaim>(resources.persistentvolumeclaims, 'default', 'c')?.status?.phase === 'Bound');
    const uid = c.peek<PersistentVolumeClaim>(resources.persistentvolumeclaims, 'default', 'c')!.metadata!.uid;
    expect(c.peek<PersistentVolume>(resources.persistentvolumes, undefined, 'pv1')?.spec?.claimRef).toMatchObject({ name: 'c', namespace: 'default', uid });
    // Retain: the volume outlives its claim as Released.
    await c.delete(resources.persistentvolumeclaims, 'default', 'c');
    await until(() => c.peek<PersistentVolume>(resources.persistentvolumes, undefined, 'pv1')?.status?.phase === 'Released');
    await binder.stop(); ctx.informers.stop();
  });
});

import type { Node, PersistentVolume, PersistentVolumeClaim, Pod } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import { FakeClusterClient } from '../../api/client/fake.js';
import { resources } from '../../api/client/types.js';
import { VolumeBinding, checkClaims, volumeReasons, type VolumeLister } from './volumebinding.js';

const node = (name: string): Node => ({ metadata: { name, labels: { 'kubernetes.io/hostname': name } } });
const pod = (...claims: string[]): Pod => ({ metadata: { name: 'p', namespace: 'default' }, spec: { containers: [], volumes: claims.map(c => ({ name: c, persistentVolumeClaim: { claimName: c } })) } });
const pinned = (name: string, host: string): PersistentVolume => ({ metadata: { name }, spec: { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [host] }] }] } } } });

function lister(claims: PersistentVolumeClaim[], volumes: PersistentVolume[], classes: StorageClass[]): VolumeLister {
  return {
    claim: (ns, n) => claims.find(c => c.metadata?.namespace === ns && c.metadata?.name === n),
    volume: n => volumes.find(v => v.metadata?.name === n),
    storageClass: n => classes.find(c => c.metadata?.name === n),
  };
}

const wffc: StorageClass = { metadata: { name: 'local-path' }, provisioner: 'rancher.io/local-path', volumeBindingMode: 'WaitForFirstConsumer' };
const immediate: StorageClass = { metadata: { name: 'fast' }, provisioner: 'x', volumeBindingMode: 'Immediate' };
const claim = (name: string, cls: string, volumeName?: string): PersistentVolumeClaim => ({ metadata: { name, namespace: 'default' }, spec: { storageClassName: cls, ...(volumeName ? { volumeName } : {}) } });

describe('checkClaims', () => {
  it('keeps a pod whose claim is bound to a node-pinned volume on that node', () => {
    const l = lister([claim('data', 'local-path', 'pv1')], [pinned('pv1', 'a')], [wffc]);
    expect(checkClaims(pod('data'), node('a'), l)).toBeUndefined();
    expect(checkClaims(pod('data'), node('b'), l)).toEqual([volumeReasons.nodeConflict]);
  });
  it('lets an unbound WaitForFirstConsumer claim go anywhere and reports it for PreBind', () => {
    const delayed: PersistentVolumeClaim[] = [];
    expect(checkClaims(pod('data'), node('b'), lister([claim('data', 'local-path')], [], [wffc]), delayed)).toBeUndefined();
    expect(delayed.map(c => c.metadata?.name)).toEqual(['data']);
  });
  it('refuses unbound Immediate claims, missing claims and claims bound to missing volumes', () => {
    expect(checkClaims(pod('x'), node('a'), lister([claim('x', 'fast')], [], [immediate]))).toEqual([volumeReasons.unboundImmediate]);
    expect(checkClaims(pod('nope'), node('a'), lister([], [], []))).toEqual(['persistentvolumeclaim "nope" not found']);
    expect(checkClaims(pod('x'), node('a'), lister([claim('x', 'fast', 'gone')], [], [immediate]))).toEqual([volumeReasons.missingVolume]);
  });
});

describe('VolumeBinding.preBind', () => {
  async function setup() {
    const c = new FakeClusterClient();
    await c.create(resources.storageclasses, undefined, wffc);
    await c.create(resources.persistentvolumeclaims, 'default', claim('data', 'local-path'));
    const vb = new VolumeBinding(c, { bindTimeoutMs: 2000 });
    await vb.start();
    return { c, vb };
  }
  /** What the provisioner and binder do once a node is selected: a volume on `host`, bound. */
  async function provision(c: FakeClusterClient, host: string): Promise<void> {
    for (let i = 0; i < 200 && !c.peek<PersistentVolumeClaim>(resources.persistentvolumeclaims, 'default', 'data')?.metadata?.annotations?.['volume.kubernetes.io/selected-node']; i++) await new Promise(r => setTimeout(r, 10));
    await c.create(resources.persistentvolumes, undefined, pinned('pv1', host));
    await c.patch(resources.persistentvolumeclaims, 'default', 'data', 'merge', { spec: { volumeName: 'pv1' } });
    await c.patch(resources.persistentvolumeclaims, 'default', 'data', 'merge', { status: { phase: 'Bound' } }, { subresource: 'status' });
  }

  it('selects the node on the claim and returns once the claim is bound', async () => {
    const { c, vb } = await setup();
    await Promise.all([vb.preBind(pod('data'), 'a'), provision(c, 'a')]);
    expect(c.peek<PersistentVolumeClaim>(resources.persistentvolumeclaims, 'default', 'data')!.metadata!.annotations).toEqual({ 'volume.kubernetes.io/selected-node': 'a' });
    vb.stop();
  });

  it('fails when the claim ends up on a volume of another node', async () => {
    const { c, vb } = await setup();
    await expect(Promise.all([vb.preBind(pod('data'), 'a'), provision(c, 'b')])).rejects.toThrow('not available on node "a"');
    vb.stop();
  });
});

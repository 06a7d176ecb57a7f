// The local-path provisioner, as k3s ships it (rancher/local-path-provisioner): a default
// StorageClass `local-path` (provisioner `rancher.io/local-path`, WaitForFirstConsumer, reclaim
// Delete), and for every claim of that class on which the scheduler has set
// `volume.kubernetes.io/selected-node`, a hostPath PersistentVolume `pvc-<claim uid>` at
// `<storageRoot>/pvc-<uid>_<namespace>_<claim>` (DirectoryOrCreate, so the kubelet makes the
// directory on first mount) with node affinity to that node, pre-bound to the claim; the binder
// (persistentvolume.ts) completes the binding. Volumes it provisioned that are Released with
// reclaim policy Delete are deleted.
// Design: upstream's provisioner runs a helper pod on the node to create and remove directories;
// we let the kubelet create the directory (hostPath type DirectoryOrCreate), and the agent of the
// volume's node removes it once the PV is gone with reclaimPolicy Delete
// (agent/localpath-cleaner.ts): this controller only deletes the API object. The class is created at start-up when missing, which is what k3s' addon
// manifest does; an administrator's edits to an existing class are left alone.
import type { Node, PersistentVolume, PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import type { KubeObject } from '../../api/object.js';
import { isAlreadyExists, isNotFound } from '../../api/client/rest.js';
import { resources } from '../../api/client/types.js';
import type { Informer } from '../../api/client/informer.js';
import type { ControllerContext } from './context.js';
import { annProvisionedBy, annSelectedNode } from './persistentvolume.js';
import { Controller } from './runtime.js';

export const localPathProvisioner = 'rancher.io/local-path';
export const localPathClassName = 'local-path';
export const defaultStorageRoot = '/var/lib/k8ts/storage';

export function localPathStorageClass(): StorageClass {
  return {
    apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass',
    metadata: { name: localPathClassName, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    provisioner: localPathProvisioner, reclaimPolicy: 'Delete', volumeBindingMode: 'WaitForFirstConsumer',
  };
}

/** Pure: the volume for a claim on a node (`hostname` = the node's kubernetes.io/hostname label). */
export function localPathVolume(claim: PersistentVolumeClaim, cls: StorageClass, node: string, hostname: string, storageRoot: string): PersistentVolume {
  const ns = claim.metadata?.namespace ?? 'default';
  const name = `pvc-${claim.metadata?.uid}`;
  return {
    apiVersion: 'v1', kind: 'PersistentVolume',
    metadata: { name, annotations: { [annProvisionedBy]: cls.provisioner, 'local.path.provisioner/selected-node': node } },
    spec: {
      capacity: { storage: String(claim.spec?.resources?.requests?.['storage'] ?? '1Gi') },
      accessModes: claim.spec?.accessModes ?? ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: (cls.reclaimPolicy ?? 'Delete'),
      storageClassName: cls.metadata?.name ?? '',
      volumeMode: claim.spec?.volumeMode ?? 'Filesystem',
      hostPath: { path: `${(cls.parameters?.['nodePath'] ?? storageRoot).replace(/\/+$/, '')}/${name}_${ns}_${claim.metadata?.name}`, type: 'DirectoryOrCreate' },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [hostname] }] }] } },
      claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: ns, name: claim.metadata?.name ?? '', uid: claim.metadata?.uid ?? '' },
    },
  };
}

export interface LocalPathOptions {
  storageRoot?: string;
  /** Create the `local-path` class when missing (default true). */
  ensureClass?: boolean;
}

export class LocalPathProvisioner {
  readonly controller: Controller;
  private readonly claims: Informer<PersistentVolumeClaim>;
  private readonly volumes: Informer<PersistentVolume>;
  private readonly classes: Informer<StorageClass>;
  private readonly nodes: Informer<Node>;

  constructor(private readonly ctx: ControllerContext, private readonly opts: LocalPathOptions = {}) {
    this.claims = ctx.informers.for<PersistentVolumeClaim>(resources.persistentvolumeclaims);
    this.volumes = ctx.informers.for<PersistentVolume>(resources.persistentvolumes);
    this.classes = ctx.informers.for<StorageClass>(resources.storageclasses);
    this.nodes = ctx.informers.for<Node>(resources.nodes);
    // Keys: `claim:<ns>/<name>` and `volume:<name>`.
    this.controller = new Controller({
      name: 'LocalPathProvisioner', workers: 1, clock: ctx.clock, logger: ctx.logger, resyncMs: 30_000,
      resyncKeys: () => [...this.claims.keys().map(k => `claim:${k}`), ...this.volumes.keys().map(k => `volume:${k}`)],
    }, key => (key.startsWith('claim:') ? this.syncClaim(key.slice(6)) : this.syncVolume(key.slice(7))));
    this.claims.on({ add: c => this.controller.enqueue(`claim:${c.metadata?.namespace}/${c.metadata?.name}`), update: (_, c) => this.controller.enqueue(`claim:${c.metadata?.namespace}/${c.metadata?.name}`) });
    this.volumes.on({ add: v => this.controller.enqueue(`volume:${v.metadata?.name}`), update: (_, v) => this.controller.enqueue(`volume:${v.metadata?.name}`) });
  }

  start(): void {
    this.controller.start();
    void this.ensureClass();
  }

  private async ensureClass(): Promise<void> {
    if (this.opts.ensureClass !== false && !this.classes.getBy(undefined, localPathClassName)) {
      try { await this.ctx.client.create(resources.storageclasses, undefined, localPathStorageClass()); } catch (err) {
        if (!isAlreadyExists(err)) this.ctx.logger.warn({ err }, `creating the ${localPathClassName} StorageClass failed: ${(err as Error).message}`);
      }
    }
  }

  stop(): Promise<void> { return this.controller.stop(); }

  private ours(className: string | undefined): StorageClass | undefined {
    const cls = className ? this.classes.getBy(undefined, className) : undefined;
    return cls?.provisioner === localPathProvisioner || cls?.provisioner === 'k8ts.io/local-path' ? cls : undefined;
  }

  async syncClaim(key: string): Promise<void> {
    const claim = this.claims.get(key);
    if (!claim || claim.metadata?.deletionTimestamp || claim.spec?.volumeName) return;
    const cls = this.ours(claim.spec?.storageClassName);
    const node = claim.metadata?.annotations?.[annSelectedNode];
    if (!cls || !node) return;
    const want = localPathVolume(claim, cls, node, this.nodes.getBy(undefined, node)?.metadata?.labels?.['kubernetes.io/hostname'] ?? node, this.opts.storageRoot ?? defaultStorageRoot);
    if (this.volumes.getBy(undefined, want.metadata?.name ?? '')) return;
    try {
      await this.ctx.client.create(resources.persistentvolumes, undefined, want);
      this.ctx.recorder.event({ ...claim, apiVersion: 'v1', kind: 'PersistentVolumeClaim' } as KubeObject, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${want.metadata?.name}`);
    } catch (err) {
      if (isAlreadyExists(err)) return;
      this.ctx.recorder.event({ ...claim, apiVersion: 'v1', kind: 'PersistentVolumeClaim' } as KubeObject, 'Warning', 'ProvisioningFailed', `failed to provision volume with StorageClass "${cls.metadata?.name}": ${(err as Error).message}`);
      throw err;
    }
  }

  async syncVolume(name: string): Promise<void> {
    const v = this.volumes.getBy(undefined, name);
    if (!v || v.metadata?.deletionTimestamp) return;
    if (v.metadata?.annotations?.[annProvisionedBy] !== localPathProvisioner && v.metadata?.annotations?.[annProvisionedBy] !== 'k8ts.io/local-path') return;
    if (v.status?.phase !== 'Released' || v.spec?.persistentVolumeReclaimPolicy !== 'Delete') return;
    try {
      await this.ctx.client.delete(resources.persistentvolumes, undefined, name, { preconditions: { uid: v.metadata?.uid ?? '' } });
    } catch (err) { if (!isNotFound(err)) throw err; }
  }
}

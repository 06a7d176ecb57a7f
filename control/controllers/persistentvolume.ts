// The PersistentVolume binder, as upstream's pv_controller: it pairs each PersistentVolumeClaim with
// one PersistentVolume and keeps both sides' phases right.
// - Claims with no storageClassName get the default class (upstream's retroactive default
//   StorageClass assignment, which also covers what the DefaultStorageClass admission plugin does).
// - An unbound claim binds to the smallest Available volume of its class that satisfies its size,
//   access modes and volume mode, or to a volume pre-bound to it (claimRef set, as a provisioner
//   creates them). Binding writes the volume side first (claimRef, `Bound`), then the claim
//   (`spec.volumeName`, the `pv.kubernetes.io/bind-completed` annotation, `Bound` with capacity).
// - With no volume, a claim whose class names a provisioner is annotated
//   `volume.kubernetes.io/storage-provisioner`; for WaitForFirstConsumer classes only after the
//   scheduler has chosen a node (`volume.kubernetes.io/selected-node`), until then it waits.
// - A volume whose claim is gone becomes `Released`; its reclaim policy is the provisioner's
//   business (Delete) or the administrator's (Retain).
// The matching is pure (`findMatchingVolume`), so it is tested without any API.
import type { PersistentVolume, PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import type { KubeObject } from '../../api/object.js';
import { compareQuantities, tryParseQuantity } from '../../api/quantity.js';
import { isNotFound } from '../../api/client/rest.js';
import { resources } from '../../api/client/types.js';
import type { Informer } from '../../api/client/informer.js';
import type { ControllerContext } from './context.js';
import { Controller } from './runtime.js';

export const annBindCompleted = 'pv.kubernetes.io/bind-completed';
export const annBoundByController = 'pv.kubernetes.io/bound-by-controller';
export const annSelectedNode = 'volume.kubernetes.io/selected-node';
export const annStorageProvisioner = 'volume.kubernetes.io/storage-provisioner';
export const annBetaStorageProvisioner = 'volume.beta.kubernetes.io/storage-provisioner';
export const annProvisionedBy = 'pv.kubernetes.io/provisioned-by';
const annDefaultClass = 'storageclass.kubernetes.io/is-default-class';
const annBetaDefaultClass = 'storageclass.beta.kubernetes.io/is-default-class';

export const isDefaultClass = (sc: StorageClass) => sc.metadata?.annotations?.[annDefaultClass] === 'true' || sc.metadata?.annotations?.[annBetaDefaultClass] === 'true';

/** The default class: upstream picks the newest when several are marked default. */
export function defaultClass(classes: readonly StorageClass[]): StorageClass | undefined {
  return classes.filter(isDefaultClass).sort((a, b) => ((a.metadata?.creationTimestamp ?? '') < (b.metadata?.creationTimestamp ?? '') ? 1 : -1))[0];
}

const storageOf = (x: Record<string, unknown> | undefined) => tryParseQuantity((x?.['storage'] ?? '0') as string);
const classOfClaim = (c: PersistentVolumeClaim) => c.spec?.storageClassName ?? '';
const classOfVolume = (v: PersistentVolume) => v.spec?.storageClassName ?? '';

/** True when the volume's claimRef names this claim (uid checked when both have one). */
export function isPreBoundTo(v: PersistentVolume, c: PersistentVolumeClaim): boolean {
  const r = v.spec?.claimRef;
  if (!r?.name) return false;
  if (r.name !== c.metadata?.name || (r.namespace ?? '') !== (c.metadata?.namespace ?? '')) return false;
  return !r.uid || r.uid === c.metadata?.uid;
}

/**
 * Pure: the volume an unbound claim should bind to. Volumes pre-bound to the claim win; otherwise
 * the smallest fitting Available, unclaimed volume of the claim's class (upstream's findBestMatch).
 * `node`, when given, restricts the choice to volumes whose node affinity allows it.
 */
export function findMatchingVolume(claim: PersistentVolumeClaim, volumes: readonly PersistentVolume[], nodeOk?: (v: PersistentVolume) => boolean): PersistentVolume | undefined {
  const want = storageOf(claim.spec?.resources?.requests as Record<string, unknown> | undefined);
  const modes = claim.spec?.accessModes ?? [];
  const mode = claim.spec?.volumeMode ?? 'Filesystem';
  let best: PersistentVolume | undefined;
  for (const v of volumes) {
    if (v.metadata?.deletionTimestamp) continue;
    if (isPreBoundTo(v, claim)) return v;
    if (v.spec?.claimRef?.name) continue;
    if (v.status?.phase && v.status.phase !== 'Available' && v.status.phase !== 'Pending') continue;
    if (classOfVolume(v) !== classOfClaim(claim)) continue;
    if ((v.spec?.volumeMode ?? 'Filesystem') !== mode) continue;
    const have = v.spec?.accessModes ?? [];
    if (!modes.every(m => have.includes(m))) continue;
    const size = storageOf(v.spec?.capacity as Record<string, unknown> | undefined);
    if (!size || (want && compareQuantities(size, want) < 0)) continue;
    if (nodeOk && !nodeOk(v)) continue;
    if (!best || compareQuantities(size, storageOf(best.spec?.capacity as Record<string, unknown>)!) < 0) best = v;
  }
  return best;
}

export class PersistentVolumeController {
  readonly claimsController: Controller;
  readonly volumesController: Controller;
  private readonly claims: Informer<PersistentVolumeClaim>;
  private readonly volumes: Informer<PersistentVolume>;
  private readonly classes: Informer<StorageClass>;

  constructor(private readonly ctx: ControllerContext) {
    this.claims = ctx.informers.for<PersistentVolumeClaim>(resources.persistentvolumeclaims);
    this.volumes = ctx.informers.for<PersistentVolume>(resources.persistentvolumes);
    this.classes = ctx.informers.for<StorageClass>(resources.storageclasses);
    const opts = { workers: ctx.workers ?? 2, clock: ctx.clock, logger: ctx.logger, resyncMs: 15_000 };
    this.claimsController = new Controller({ ...opts, name: 'PersistentVolumeClaimBinder', resyncKeys: () => this.claims.keys() }, key => this.syncClaim(key));
    this.volumesController = new Controller({ ...opts, name: 'PersistentVolumeBinder', resyncKeys: () => this.volumes.keys() }, key => this.syncVolume(key));
    this.claims.on({
      add: c => this.claimsController.enqueueObject(c),
      update: (_, c) => this.claimsController.enqueueObject(c),
      delete: c => { for (const v of this.volumes.list()) if (v.spec?.claimRef?.uid === c.metadata?.uid) this.volumesController.enqueueObject(v); },
    });
    const onVolume = (v: PersistentVolume) => {
      this.volumesController.enqueueObject(v);
      const r = v.spec?.claimRef;
      if (r?.name) this.claimsController.enqueue(`${r.namespace}/${r.name}`);
      // A new Available volume may satisfy any waiting claim of its class.
      else for (const c of this.claims.list()) if (!c.spec?.volumeName && classOfClaim(c) === classOfVolume(v)) this.claimsController.enqueueObject(c);
    };
    this.volumes.on({ add: onVolume, update: (_, v) => onVolume(v), delete: onVolume });
    this.classes.on({ add: () => { for (const c of this.claims.list()) if (c.spec?.storageClassName === undefined) this.claimsController.enqueueObject(c); } });
  }

  start(): void { this.claimsController.start(); this.volumesController.start(); }
  async stop(): Promise<void> { await this.claimsController.stop(); await this.volumesController.stop(); }

  private event(obj: PersistentVolumeClaim | PersistentVolume, kind: string, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.ctx.recorder.event({ ...obj, apiVersion: 'v1', kind } as KubeObject, type, reason, message);
  }

  async syncClaim(key: string): Promise<void> {
    const claim = this.claims.get(key);
    if (!claim || claim.metadata?.deletionTimestamp) return;
    const c = this.ctx.client;
    const ns = claim.metadata?.namespace ?? 'default';
    const name = claim.metadata?.name ?? '';
    if (claim.spec?.storageClassName === undefined && !claim.spec?.volumeName) {
      const dflt = defaultClass(this.classes.list());
      if (dflt) {
        await c.patch(resources.persistentvolumeclaims, ns, name, 'merge', { spec: { storageClassName: dflt.metadata?.name } });
        return; // the update brings the claim back with its class
      }
    }
    const volumeName = claim.spec?.volumeName;
    if (volumeName) {
      const v = this.volumes.getBy(undefined, volumeName);
      if (!v) {
        if (claim.status?.phase !== 'Lost' && claim.metadata?.annotations?.[annBindCompleted]) {
          await c.patch(resources.persistentvolumeclaims, ns, name, 'merge', { status: { phase: 'Lost' } }, { subresource: 'status' });
          this.event(claim, 'PersistentVolumeClaim', 'Warning', 'ClaimLost', 'Bound claim has lost its PersistentVolume. Data on the volume is lost!');
        }
        return;
      }
      if (!v.spec?.claimRef?.name) { await this.bind(v, claim); return; }
      if (isPreBoundTo(v, claim)) { await this.finishClaim(v, claim); return; }
      return; // bound to another claim: an administrator's mistake upstream also leaves alone
    }
    const cls = this.classes.getBy(undefined, classOfClaim(claim));
    const delayed = cls?.volumeBindingMode === 'WaitForFirstConsumer';
    const selectedNode = claim.metadata?.annotations?.[annSelectedNode];
    const vols = this.volumes.list();
    // A delayed-binding claim binds only to a volume pre-bound to it until a node is chosen.
    const match = delayed && !selectedNode ? vols.find(v => isPreBoundTo(v, claim)) : findMatchingVolume(claim, vols);
    if (match) { await this.bind(match, claim); return; }
    if (delayed && !selectedNode) {
      this.event(claim, 'PersistentVolumeClaim', 'Normal', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding');
      return;
    }
    const provisioner = cls?.provisioner;
    if (provisioner && claim.metadata?.annotations?.[annStorageProvisioner] !== provisioner) {
      await c.patch(resources.persistentvolumeclaims, ns, name, 'merge', { metadata: { annotations: { [annStorageProvisioner]: provisioner, [annBetaStorageProvisioner]: provisioner } } });
      this.event(claim, 'PersistentVolumeClaim', 'Normal', 'ExternalProvisioning', `Waiting for a volume to be created either by the external provisioner '${provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.`);
    } else if (!provisioner && !cls && classOfClaim(claim) !== '') {
      this.event(claim, 'PersistentVolumeClaim', 'Warning', 'ProvisioningFailed', `storageclass.storage.k8s.io "${classOfClaim(claim)}" not found`);
    }
  }

  /** Binds both sides: the volume first, so a crash in between leaves a pre-bound volume to finish. */
  private async bind(v: PersistentVolume, claim: PersistentVolumeClaim): Promise<void> {
    const c = this.ctx.client;
    let volume = v;
    if (!isPreBoundTo(v, claim) || !v.spec?.claimRef?.uid) {
      volume = await c.update<PersistentVolume>(resources.persistentvolumes, {
        ...v,
        metadata: { ...v.metadata, annotations: { ...(v.metadata?.annotations ?? {}), [annBoundByController]: 'yes' } },
        spec: { ...v.spec, claimRef: { kind: 'PersistentVolumeClaim', namespace: claim.metadata?.namespace ?? 'default', name: claim.metadata?.name ?? '', uid: claim.metadata?.uid ?? '', apiVersion: 'v1', resourceVersion: claim.metadata?.resourceVersion ?? '' } },
      });
    }
    if (volume.status?.phase !== 'Bound') {
      volume = await c.patch<PersistentVolume>(resources.persistentvolumes, undefined, volume.metadata?.name ?? '', 'merge', { status: { phase: 'Bound' } }, { subresource: 'status' });
    }
    await this.finishClaim(volume, claim);
  }

  private async finishClaim(v: PersistentVolume, claim: PersistentVolumeClaim): Promise<void> {
    const c = this.ctx.client;
    const ns = claim.metadata?.namespace ?? 'default';
    const name = claim.metadata?.name ?? '';
    const ann = claim.metadata?.annotations ?? {};
    if (claim.spec?.volumeName !== v.metadata?.name || ann[annBindCompleted] !== 'yes') {
      await c.patch(resources.persistentvolumeclaims, ns, name, 'merge', {
        metadata: { annotations: { [annBindCompleted]: 'yes', ...(claim.spec?.volumeName ? {} : { [annBoundByController]: 'yes' }) } },
        spec: { volumeName: v.metadata?.name },
      });
    }
    if (v.status?.phase !== 'Bound') await c.patch(resources.persistentvolumes, undefined, v.metadata?.name ?? '', 'merge', { status: { phase: 'Bound' } }, { subresource: 'status' });
    const want = { phase: 'Bound', accessModes: v.spec?.accessModes ?? [], capacity: v.spec?.capacity ?? {} };
    const s = claim.status ?? {};
    if (s.phase !== 'Bound' || JSON.stringify(s.capacity ?? {}) !== JSON.stringify(want.capacity) || JSON.stringify(s.accessModes ?? []) !== JSON.stringify(want.accessModes)) {
      await c.patch(resources.persistentvolumeclaims, ns, name, 'merge', { status: want }, { subresource: 'status' });
    }
  }

  async syncVolume(key: string): Promise<void> {
    const v = this.volumes.get(key);
    if (!v || v.metadata?.deletionTimestamp) return;
    const r = v.spec?.claimRef;
    let phase: string;
    if (!r?.name) phase = 'Available';
    else {
      const claim = this.claims.getBy(r.namespace, r.name);
      if (!claim || (r.uid && claim.metadata?.uid !== r.uid)) {
        // A claimRef without uid is a pre-binding by an administrator: the claim may come later.
        phase = r.uid ? 'Released' : (v.status?.phase ?? 'Available');
      } else if (claim.spec?.volumeName === v.metadata?.name) phase = 'Bound';
      else { this.claimsController.enqueueObject(claim); return; }
    }
    if (v.status?.phase !== phase && !(v.status?.phase === 'Failed' && phase === 'Released')) {
      await this.ctx.client.patch(resources.persistentvolumes, undefined, v.metadata?.name ?? '', 'merge', { status: { phase } }, { subresource: 'status' })
        .catch((err: unknown) => { if (!isNotFound(err)) throw err; });
    }
  }
}

// VolumeBinding, as kube-scheduler's plugin of that name, for pods with persistentVolumeClaim
// volumes:
// - Filter: a claim that does not exist (or is being deleted) fits nowhere; a bound claim fits only
//   the nodes its volume's node affinity allows ("volume node affinity conflict" otherwise: this
//   is what keeps a StatefulSet pod on the node that holds its local-path data); an unbound claim
//   of an Immediate class fits nowhere until the binder binds it; an unbound claim of a
//   WaitForFirstConsumer class fits any node (its provisioner will make a volume there).
// - PreBind: annotates each unbound WaitForFirstConsumer claim with
//   `volume.kubernetes.io/selected-node` and waits until the binder and the provisioner have bound
//   it, before the pod is bound, so the kubelet never starts a pod whose claim has no volume.
// The decision (`checkClaims`) is a pure function of the claims, volumes and classes the plugin's
// informers hold; the shell only reads them and writes the annotation.
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import { Informer } from '../../api/client/informer.js';
import { resources, type ClusterClient } from '../../api/client/types.js';
import { termMatches, type FilterPlugin } from './plugins.js';
import type { NodeInfo } from './nodeinfo.js';

export const annSelectedNode = 'volume.kubernetes.io/selected-node';

export const volumeReasons = {
  nodeConflict: 'node(s) had volume node affinity conflict',
  unboundImmediate: 'pod has unbound immediate PersistentVolumeClaims',
  missingVolume: 'node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)',
  notFound: (name: string) => `persistentvolumeclaim "${name}" not found`,
  deleting: (name: string) => `persistentvolumeclaim "${name}" is being deleted`,
};

export interface VolumeLister {
  claim(namespace: string, name: string): PersistentVolumeClaim | undefined;
  volume(name: string): PersistentVolume | undefined;
  storageClass(name: string): StorageClass | undefined;
}

export const claimNamesOf = (pod: Pod): string[] => (pod.spec?.volumes ?? []).flatMap(v => (v.persistentVolumeClaim?.claimName ? [v.persistentVolumeClaim.claimName] : []));

/** True when the volume's required node affinity admits the node (no affinity admits every node). */
export function volumeAllowsNode(v: PersistentVolume, node: Node): boolean {
  const terms = v.spec?.nodeAffinity?.required?.nodeSelectorTerms;
  if (!terms?.length) return true;
  return terms.some(t => termMatches(t, node.metadata?.labels ?? {}, node.metadata?.name ?? ''));
}

/**
 * Pure: why the pod's claims do not fit this node, or nothing. `delayed` collects the unbound
 * WaitForFirstConsumer claims that PreBind must hand to the provisioner.
 */
export function checkClaims(pod: Pod, node: Node, lister: VolumeLister, delayed?: PersistentVolumeClaim[]): string[] | undefined {
  const ns = pod.metadata?.namespace ?? 'default';
  for (const name of claimNamesOf(pod)) {
    const claim = lister.claim(ns, name);
    if (!claim) return [volumeReasons.notFound(name)];
    if (claim.metadata?.deletionTimestamp) return [volumeReasons.deleting(name)];
    const volumeName = claim.spec?.volumeName;
    if (volumeName) {
      const v = lister.volume(volumeName);
      if (!v) return [volumeReasons.missingVolume];
      if (!volumeAllowsNode(v, node)) return [volumeReasons.nodeConflict];
      continue;
    }
    const cls = lister.storageClass(claim.spec?.storageClassName ?? '');
    if (cls?.volumeBindingMode !== 'WaitForFirstConsumer') return [volumeReasons.unboundImmediate];
    delayed?.push(claim);
  }
  return undefined;
}

export interface VolumeBindingOptions {
  /** How long PreBind waits for the claims to be bound (upstream's bind timeout is 600 s). */
  bindTimeoutMs?: number;
  /** Called when claims, volumes or classes change, so unschedulable pods are tried again. */
  onChange?: () => void;
  /** The labels of a node, from the scheduler's cache. */
  nodeLabels?: (node: string) => Record<string, string> | undefined;
}

export class VolumeBinding implements VolumeLister {
  private readonly claims: Informer<PersistentVolumeClaim>;
  private readonly volumes: Informer<PersistentVolume>;
  private readonly classes: Informer<StorageClass>;
  private readonly waiters = new Set<() => void>();
  private stopped = false;
  private readonly nodeLabels: ((node: string) => Record<string, string> | undefined) | undefined;

  constructor(private readonly client: ClusterClient, private readonly opts: VolumeBindingOptions = {}) {
    this.nodeLabels = opts.nodeLabels;
    this.claims = new Informer<PersistentVolumeClaim>(client, resources.persistentvolumeclaims, {});
    this.volumes = new Informer<PersistentVolume>(client, resources.persistentvolumes, {});
    this.classes = new Informer<StorageClass>(client, resources.storageclasses, {});
    const changed = () => { this.opts.onChange?.(); for (const w of [...this.waiters]) w(); };
    for (const inf of [this.claims, this.volumes, this.classes] as Informer<{ metadata?: object }>[]) inf.on({ add: changed, update: changed, delete: changed });
  }

  async start(): Promise<void> { await Promise.all([this.claims.start(), this.volumes.start(), this.classes.start()]); }
  stop(): void {
    this.stopped = true;
    this.claims.stop(); this.volumes.stop(); this.classes.stop();
    for (const w of [...this.waiters]) w();
  }

  claim(namespace: string, name: string) { return this.claims.getBy(namespace, name); }
  volume(name: string) { return this.volumes.getBy(undefined, name); }
  storageClass(name: string) { return this.classes.getBy(undefined, name); }

  readonly plugin: FilterPlugin = {
    name: 'VolumeBinding',
    filter: (pi, ni: NodeInfo) => (pi.pod.spec?.volumes?.some(v => v.persistentVolumeClaim) ? checkClaims(pi.pod, ni.node, this) : undefined),
  };

  /** PreBind: selects the node for the pod's delayed claims and waits until they are bound. */
  async preBind(pod: Pod, node: string): Promise<void> {
    if (!pod.spec?.volumes?.some(v => v.persistentVolumeClaim)) return;
    const ns = pod.metadata?.namespace ?? 'default';
    const delayed: PersistentVolumeClaim[] = [];
    const why = checkClaims(pod, { metadata: { name: node, labels: {} } }, { claim: (n, c) => this.claim(n, c), volume: () => ({}), storageClass: n => this.storageClass(n) }, delayed);
    if (why) throw new Error(`binding volumes of pod "${ns}/${pod.metadata?.name}": ${why.join(', ')}`);
    for (const c of delayed) {
      if (c.metadata?.annotations?.[annSelectedNode] === node) continue;
      await this.client.patch(resources.persistentvolumeclaims, ns, c.metadata?.name ?? '', 'merge', { metadata: { annotations: { [annSelectedNode]: node } } });
    }
    if (!delayed.length) return;
    const names = delayed.map(c => c.metadata?.name ?? '');
    const bound = () => names.every(n => Boolean(this.claim(ns, n)?.spec?.volumeName) && this.claim(ns, n)?.status?.phase === 'Bound');
    const timeout = this.opts.bindTimeoutMs ?? 600_000;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (bound()) { done(); resolve(); } else if (this.stopped) { done(); reject(new Error('the scheduler stopped while binding volumes')); }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`binding volumes: timed out waiting for the condition: claims ${names.join(', ')} of pod "${ns}/${pod.metadata?.name}" not bound`)); }, timeout);
      const done = () => { clearTimeout(timer); this.waiters.delete(check); };
      this.waiters.add(check);
      check();
    });
    // A volume provisioned for an earlier choice of node may have won: then this node is wrong,
    // and the next attempt's Filter pins the pod to the volume's node (upstream's checkBindings).
    const nodeObj = { metadata: { name: node, labels: { 'kubernetes.io/hostname': node, ...(this.nodeLabels?.(node) ?? {}) } } };
    for (const n of names) {
      const v = this.volume(this.claim(ns, n)?.spec?.volumeName ?? '');
      if (v && !volumeAllowsNode(v, nodeObj)) throw new Error(`binding volumes: claim "${ns}/${n}" was bound to volume "${v.metadata?.name}", which is not available on node "${node}"`);
    }
  }
}

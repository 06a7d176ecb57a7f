// Removes the folders of deleted local-path volumes on this node: the other half of the
// local-path provisioner (control/controllers/localpath.ts), which creates a hostPath
// PersistentVolume per claim and deletes the PV when it is Released with reclaimPolicy Delete.
// k3s' provisioner runs a helper pod on the node to `rm -rf` the folder; here the agent that
// created the folder (hostPath DirectoryOrCreate) removes it, with no image and no pod.
//
// Design notes:
// - Level-triggered over remembered state: the agent keeps, in its data dir, the local-path
//   volumes of this node it has seen and their reclaim policy. Whenever the PV list changes (and
//   once at start), a volume remembered but no longer in the API is gone: its folder is removed if
//   its policy was Delete, kept if Retain (as upstream: deleting a Retain PV keeps the data). So
//   a PV deleted while the agent was down is cleaned up when it comes back.
// - Rejected: a sweep of the storage folder for folders without a PV (it would destroy the data of
//   Retain volumes an administrator deleted, and of other nodes' volumes where nodes share a disk,
//   as lab nodes do); a finalizer on the PV removed by the agent (nodes may not write PVs).
// - Only folders the provisioner named are ever removed: an absolute, normalized path whose last
//   element starts with `<pv name>_`, of a PV provisioned by local-path for this node.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PersistentVolume } from 'kubernetes-types/core/v1.js';
import { Informer } from '../api/client/informer.js';
import { resources, type ClusterClient } from '../api/client/types.js';

/** The provisioner's annotations (control/controllers/localpath.ts, persistentvolume.ts). */
const provisioners = ['rancher.io/local-path', 'k8ts.io/local-path'];
const annProvisionedBy = 'pv.kubernetes.io/provisioned-by';
const annNode = 'local.path.provisioner/selected-node';

export interface KnownVolume { path: string; reclaimPolicy: string }
export type KnownVolumes = Record<string, KnownVolume>;

/** Pure: the folder of a local-path PV of `node`, when it is one the provisioner named. */
export function localPathFolder(pv: PersistentVolume, node: string): string | undefined {
  const name = pv.metadata?.name ?? '';
  const ann = pv.metadata?.annotations ?? {};
  if (!name || !provisioners.includes(ann[annProvisionedBy] ?? '') || ann[annNode] !== node) return undefined;
  const path = pv.spec?.hostPath?.path ?? '';
  const parts = path.split('/');
  if (!path.startsWith('/') || parts.slice(1).some(p => p === '' || p === '.' || p === '..')) return undefined;
  const base = parts[parts.length - 1]!;
  if (parts.length < 3 || !base.startsWith(`${name}_`)) return undefined;
  return path;
}

/**
 * Pure: what this node knows after seeing `volumes` (the whole PV list), and which remembered
 * folders to remove because their PV is gone and its policy was Delete.
 */
export function planLocalPathCleanup(known: Readonly<KnownVolumes>, volumes: readonly PersistentVolume[], node: string): { known: KnownVolumes; remove: string[] } {
  const next: KnownVolumes = {};
  const present = new Set<string>();
  for (const pv of volumes) {
    const name = pv.metadata?.name ?? '';
    present.add(name);
    const path = localPathFolder(pv, node);
    if (path) next[name] = { path, reclaimPolicy: pv.spec?.persistentVolumeReclaimPolicy ?? 'Delete' };
  }
  const remove = Object.entries(known).filter(([name, v]) => !present.has(name) && v.reclaimPolicy === 'Delete').map(([, v]) => v.path);
  return { known: next, remove };
}

export interface LocalPathCleanerOptions {
  client: ClusterClient;
  nodeName: string;
  /** Where the remembered volumes are kept (a JSON file in the agent's data dir). */
  stateFile: string;
  log: { info(o: object, msg: string): void; warn(o: object, msg: string): void };
  /** Removes a folder; the real one is `rm -rf`, asynchronous (a volume may hold many files). */
  removeFolder?: (path: string) => Promise<void>;
}

export class LocalPathCleaner {
  private readonly informer: Informer<PersistentVolume>;
  private known: KnownVolumes = {};
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly o: LocalPathCleanerOptions) {
    this.informer = new Informer<PersistentVolume>(o.client, resources.persistentvolumes, { onError: err => o.log.warn({ err }, `local-path cleaner: ${(err as Error).message}`) });
    const kick = () => this.kick();
    this.informer.on({ add: kick, update: kick, delete: kick });
  }

  async start(): Promise<void> {
    try {
      if (existsSync(this.o.stateFile)) this.known = JSON.parse(readFileSync(this.o.stateFile, 'utf8')) as KnownVolumes;
    } catch (err) {
      this.o.log.warn({ err }, `local-path cleaner: ignoring unreadable ${this.o.stateFile}`);
    }
    await this.informer.start();
    this.kick(); // the first sync sees the whole list: one taken while the cache fills would not
    await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.informer.stop();
    await this.running;
  }

  /** Runs one sync now, or one more after the current one (changes arrive in bursts). */
  private kick(): void {
    // Until the first list is complete, an absent PV only means "not listed yet".
    if (this.stopped || !this.informer.hasSynced) return;
    if (this.running) { this.again = true; return; }
    this.running = this.loop();
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        try { await this.sync(); } catch (err) { this.o.log.warn({ err }, `local-path cleaner: ${(err as Error).message}`); }
      } while (this.again && !this.stopped);
    } finally {
      this.running = undefined;
    }
  }

  private async sync(): Promise<void> {
    const plan = planLocalPathCleanup(this.known, this.informer.list(), this.o.nodeName);
    const kept: KnownVolumes = { ...plan.known };
    const removeFolder = this.o.removeFolder ?? (p => rm(p, { recursive: true, force: true }));
    for (const path of plan.remove) {
      try {
        await removeFolder(path);
        this.o.log.info({ path }, `local-path cleaner: removed the folder of a deleted volume: ${path}`);
      } catch (err) {
        // Remembered again, so the next change retries it.
        const name = Object.entries(this.known).find(([, v]) => v.path === path)?.[0];
        if (name) kept[name] = this.known[name]!;
        this.o.log.warn({ err, path }, `local-path cleaner: cannot remove ${path}: ${(err as Error).message}`);
      }
    }
    if (JSON.stringify(kept) === JSON.stringify(this.known)) return;
    this.known = kept;
    mkdirSync(dirname(this.o.stateFile), { recursive: true });
    // By rename: a crash never leaves half a file, which would forget every volume.
    writeFileSync(`${this.o.stateFile}.tmp`, JSON.stringify(kept));
    renameSync(`${this.o.stateFile}.tmp`, this.o.stateFile);
  }
}

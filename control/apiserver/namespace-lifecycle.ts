// Namespace deletion, as upstream's namespace controller does it: a namespace marked for deletion
// (phase Terminating, `kubernetes` in spec.finalizers) has everything inside it deleted; once
// nothing is left, the finalizer is removed and the namespace itself goes. Level-triggered: every
// pass recomputes from the store, and a periodic pass catches anything a watch missed.
import type { Logger } from 'pino';
import { StatusError } from '../../api/errors.js';
import type { KubeObject } from '../../api/object.js';
import type { ApiServer } from './server.js';
import type { WriteOptions } from './rest.js';

const writeOptions = (): WriteOptions => ({ dryRun: false, fieldManager: 'namespace-controller', fieldValidation: 'Ignore', warnings: [] });

export class NamespaceLifecycle {
  private timer: NodeJS.Timeout | undefined;
  private stopWatch: (() => void) | undefined;
  private running = false;
  private again = false;

  constructor(private readonly api: ApiServer, private readonly logger: Logger, private readonly resyncMs = 5_000) {}

  async start(): Promise<void> {
    const namespaces = this.api.rest('', 'v1', 'namespaces');
    const rev = Number((await namespaces.list('', { matches: () => true })).resourceVersion);
    this.stopWatch = namespaces.storage.watch('', rev, { matches: o => Boolean(o.metadata?.deletionTimestamp) }, () => this.kick(), () => undefined, 0);
    this.timer = setInterval(() => this.kick(), this.resyncMs);
    this.kick();
  }

  /** Deletes every object in the namespace not already being deleted; returns how many remain. */
  private async deleteContent(name: string): Promise<number> {
    let remaining = 0;
    for (const rest of this.api.rests.values()) {
      if (!rest.def.namespaced) continue;
      const { items } = await rest.list(name, { matches: () => true });
      for (const item of items) {
        remaining++;
        if (item.metadata?.deletionTimestamp) continue;
        try {
          await rest.delete(name, item.metadata!.name!, { dryRun: false, propagationPolicy: 'Background' });
        } catch (err) {
          if (!(err instanceof StatusError && err.code === 404)) throw err;
        }
      }
    }
    return remaining;
  }

  stop(): void {
    this.stopWatch?.();
    if (this.timer) clearInterval(this.timer);
  }

  private kick(): void {
    if (this.running) { this.again = true; return; }
    this.running = true;
    void this.syncAll().catch(err => this.logger.warn({ err }, 'namespace sync failed')).finally(() => {
      this.running = false;
      if (this.again) { this.again = false; this.kick(); }
    });
  }

  private async syncAll(): Promise<void> {
    const namespaces = this.api.rest('', 'v1', 'namespaces');
    const { items } = await namespaces.list('', { matches: o => Boolean(o.metadata?.deletionTimestamp) });
    for (const ns of items) await this.syncNamespace(ns);
  }

  /** Deletes the namespace's content; finalizes the namespace once it is empty. */
  private async syncNamespace(ns: KubeObject): Promise<void> {
    const name = ns.metadata!.name!;
    await this.deleteContent(name);
    // Most objects go at once; a second count sees only what waits on finalizers or grace.
    if ((await this.deleteContent(name)) > 0) return;
    const namespaces = this.api.rest('', 'v1', 'namespaces');
    const finalizers = (ns.spec as { finalizers?: string[] } | undefined)?.finalizers ?? [];
    try {
      if (finalizers.length > 0) {
        await namespaces.update('', name, '', current => ({ ...current, spec: { ...(current.spec as object), finalizers: [] } }), writeOptions(), 'none');
      }
      const current = await namespaces.storage.tryGet('', name);
      if (current && (current.metadata?.finalizers ?? []).length === 0) {
        await namespaces.storage.remove('', name, current.metadata?.resourceVersion);
        this.logger.info({ namespace: name }, 'namespace deleted');
      }
    } catch (err) {
      if (!(err instanceof StatusError && (err.code === 404 || err.code === 409))) throw err;
    }
  }
}

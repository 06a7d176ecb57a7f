// What every controller gets: the client, shared informers (one list+watch per resource type for
// the whole controller manager, as client-go's SharedInformerFactory), an event recorder, a logger
// and a clock. Controllers register handlers before `start()`, which syncs all informers first.
import type { KubeObject } from '../../api/object.js';
import { ApiEventRecorder, nullRecorder, type EventRecorder } from '../../api/client/events.js';
import { Informer, type IndexFunc } from '../../api/client/informer.js';
import type { ClusterClient, ObjectLike, ResourceType } from '../../api/client/types.js';
import { controllerRef, realClock, silentLogger, type Clock, type Logger } from './runtime.js';

export class InformerFactory {
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private readonly indexers = new Map<string, Record<string, IndexFunc<KubeObject>>>();
  constructor(private readonly client: ClusterClient, private readonly onError?: (err: unknown) => void) {}

  /** The shared informer for a type; every informer gets the `controller` (owner uid) index. */
  for<T extends ObjectLike = KubeObject>(type: ResourceType): Informer<T> {
    const k = `${type.group}/${type.resource}`;
    let inf = this.informers.get(k);
    if (!inf) {
      const indexers: Record<string, IndexFunc<KubeObject>> = {
        controller: o => { const r = controllerRef(o); return r ? [r.uid] : []; },
        namespace: o => [o.metadata?.namespace ?? ''],
        owner: o => (o.metadata?.ownerReferences ?? []).map(r => r.uid),
      };
      this.indexers.set(k, indexers);
      inf = new Informer<KubeObject>(this.client, type, { indexers, pageSize: 1000, ...(this.onError ? { onError: this.onError } : {}) });
      this.informers.set(k, inf);
    }
    return inf as unknown as Informer<T>;
  }

  async start(): Promise<void> { await Promise.all([...this.informers.values()].map(i => i.start())); }
  stop(): void { for (const i of this.informers.values()) i.stop(); }
}

export interface ControllerContext {
  client: ClusterClient;
  informers: InformerFactory;
  recorder: EventRecorder;
  logger: Logger;
  clock: Clock;
  /** Workers per controller. */
  workers?: number;
}

export function newContext(client: ClusterClient, opts: { logger?: Logger; clock?: Clock; events?: boolean; workers?: number } = {}): ControllerContext {
  const logger = opts.logger ?? silentLogger;
  return {
    client,
    informers: new InformerFactory(client, err => logger.warn({ err }, `informer error: ${(err as Error).message}`)),
    recorder: opts.events === false ? nullRecorder : new ApiEventRecorder(client, 'controller-manager'),
    logger,
    clock: opts.clock ?? realClock,
    ...(opts.workers ? { workers: opts.workers } : {}),
  };
}

export const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

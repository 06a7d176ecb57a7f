// Generic storage of one resource over the revisioned Store: key layout, resourceVersion mapping,
// compare-and-swap updates with retries, paging and watch translation. Kind-specific behaviour
// comes from the ResourceDef and from the hooks the server wires in (allocation, namespace
// lifecycle); nothing here knows about a particular kind.
//
// Keys: `/registry/<group or "core">/<resource>/<namespace>/<name>` (cluster-scoped: no namespace
// segment). Values: the object's JSON without `metadata.resourceVersion`, which is the key's
// modRevision and is filled in on every read — so a stored object can never disagree with it.
import { randomUUID } from 'node:crypto';
import { errors, StatusError } from '../../api/errors.js';
import { apiVersionOf, type KubeObject } from '../../api/object.js';
import type { ResourceDef } from '../registry/types.js';
import { StoreError, type KeyValue, type Store, type WatchEvent } from '../store/store.js';

export interface Filter {
  matches(obj: KubeObject): boolean;
}
export const matchEverything: Filter = { matches: () => true };

export interface ListPage {
  items: KubeObject[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
export interface ObjectEvent { type: WatchEventType; object: KubeObject }

export function groupSegment(group: string): string {
  return group === '' ? 'core' : group;
}

interface ContinueToken { v: 'meta.k8s.io/v1'; rv: number; start: string }

function encodeContinue(rv: number, lastKey: string): string {
  const token: ContinueToken = { v: 'meta.k8s.io/v1', rv, start: lastKey };
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeContinue(token: string): ContinueToken {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as ContinueToken;
    if (parsed.v !== 'meta.k8s.io/v1' || typeof parsed.rv !== 'number' || typeof parsed.start !== 'string') throw new Error('bad token');
    return parsed;
  } catch {
    throw errors.badRequest(`invalid continue token: "${token}"`);
  }
}

export class ResourceStorage {
  readonly root: string;

  constructor(readonly def: ResourceDef, readonly store: Store) {
    this.root = `/registry/${groupSegment(def.group)}/${def.resource}/`;
  }

  key(namespace: string, name: string): string {
    return this.def.namespaced ? `${this.root}${namespace}/${name}` : `${this.root}${name}`;
  }

  prefix(namespace: string): string {
    return this.def.namespaced && namespace !== '' ? `${this.root}${namespace}/` : this.root;
  }

  decode(kv: KeyValue, revision = kv.modRevision): KubeObject {
    const stored = JSON.parse(kv.value) as KubeObject;
    const obj = this.def.conversion ? { ...this.def.conversion.fromStored(stored), apiVersion: apiVersionOf(this.def), kind: this.def.kind } : stored;
    obj.metadata = { ...(obj.metadata ?? {}), resourceVersion: String(revision) };
    return obj;
  }

  /** The stored JSON of an object of this version (converted to the stored version if needed). */
  encode(obj: KubeObject): string {
    const { resourceVersion: _drop, ...metadata } = obj.metadata ?? {};
    const plain = { ...obj, metadata };
    const conversion = this.def.conversion;
    if (!conversion) return JSON.stringify(plain);
    return JSON.stringify({ ...conversion.toStored(plain), apiVersion: apiVersionOf({ group: this.def.group, version: conversion.storedVersion }) });
  }

  private notFound(name: string): StatusError {
    return errors.notFound(this.def.resource, this.def.group, name);
  }

  async get(namespace: string, name: string): Promise<KubeObject> {
    const kv = await this.store.get(this.key(namespace, name));
    if (!kv) throw this.notFound(name);
    return this.decode(kv);
  }

  async tryGet(namespace: string, name: string): Promise<KubeObject | undefined> {
    const kv = await this.store.get(this.key(namespace, name));
    return kv ? this.decode(kv) : undefined;
  }

  /**
   * A page of the collection. Filtering happens after reading, so a page may hold fewer than
   * `limit` items while `continue` is still set, exactly as upstream behaves on etcd.
   */
  async list(namespace: string, opts: { filter?: Filter; limit?: number; continueToken?: string }): Promise<ListPage> {
    const filter = opts.filter ?? matchEverything;
    const prefix = this.prefix(namespace);
    let after: string | undefined;
    let revision: number | undefined;
    if (opts.continueToken) {
      const token = decodeContinue(opts.continueToken);
      after = token.start;
      revision = token.rv;
    }
    const limit = opts.limit && opts.limit > 0 ? opts.limit : undefined;
    let result;
    try {
      result = await this.store.list(prefix, { ...(after !== undefined ? { after } : {}), ...(limit ? { limit } : {}), ...(revision !== undefined ? { revision } : {}) });
    } catch (err) {
      if (err instanceof StoreError && err.code === 'Compacted') {
        throw new StatusError(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
      }
      throw err;
    }
    const items = result.items.map(kv => this.decode(kv)).filter(o => filter.matches(o));
    const page: ListPage = { items, resourceVersion: String(result.revision) };
    if (result.more && result.items.length > 0) {
      page.continue = encodeContinue(result.revision, result.items[result.items.length - 1]!.key);
      if (result.remaining !== undefined && filter === matchEverything) page.remainingItemCount = result.remaining;
    }
    return page;
  }

  /** Writes a new object; AlreadyExists as upstream's 409. */
  async create(obj: KubeObject): Promise<KubeObject> {
    const meta = obj.metadata ?? {};
    const key = this.key(meta.namespace ?? '', meta.name ?? '');
    try {
      const kv = await this.store.create(key, this.encode(obj));
      return this.decode(kv);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'AlreadyExists') throw errors.alreadyExists(this.def.resource, this.def.group, meta.name ?? '');
      throw err;
    }
  }

  /**
   * Read-modify-write with compare-and-swap, retried on conflicts. `mutate` gets a private copy
   * of the current object and returns the wanted one (or throws). When `expectedVersion` is
   * given (a client's resourceVersion), a changed object is a 409 instead of a retry.
   * Returns the stored object and whether anything was written.
   */
  async guaranteedUpdate(
    namespace: string,
    name: string,
    mutate: (current: KubeObject) => Promise<KubeObject> | KubeObject,
    opts: { expectedVersion?: string; dryRun?: boolean } = {},
  ): Promise<{ object: KubeObject; old: KubeObject; changed: boolean }> {
    const key = this.key(namespace, name);
    for (let attempt = 0; ; attempt++) {
      const kv = await this.store.get(key);
      if (!kv) throw this.notFound(name);
      const old = this.decode(kv);
      if (opts.expectedVersion && opts.expectedVersion !== String(kv.modRevision)) throw this.conflict(name);
      const wanted = await mutate(this.decode(kv));
      const encoded = this.encode(wanted);
      if (encoded === kv.value) return { object: old, old, changed: false };
      if (opts.dryRun) return { object: { ...wanted, metadata: { ...wanted.metadata, resourceVersion: String(kv.modRevision) } }, old, changed: true };
      try {
        const updated = await this.store.update(key, encoded, kv.modRevision);
        return { object: this.decode(updated), old, changed: true };
      } catch (err) {
        if (err instanceof StoreError && err.code === 'NotFound') throw this.notFound(name);
        if (err instanceof StoreError && err.code === 'Conflict') {
          if (opts.expectedVersion || attempt >= 20) throw this.conflict(name);
          continue;
        }
        throw err;
      }
    }
  }

  conflict(name: string): StatusError {
    return errors.conflict(this.def.resource, this.def.group, name, 'the object has been modified; please apply your changes to the latest version and try again');
  }

  /** Removes the object if it still is at `expectedModRevision` (when given). Returns the last state. */
  async remove(namespace: string, name: string, expectedVersion?: string): Promise<KubeObject> {
    try {
      const kv = await this.store.delete(this.key(namespace, name), expectedVersion ? Number(expectedVersion) : undefined);
      return this.decode(kv);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'NotFound') throw this.notFound(name);
      if (err instanceof StoreError && err.code === 'Conflict') throw this.conflict(name);
      throw err;
    }
  }

  /**
   * Watch events after `afterRevision`, translated to Kubernetes watch events with selector
   * transitions: an object that starts matching is ADDED, one that stops matching is DELETED.
   */
  watch(namespace: string, afterRevision: number, filter: Filter, onEvent: (e: ObjectEvent | { type: 'PROGRESS'; revision: number }) => void, onError: (err: StatusError) => void, progressIntervalMs: number): () => void {
    const handle = (event: WatchEvent) => {
      if (event.type === 'progress') { onEvent({ type: 'PROGRESS', revision: event.revision }); return; }
      const cur = this.decode(event.kv);
      if (event.type === 'delete') {
        if (filter.matches(cur)) onEvent({ type: 'DELETED', object: cur });
        return;
      }
      const created = event.kv.createRevision === event.kv.modRevision;
      // Without the previous value an update is reported as MODIFIED when it matches now.
      const wasMatching = !created && (event.prev ? filter.matches(this.decode(event.prev)) : true);
      if (filter.matches(cur)) onEvent({ type: wasMatching ? 'MODIFIED' : 'ADDED', object: cur });
      else if (wasMatching && event.prev) onEvent({ type: 'DELETED', object: cur });
    };
    try {
      const w = this.store.watch(this.prefix(namespace), {
        afterRevision,
        onEvent: handle,
        onError: err => onError(err.code === 'Compacted' ? tooOld(afterRevision) : errors.internal(err.message)),
        progressIntervalMs,
      });
      return () => w.close();
    } catch (err) {
      if (err instanceof StoreError && err.code === 'Compacted') throw tooOld(afterRevision);
      throw err;
    }
  }
}

export function tooOld(rv: number): StatusError {
  return new StatusError(410, 'Expired', `too old resource version: ${rv}`);
}

export function newUid(): string {
  return randomUUID();
}

// The one storage contract of the control plane: a revisioned key-value store in the image of
// etcd v3. Every write bumps a single global revision; each key remembers the revision that
// created it and the one that last modified it. The apiserver maps resourceVersion to modRevision
// (objects) and to the store revision (lists, watch bookmarks), exactly as upstream does on etcd.
//
// Values are opaque strings (JSON of the object, without resourceVersion, which the reader fills in).

export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
}

export type WatchEvent =
  | { type: 'put'; kv: KeyValue; prev?: KeyValue }
  | { type: 'delete'; kv: KeyValue; prev?: KeyValue } // kv.modRevision = revision of the delete, kv.value = last value
  | { type: 'progress'; revision: number }; // nothing changed under the prefix up to `revision` (bookmarks)

export interface ListOptions {
  /** Only keys strictly greater than this one (paging continuation). */
  after?: string;
  /** At most this many items; `more` tells whether there were others. */
  limit?: number;
  /**
   * Read at this past revision; default: the current one. Below the compacted revision fails with
   * StoreError('Compacted') (the compacted revision itself is still readable); a revision above
   * the current one is a caller bug (plain Error).
   */
  revision?: number;
}

export interface ListResult {
  items: KeyValue[];
  /** The store revision the list reflects. */
  revision: number;
  more: boolean;
  /** How many keys remain after the returned ones (for `remainingItemCount`), when cheap to know. */
  remaining?: number;
}

export interface Watch {
  /** Stops delivery and releases resources; idempotent. */
  close(): void;
}

export interface WatchOptions {
  /**
   * Deliver every event with revision > `afterRevision`. If that history is gone (afterRevision <
   * the compacted revision) the watch fails with StoreError('Compacted'): SQLite throws it from
   * watch(), etcd can only learn it from the server and reports it through onError. Handle both.
   */
  afterRevision: number;
  onEvent: (event: WatchEvent) => void;
  /** Called once if the watch ends for a reason other than close() (backend lost, compaction). */
  onError?: (err: StoreError) => void;
  /** Emit `progress` events at least this often when idle (ms); 0 = never. */
  progressIntervalMs?: number;
}

export type StoreErrorCode = 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Compacted' | 'Unavailable' | 'Closed';

export class StoreError extends Error {
  constructor(readonly code: StoreErrorCode, message: string, readonly current?: KeyValue) {
    super(message);
    this.name = 'StoreError';
  }
}

export interface Store {
  /** The latest revision. */
  currentRevision(): Promise<number>;
  get(key: string): Promise<KeyValue | undefined>;
  /** Keys beginning with `prefix`, in key order. */
  list(prefix: string, options?: ListOptions): Promise<ListResult>;
  /** Count of keys beginning with `prefix`. */
  count(prefix: string): Promise<number>;
  /** Fails with AlreadyExists if the key exists. */
  create(key: string, value: string): Promise<KeyValue>;
  /** Compare-and-swap on modRevision; NotFound if absent, Conflict (with `current`) if changed. */
  update(key: string, value: string, expectedModRevision: number): Promise<KeyValue>;
  /** Deletes; with `expectedModRevision`, only if unchanged (Conflict otherwise). Returns the deleted kv with the delete's revision as modRevision. */
  delete(key: string, expectedModRevision?: number): Promise<KeyValue>;
  /** Events for keys under `prefix`, in revision order, starting after `afterRevision`. */
  watch(prefix: string, options: WatchOptions): Watch;
  /** Forget history at or below `revision`; later watches from there fail with Compacted. */
  compact(revision: number): Promise<void>;
  /** The oldest revision still watchable (compacted revision + 1). */
  oldestRevision(): Promise<number>;
  /** Bytes on disk (SQLite) or DB size (etcd), for /metrics. */
  sizeBytes(): Promise<number>;
  close(): Promise<void>;
}

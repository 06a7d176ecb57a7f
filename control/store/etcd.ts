// The HA store: etcd v3, through the `etcd3` client's raw KV, Watch and Maintenance RPCs.
//
// Design notes
// - Keys are passed through unchanged (the apiserver already builds `/registry/...` keys), so an
//   etcdctl user sees what upstream Kubernetes would store.
// - Every conditional write is one etcd transaction: create compares create_revision == 0, update
//   and conditional delete compare mod_revision (plus version > 0, so that an expected revision of 0
//   cannot create a missing key). The failure branch reads the key, so a Conflict carries the
//   current value without a second round trip.
// - Watches do not use the client's WatchManager: each Store watch owns one gRPC watch stream and
//   remembers the next revision it owes, so after a broken stream (a member killed, a leader change)
//   it reconnects through another endpoint from exactly there: no gap, no duplicate. A cancel that
//   carries compact_revision becomes StoreError('Compacted') on onError.
// - Progress: streams ask for server progress notifications, and when a watch has been idle for
//   progressIntervalMs it sends a progress request; the reply's header revision is the bookmark.
//   Caveat: etcd before 3.4.25/3.5.8 answers a progress request out of band (etcd issue 15220), so
//   on those versions a bookmark may, rarely, overtake an event sent in the same instant. Events are
//   never dropped for that; the bookmark is merely early.
// - Compaction is etcd's; like kube-apiserver we record the compacted revision in the key
//   `compact_rev_key` (value: the revision in decimal), which is how oldestRevision knows it.
//   Compactions done by others (etcd --auto-compaction-*) are not seen there.
// - We retry a write only when it provably never left this process (no connection, every
//   endpoint's breaker open): a create retried after it reached etcd would report AlreadyExists for
//   its own write. (The etcd3 client's own policy also retries "recoverable" gRPC failures up to 3
//   times, so a CAS write that timed out may come back as Conflict/AlreadyExists against itself,
//   as with upstream's client: callers already treat those as "re-read and decide".) Reads are
//   retried a few times, so a leader election is not an error for them. Whatever still fails
//   surfaces as StoreError('Unavailable'). A write in flight when the leader dies waits for its
//   deadline (callTimeoutMs) before the retry reaches the new leader.
// - Each endpoint sits behind a circuit breaker (the client's design); ours half-opens after 1 s
//   instead of 5 s, so that after a rolling restart of members the recovered ones are used again
//   before the next one goes down.
import { circuitBreaker, ConsecutiveBreaker, handleWhen, isBrokenCircuitError } from 'cockatiel';
import {
  ClientClosedError, CompareResult, CompareTarget, Etcd3, isRecoverableError,
  type ICompare, type IDuplexStream, type IKeyValue, type IRequestOp, type IWatchRequest, type IWatchResponse,
} from 'etcd3';
import { prefixEndBytes } from './keys.js';
import { StoreError, type KeyValue, type ListOptions, type ListResult, type Store, type Watch, type WatchOptions } from './store.js';
import { BaseWatch } from './watch.js';

export interface EtcdStoreOptions {
  /** `host:port` or `http://host:port`, one per member. */
  endpoints: string[];
  /** Deadline of each unary call (default 10 s). */
  callTimeoutMs?: number;
  /** Connection timeout (default 5 s). */
  dialTimeoutMs?: number;
}

/** The key where the compacted revision is recorded, as kube-apiserver does. */
export const COMPACT_REV_KEY = 'compact_rev_key';

function toKv(kv: IKeyValue): KeyValue {
  return { key: kv.key.toString(), value: kv.value.toString(), createRevision: Number(kv.create_revision), modRevision: Number(kv.mod_revision) };
}

function translate(err: unknown, what: string): Error {
  if (err instanceof StoreError) return err;
  if (err instanceof ClientClosedError) return new StoreError('Closed', 'The store is closed');
  const message = err instanceof Error ? err.message : String(err);
  if (message.includes('required revision has been compacted')) return new StoreError('Compacted', `${what}: the revision has been compacted`);
  if (message.includes('required revision is a future revision')) return new Error(`${what}: the revision is in the future`);
  return new StoreError('Unavailable', `etcd ${what} failed: ${message}`);
}

const READ_ATTEMPTS = 4;
const WRITE_ATTEMPTS = 4;

/** True for failures before a request reached any member: every endpoint's breaker open, or no connection. */
function neverSent(err: unknown): boolean {
  if (isBrokenCircuitError(err)) return true;
  const message = err instanceof Error ? err.message : '';
  return message.includes('circuit breaker is open') || message.includes('No connection established');
}

export class EtcdStore implements Store {
  private readonly client: Etcd3;
  private closed = false;
  private readonly watches = new Set<EtcdWatch>();

  constructor(readonly options: EtcdStoreOptions) {
    if (options.endpoints.length === 0) throw new Error('EtcdStore needs at least one endpoint');
    const callTimeout = options.callTimeoutMs ?? 10_000;
    this.client = new Etcd3({
      hosts: options.endpoints.map(e => (e.includes('://') ? e : `http://${e}`)),
      dialTimeout: options.dialTimeoutMs ?? 5_000,
      // A list of many objects is one range response: lift gRPC's 4 MiB receive default, as
      // kube-apiserver does for its etcd client.
      grpcOptions: { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 1_000, 'grpc.max_receive_message_length': -1 },
      faultHandling: {
        host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1_000, breaker: new ConsecutiveBreaker(3) }),
      },
      // A deadline on a stream would end long-lived watches; only unary calls get one.
      defaultCallOptions: ctx => (ctx.isStream ? {} : { deadline: Date.now() + callTimeout }),
    });
  }

  private check(): void {
    if (this.closed) throw new StoreError('Closed', 'The store is closed');
  }

  /** Runs an idempotent read, retrying while etcd is Unavailable (a member down, an election). */
  private async read<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      this.check();
      try {
        return await fn();
      } catch (err) {
        const e = translate(err, what);
        if (!(e instanceof StoreError && e.code === 'Unavailable') || attempt >= READ_ATTEMPTS) throw e;
        await new Promise(r => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  }

  async currentRevision(): Promise<number> {
    const res = await this.read('reading the revision', () => this.client.kv.range({ key: Buffer.from([0]), count_only: true }));
    return Number(res.header.revision);
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const res = await this.read(`get "${key}"`, () => this.client.kv.range({ key: Buffer.from(key) }));
    const kv = res.kvs[0];
    return kv ? toKv(kv) : undefined;
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    const start = options.after !== undefined && options.after >= prefix ? `${options.after}\0` : prefix;
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : 0;
    const what = `list "${prefix}"${options.revision !== undefined ? ` at revision ${options.revision}` : ''}`;
    const res = await this.read(what, () => this.client.kv.range({
      key: Buffer.from(start),
      range_end: prefixEndBytes(Buffer.from(prefix)),
      limit,
      revision: options.revision ?? 0,
    }));
    const items = res.kvs.map(toKv);
    const result: ListResult = { items, revision: options.revision ?? Number(res.header.revision), more: res.more };
    // count is the size of the whole range from `start`, regardless of the limit.
    if (res.more) result.remaining = Number(res.count) - items.length;
    return result;
  }

  async count(prefix: string): Promise<number> {
    const res = await this.read(`count "${prefix}"`, () => this.client.kv.range({ key: Buffer.from(prefix), range_end: prefixEndBytes(Buffer.from(prefix)), count_only: true }));
    return Number(res.count);
  }

  private async txn(what: string, compare: ICompare[], success: IRequestOp[], failure: IRequestOp[]) {
    for (let attempt = 1; ; attempt++) {
      this.check();
      try {
        return await this.client.kv.txn({ compare, success, failure });
      } catch (err) {
        // Only a request that provably never left this process is safe to send again.
        if (!neverSent(err) || attempt >= WRITE_ATTEMPTS) throw translate(err, what);
        await new Promise(r => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  }

  async create(key: string, value: string): Promise<KeyValue> {
    const k = Buffer.from(key);
    const res = await this.txn(`create "${key}"`,
      [{ key: k, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 }],
      [{ request_put: { key: k, value: Buffer.from(value) } }],
      [{ request_range: { key: k } }]);
    if (!res.succeeded) {
      const cur = res.responses[0]?.response_range.kvs[0];
      throw new StoreError('AlreadyExists', `Key "${key}" already exists`, cur ? toKv(cur) : undefined);
    }
    const rev = Number(res.header.revision);
    return { key, value, createRevision: rev, modRevision: rev };
  }

  /** Compares: the key exists and (optionally) was last modified at `expected`. */
  private static unchanged(k: Buffer, expected: number | undefined): ICompare[] {
    const exists: ICompare = { key: k, target: CompareTarget.Version, result: CompareResult.Greater, version: 0 };
    return expected === undefined ? [exists] : [exists, { key: k, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: expected }];
  }

  private static failure(key: string, expected: number | undefined, cur: IKeyValue | undefined): StoreError {
    if (!cur) return new StoreError('NotFound', `Key "${key}" not found`);
    return new StoreError('Conflict', `Key "${key}" was modified at revision ${cur.mod_revision}, expected ${expected}`, toKv(cur));
  }

  async update(key: string, value: string, expectedModRevision: number): Promise<KeyValue> {
    const k = Buffer.from(key);
    const res = await this.txn(`update "${key}"`,
      EtcdStore.unchanged(k, expectedModRevision),
      [{ request_put: { key: k, value: Buffer.from(value), prev_kv: true } }],
      [{ request_range: { key: k } }]);
    if (!res.succeeded) throw EtcdStore.failure(key, expectedModRevision, res.responses[0]?.response_range.kvs[0]);
    const prev = res.responses[0]?.response_put.prev_kv;
    const rev = Number(res.header.revision);
    return { key, value, createRevision: prev ? Number(prev.create_revision) : rev, modRevision: rev };
  }

  async delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    const k = Buffer.from(key);
    const res = await this.txn(`delete "${key}"`,
      EtcdStore.unchanged(k, expectedModRevision),
      [{ request_delete_range: { key: k, prev_kv: true } }],
      [{ request_range: { key: k } }]);
    if (!res.succeeded) throw EtcdStore.failure(key, expectedModRevision, res.responses[0]?.response_range.kvs[0]);
    const prev = res.responses[0]?.response_delete_range.prev_kvs[0];
    if (!prev) throw new StoreError('NotFound', `Key "${key}" not found`);
    return { ...toKv(prev), modRevision: Number(res.header.revision) };
  }

  watch(prefix: string, options: WatchOptions): Watch {
    this.check();
    const w = new EtcdWatch(this.client, prefix, options, () => this.watches.delete(w));
    this.watches.add(w);
    return w;
  }

  async compact(revision: number): Promise<void> {
    this.check();
    try {
      await this.client.kv.compact({ revision, physical: false });
    } catch (err) {
      const e = translate(err, `compact to revision ${revision}`);
      if (!(e instanceof StoreError && e.code === 'Compacted')) throw e; // already compacted further
    }
    // Record it unless someone recorded a later one; a lost race just retries.
    const k = Buffer.from(COMPACT_REV_KEY);
    for (;;) {
      const cur = await this.get(COMPACT_REV_KEY);
      if (cur && Number(cur.value) >= revision) return;
      const res = await this.txn('record the compacted revision',
        [cur ? { key: k, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: cur.modRevision } : { key: k, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 }],
        [{ request_put: { key: k, value: Buffer.from(String(revision)) } }], []);
      if (res.succeeded) return;
    }
  }

  async oldestRevision(): Promise<number> {
    const kv = await this.get(COMPACT_REV_KEY);
    return (kv ? Number(kv.value) : 0) + 1;
  }

  async sizeBytes(): Promise<number> {
    const status = await this.read('status', () => this.client.maintenance.status({}));
    return Number(status.dbSize);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.watches]) w.fail(new StoreError('Closed', 'The store was closed'));
    this.client.close();
  }
}

type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 2_000;

class EtcdWatch extends BaseWatch {
  /** The next revision this watch owes its consumer. */
  private next: number;
  private stream: WatchStream | undefined;
  private created = false;
  private backoff = RECONNECT_MIN_MS;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private received = 0;

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    options: WatchOptions,
    private readonly onClosed: () => void,
  ) {
    super(options);
    this.next = options.afterRevision + 1;
    void this.connect();
    this.startProgressTimer({
      activity: () => this.received,
      ready: () => this.created && this.stream !== undefined,
      onIdle: () => { void this.stream?.write({ progress_request: {} }); },
    });
  }

  private async connect(): Promise<void> {
    this.reconnectTimer = undefined;
    if (this.closed) return;
    let stream: WatchStream;
    try {
      stream = await this.client.watchClient.watch();
    } catch (err) {
      if (err instanceof ClientClosedError) return this.fail(new StoreError('Closed', 'The store is closed'));
      return this.retry();
    }
    if (this.closed) {
      stream.cancel();
      return;
    }
    this.stream = stream;
    this.created = false;
    stream.on('data', res => this.onResponse(stream, res));
    stream.on('error', () => this.onBroken(stream));
    stream.on('end', () => this.onBroken(stream));
    stream.write({
      create_request: {
        key: Buffer.from(this.prefix),
        range_end: prefixEndBytes(Buffer.from(this.prefix)),
        start_revision: this.next,
        prev_kv: true,
        progress_notify: true,
      },
    });
  }

  private retry(): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => void this.connect(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, RECONNECT_MAX_MS);
  }

  private onBroken(stream: WatchStream): void {
    if (stream !== this.stream) return;
    this.stream = undefined;
    this.created = false;
    stream.cancel();
    this.retry();
  }

  private onResponse(stream: WatchStream, res: IWatchResponse): void {
    if (stream !== this.stream || this.closed) return;
    this.received++;
    if (res.canceled) {
      const compacted = Number(res.compact_revision);
      if (compacted > 0) {
        this.fail(new StoreError('Compacted', `Cannot watch "${this.prefix}" from revision ${this.next}: compacted up to ${compacted}`));
      } else {
        this.onBroken(stream); // e.g. a member that lost its leader: try again, maybe elsewhere
      }
      return;
    }
    if (res.created) {
      this.created = true;
      this.backoff = RECONNECT_MIN_MS;
      return;
    }
    if (res.events.length === 0) {
      const revision = Number(res.header.revision);
      if (revision >= this.next - 1) {
        this.next = revision + 1;
        this.emit({ type: 'progress', revision });
      }
      return;
    }
    for (const ev of res.events) {
      const rev = Number(ev.kv.mod_revision);
      if (rev < this.next) continue; // already delivered before a reconnect
      this.next = rev + 1;
      const kv = toKv(ev.kv);
      const prev = ev.prev_kv ? toKv(ev.prev_kv) : undefined;
      if (ev.type === 'Delete') {
        // etcd's delete event has an empty value; the contract wants the last one.
        this.emit(prev ? { type: 'delete', kv: { ...kv, value: prev.value, createRevision: prev.createRevision }, prev } : { type: 'delete', kv });
      } else {
        this.emit(prev ? { type: 'put', kv, prev } : { type: 'put', kv });
      }
      if (this.closed) return;
    }
  }

  protected release(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const stream = this.stream;
    this.stream = undefined;
    stream?.cancel();
    this.onClosed();
  }
}

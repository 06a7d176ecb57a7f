// The embedded store: the revision log of etcd on one SQLite file, in the manner of kine.
//
// Design notes
// - One table, `kv`, is the log: every write appends a row whose id (INTEGER PRIMARY KEY
//   AUTOINCREMENT) is the revision. A key's current value is its row with the highest id; a delete
//   appends a tombstone (deleted = 1) that keeps the last value. Each row carries what a watch event
//   needs (create_revision, prev_revision, old_value), so replaying history is a scan by id and never
//   a join. An index on (name, id) serves get, list at any revision and compaction.
// - One process owns the file (locking_mode = EXCLUSIVE: a second `k8ts server` on the same data dir
//   fails to open instead of racing on revisions). The revision counter therefore lives in memory
//   and each write inserts its row with an explicit id; AUTOINCREMENT keeps ids from ever being
//   reused after compaction removes the highest row, and sqlite_sequence restores the counter.
// - better-sqlite3 is synchronous, which we use: check-and-write runs in one transaction, and a
//   write, its revision and the delivery of its events to in-process watchers happen without any
//   other write in between. Watches are in-process only; a watch from an older revision pages
//   through the log, then turns live in the same tick it reads the last row, so nothing is missed
//   or repeated.
// - Durability. WAL mode with synchronous = NORMAL: a commit is appended to the WAL with write(2)
//   before the call returns, so once a write is acknowledged it is in the kernel's page cache and a
//   process crash (kill -9, OOM) cannot lose it; the WAL's checksummed frames mean a torn tail is
//   discarded on open and the database is never corrupt. What NORMAL gives up is the fsync per
//   commit: a kernel crash or power cut may lose the last commits (never corrupt). Pass
//   `synchronous: 'full'` to fsync every commit when that matters more than write rate.
// - Compaction (as etcd): rows superseded at or below the compaction revision, and tombstones, are
//   deleted; the revision is recorded in `meta`. Reads and watches below it fail with Compacted.
//
// Rejected: a separate "current values" table (two writes per change, and list-at-revision still
// needs the log); async sqlite drivers (a write would no longer be atomic with event delivery).
import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { prefixEnd } from './keys.js';
import { StoreError, type KeyValue, type ListOptions, type ListResult, type Store, type Watch, type WatchEvent, type WatchOptions } from './store.js';
import { BaseWatch } from './watch.js';

export interface SqliteStoreOptions {
  /** The database file; its directory is created if missing. ':memory:' for a throwaway store. */
  path: string;
  /** 'normal' (default) survives process crashes; 'full' also survives power loss, at a lower write rate. */
  synchronous?: 'normal' | 'full';
  /** How long to wait for another process to release the file before failing (default 2000 ms). */
  lockTimeoutMs?: number;
}

interface Row {
  id: number;
  name: string;
  created: number;
  deleted: number;
  create_revision: number;
  prev_revision: number;
  value: string;
  old_value: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  created INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,
  value TEXT NOT NULL,
  old_value TEXT
);
CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
`;

/** Rows read per step when a watch replays history. */
const REPLAY_PAGE = 1000;

function toKv(row: Row): KeyValue {
  return { key: row.name, value: row.value, createRevision: row.create_revision, modRevision: row.id };
}

function toEvent(row: Row): WatchEvent {
  const kv = toKv(row);
  const prev: KeyValue | undefined = row.created || row.old_value === null
    ? undefined
    : { key: row.name, value: row.old_value, createRevision: row.create_revision, modRevision: row.prev_revision };
  const type = row.deleted ? 'delete' : 'put';
  return prev ? { type, kv, prev } : { type, kv };
}

/** SQL and parameters selecting names in [prefix, end) and, optionally, after a key. */
function rangeClause(prefix: string, after: string | undefined): { sql: string; params: string[] } {
  const params: string[] = [prefix];
  let sql = 'name >= ?';
  const end = prefixEnd(prefix);
  if (end !== undefined) { sql += ' AND name < ?'; params.push(end); }
  if (after !== undefined) { sql += ' AND name > ?'; params.push(after); }
  return { sql, params };
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly path: string;
  private readonly statements = new Map<string, Statement>();
  private rev: number;
  private compactRev: number;
  private closed = false;
  private readonly watches = new Set<SqliteWatch>();
  private readonly pending: Row[] = [];
  private dispatching = false;

  constructor(options: SqliteStoreOptions) {
    this.path = options.path;
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true });
    this.db = new Database(this.path, { timeout: options.lockTimeoutMs ?? 2000 });
    try {
      this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      // In WAL mode with EXCLUSIVE locking there is no shared-memory index, so the first access
      // takes an exclusive lock and keeps it: a second server on the same file fails right here.
      this.db.exec(SCHEMA);
    } catch (err) {
      this.db.close();
      const reason = err instanceof Error ? err.message : String(err);
      throw new StoreError('Unavailable', `Cannot open the SQLite store "${this.path}" (is another k8ts server using this data dir?): ${reason}`);
    }
    const seq = this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'kv'").get() as { seq: number } | undefined;
    this.rev = seq?.seq ?? 0;
    const compacted = this.db.prepare("SELECT value FROM meta WHERE name = 'compact_revision'").get() as { value: number } | undefined;
    this.compactRev = compacted?.value ?? 0;
  }

  private stmt(sql: string): Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private check(): void {
    if (this.closed) throw new StoreError('Closed', 'The store is closed');
  }

  private latest(key: string): Row | undefined {
    return this.stmt('SELECT * FROM kv WHERE name = ? ORDER BY id DESC LIMIT 1').get(key) as Row | undefined;
  }

  /** Appends one row with the next revision, inside the caller's transaction. */
  private append(row: Omit<Row, 'id'>): Row {
    const id = this.rev + 1;
    this.stmt('INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, value, old_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(id, row.name, row.created, row.deleted, row.create_revision || id, row.prev_revision, row.value, row.old_value);
    return { id, ...row, create_revision: row.create_revision || id };
  }

  /** Runs a write transaction; on commit, advances the revision and delivers the event. */
  private write(fn: () => Row): Row {
    this.check();
    const row = this.db.transaction(fn).immediate();
    this.rev = row.id;
    this.publish(row);
    return row;
  }

  async currentRevision(): Promise<number> {
    this.check();
    return this.rev;
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.check();
    const row = this.latest(key);
    return row && !row.deleted ? toKv(row) : undefined;
  }

  private checkRevision(revision: number): void {
    // The state at the compaction revision itself is still whole: only older rows were removed.
    if (revision < this.compactRev) {
      throw new StoreError('Compacted', `Revision ${revision} has been compacted (the oldest readable is ${this.compactRev})`);
    }
    if (revision > this.rev) throw new Error(`Revision ${revision} is in the future (current is ${this.rev})`);
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    this.check();
    const revision = options.revision ?? this.rev;
    if (options.revision !== undefined) this.checkRevision(revision);
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : undefined;
    const range = rangeClause(prefix, options.after);
    // Walks the (name, id) index in key order and keeps each name's newest row at the revision;
    // with a LIMIT it stops after the page instead of grouping the whole range.
    const rows = this.stmt(
      `SELECT * FROM kv AS a WHERE ${range.sql} AND id <= ? AND deleted = 0
         AND id = (SELECT MAX(b.id) FROM kv AS b WHERE b.name = a.name AND b.id <= ?)
       ORDER BY name LIMIT ?`,
    ).all(...range.params, revision, revision, limit === undefined ? -1 : limit + 1) as Row[];
    const more = limit !== undefined && rows.length > limit;
    if (more) rows.length = limit;
    const result: ListResult = { items: rows.map(toKv), revision, more };
    if (more) result.remaining = this.countAt(prefix, rows[rows.length - 1]!.name, revision);
    return result;
  }

  private countAt(prefix: string, after: string | undefined, revision: number): number {
    // Counting, grouping the range beats probing each row's newest revision (the list's plan).
    const range = rangeClause(prefix, after);
    const row = this.stmt(
      `SELECT COUNT(*) AS n FROM (SELECT MAX(id) AS mid FROM kv WHERE ${range.sql} AND id <= ? GROUP BY name) m
       JOIN kv ON kv.id = m.mid WHERE kv.deleted = 0`,
    ).get(...range.params, revision) as { n: number };
    return row.n;
  }

  async count(prefix: string): Promise<number> {
    this.check();
    return this.countAt(prefix, undefined, this.rev);
  }

  async create(key: string, value: string): Promise<KeyValue> {
    const row = this.write(() => {
      const cur = this.latest(key);
      if (cur && !cur.deleted) throw new StoreError('AlreadyExists', `Key "${key}" already exists`, toKv(cur));
      return this.append({ name: key, created: 1, deleted: 0, create_revision: 0, prev_revision: cur?.id ?? 0, value, old_value: null });
    });
    return toKv(row);
  }

  async update(key: string, value: string, expectedModRevision: number): Promise<KeyValue> {
    const row = this.write(() => {
      const cur = this.latest(key);
      if (!cur || cur.deleted) throw new StoreError('NotFound', `Key "${key}" not found`);
      if (cur.id !== expectedModRevision) {
        throw new StoreError('Conflict', `Key "${key}" was modified at revision ${cur.id}, expected ${expectedModRevision}`, toKv(cur));
      }
      return this.append({ name: key, created: 0, deleted: 0, create_revision: cur.create_revision, prev_revision: cur.id, value, old_value: cur.value });
    });
    return toKv(row);
  }

  async delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    const row = this.write(() => {
      const cur = this.latest(key);
      if (!cur || cur.deleted) throw new StoreError('NotFound', `Key "${key}" not found`);
      if (expectedModRevision !== undefined && cur.id !== expectedModRevision) {
        throw new StoreError('Conflict', `Key "${key}" was modified at revision ${cur.id}, expected ${expectedModRevision}`, toKv(cur));
      }
      return this.append({ name: key, created: 0, deleted: 1, create_revision: cur.create_revision, prev_revision: cur.id, value: cur.value, old_value: cur.value });
    });
    return toKv(row);
  }

  watch(prefix: string, options: WatchOptions): Watch {
    this.check();
    if (options.afterRevision < this.compactRev) {
      throw new StoreError('Compacted', `Cannot watch from revision ${options.afterRevision + 1}: compacted up to ${this.compactRev}`);
    }
    const w = new SqliteWatch(this, prefix, options);
    this.watches.add(w);
    if (options.afterRevision >= this.rev) w.goLive();
    else setImmediate(() => this.catchUp(w));
    return w;
  }

  /** One step of a watch's replay from the log; turns it live once it reaches the head. */
  private catchUp(w: SqliteWatch): void {
    while (!w.closed && !this.closed) {
      if (w.last < this.compactRev) {
        w.fail(new StoreError('Compacted', `Watch fell behind compaction at revision ${this.compactRev}`));
        return;
      }
      const to = this.rev;
      const range = rangeClause(w.prefix, undefined);
      const rows = this.stmt(`SELECT * FROM kv WHERE id > ? AND id <= ? AND ${range.sql} ORDER BY id LIMIT ${REPLAY_PAGE}`)
        .all(w.last, to, ...range.params) as Row[];
      for (const row of rows) {
        if (w.closed) return;
        w.send(row);
      }
      if (rows.length === REPLAY_PAGE) {
        setImmediate(() => this.catchUp(w)); // let writers and other watches in between pages
        return;
      }
      w.last = Math.max(w.last, to);
      if (to === this.rev) {
        w.goLive();
        return;
      }
      // A handler wrote while we replayed: read those rows too before turning live.
    }
  }

  /** Delivers a committed row to every live watch, in revision order even when handlers write. */
  private publish(row: Row): void {
    this.pending.push(row);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let i = 0; i < this.pending.length; i++) {
        const r = this.pending[i]!;
        for (const w of this.watches) w.offer(r);
      }
    } finally {
      this.pending.length = 0;
      this.dispatching = false;
    }
  }

  /** @internal */
  removeWatch(w: SqliteWatch): void {
    this.watches.delete(w);
  }

  /** @internal the revision every live watch has seen everything up to. */
  headRevision(): number {
    return this.rev;
  }

  async compact(revision: number): Promise<void> {
    this.check();
    if (revision > this.rev) throw new Error(`Cannot compact to revision ${revision}: it is in the future (current is ${this.rev})`);
    if (revision <= this.compactRev) return;
    const from = this.compactRev;
    this.db.transaction(() => {
      // Candidates are keys written since the last compaction: only their older rows can have
      // become superseded. Tombstones at or below the revision go too.
      this.stmt(
        `DELETE FROM kv WHERE id <= ? AND name IN (SELECT name FROM kv WHERE id > ? AND id <= ?)
           AND (deleted = 1 OR id < (SELECT MAX(k2.id) FROM kv AS k2 WHERE k2.name = kv.name AND k2.id <= ?))`,
      ).run(revision, from, revision, revision);
      this.stmt("INSERT INTO meta (name, value) VALUES ('compact_revision', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value").run(revision);
    }).immediate();
    this.compactRev = revision;
  }

  async oldestRevision(): Promise<number> {
    this.check();
    return this.compactRev + 1;
  }

  async sizeBytes(): Promise<number> {
    this.check();
    if (this.path === ':memory:') {
      const pages = this.db.pragma('page_count', { simple: true }) as number;
      const size = this.db.pragma('page_size', { simple: true }) as number;
      return pages * size;
    }
    let total = 0;
    for (const file of [this.path, `${this.path}-wal`]) {
      try { total += statSync(file).size; } catch { /* no WAL yet */ }
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.watches]) w.fail(new StoreError('Closed', 'The store was closed'));
    this.db.close();
  }
}

class SqliteWatch extends BaseWatch {
  /** Every event with revision <= last has been delivered (or did not match). */
  last: number;
  private live = false;
  private sent = 0;

  constructor(private readonly store: SqliteStore, readonly prefix: string, options: WatchOptions) {
    super(options);
    this.last = options.afterRevision;
    this.startProgressTimer({
      activity: () => this.sent,
      ready: () => this.live,
      onIdle: () => this.emit({ type: 'progress', revision: Math.max(this.last, this.store.headRevision()) }),
    });
  }

  goLive(): void {
    this.last = Math.max(this.last, this.store.headRevision());
    this.live = true;
  }

  offer(row: Row): void {
    if (!this.live || this.closed || row.id <= this.last) return;
    this.last = row.id;
    if (row.name.startsWith(this.prefix)) this.send(row);
  }

  send(row: Row): void {
    this.last = Math.max(this.last, row.id);
    this.sent++;
    this.emit(toEvent(row));
  }

  protected release(): void {
    this.store.removeWatch(this);
  }
}

// Field ownership (`metadata.managedFields`) as upstream's field manager keeps it, over plain JSON
// and our OpenAPI schemas instead of Go types. Three views of an object drive everything:
//   - fieldSetOf(config): the fields an applier states (structured-merge-diff's ToFieldSet);
//   - compareObjects(old, new): what an ordinary write added, modified and removed;
//   - allPaths(obj): every node, for pruning.
// List identity comes from the schema (`x-kubernetes-list-type` map/set, or, for lists only
// described by a patch strategy, `merge` + merge key); a list the schema says nothing about is
// atomic, and a map of unknown shape is granular, as upstream deduces for schemaless values.
//
// One approximation: upstream records a map or list field itself (the `.` entry) when an Update
// adds it only if Go would omit it when unset (pointers, omitempty). The schemas cannot show Go
// pointers, so required fields and a short list of well-known non-pointer structs (`spec`,
// `template`, `strategy`, …) count as always present; every other map, list and list item that
// appears is recorded. Leaves, which is what conflicts are about, are exact.
import type { OpenAPISchema, SchemaSet } from '../schema/types.js';
import { deepCopy, type KubeObject } from '../object.js';
import { isJsonObject, jsonEqual, type Json, type JsonObject } from './json.js';
import { FieldSet, fieldElement, formatPath, indexElement, keyElement, valueElement, type FieldPathList, type PathElement } from './field-set.js';
import { fieldCursor, isAtomicMap, itemCursor, listType, rootCursor, type SchemaCursor } from './schema-walk.js';

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: 'Apply' | 'Update' | string;
  apiVersion?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: Record<string, unknown>;
  subresource?: string;
}

/** One manager's ownership: who, how, and the fields. */
export interface ManagerFields {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  subresource: string;
  time: string | undefined;
  fields: FieldSet;
}

/** Managers keyed as upstream identifies them: appliers by name (and subresource), updaters also by apiVersion. */
export type Managers = Map<string, ManagerFields>;

export function managerKey(m: Pick<ManagerFields, 'manager' | 'operation' | 'apiVersion' | 'subresource'>): string {
  return JSON.stringify([m.manager, m.operation, m.operation === 'Apply' ? '' : m.apiVersion, m.subresource]);
}

/** How upstream names a manager in conflict messages: `"kubectl-edit" using apps/v1`. */
export function describeManager(m: Pick<ManagerFields, 'manager' | 'operation' | 'apiVersion' | 'subresource'>): string {
  let s = JSON.stringify(m.manager);
  if (m.subresource) s += ` with subresource ${JSON.stringify(m.subresource)}`;
  if (m.operation === 'Update') s += ` using ${m.apiVersion}`;
  return s;
}

/**
 * Fields never tracked, as upstream's strip-meta step removes them (exact paths, not subtrees),
 * plus the two deletion fields, which upstream sets outside the field manager altogether.
 */
const strippedPaths: FieldPathList[] = [
  ['f:apiVersion'], ['f:kind'], ['f:metadata'], ['f:metadata', 'f:name'], ['f:metadata', 'f:namespace'],
  ['f:metadata', 'f:creationTimestamp'], ['f:metadata', 'f:selfLink'], ['f:metadata', 'f:uid'],
  ['f:metadata', 'f:clusterName'], ['f:metadata', 'f:generation'], ['f:metadata', 'f:managedFields'],
  ['f:metadata', 'f:resourceVersion'], ['f:metadata', 'f:deletionTimestamp'], ['f:metadata', 'f:deletionGracePeriodSeconds'],
];

/** Drops the untracked metadata fields and any ignored (reset) subtrees from a set. */
export function stripUntracked(set: FieldSet, ignored: readonly FieldPathList[] = []): FieldSet {
  return set.difference(FieldSet.of(strippedPaths)).withoutPrefixes(ignored);
}

/**
 * Decodes entries as upstream validates them: every entry needs operation Apply or Update, an
 * apiVersion and fieldsType FieldsV1; undefined when any entry fails.
 */
export function decodeManagedFieldsStrict(entries: unknown): Managers | undefined {
  if (!Array.isArray(entries)) return entries === undefined || entries === null ? new Map() : undefined;
  for (const raw of entries as unknown[]) {
    if (!isJsonObject(raw)) return undefined;
    const e = raw as ManagedFieldsEntry;
    if (e.operation !== 'Apply' && e.operation !== 'Update') return undefined;
    if (!e.apiVersion) return undefined;
    if (e.fieldsType !== 'FieldsV1') return undefined;
  }
  return decodeManagedFields(entries);
}

/** A request that asks to reset ownership: an empty list, or one entry with nothing set. */
function isResetManagedFields(sent: unknown): boolean {
  if (!Array.isArray(sent)) return false;
  if (sent.length === 0) return true;
  const [only] = sent as unknown[];
  return sent.length === 1 && isJsonObject(only) && Object.values(only).every(v => v === null || v === '' || (isJsonObject(v) && Object.keys(v).length === 0));
}

/** Lenient decoding: entries without a manager are skipped. */
export function decodeManagedFields(entries: unknown): Managers {
  const out: Managers = new Map();
  if (!Array.isArray(entries)) return out;
  for (const raw of entries as unknown[]) {
    if (!isJsonObject(raw)) continue;
    const e = raw as ManagedFieldsEntry;
    if (!e.manager) continue;
    const m: ManagerFields = {
      manager: e.manager,
      operation: e.operation === 'Apply' ? 'Apply' : 'Update',
      apiVersion: e.apiVersion ?? '',
      subresource: e.subresource ?? '',
      time: e.time,
      fields: FieldSet.fromFieldsV1(e.fieldsV1),
    };
    const key = managerKey(m);
    const prev = out.get(key);
    if (prev) prev.fields = prev.fields.union(m.fields);
    else out.set(key, m);
  }
  return out;
}

/** Entries in upstream's order: Apply before Update, then by time, manager, apiVersion, subresource. */
export function encodeManagedFields(managers: Managers): ManagedFieldsEntry[] {
  const list = [...managers.values()].filter(m => !m.fields.isEmpty());
  list.sort((p, q) => {
    if (p.operation !== q.operation) return p.operation < q.operation ? -1 : 1;
    const pt = p.time ? Math.floor(Date.parse(p.time) / 1000) : 0;
    const qt = q.time ? Math.floor(Date.parse(q.time) / 1000) : 0;
    if (pt !== qt) return pt - qt;
    if (p.manager !== q.manager) return p.manager < q.manager ? -1 : 1;
    if (p.apiVersion !== q.apiVersion) return p.apiVersion < q.apiVersion ? -1 : 1;
    return p.subresource < q.subresource ? -1 : p.subresource > q.subresource ? 1 : 0;
  });
  return list.map(m => {
    const e: ManagedFieldsEntry = { manager: m.manager, operation: m.operation, apiVersion: m.apiVersion };
    if (m.time) e.time = m.time;
    e.fieldsType = 'FieldsV1';
    e.fieldsV1 = m.fields.toFieldsV1();
    if (m.subresource) e.subresource = m.subresource;
    return e;
  });
}

/** RFC 3339 with whole seconds, as metav1.Time serializes. */
export function formatTime(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// ---- walking objects with their schema ----------------------------------------------------------

function declaresField(at: SchemaCursor, key: string): boolean {
  const s = at.schema && at.set ? at.set.resolve(at.schema) : at.schema;
  return !!s?.properties && Object.prototype.hasOwnProperty.call(s.properties, key);
}

function requiredFields(at: SchemaCursor): Set<string> {
  const s = at.schema && at.set ? at.set.resolve(at.schema) : at.schema;
  return new Set(s?.required ?? []);
}

function isStructSchema(at: SchemaCursor): boolean {
  const s = at.schema && at.set ? at.set.resolve(at.schema) : at.schema;
  return !!s?.properties;
}

/** How a list at `at` identifies its items; lists the schema does not describe are atomic. */
function listKind(at: SchemaCursor): { type: 'atomic' | 'set' | 'map'; keys: string[] } {
  if (!at.schema) return { type: 'atomic', keys: [] };
  return listType(at);
}

/** The path element of a list item, or undefined when a map-list item lacks a key without default. */
function itemElement(item: Json, _index: number, kind: { type: 'set' | 'map'; keys: string[] }, at: SchemaCursor): PathElement | undefined {
  if (kind.type === 'set') return valueElement(item);
  if (!isJsonObject(item)) return undefined;
  const keys: Record<string, Json> = {};
  const itemAt = itemCursor(at);
  for (const k of kind.keys) {
    if (k in item && item[k] !== null) keys[k] = item[k]!;
    else {
      const def = fieldDefault(itemAt, k);
      if (def === undefined) return undefined;
      keys[k] = def;
    }
  }
  return keyElement(keys);
}

function fieldDefault(at: SchemaCursor, key: string): Json | undefined {
  const f = fieldCursor(at, key);
  if (!f.schema) return undefined;
  const s = f.set ? f.set.resolve(f.schema) : f.schema;
  return (f.schema.default ?? s.default) as Json | undefined;
}

/** A configuration that cannot be turned into a field set (upstream's typed-value errors). */
export class InvalidConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidConfigError';
  }
}

/** The first key field an item lacks that has no default either. */
function missingKey(item: Json, keys: string[], at: SchemaCursor): string {
  const absent = (k: string) => !isJsonObject(item) || !(k in item) || item[k] === null;
  return keys.find(k => absent(k) && fieldDefault(itemCursor(at), k) === undefined) ?? keys[0] ?? '';
}

/**
 * The fields an applied configuration states (upstream's ToFieldSet): every leaf, every list item,
 * every member of a map that is not a declared struct field, and empty or null values.
 */
export function fieldSetOf(obj: unknown, schemas: SchemaSet | undefined, root: string | OpenAPISchema | undefined): FieldSet {
  const out = new FieldSet();
  collect(obj as Json, rootCursor(schemas, root), [], out);
  return out;
}

function collect(v: Json, at: SchemaCursor, path: PathElement[], out: FieldSet): void {
  if (isJsonObject(v)) {
    if (isAtomicMap(at)) {
      if (path.length) out.add(path);
      return;
    }
    for (const [k, child] of Object.entries(v)) {
      const p = [...path, fieldElement(k)];
      collect(child, fieldCursor(at, k), p, out);
      if (child === null || (isJsonObject(child) && Object.keys(child).length === 0) || !declaresField(at, k)) out.add(p);
    }
    return;
  }
  if (Array.isArray(v)) {
    const kind = listKind(at);
    if (kind.type === 'atomic') {
      if (path.length) out.add(path);
      return;
    }
    const seen = new Set<string>();
    v.forEach((item, i) => {
      const pe = itemElement(item, i, kind as { type: 'set' | 'map'; keys: string[] }, at);
      if (pe === undefined) {
        throw new InvalidConfigError(`${formatPath(path)}: element ${i}: associative list with keys has an element that omits key field ${JSON.stringify(missingKey(item, kind.keys, at))} (and doesn't have default value)`);
      }
      if (seen.has(pe)) throw new InvalidConfigError(`${formatPath(path)}: duplicate entries for key ${formatPath([pe])}`);
      seen.add(pe);
      const p = [...path, pe];
      if (kind.type === 'map') collect(item, itemCursor(at), p, out);
      out.add(p);
    });
    return;
  }
  if (path.length) out.add(path);
}

export interface Comparison {
  added: FieldSet;
  modified: FieldSet;
  removed: FieldSet;
}

/** What changed from `old` to `next`, path by path, as upstream's typed Compare reports it. */
export function compareObjects(old: unknown, next: unknown, schemas: SchemaSet | undefined, root: string | OpenAPISchema | undefined): Comparison {
  const c: Comparison = { added: new FieldSet(), modified: new FieldSet(), removed: new FieldSet() };
  compareAt(present(old as Json), present(next as Json), rootCursor(schemas, root), [], c);
  return c;
}

const present = (v: Json | undefined): Json | undefined => (v === null ? undefined : v);

function shape(v: Json | undefined): 'map' | 'list' | 'leaf' | 'none' {
  if (v === undefined) return 'none';
  if (isJsonObject(v)) return 'map';
  if (Array.isArray(v)) return 'list';
  return 'leaf';
}

/**
 * Struct fields that are not pointers in upstream's Go types, so Go renders them (as `{}`) even
 * when unset: upstream never sees them appear or disappear inside a parent that exists, and so
 * never records them as members themselves. The schemas cannot tell pointers apart, hence a list.
 */
const alwaysPresentStructs = new Set(['metadata', 'spec', 'status', 'template', 'strategy', 'updateStrategy', 'jobTemplate', 'resources']);

function compareAt(
  a: Json | undefined, b: Json | undefined, at: SchemaCursor, path: PathElement[], c: Comparison,
  required = false, parentInA = true, parentInB = true,
): void {
  if (a === undefined && b === undefined) return;
  const sa = shape(a);
  const sb = shape(b);
  const kind = sa === 'none' ? sb : sb === 'none' || sa === sb ? sa : 'leaf';
  const atomic = kind === 'leaf' || (kind === 'map' && isAtomicMap(at)) || (kind === 'list' && listKind(at).type === 'atomic');
  if (atomic) {
    if (!path.length) return;
    if (a === undefined) c.added.add(path);
    else if (b === undefined) c.removed.add(path);
    else if (!jsonEqual(a, b)) c.modified.add(path);
    return;
  }
  // A map or list that appears or disappears is itself a member, unless Go would have rendered
  // it anyway inside its existing parent: required fields (never omitted) and non-pointer structs.
  const last = path[path.length - 1];
  const field = last?.startsWith('f:') ? last.slice(2) : undefined;
  const goPresent = field !== undefined && (required || (kind === 'map' && isStructSchema(at) && alwaysPresentStructs.has(field)));
  // Whether Go would show this node on each side: present, or implied by a present parent.
  const inA = a !== undefined || (goPresent && parentInA);
  const inB = b !== undefined || (goPresent && parentInB);
  if (path.length) {
    if (!inA) c.added.add(path);
    else if (!inB) c.removed.add(path);
  }
  if (kind === 'map') {
    const am = (a ?? {}) as JsonObject;
    const bm = (b ?? {}) as JsonObject;
    const keys = new Set([...Object.keys(am), ...Object.keys(bm)]);
    const req = requiredFields(at);
    for (const k of keys) {
      compareAt(present(am[k]), present(bm[k]), fieldCursor(at, k), [...path, fieldElement(k)], c, req.has(k), inA, inB);
    }
    return;
  }
  const lk = listKind(at) as { type: 'set' | 'map'; keys: string[] };
  const index = (list: Json[] | undefined): Map<string, Json> => {
    const m = new Map<string, Json>();
    (list ?? []).forEach((item, i) => m.set(itemElement(item, i, lk, at) ?? indexElement(i), item));
    return m;
  };
  const ai = index(a as Json[] | undefined);
  const bi = index(b as Json[] | undefined);
  for (const [pe, item] of bi) {
    const p = [...path, pe];
    if (!ai.has(pe)) {
      c.added.add(p);
      if (lk.type === 'map') compareAt(undefined, present(item), itemCursor(at), p, c, false, false, true);
    } else if (lk.type === 'map') {
      compareAt(present(ai.get(pe)), present(item), itemCursor(at), p, c);
    }
  }
  for (const [pe, item] of ai) {
    if (bi.has(pe)) continue;
    const p = [...path, pe];
    c.removed.add(p);
    if (lk.type === 'map') compareAt(present(item), undefined, itemCursor(at), p, c, false, true, false);
  }
}

/** Every node of `obj` as a path (fields, map entries, identified list items). */
export function allPaths(obj: unknown, schemas: SchemaSet | undefined, root: string | OpenAPISchema | undefined): FieldSet {
  const out = new FieldSet();
  const walk = (v: Json, at: SchemaCursor, path: PathElement[]): void => {
    if (path.length) out.add(path);
    if (isJsonObject(v)) {
      if (isAtomicMap(at)) return;
      for (const [k, child] of Object.entries(v)) walk(child, fieldCursor(at, k), [...path, fieldElement(k)]);
    } else if (Array.isArray(v)) {
      const kind = listKind(at);
      if (kind.type === 'atomic') return;
      v.forEach((item, i) => {
        const pe = itemElement(item, i, kind as { type: 'set' | 'map'; keys: string[] }, at) ?? indexElement(i);
        if (kind.type === 'map') walk(item, itemCursor(at), [...path, pe]);
        else out.add([...path, pe]);
      });
    }
  };
  walk(obj as Json, rootCursor(schemas, root), []);
  return out;
}

/** Upstream's EnsureNamedFieldsAreMembers: the struct fields above every member become members too. */
export function withNamedAncestors(set: FieldSet, schemas: SchemaSet | undefined, root: string | OpenAPISchema | undefined): FieldSet {
  const out = set.copy();
  // Schema positions by path prefix, so long lists walk their shared prefix once.
  const cursors = new Map<string, SchemaCursor>([['', rootCursor(schemas, root)]]);
  for (const p of set.unorderedPaths()) {
    let key = '';
    let at = cursors.get('')!;
    for (let i = 0; i < p.length - 1; i++) {
      const e = p[i]!;
      const next = `${key}\u0000${e}`;
      let child = cursors.get(next);
      if (e.startsWith('f:')) {
        const name = e.slice(2);
        if (declaresField(at, name)) out.add(p.slice(0, i + 1));
        if (!child) cursors.set(next, (child = fieldCursor(at, name)));
      } else if (!child) {
        cursors.set(next, (child = itemCursor(at)));
      }
      key = next;
      at = child;
    }
  }
  return out;
}

/** Removes the node at `path` (and everything under it) from `obj`, in place. */
export function removePath(obj: Json, path: FieldPathList, schemas: SchemaSet | undefined, root: string | OpenAPISchema | undefined): void {
  let at = rootCursor(schemas, root);
  let cur: Json = obj;
  for (let i = 0; i < path.length; i++) {
    const e = path[i]!;
    const last = i === path.length - 1;
    if (e.startsWith('f:')) {
      if (!isJsonObject(cur)) return;
      const name = e.slice(2);
      if (last) { delete cur[name]; return; }
      if (!(name in cur)) return;
      cur = cur[name]!;
      at = fieldCursor(at, name);
    } else {
      if (!Array.isArray(cur)) return;
      const kind = listKind(at);
      if (kind.type === 'atomic') return;
      const list: Json[] = cur;
      const idx = list.findIndex((item, j) => (itemElement(item, j, kind as { type: 'set' | 'map'; keys: string[] }, at) ?? indexElement(j)) === e);
      if (idx < 0) return;
      if (last) { list.splice(idx, 1); return; }
      cur = list[idx]!;
      at = itemCursor(at);
    }
  }
}

// ---- ordinary writes -----------------------------------------------------------------------------

export interface UpdateOptions {
  manager: string;
  /** The apiVersion the request used, e.g. `apps/v1`. */
  apiVersion: string;
  /** `status`, `scale`…; empty for the main resource. */
  subresource?: string;
  now: Date;
  schemas: SchemaSet | undefined;
  /** The component name (or schema) of the kind. */
  root: string | OpenAPISchema | undefined;
  /** Subtrees this endpoint resets and so never records (e.g. `[['f:status']]` on the main resource). */
  ignored?: FieldPathList[];
}

/** `metadata.managedFields` without the entries, for comparing object content. */
export function withoutManagedFields<T extends KubeObject | undefined>(obj: T): T {
  if (!obj || !obj.metadata || !('managedFields' in obj.metadata)) return obj;
  const c = { ...obj, metadata: { ...obj.metadata } };
  delete c.metadata.managedFields;
  return c as T;
}

/**
 * Records an ordinary create/update/patch (operation Update) by `manager`: it gains every field
 * the write added or changed, every other manager loses those fields and any removed field, and
 * managers left with nothing disappear. Returns a copy of `next` with the new managedFields.
 *
 * As upstream: the base ownership is the one `next` carries when it carries valid entries (a
 * client may rewrite managedFields), else `old`'s; `[]` or `[{}]` resets it; and an object that
 * ends up with no ownership on an update (as opposed to a create) stays untracked. An
 * object that was never tracked first gets a `before-first-apply` owner for its existing fields
 * only when an apply comes (see apply.ts), not here.
 */
export function updateManagedFields<T extends KubeObject>(old: KubeObject | undefined, next: T, opts: UpdateOptions): T {
  const result = deepCopy(next);
  const sent = next.metadata?.managedFields as unknown;
  const base = chooseBase(sent, old?.metadata?.managedFields, !!opts.subresource);
  // Upstream tracks an untracked object only from its creation (the live object has no uid yet):
  // an update of an object without ownership, or one that reset it, leaves it untracked.
  if (base.size === 0 && old?.metadata?.uid) {
    if (result.metadata) delete result.metadata.managedFields;
    return result;
  }
  const managers = capUpdateManagers(recordUpdate(base, withoutManagedFields(old), withoutManagedFields(next), opts));
  const entries = encodeManagedFields(managers);
  result.metadata = { ...(result.metadata ?? {}) };
  if (entries.length) result.metadata.managedFields = entries as never;
  else delete result.metadata.managedFields;
  return result;
}

/**
 * Upstream's choice of the ownership an Update starts from: on a subresource always the live
 * object's; else a reset request (`[]` or `[{}]`) starts empty; else the client's entries when
 * they decode and are not empty; else the live object's (empty if those do not decode).
 */
function chooseBase(sent: unknown, live: unknown, subresource: boolean): Managers {
  const fromLive = () => decodeManagedFieldsStrict(live) ?? new Map<string, ManagerFields>();
  if (subresource) return fromLive();
  if (isResetManagedFields(sent)) return new Map();
  const fromRequest = decodeManagedFieldsStrict(sent);
  return fromRequest && fromRequest.size > 0 ? fromRequest : fromLive();
}

/** The Update step on decoded managers (shared with apply's before-first-apply). */
export function recordUpdate(managers: Managers, old: unknown, next: unknown, opts: UpdateOptions): Managers {
  const cmp = compareObjects(old ?? {}, next, opts.schemas, opts.root);
  const ignored = opts.ignored ?? [];
  const changed = stripUntracked(cmp.added.union(cmp.modified), ignored);
  const removed = stripUntracked(cmp.removed, ignored);
  const out: Managers = new Map();
  for (const [k, m] of managers) {
    const fields = m.fields.difference(changed).difference(removed);
    if (!fields.isEmpty()) out.set(k, { ...m, fields });
  }
  if (!changed.isEmpty()) {
    const self: ManagerFields = { manager: opts.manager, operation: 'Update', apiVersion: opts.apiVersion, subresource: opts.subresource ?? '', time: formatTime(opts.now), fields: changed };
    const key = managerKey(self);
    const prev = out.get(key);
    if (prev) self.fields = prev.fields.union(changed);
    out.set(key, self);
  }
  return out;
}

/** Upstream's cap on Update entries; older ones fold into `ancient-changes`, one per apiVersion. */
export const maxUpdateManagers = 10;
export const ancientChangesManager = 'ancient-changes';

/**
 * Keeps at most `max` Update entries: the oldest updaters (by time, then identity) are folded,
 * per apiVersion, into an `ancient-changes` entry that takes the newest folded time, as upstream.
 */
export function capUpdateManagers(managers: Managers, max = maxUpdateManagers): Managers {
  const updaters = [...managers.entries()].filter(([, m]) => m.operation === 'Update');
  if (updaters.length <= max) return managers;
  const seconds = (m: ManagerFields) => (m.time ? Math.floor(Date.parse(m.time) / 1000) : 0);
  updaters.sort(([ka, a], [kb, b]) => seconds(a) - seconds(b) || (ka < kb ? -1 : ka > kb ? 1 : 0));
  const out: Managers = new Map(managers);
  const firstByVersion = new Map<string, string>();
  let count = updaters.length;
  for (const [key, m] of updaters) {
    if (count <= max) break;
    const bucket: ManagerFields = { manager: ancientChangesManager, operation: 'Update', apiVersion: m.apiVersion, subresource: '', time: m.time, fields: m.fields };
    const bucketKey = managerKey(bucket);
    const first = firstByVersion.get(m.apiVersion);
    if (first === undefined) {
      firstByVersion.set(m.apiVersion, key);
      continue;
    }
    if (!out.has(bucketKey)) {
      const seed = out.get(first)!;
      out.delete(first);
      out.set(bucketKey, { ...bucket, fields: seed.fields });
    }
    const b = out.get(bucketKey)!;
    out.set(bucketKey, { ...b, fields: b.fields.union(m.fields), time: m.time });
    out.delete(key);
    count--;
  }
  return out;
}

// Strategic merge patch (`application/strategic-merge-patch+json`), the patch type kubectl's
// client-side apply, `kubectl edit` and `kubectl patch` send. It extends JSON merge patch with
// what the schema says about lists: a list whose field has `x-kubernetes-patch-strategy: merge`
// merges item by item (by `x-kubernetes-patch-merge-key` for lists of objects, as a set for lists
// of scalars); any other list is replaced. Directives inside the patch:
//   `$patch: replace|delete` on an object, `$patch: replace|delete` items in a merging list,
//   `$retainKeys: [...]` (clear every other member first), `$deleteFromPrimitiveList/<f>: [...]`,
//   `$setElementOrder/<f>: [...]` (the order the client wants; server-only items keep their
//   relative place), and `null` (delete the member).
//
// The algorithm follows upstream's server-side merge (MergeParallelList, IgnoreUnmatchedNulls)
// step for step, including its ordering rules, because kubectl's three-way patches are computed
// against exactly that behaviour. Where upstream would copy a patch fragment verbatim into the
// result (a subtree the original lacks), we merge it into an empty value instead so no directive
// or null leaks into the stored object; after upstream's typed decoding the outcome is the same.
// Fields the schema does not know merge as JSON merge patch does: objects merge, lists replace.
import type { OpenAPISchema, SchemaSet } from '../schema/types.js';
import { StatusError, errors } from '../errors.js';
import { PatchApplyError } from './json-patch.js';
import { deepCopy } from '../object.js';
import { goFormat, isJsonObject, type Json, type JsonObject } from './json.js';
import { fieldCursor, itemCursor, patchMeta, rootCursor, type SchemaCursor } from './schema-walk.js';

const directiveMarker = '$patch';
const retainKeysDirective = '$retainKeys';
const deleteFromPrimitiveListPrefix = '$deleteFromPrimitiveList';
const setElementOrderPrefix = '$setElementOrder';

// Upstream's mergepatch errors. The apiserver maps the format errors to 400, two to 422, and
// lets everything else through as a 500 with the bare message.
const badRequest = (m: string) => errors.badRequest(m);
const ErrBadPatchFormatForPrimitiveList = () => badRequest('invalid patch format of primitive list');
const ErrBadPatchFormatForRetainKeys = () => badRequest('invalid patch format of retainKeys');
const ErrBadPatchFormatForSetElementOrderList = () => badRequest('invalid patch format of setElementOrder list');
const ErrNoListOfLists = () => new PatchApplyError('lists of lists are not supported');
const internal = (m: string) => new StatusError(500, 'InternalError', m);
const ErrNoMergeKey = (m: unknown, k: string) => internal(`map: ${goFormat(m)} does not contain declared merge key: ${k}`);
const ErrBadPatchType = (t: unknown, m: unknown) => internal(`unknown patch type: ${goFormat(t)} in map: ${goFormat(m)}`);

/**
 * Applies a strategic merge patch to `original` (not mutated) and returns the result.
 * `root` is the component name (or schema) of the object's kind; without it every list replaces.
 */
export function applyStrategicMergePatch<T = unknown>(
  original: T,
  patch: unknown,
  schemas: SchemaSet | undefined,
  root: string | OpenAPISchema | undefined,
): T {
  if (!isJsonObject(patch)) throw badRequest('json: cannot unmarshal array into Go value of type map[string]interface {}');
  const o = isJsonObject(original) ? deepCopy(original) : {};
  return mergeMap(o, deepCopy(patch), rootCursor(schemas, root)) as unknown as T;
}

type Kind = 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null';

function kindOf(v: Json | undefined): Kind {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v as Kind;
}

function mergeMap(original: JsonObject | undefined, patch: JsonObject, at: SchemaCursor): JsonObject {
  if (directiveMarker in patch) {
    const d = patch[directiveMarker];
    if (d === 'replace') {
      delete patch[directiveMarker];
      return mergeMap({}, patch, at);
    }
    if (d === 'delete') return {};
    // Upstream rejects `merge` on an object; it asks for what a plain merge does, so accept it.
    if (d !== 'merge') throw ErrBadPatchType(d, patch);
    delete patch[directiveMarker];
  }
  const out: JsonObject = original ?? {};

  applyRetainKeys(out, patch);
  applySetElementOrder(out, patch, at);

  // Deletions from primitive lists go first, so a value both removed and re-added ends up present.
  for (const k of Object.keys(patch)) {
    if (!k.startsWith(deleteFromPrimitiveListPrefix)) continue;
    const field = extractKey(k, deleteFromPrimitiveListPrefix);
    const toDelete = patch[k];
    delete patch[k];
    if (!Array.isArray(toDelete)) throw ErrBadPatchFormatForPrimitiveList();
    const cur = out[field];
    if (!Array.isArray(cur)) continue;
    out[field] = cur.filter(v => !toDelete.some(d => d === v));
  }

  for (const [k, patchV] of Object.entries(patch)) {
    if (patchV === null) {
      delete out[k];
      continue;
    }
    const field = fieldCursor(at, k);
    if (!(k in out) || kindOf(out[k]) !== kindOf(patchV)) {
      out[k] = fresh(patchV, field);
      continue;
    }
    const orig = out[k]!;
    const { strategy, mergeKey } = patchMeta(field);
    if (isJsonObject(orig) && isJsonObject(patchV)) {
      out[k] = strategy === 'replace' ? fresh(patchV, field) : mergeMap(orig, patchV, field);
    } else if (Array.isArray(orig) && Array.isArray(patchV)) {
      out[k] = strategy === 'merge' ? mergeSlice(orig, patchV, itemCursor(field), mergeKey) : fresh(patchV, field);
    } else {
      out[k] = patchV;
    }
  }
  return out;
}

/** A patch fragment where the original has nothing: merged into an empty value, so directives and nulls drop out. */
function fresh(patchV: Json, at: SchemaCursor): Json {
  if (isJsonObject(patchV)) return patchMeta(at).strategy === 'replace' ? stripNulls(patchV) : mergeMap({}, patchV, at);
  if (Array.isArray(patchV)) {
    const { strategy, mergeKey } = patchMeta(at);
    if (strategy !== 'merge') return patchV;
    // Upstream copies a new list verbatim; items it could not merge stay as sent, for validation
    // to name the missing field rather than the merge failing.
    const mergeable = patchV.every(v => !isJsonObject(v) || (mergeKey !== '' && mergeKey in v));
    return mergeable ? mergeSlice([], patchV, itemCursor(at), mergeKey) : patchV;
  }
  return patchV;
}

function stripNulls(m: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(m)) if (v !== null) out[k] = v;
  return out;
}

function extractKey(key: string, prefix: string): string {
  const slash = key.indexOf('/');
  if (slash < 0 || key.slice(0, slash) !== prefix) {
    throw prefix === deleteFromPrimitiveListPrefix ? ErrBadPatchFormatForPrimitiveList() : ErrBadPatchFormatForSetElementOrderList();
  }
  return key.slice(slash + 1);
}

/** `$retainKeys`: every member of the original not listed is cleared; the patch may only set listed members. */
function applyRetainKeys(original: JsonObject, patch: JsonObject): void {
  if (!(retainKeysDirective in patch)) return;
  const list = patch[retainKeysDirective];
  delete patch[retainKeysDirective];
  if (!Array.isArray(list)) throw ErrBadPatchFormatForRetainKeys();
  const keep = new Set(list.map(v => (typeof v === 'string' ? v : JSON.stringify(v))));
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || k.startsWith(deleteFromPrimitiveListPrefix) || k.startsWith(setElementOrderPrefix)) continue;
    if (!keep.has(k)) throw ErrBadPatchFormatForRetainKeys();
  }
  for (const k of Object.keys(original)) if (!keep.has(k)) delete original[k];
}

/** `$setElementOrder/<field>`: merges the field's patch list (if any) and then orders the result as the client asked. */
function applySetElementOrder(original: JsonObject, patch: JsonObject, at: SchemaCursor): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(setElementOrderPrefix)) continue;
    const order = patch[key];
    delete patch[key];
    if (!Array.isArray(order)) throw internal(`expected a []interface {}, but received a ${goType(order)}`);
    const field = extractKey(key, setElementOrderPrefix);
    const origV = original[field];
    const patchV = patch[field];
    const foundOriginal = field in original && origV !== null;
    const foundPatch = field in patch && patchV !== null;
    if (foundOriginal && !Array.isArray(origV)) throw internal(`expected a []interface {}, but received a ${goType(origV)}`);
    if (foundPatch && !Array.isArray(patchV)) throw internal(`expected a []interface {}, but received a ${goType(patchV)}`);
    const fc = fieldCursor(at, field);
    const { strategy, mergeKey } = patchMeta(fc);
    const origList = foundOriginal ? (origV as Json[]) : [];
    const patchList = foundPatch ? (patchV as Json[]) : [];
    validateOrder(patchList, order, mergeKey);

    let merged: Json[];
    if (foundOriginal && !foundPatch) merged = origList;
    else if (!foundOriginal && foundPatch) merged = fresh(patchList, fc) as Json[];
    else if (foundOriginal && foundPatch) merged = strategy === 'merge' ? mergeSlice(origList, patchList, itemCursor(fc), mergeKey) : patchList;
    else continue;

    const kind = elementKind(origList, patchList);
    if (kind === undefined) {
      original[field] = merged;
      delete patch[field];
      continue;
    }
    const serverOrder = foundOriginal && foundPatch && strategy === 'merge' && kind === 'map'
      ? aliasedServerOrder(origList, patchList, mergeKey)
      : origList;
    const [inOrder, serverOnly] = partition(merged, order, mergeKey, kind);
    original[field] = normalizeElementOrder(inOrder, serverOnly, order, serverOrder, mergeKey, kind);
    delete patch[field];
  }
}

/**
 * The live list as upstream's ordering step sees it after merging. Upstream merges in place: a
 * `$patch: delete` shifts the remaining items left inside the live list's storage, and new items
 * are appended into the slots that frees, until the storage is full. The ordering step then reads
 * the live list's original length from that storage, so freed slots show the new items (or stale
 * copies). Reproducing this is what makes `$setElementOrder` results match upstream exactly when a
 * patch both deletes and adds items.
 */
function aliasedServerOrder(live: Json[], patch: Json[], mergeKey: string): Json[] {
  const slots = live.slice();
  const size = slots.length;
  let len = size;
  let detached = false;
  const keyOf = (v: Json): Json | undefined => (isJsonObject(v) ? v[mergeKey] : undefined);
  let replace = false;
  for (const item of patch) {
    if (!isJsonObject(item) || !(directiveMarker in item)) continue;
    if (item[directiveMarker] === 'replace') { replace = true; continue; }
    if (item[directiveMarker] !== 'delete') continue;
    for (;;) {
      const i = slots.slice(0, len).findIndex(v => keyOf(v) === item[mergeKey]);
      if (i < 0) break;
      for (let j = i; j < len - 1; j++) slots[j] = slots[j + 1]!;
      len--;
    }
  }
  if (replace) return slots;
  const present = slots.slice(0, len).map(keyOf);
  for (const item of patch) {
    if (!isJsonObject(item) || directiveMarker in item) continue;
    if (present.some(k => k === item[mergeKey])) continue;
    present.push(item[mergeKey]);
    if (!detached && len < size) slots[len++] = item;
    else detached = true;
  }
  return slots;
}

function goType(v: unknown): string {
  if (isJsonObject(v)) return 'map[string]interface {}';
  switch (typeof v) {
    case 'string': return 'string';
    case 'number': return 'float64';
    case 'boolean': return 'bool';
    default: return '<nil>';
  }
}

/** Items of the patch list (deletions aside) must appear in the order list, in the same relative order. */
function validateOrder(patchList: Json[], order: Json[], mergeKey: string): void {
  if (order.length === 0 || patchList.length === 0) return;
  const items = mergeKey ? patchList.filter(v => !(isJsonObject(v) && v[directiveMarker] === 'delete')) : patchList;
  let p = 0;
  let s = 0;
  while (p < items.length && s < order.length) {
    const item = items[p]!;
    if (isJsonObject(item) && directiveMarker in item) { p++; continue; }
    if (sameItem(item, order[s]!, mergeKey)) p++;
    s++;
  }
  if (p < items.length && s >= order.length) {
    throw internal(`The order in patch list:\n${goFormat(patchList)}\n doesn't match ${setElementOrderPrefix} list:\n${goFormat(order)}\n`);
  }
}

function sameItem(a: Json, b: Json, mergeKey: string): boolean {
  if (!mergeKey) return a === b;
  if (!isJsonObject(a)) throw internal(`expected a map[string]interface {}, but received a ${goType(a)}`);
  if (!isJsonObject(b)) throw internal(`expected a map[string]interface {}, but received a ${goType(b)}`);
  if (!(mergeKey in a)) throw ErrNoMergeKey(a, mergeKey);
  if (!(mergeKey in b)) throw ErrNoMergeKey(b, mergeKey);
  return a[mergeKey] === b[mergeKey];
}

type ElementKind = 'map' | 'scalar';

/** The common kind of the elements of the lists; undefined when they are all empty. */
function elementKind(...lists: Json[][]): ElementKind | undefined {
  let kind: Kind | undefined;
  for (const list of lists) {
    for (const v of list) {
      const k = kindOf(v);
      if (kind === undefined) {
        if (k === 'array') throw ErrNoListOfLists();
        kind = k;
      } else if (kind !== k) {
        throw internal(`list element types are not identical: ${goFormat(lists)}`);
      }
    }
  }
  if (kind === undefined) return undefined;
  return kind === 'object' ? 'map' : 'scalar';
}

function mergeSlice(original: Json[], patch: Json[], item: SchemaCursor, mergeKey: string): Json[] {
  if (original.length === 0 && patch.length === 0) return original;
  const kind = elementKind(original, patch)!;
  let merged: Json[];
  let patchWithout = patch;
  if (kind === 'scalar') {
    merged = [];
    for (const v of [...original, ...patch]) if (!merged.some(m => m === v)) merged.push(v);
  } else {
    if (!mergeKey) throw internal('cannot merge lists without merge key for type struct');
    let orig = original;
    ({ original: orig, patch: patchWithout } = mergeSpecialElements(original, patch, mergeKey));
    merged = orig.slice();
    const at = new Map<Json | undefined, number>();
    merged.forEach((m, i) => {
      const k = (m as JsonObject)[mergeKey];
      if (!at.has(k)) at.set(k, i);
    });
    for (const v of patchWithout) {
      const pv = v as JsonObject;
      if (!(mergeKey in pv)) throw ErrNoMergeKey(pv, mergeKey);
      const i = at.get(pv[mergeKey]);
      if (i !== undefined) merged[i] = mergeMap(merged[i] as JsonObject, pv, item);
      else {
        at.set(pv[mergeKey], merged.length);
        merged.push(mergeMap({}, pv, item));
      }
    }
  }
  // Order: the patch's items in the patch's order, the server's other items in their old relative places.
  const [inPatch, serverOnly] = partition(merged, patchWithout, mergeKey, kind);
  return normalizeElementOrder(inPatch, serverOnly, patchWithout, original, mergeKey, kind);
}

/** `$patch: delete` items drop matching originals; a `$patch: replace` item makes the rest of the patch the whole list. */
function mergeSpecialElements(original: Json[], patch: Json[], mergeKey: string): { original: Json[]; patch: Json[] } {
  const plain: Json[] = [];
  let replace = false;
  let orig = original;
  for (const v of patch) {
    const m = v as JsonObject;
    if (!(directiveMarker in m)) { plain.push(v); continue; }
    const d = m[directiveMarker];
    if (d === 'delete') {
      if (!(mergeKey in m)) throw ErrNoMergeKey(m, mergeKey);
      orig = orig.filter(o => (o as JsonObject)[mergeKey] !== m[mergeKey]);
    } else if (d === 'replace') {
      replace = true;
    } else if (d === 'merge') {
      throw internal('merging lists cannot yet be specified in the patch');
    } else {
      throw ErrBadPatchType(d, m);
    }
  }
  return replace ? { original: [], patch: plain } : { original: orig, patch: plain };
}

/** Splits `list` into the items present in `by` (matched by merge key, or by value) and the rest. */
function partition(list: Json[], by: Json[], mergeKey: string, kind: ElementKind): [Json[], Json[]] {
  const inBy: Json[] = [];
  const rest: Json[] = [];
  const index = positions(by, mergeKey, kind);
  for (const v of list) (index(v) >= 0 ? inBy : rest).push(v);
  return [inBy, rest];
}

/**
 * A lookup of each item's first position in `list`, matched by merge key (or by value for
 * scalars), -1 when absent. Built once so ordering stays linear on long lists.
 */
function positions(list: Json[], mergeKey: string, kind: ElementKind): (item: Json) => number {
  const first = new Map<Json | undefined, number>();
  list.forEach((v, i) => {
    const k = kind === 'scalar' ? v : isJsonObject(v) ? v[mergeKey] : undefined;
    if (k !== undefined && !first.has(k)) first.set(k, i);
  });
  return item => {
    const k = kind === 'scalar' ? item : isJsonObject(item) ? item[mergeKey] : undefined;
    return k === undefined ? -1 : (first.get(k) ?? -1);
  };
}

/**
 * Orders a merged list as upstream does: the patch items sorted by `patchOrder`, the server-only
 * items by `serverOrder`, then interleaved so a server-only item stays before a patch item that
 * followed it on the server.
 */
function normalizeElementOrder(patchItems: Json[], serverOnly: Json[], patchOrder: Json[], serverOrder: Json[], mergeKey: string, kind: ElementKind): Json[] {
  const right = sortByOrder(patchItems, patchOrder, mergeKey, kind);
  const left = sortByOrder(serverOnly, serverOrder, mergeKey, kind);
  const out: Json[] = [];
  const serverIndex = positions(serverOrder, mergeKey, kind);
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]!);
    else if (j >= right.length) out.push(left[i++]!);
    else {
      const li = serverIndex(left[i]!);
      const ri = serverIndex(right[j]!);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]!);
      else out.push(right[j++]!);
    }
  }
  return out;
}

/**
 * A stable insertion sort by position in `order`, with upstream's comparison: an item not found
 * in `order` compares as "less" than its neighbour. Deletion directives go last.
 */
function sortByOrder(items: Json[], order: Json[], mergeKey: string, kind: ElementKind): Json[] {
  let list = items;
  const deletions: Json[] = [];
  if (kind === 'map') {
    for (const v of [...items, ...order]) {
      if (!isJsonObject(v) || !(mergeKey in v)) throw ErrNoMergeKey(v, mergeKey);
    }
    list = [];
    for (const v of items) ((v as JsonObject)[directiveMarker] !== undefined ? deletions : list).push(v);
  }
  const a = list.slice();
  const orderIndex = positions(order, mergeKey, kind);
  if (a.every(v => orderIndex(v) >= 0)) {
    // Every item has a place: any stable sort gives upstream's result, so take the fast one.
    const keyed = a.map(v => ({ v, i: orderIndex(v) }));
    keyed.sort((x, y) => x.i - y.i);
    return [...keyed.map(k => k.v), ...deletions];
  }
  const less = (x: Json, y: Json): boolean => {
    const ix = orderIndex(x);
    const iy = orderIndex(y);
    return ix >= 0 && iy >= 0 ? ix < iy : true;
  };
  for (let i = 1; i < a.length; i++) {
    for (let j = i; j > 0 && less(a[j]!, a[j - 1]!); j--) {
      const t = a[j]!;
      a[j] = a[j - 1]!;
      a[j - 1] = t;
    }
  }
  return [...a, ...deletions];
}

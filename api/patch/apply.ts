// Server-side apply (`application/apply-patch+yaml`), following upstream's structured-merge-diff
// Updater.Apply step by step:
//   1. merge the applied configuration into the live object (maps by key, map lists by their keys
//      with live items first and new items after, sets as unions, atomic values replaced);
//   2. the applier now owns exactly the fields its configuration states;
//   3. prune: fields the applier owned last time, no longer states, and nobody else owns are
//      removed from the object;
//   4. compare live with the result: a field another manager owns that changed value is a
//      conflict (409) unless `force`, in which case that manager loses it; removed fields leave
//      every manager.
// Two of upstream's wrappers come with it: an object with no managedFields at all first gets its
// existing fields recorded under `before-first-apply`, and for the manager `kubectl` the
// client-side → server-side apply migration works as upstream's: conflicts on fields whose live
// value still equals the last-applied-configuration annotation are taken over silently, and that
// annotation, when present, is rewritten to the new configuration.
import type { OpenAPISchema, SchemaSet } from '../schema/types.js';
import { StatusError, errors } from '../errors.js';
import { deepCopy, type KubeObject } from '../object.js';
import { goJsonStringify, isJsonObject, jsonEqual, type Json, type JsonObject } from './json.js';
import { FieldSet, formatPath, indexElement, keyElement, valueElement, type FieldPathList, type PathElement } from './field-set.js';
import {
  InvalidConfigError, allPaths, capUpdateManagers, compareObjects, decodeManagedFields, describeManager, encodeManagedFields, fieldSetOf, formatTime, managerKey,
  recordUpdate, removePath, stripUntracked, withNamedAncestors, withoutManagedFields, type ManagerFields, type Managers,
} from './managed-fields.js';
import { fieldCursor, isAtomicMap, itemCursor, listType, rootCursor, type SchemaCursor } from './schema-walk.js';

export const lastAppliedAnnotation = 'kubectl.kubernetes.io/last-applied-configuration';
export const beforeFirstApplyManager = 'before-first-apply';
const maxLastAppliedBytes = 256 * 1024;

export interface ApplyExtras {
  subresource?: string;
  /** Subtrees this endpoint resets and so never records (e.g. `[['f:status']]` on the main resource). */
  ignored?: FieldPathList[];
}

/**
 * Applies `applied` for `manager` to `live` (undefined when creating) and returns the new object
 * with its managedFields, or throws a 409 listing the conflicts.
 */
export function applyPatch(
  live: KubeObject | undefined,
  applied: KubeObject,
  manager: string,
  force: boolean,
  schemas: SchemaSet | undefined,
  root: string | OpenAPISchema | undefined,
  now: Date,
  extras: ApplyExtras = {},
): KubeObject {
  if (!isJsonObject(applied as unknown)) throw errors.badRequest('the apply configuration must be an object');
  if (applied.metadata && applied.metadata.managedFields != null) throw errors.badRequest('metadata.managedFields must be nil');
  const apiVersion = applied.apiVersion ?? live?.apiVersion ?? '';
  const ctx: Ctx = { schemas, root, now, apiVersion, subresource: extras.subresource ?? '', ignored: extras.ignored ?? [] };

  const liveContent = withoutManagedFields(live);
  let managers = decodeManagedFields(live?.metadata?.managedFields);
  if (live && managers.size === 0) {
    managers = recordUpdate(managers, {}, liveContent, {
      manager: beforeFirstApplyManager, apiVersion: live.apiVersion ?? apiVersion, now, schemas, root, ignored: ctx.ignored,
      ...(ctx.subresource ? { subresource: ctx.subresource } : {}),
    });
  }

  let result: KubeObject;
  let next: Managers;
  try {
    ({ result, managers: next } = applyOnce(liveContent, applied, managers, manager, force, ctx));
  } catch (e) {
    if (!(e instanceof ApplyConflicts) || manager !== 'kubectl' || !live) throw e instanceof ApplyConflicts ? e.toStatusError() : e;
    const allowed = allowedFromLastApplied(liveContent!, ctx);
    const remaining = e.conflicts.filter(c => !allowed.has(c.path));
    if (remaining.length) throw new ApplyConflicts(remaining).toStatusError();
    ({ result, managers: next } = applyOnce(liveContent, applied, managers, manager, true, ctx));
  }

  if (manager === 'kubectl') syncLastApplied(applied, result);
  const entries = encodeManagedFields(capUpdateManagers(next));
  result.metadata = { ...(result.metadata ?? {}) };
  if (entries.length) result.metadata.managedFields = entries as never;
  else delete result.metadata.managedFields;
  return result;
}

interface Ctx {
  schemas: SchemaSet | undefined;
  root: string | OpenAPISchema | undefined;
  now: Date;
  apiVersion: string;
  subresource: string;
  ignored: FieldPathList[];
}

interface Conflict { manager: ManagerFields; path: PathElement[] }

class ApplyConflicts extends Error {
  constructor(readonly conflicts: Conflict[]) { super('apply conflicts'); }

  toStatusError(): StatusError {
    const cs = this.conflicts;
    const causes = cs.map(c => ({ reason: 'FieldManagerConflict', message: `conflict with ${describeManager(c.manager)}`, field: formatPath(c.path) }));
    let message: string;
    if (cs.length === 1) {
      message = `Apply failed with 1 conflict: conflict with ${describeManager(cs[0]!.manager)}: ${formatPath(cs[0]!.path)}`;
    } else {
      const byManager = new Map<string, Conflict[]>();
      for (const c of cs) {
        const k = managerIdentity(c.manager);
        byManager.set(k, [...(byManager.get(k) ?? []), c]);
      }
      const lines: string[] = [];
      for (const k of [...byManager.keys()].sort()) {
        const group = byManager.get(k)!;
        lines.push(`conflicts with ${describeManager(group[0]!.manager)}:`);
        for (const c of group) lines.push(`- ${formatPath(c.path)}`);
      }
      message = `Apply failed with ${cs.length} conflicts: ${lines.join('\n')}`;
    }
    return new StatusError(409, 'Conflict', message, { causes });
  }
}

/** The JSON identity upstream sorts managers by (it starts with the manager name). */
function managerIdentity(m: ManagerFields): string {
  const id: Record<string, string> = { manager: m.manager, operation: m.operation };
  if (m.operation === 'Update') id.apiVersion = m.apiVersion;
  if (m.subresource) id.subresource = m.subresource;
  return JSON.stringify(id);
}

function applyOnce(
  live: KubeObject | undefined,
  applied: KubeObject,
  managers: Managers,
  manager: string,
  force: boolean,
  ctx: Ctx,
): { result: KubeObject; managers: Managers } {
  const { schemas, root } = ctx;
  const merged = (mergeValue(deepCopy(live) as Json | undefined, deepCopy(applied) as Json, rootCursor(schemas, root)) ?? {}) as JsonObject;

  const stated = configFields(applied, ctx);
  const self: ManagerFields = {
    manager, operation: 'Apply', apiVersion: ctx.apiVersion, subresource: ctx.subresource, time: undefined,
    fields: stripUntracked(stated, ctx.ignored),
  };
  const key = managerKey(self);
  const previous = managers.get(key);
  const working: Managers = new Map(managers);
  working.set(key, self);

  // Prune what the applier dropped and nobody else holds. As upstream, the applier's own set
  // counts here before the untracked metadata is stripped from it, so `metadata` (always stated
  // through its name) stays; and untracked fields are never pruned at all.
  if (previous && !previous.fields.isEmpty()) {
    let owned = stated;
    for (const m of working.values()) owned = owned.union(m.fields);
    const last = withNamedAncestors(previous.fields, schemas, root);
    const keep = withNamedAncestors(owned, schemas, root);
    const doomed = stripUntracked(allPaths(merged, schemas, root).intersection(last).difference(keep));
    for (const p of doomed.paths()) removePath(merged, p, schemas, root);
  }

  // Conflicts and ownership changes from the actual change to the object.
  const cmp = compareObjects(live ?? {}, merged, schemas, root);
  const changed = stripUntracked(cmp.added.union(cmp.modified), ctx.ignored);
  const removed = stripUntracked(cmp.removed, ctx.ignored);
  const conflicts: Conflict[] = [];
  const sortedOthers = [...working.entries()].filter(([k]) => k !== key).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [, m] of sortedOthers) {
    for (const p of m.fields.intersection(changed).paths()) conflicts.push({ manager: m, path: p });
  }
  if (conflicts.length && !force) throw new ApplyConflicts(conflicts);

  const out: Managers = new Map();
  for (const [k, m] of working) {
    if (k === key) continue;
    const fields = m.fields.difference(changed).difference(removed);
    if (!fields.isEmpty()) out.set(k, { ...m, fields });
  }
  const changedObject = !jsonEqual(live ?? {}, merged);
  // As upstream, the time moves only when the object changed; a first no-op apply has none.
  self.time = changedObject ? formatTime(ctx.now) : previous?.time;
  if (!self.fields.isEmpty()) out.set(key, self);
  return { result: merged as KubeObject, managers: out };
}

/**
 * The applier's fields. A configuration that is not a valid typed value (a map-list item without
 * its key, duplicate keys) fails as upstream's does: a 500 with reason unknown and this message.
 */
function configFields(applied: KubeObject, ctx: Ctx): FieldSet {
  try {
    return fieldSetOf(applied, ctx.schemas, ctx.root);
  } catch (e) {
    if (!(e instanceof InvalidConfigError)) throw e;
    throw new StatusError(500, 'InternalError', `failed to create typed patch object (${ctx.apiVersion}, Kind=${applied.kind ?? ''}): ${e.message}`);
  }
}

// ---- merging the configuration into the live object ----------------------------------------------

function mergeValue(l: Json | undefined, r: Json | undefined, at: SchemaCursor): Json | undefined {
  if (r === undefined) return l;
  if (r === null) return undefined;
  if (isJsonObject(r)) {
    if (isAtomicMap(at)) return dropNulls(r);
    const lm = isJsonObject(l) ? l : {};
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(lm)) {
      const m = mergeValue(v, k in r ? r[k] : undefined, fieldCursor(at, k));
      if (m !== undefined) out[k] = m;
    }
    for (const [k, v] of Object.entries(r)) {
      if (k in lm) continue;
      const m = mergeValue(undefined, v, fieldCursor(at, k));
      if (m !== undefined) out[k] = m;
    }
    return out;
  }
  if (Array.isArray(r)) {
    const kind = at.schema ? listType(at) : { type: 'atomic' as const, keys: [] };
    if (kind.type === 'atomic' || !Array.isArray(l)) {
      if (kind.type !== 'map') return r;
      return r.map(item => mergeValue(undefined, item, itemCursor(at)) ?? null);
    }
    const id = (item: Json, i: number): string => {
      if (kind.type === 'set') return valueElement(item);
      if (!isJsonObject(item)) return indexElement(i);
      const keys: Record<string, Json> = {};
      for (const k of kind.keys) keys[k] = item[k] ?? defaultOf(itemCursor(at), k) ?? null;
      return keyElement(keys);
    };
    const rhs = new Map<string, Json>();
    r.forEach((item, i) => rhs.set(id(item, i), item));
    const out: Json[] = [];
    const seen = new Set<string>();
    l.forEach((item, i) => {
      const k = id(item, i);
      if (seen.has(k)) return;
      seen.add(k);
      const m = kind.type === 'map' ? mergeValue(item, rhs.get(k), itemCursor(at)) : item;
      if (m !== undefined) out.push(m);
    });
    for (const [k, item] of rhs) {
      if (seen.has(k)) continue;
      const m = kind.type === 'map' ? mergeValue(undefined, item, itemCursor(at)) : item;
      if (m !== undefined) out.push(m);
    }
    return out;
  }
  return r;
}

function defaultOf(at: SchemaCursor, key: string): Json | undefined {
  const f = fieldCursor(at, key);
  if (!f.schema) return undefined;
  const s = f.set ? f.set.resolve(f.schema) : f.schema;
  return (f.schema.default ?? s.default) as Json | undefined;
}

function dropNulls(v: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = x;
  return out;
}

// ---- client-side → server-side apply migration ------------------------------------------------------

/** Fields of the last-applied configuration whose live value has not changed since. */
function allowedFromLastApplied(live: KubeObject, ctx: Ctx): FieldSet {
  const raw = live.metadata?.annotations?.[lastAppliedAnnotation];
  if (!raw) return new FieldSet();
  let last: unknown;
  try {
    last = JSON.parse(raw);
  } catch {
    return new FieldSet();
  }
  if (!isJsonObject(last)) return new FieldSet();
  const version = (v: unknown) => (typeof v === 'string' ? v.slice(v.indexOf('/') + 1) : '');
  if (version(last.apiVersion) !== version(live.apiVersion)) return new FieldSet();
  try {
    const fields = fieldSetOf(last, ctx.schemas, ctx.root);
    return fields.difference(compareObjects(last, live, ctx.schemas, ctx.root).modified);
  } catch {
    return new FieldSet();
  }
}

/**
 * When kubectl applies server-side to an object that has the annotation, keep it in step: the
 * configuration without the annotation itself, encoded as Go encodes it (sorted keys, trailing
 * newline), so a later client-side apply computes its patch from what was really applied.
 */
function syncLastApplied(applied: KubeObject, result: KubeObject): void {
  // Upstream looks at the object the apply produced, not the one it started from.
  if (result.metadata?.annotations?.[lastAppliedAnnotation] === undefined) return;
  const config = deepCopy(applied);
  if (config.metadata?.annotations) delete config.metadata.annotations[lastAppliedAnnotation];
  const value = goJsonStringify(config) + '\n';
  if (value.length > maxLastAppliedBytes) return;
  result.metadata = { ...(result.metadata ?? {}), annotations: { ...(result.metadata?.annotations ?? {}), [lastAppliedAnnotation]: value } };
}

/** The conflict paths of a 409 from applyPatch, for callers that want them structured. */
export function conflictFields(e: StatusError): string[] {
  return (e.details?.causes ?? []).map(c => c.field ?? '').filter(Boolean);
}

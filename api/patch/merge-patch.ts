// JSON Merge Patch (`application/merge-patch+json`, RFC 7386) as the apiserver's library (json-patch
// v4) applies it: objects merge member by member, a null member deletes, anything else — arrays
// included — replaces. Two details of that library differ from the RFC's pseudo-code and are kept
// for compatibility: a value that replaces something that is not an object loses the null members
// of the objects inside it (arrays included), while an array or scalar replacing an object is taken
// as sent.
import { errors } from '../errors.js';
import { deepCopy } from '../object.js';
import { isJsonObject, type Json, type JsonObject } from './json.js';

/** Merges `patch` into a copy of `target`. */
export function applyMergePatch<T = unknown>(target: T, patch: unknown): T {
  const doc = deepCopy(target) as unknown as Json;
  const p = deepCopy(patch) as Json;
  if (!isJsonObject(p)) return (Array.isArray(p) ? pruneNulls(p) : p) as unknown as T;
  if (!isJsonObject(doc)) return pruneNulls(p) as unknown as T;
  mergeInto(doc, p);
  return doc as unknown as T;
}

function mergeInto(doc: JsonObject, patch: JsonObject): void {
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) {
      delete doc[k];
      continue;
    }
    const cur = doc[k];
    if (cur === undefined || cur === null) doc[k] = pruneNulls(v);
    else doc[k] = merge(cur, v);
  }
}

function merge(cur: Json, patch: Json): Json {
  if (!isJsonObject(cur)) return pruneNulls(patch);
  if (!isJsonObject(patch)) return patch;
  mergeInto(cur, patch);
  return cur;
}

/** Drops null members of objects, recursively, keeping null array elements. */
function pruneNulls(v: Json): Json {
  if (Array.isArray(v)) {
    for (const item of v) if (item !== null) pruneNulls(item);
  } else if (isJsonObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (x === null) delete v[k];
      else pruneNulls(x);
    }
  }
  return v;
}

/** The apiserver accepts only an object as a merge patch of an object. */
export function decodeMergePatch(body: unknown): Record<string, unknown> {
  if (!isJsonObject(body)) throw errors.badRequest('json: cannot unmarshal array into Go value of type map[string]interface {}');
  return body;
}

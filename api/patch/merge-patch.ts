// RFC 7386 JSON Merge Patch (`application/merge-patch+json`): objects merge member by member, a
// null member deletes, and anything else — arrays included — replaces. The patch is not mutated.
import { errors } from '../errors.js';
import { cloneJson, isJsonObject, type Json } from './json.js';

/** RFC 7386 §2 MergePatch(target, patch), on copies. */
export function applyMergePatch<T = unknown>(target: T, patch: unknown): T {
  return merge(cloneJson(target) as unknown as Json | undefined, patch as Json) as unknown as T;
}

function merge(target: Json | undefined, patch: Json): Json {
  if (!isJsonObject(patch)) return cloneJson(patch);
  const out: { [key: string]: Json } = isJsonObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = merge(out[k], v);
  }
  return out;
}

/** The apiserver accepts only an object as a merge patch of an object. */
export function decodeMergePatch(body: unknown): Record<string, unknown> {
  if (!isJsonObject(body)) throw errors.badRequest('json: cannot unmarshal array into Go value of type map[string]interface {}');
  return body;
}

// Small helpers every core resource module shares: verb lists, typed views of the generic
// KubeObject, and the standard status/spec split hooks.
import { isPlainObject, type KubeObject } from '../../../api/object.js';
import type { Verb } from '../types.js';

export const ALL_VERBS: Verb[] = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** The KubeObject seen as its kind's type (objects are plain JSON, so this is only a view). */
export function as<T>(obj: KubeObject): T {
  return obj as unknown as T;
}

/** The object's `spec`, created empty when absent so defaulting can fill it. */
export function ensureRecord(obj: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = obj[key];
  if (isPlainObject(v)) return v;
  const fresh: Record<string, unknown> = {};
  obj[key] = fresh;
  return fresh;
}

/** For kinds with a /status subresource: the main resource may not write status. */
export function keepOldStatus(obj: KubeObject, old: KubeObject): void {
  if (old['status'] === undefined) delete obj['status'];
  else obj['status'] = old['status'];
}

/** For /status writes: everything but status (and metadata, which the caller handles) is kept. */
export function keepOldSpec(obj: KubeObject, old: KubeObject): void {
  if (old['spec'] === undefined) delete obj['spec'];
  else obj['spec'] = old['spec'];
}

export const boolString = (b: boolean | undefined): string => (b ? 'true' : 'false');

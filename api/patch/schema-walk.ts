// Walking our OpenAPI component schemas alongside a JSON value: the schema of a field, of a list
// item, and the patch metadata (`x-kubernetes-*`) that strategic merge patch and server-side apply
// read. Upstream's v3 schemas put a property's extensions beside an `allOf: [{$ref}]` wrapper, so
// extensions are read from the property as written first and from its resolved target second.
import type { OpenAPISchema, SchemaSet } from '../schema/types.js';

/** A schema position: the set it comes from and the schema there (undefined when unknown). */
export interface SchemaCursor {
  set: SchemaSet | undefined;
  schema: OpenAPISchema | undefined;
}

export const unknownSchema: SchemaCursor = { set: undefined, schema: undefined };

/** The cursor for a root: a component name or a schema. */
export function rootCursor(set: SchemaSet | undefined, root: string | OpenAPISchema | undefined): SchemaCursor {
  if (root === undefined) return { set, schema: undefined };
  return { set, schema: typeof root === 'string' ? set?.get(root) : root };
}

function resolved(c: SchemaCursor): OpenAPISchema | undefined {
  if (!c.schema) return undefined;
  let s = c.set ? c.set.resolve(c.schema) : c.schema;
  // Be tolerant of a resolver that leaves a lone allOf wrapper in place.
  for (let i = 0; i < 8 && s.allOf && s.allOf.length === 1 && !s.properties && !s.items && c.set; i++) {
    s = c.set.resolve(s.allOf[0]!);
  }
  return s;
}

/** The schema of member `key` of an object at `c`: a declared property or the additionalProperties schema. */
export function fieldCursor(c: SchemaCursor, key: string): SchemaCursor {
  const s = resolved(c);
  if (!s) return { set: c.set, schema: undefined };
  const prop = s.properties?.[key];
  if (prop) return { set: c.set, schema: prop };
  if (typeof s.additionalProperties === 'object') return { set: c.set, schema: s.additionalProperties };
  return { set: c.set, schema: undefined };
}

/** The schema of an item of the list at `c`. */
export function itemCursor(c: SchemaCursor): SchemaCursor {
  const s = resolved(c);
  return { set: c.set, schema: s?.items };
}

/** An extension read from the schema as written, then from what it resolves to. */
function extension<K extends keyof OpenAPISchema>(c: SchemaCursor, key: K): OpenAPISchema[K] | undefined {
  if (!c.schema) return undefined;
  if (c.schema[key] !== undefined) return c.schema[key];
  return resolved(c)?.[key];
}

/** Strategic-merge metadata: the strategy without `retainKeys`, and the merge key. */
export function patchMeta(c: SchemaCursor): { strategy: string; mergeKey: string } {
  const raw = extension(c, 'x-kubernetes-patch-strategy') ?? '';
  const strategy = raw.split(',').map(s => s.trim()).filter(s => s && s !== 'retainKeys')[0] ?? '';
  return { strategy, mergeKey: extension(c, 'x-kubernetes-patch-merge-key') ?? '' };
}

export type ListType = 'atomic' | 'set' | 'map';

/**
 * The server-side-apply list type at `c`. Upstream derives it for built-in types from the Go
 * markers, where a patch strategy of `merge` with a merge key means a map list keyed by that key,
 * and `merge` without one a set; without any marker a list is atomic.
 */
export function listType(c: SchemaCursor): { type: ListType; keys: string[] } {
  const declared = extension(c, 'x-kubernetes-list-type');
  if (declared === 'map') {
    const keys = extension(c, 'x-kubernetes-list-map-keys');
    if (keys && keys.length) return { type: 'map', keys };
    const mk = patchMeta(c).mergeKey;
    return mk ? { type: 'map', keys: [mk] } : { type: 'atomic', keys: [] };
  }
  if (declared === 'set' || declared === 'atomic') return { type: declared, keys: [] };
  const { strategy, mergeKey } = patchMeta(c);
  if (strategy === 'merge') return mergeKey ? { type: 'map', keys: [mergeKey] } : { type: 'set', keys: [] };
  return { type: 'atomic', keys: [] };
}

/** True when the map or struct at `c` is declared atomic (`x-kubernetes-map-type: atomic`). */
export function isAtomicMap(c: SchemaCursor): boolean {
  return extension(c, 'x-kubernetes-map-type') === 'atomic';
}

/** True when the schema at `c` is known to be an object with declared properties (a struct). */
export function isStruct(c: SchemaCursor): boolean {
  const s = resolved(c);
  return !!s && !!s.properties;
}

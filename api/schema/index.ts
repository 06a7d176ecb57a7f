// The API schemas at runtime: the generated component definitions (see tools/schema-gen.ts)
// behind the `SchemaSet` interface, and the lookup from a kind to its component name.
//
// The JSON is imported as a module (not read with node:fs) so api/ stays free of I/O and tsc
// copies the file into dist/ beside the compiled code.
import definitions from './generated/definitions.json' with { type: 'json' };
import type { OpenAPISchema, SchemaSet } from './types.js';

export type { OpenAPISchema, SchemaSet } from './types.js';

const REF_PREFIX = '#/components/schemas/';

/** The component name a `$ref` points at: `#/components/schemas/X` → `X`. */
export function refName(ref: string): string {
  return ref.startsWith(REF_PREFIX) ? ref.slice(REF_PREFIX.length) : ref;
}

/** The `$ref` a schema stands for: its own, or that of a single-element `allOf`. */
export function refOf(schema: OpenAPISchema): string | undefined {
  if (schema.$ref) return refName(schema.$ref);
  const [only] = schema.allOf ?? [];
  if (schema.allOf?.length === 1 && only?.$ref) return refName(only.$ref);
  return undefined;
}

export interface LoadedSchemaSet extends SchemaSet {
  /** Every component name, sorted. */
  names(): string[];
  /** The component of a kind, by its `x-kubernetes-group-version-kind`. */
  nameFor(group: string, version: string, kind: string): string | undefined;
}

/** A SchemaSet over a map of component definitions. */
export function loadSchemaSet(defs: Record<string, OpenAPISchema> = definitions as Record<string, OpenAPISchema>): LoadedSchemaSet {
  const byGvk = new Map<string, string>();
  for (const [name, schema] of Object.entries(defs)) {
    for (const gvk of schema['x-kubernetes-group-version-kind'] ?? []) {
      const key = `${gvk.group}/${gvk.version}/${gvk.kind}`;
      if (!byGvk.has(key)) byGvk.set(key, name);
    }
  }
  const sortedNames = Object.keys(defs).sort();
  const get = (name: string): OpenAPISchema | undefined => Object.hasOwn(defs, name) ? defs[name] : undefined;
  return {
    get,
    resolve(schema: OpenAPISchema): OpenAPISchema {
      let current = schema;
      // A chain of references ends at a component; the bound guards against a cycle of refs.
      for (let i = 0; i < 16; i++) {
        const ref = refOf(current);
        if (ref === undefined) return current;
        const next = get(ref);
        if (!next) throw new Error(`Unknown schema reference "${ref}"`);
        current = next;
      }
      throw new Error(`Schema reference chain too long at "${refOf(current) ?? ''}"`);
    },
    names: () => [...sortedNames],
    nameFor: (group, version, kind) => byGvk.get(`${group}/${version}/${kind}`),
  };
}

/** The schemas of every built-in kind k8ts serves. */
export const schemas: LoadedSchemaSet = loadSchemaSet();

/** `('apps', 'v1', 'Deployment')` → `'io.k8s.api.apps.v1.Deployment'`; undefined for an unknown kind. */
export function schemaNameFor(group: string, version: string, kind: string): string | undefined {
  return schemas.nameFor(group, version, kind);
}

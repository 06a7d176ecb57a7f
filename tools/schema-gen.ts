// Turns the `kubernetes-types` declaration files into OpenAPI v3 component schemas, named and
// annotated as upstream's `/openapi/v3` documents name them.
//
// Design notes. The .d.ts files are the only machine-readable copy of the API types we ship, and
// they carry the doc comments (which `kubectl explain` prints) and optionality (which gives
// `required`). What they lack — integer widths, IntOrString vs. plain unions, strategic-merge and
// server-side-apply list metadata, struct-level atomicity — comes from the hand-written tables in
// ./schema-metadata.ts, each entry checked against upstream's Go struct tags.
//
// The pass is purely syntactic (ts.createSourceFile, no Program or type checker): aliases such as
// `Time = string` must stay references to their own component, which a checker would resolve away.
// This module is pure (texts in, definitions out) so a unit test can regenerate in memory and
// compare with the committed api/schema/generated/definitions.json.
import ts from 'typescript';
import type { OpenAPISchema } from '../api/schema/types.js';
import { FIELD_DEFAULTS, FIELD_METADATA, INT64_FIELDS, INT64_PROPERTY_NAMES, META_KINDS, STRUCT_ATOMIC } from './schema-metadata.js';

/** One input module of kubernetes-types, e.g. `core/v1`, with the component prefix and API group it maps to. */
export interface SourceModule {
  /** Module path inside kubernetes-types without extension: `core/v1`, `api/resource`, `runtime`. */
  module: string;
  /** Component name prefix: `io.k8s.api.core.v1`. */
  prefix: string;
}

export const SOURCE_MODULES: readonly SourceModule[] = [
  { module: 'core/v1', prefix: 'io.k8s.api.core.v1' },
  { module: 'apps/v1', prefix: 'io.k8s.api.apps.v1' },
  { module: 'batch/v1', prefix: 'io.k8s.api.batch.v1' },
  { module: 'autoscaling/v1', prefix: 'io.k8s.api.autoscaling.v1' },
  { module: 'autoscaling/v2', prefix: 'io.k8s.api.autoscaling.v2' },
  { module: 'discovery/v1', prefix: 'io.k8s.api.discovery.v1' },
  { module: 'coordination/v1', prefix: 'io.k8s.api.coordination.v1' },
  { module: 'networking/v1', prefix: 'io.k8s.api.networking.v1' },
  { module: 'policy/v1', prefix: 'io.k8s.api.policy.v1' },
  { module: 'storage/v1', prefix: 'io.k8s.api.storage.v1' },
  { module: 'authentication/v1', prefix: 'io.k8s.api.authentication.v1' },
  { module: 'authorization/v1', prefix: 'io.k8s.api.authorization.v1' },
  { module: 'meta/v1', prefix: 'io.k8s.apimachinery.pkg.apis.meta.v1' },
  { module: 'api/resource', prefix: 'io.k8s.apimachinery.pkg.api.resource' },
  { module: 'runtime', prefix: 'io.k8s.apimachinery.pkg.runtime' },
  { module: 'version', prefix: 'io.k8s.apimachinery.pkg.version' },
];

export const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
const INT_OR_STRING_DESCRIPTION =
  'IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type.  This allows you to have, for example, a JSON field that can accept a name or number.';

export type Definitions = Record<string, OpenAPISchema>;

export class SchemaGenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchemaGenError';
  }
}

interface Declared {
  module: SourceModule;
  name: string;
  node: ts.InterfaceDeclaration | ts.TypeAliasDeclaration;
  description: string;
}

/** `../meta/v1` seen from `apps/v1` → `meta/v1`; `../runtime` → `runtime`. */
function resolveModule(from: string, spec: string): string {
  const parts = from.split('/');
  parts.pop();
  for (const seg of spec.split('/')) {
    if (seg === '..') parts.pop();
    else if (seg !== '.') parts.push(seg);
  }
  return parts.join('/');
}

/** The text of the JSDoc comment right before `node`, with the comment markers removed. */
function docComment(text: string, node: ts.Node): string {
  const ranges = ts.getLeadingCommentRanges(text, node.pos) ?? [];
  const last = [...ranges].reverse().find(r => text.startsWith('/**', r.pos));
  if (!last) return '';
  const body = text.slice(last.pos + 3, last.end - 2);
  const lines = body.split('\n').map((line, i) => {
    if (i === 0) return line.trim();
    return line.replace(/^\s*\* ?/, '').replace(/^\s*$/, '');
  });
  return lines.join('\n').trim();
}

/** Generates every component schema of `SOURCE_MODULES` from their declaration texts (keyed by module path). */
export function generateDefinitions(sources: Record<string, string>): Definitions {
  const declared = new Map<string, Declared>(); // component name → declaration
  const scopes = new Map<string, Map<string, string>>(); // module → local name → component name
  const parsed: { module: SourceModule; file: ts.SourceFile; text: string }[] = [];

  for (const module of SOURCE_MODULES) {
    const text = sources[module.module];
    if (text === undefined) throw new SchemaGenError(`Missing source text for module "${module.module}"`);
    parsed.push({ module, file: ts.createSourceFile(`${module.module}.d.ts`, text, ts.ScriptTarget.ES2022, true), text });
  }
  const byModule = new Map(SOURCE_MODULES.map(m => [m.module, m]));

  for (const { module, file, text } of parsed) {
    const scope = new Map<string, string>();
    scopes.set(module.module, scope);
    for (const st of file.statements) {
      if (ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st)) {
        const name = `${module.prefix}.${st.name.text}`;
        scope.set(st.name.text, name);
        declared.set(name, { module, name: st.name.text, node: st, description: docComment(text, st) });
      }
    }
  }
  // Second pass: imports, now that every module's declarations are known.
  for (const { module, file } of parsed) {
    const scope = scopes.get(module.module)!;
    for (const st of file.statements) {
      if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier)) continue;
      const target = resolveModule(module.module, st.moduleSpecifier.text);
      const targetModule = byModule.get(target);
      if (!targetModule) throw new SchemaGenError(`Module "${module.module}" imports "${target}", which is not a source module`);
      const bindings = st.importClause?.namedBindings;
      if (!bindings || !ts.isNamedImports(bindings)) continue;
      for (const el of bindings.elements) {
        scope.set(el.name.text, `${targetModule.prefix}.${(el.propertyName ?? el.name).text}`);
      }
    }
  }

  const out: Definitions = {};
  for (const [name, decl] of declared) {
    out[name] = componentSchema(name, decl, scopes.get(decl.module.module)!, sources[decl.module.module]!);
  }
  out[INT_OR_STRING] = { description: INT_OR_STRING_DESCRIPTION, format: 'int-or-string', oneOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true };

  // Every table entry must have matched a field, so a typo in the tables cannot pass silently.
  const properties = new Set<string>();
  for (const [name, schema] of Object.entries(out)) for (const p of Object.keys(schema.properties ?? {})) properties.add(`${name}.${p}`);
  for (const key of [...Object.keys(FIELD_METADATA), ...Object.keys(FIELD_DEFAULTS), ...INT64_FIELDS]) {
    if (!properties.has(key)) throw new SchemaGenError(`Metadata table entry "${key}" names no generated field`);
  }
  for (const name of [...STRUCT_ATOMIC, ...Object.keys(META_KINDS)]) {
    if (!out[name]) throw new SchemaGenError(`Metadata table entry "${name}" names no generated component`);
  }

  // Every reference must name a component we emit.
  for (const [name, schema] of Object.entries(out)) {
    for (const ref of referencesOf(schema)) {
      if (!out[ref]) throw new SchemaGenError(`${name} refers to "${ref}", which was not generated`);
    }
  }
  return sortDefinitions(out);
}

/** Names of every component `schema` refers to directly. */
export function referencesOf(schema: OpenAPISchema): string[] {
  const found: string[] = [];
  const walk = (s: OpenAPISchema): void => {
    if (s.$ref) found.push(s.$ref.replace('#/components/schemas/', ''));
    for (const a of s.allOf ?? []) walk(a);
    for (const a of s.oneOf ?? []) walk(a);
    if (s.items) walk(s.items);
    if (typeof s.additionalProperties === 'object') walk(s.additionalProperties);
    for (const p of Object.values(s.properties ?? {})) walk(p);
  };
  walk(schema);
  return found;
}

function componentSchema(name: string, decl: Declared, scope: Map<string, string>, text: string): OpenAPISchema {
  const node = decl.node;
  const special = SPECIAL_ALIASES[name];
  if (special) return { description: decl.description, ...special };
  if (ts.isTypeAliasDeclaration(node)) {
    throw new SchemaGenError(`Type alias ${name} has no mapping; add it to SPECIAL_ALIASES`);
  }

  const schema: OpenAPISchema = {};
  if (decl.description) schema.description = decl.description;
  schema.type = 'object';
  const properties: Record<string, OpenAPISchema> = {};
  const required: string[] = [];
  let apiVersion: string | undefined;
  let kind: string | undefined;

  for (const member of node.members) {
    if (!ts.isPropertySignature(member) || !member.type) {
      throw new SchemaGenError(`${name}: unsupported member "${member.getText()}"`);
    }
    const prop = propertyName(member.name);
    const literal = stringLiteralOf(member.type);
    if (prop === 'apiVersion' && literal !== undefined) apiVersion = literal;
    if (prop === 'kind' && literal !== undefined) kind = literal;

    const where = `${name}.${prop}`;
    const typeSchema = typeToSchema(member.type, scope, where, prop);
    const description = docComment(text, member);
    properties[prop] = withDescription(typeSchema, description);
    applyFieldMetadata(properties[prop], where);
    if (Object.hasOwn(FIELD_DEFAULTS, where)) properties[prop].default = FIELD_DEFAULTS[where];
    if (!member.questionToken) required.push(prop);
  }

  if (Object.keys(properties).length > 0) schema.properties = properties;
  if (required.length > 0) schema.required = [...required].sort();
  const gvks = apiVersion !== undefined && kind !== undefined ? [gvkOf(apiVersion, kind)] : META_KINDS[name];
  if (gvks) schema['x-kubernetes-group-version-kind'] = gvks.map(g => ({ group: g.group, kind: g.kind, version: g.version }));
  if (STRUCT_ATOMIC.has(name)) schema['x-kubernetes-map-type'] = 'atomic';
  if (OPEN_OBJECTS.has(name)) schema['x-kubernetes-preserve-unknown-fields'] = true;
  return schema;
}

function gvkOf(apiVersion: string, kind: string): { group: string; version: string; kind: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? { group: '', version: apiVersion, kind } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1), kind };
}

function propertyName(name: ts.PropertyName): string {
  if (ts.isIdentifier(name) || ts.isStringLiteral(name)) return name.text;
  throw new SchemaGenError(`Unsupported property name "${name.getText()}"`);
}

function stringLiteralOf(type: ts.TypeNode): string | undefined {
  return ts.isLiteralTypeNode(type) && ts.isStringLiteral(type.literal) ? type.literal.text : undefined;
}

/** Puts the description beside a type; a bare `$ref` cannot carry siblings, so it moves into `allOf` as upstream does. */
function withDescription(schema: OpenAPISchema, description: string): OpenAPISchema {
  if (!description) return schema;
  if (schema.$ref) return { allOf: [{ $ref: schema.$ref }], description };
  return { description, ...schema };
}

function applyFieldMetadata(schema: OpenAPISchema, where: string): void {
  const meta = FIELD_METADATA[where];
  if (!meta) return;
  if (meta.listType && schema.type !== 'array') throw new SchemaGenError(`${where}: list metadata on a non-list`);
  if (meta.mapType && schema.type !== 'object') throw new SchemaGenError(`${where}: map metadata on a non-map`);
  if (meta.listType) schema['x-kubernetes-list-type'] = meta.listType;
  if (meta.listMapKeys) schema['x-kubernetes-list-map-keys'] = [...meta.listMapKeys];
  if (meta.mapType) schema['x-kubernetes-map-type'] = meta.mapType;
  if (meta.patchMergeKey) schema['x-kubernetes-patch-merge-key'] = meta.patchMergeKey;
  if (meta.patchStrategy) schema['x-kubernetes-patch-strategy'] = meta.patchStrategy;
}

function typeToSchema(type: ts.TypeNode, scope: Map<string, string>, where: string, prop: string): OpenAPISchema {
  switch (type.kind) {
    case ts.SyntaxKind.StringKeyword: return { type: 'string' };
    case ts.SyntaxKind.BooleanKeyword: return { type: 'boolean' };
    case ts.SyntaxKind.NumberKeyword: return integerSchema(where, prop);
  }
  if (stringLiteralOf(type) !== undefined) return { type: 'string' };
  if (ts.isUnionTypeNode(type)) {
    const kinds = type.types.map(t => t.kind).sort();
    if (kinds.length === 2 && kinds.includes(ts.SyntaxKind.NumberKeyword) && kinds.includes(ts.SyntaxKind.StringKeyword)) {
      return { $ref: `#/components/schemas/${INT_OR_STRING}` };
    }
    throw new SchemaGenError(`${where}: unsupported union "${type.getText()}"`);
  }
  if (ts.isArrayTypeNode(type)) return { type: 'array', items: typeToSchema(type.elementType, scope, where, prop) };
  if (ts.isTypeReferenceNode(type)) {
    const ref = type.typeName.getText();
    if (ref === 'Array' && type.typeArguments?.length === 1) {
      return { type: 'array', items: typeToSchema(type.typeArguments[0]!, scope, where, prop) };
    }
    const component = scope.get(ref);
    if (!component) throw new SchemaGenError(`${where}: unknown type "${ref}"`);
    return { $ref: `#/components/schemas/${component}` };
  }
  if (ts.isTypeLiteralNode(type)) {
    const [index] = type.members;
    if (type.members.length === 1 && index && ts.isIndexSignatureDeclaration(index) && index.type) {
      return { type: 'object', additionalProperties: typeToSchema(index.type, scope, where, prop) };
    }
  }
  throw new SchemaGenError(`${where}: unsupported type "${type.getText()}"`);
}

function integerSchema(where: string, prop: string): OpenAPISchema {
  const wide = INT64_FIELDS.has(where) || INT64_PROPERTY_NAMES.has(prop);
  return { type: 'integer', format: wide ? 'int64' : 'int32' };
}

/** Aliases of `string` in the .d.ts whose components carry more than a string type. */
const SPECIAL_ALIASES: Record<string, OpenAPISchema> = {
  'io.k8s.apimachinery.pkg.apis.meta.v1.Time': { type: 'string', format: 'date-time' },
  'io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime': { type: 'string', format: 'date-time' },
  // Upstream serves Quantity in v3 as oneOf string|number; we also mark it int-or-string so the
  // one flag tells validators and SSA that both JSON types are fine.
  'io.k8s.apimachinery.pkg.api.resource.Quantity': { oneOf: [{ type: 'string' }, { type: 'number' }], 'x-kubernetes-int-or-string': true },
};

/** Objects whose content is arbitrary JSON: strict decoding does not look inside them. */
const OPEN_OBJECTS = new Set([
  'io.k8s.apimachinery.pkg.runtime.RawExtension',
  'io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1',
  'io.k8s.apimachinery.pkg.apis.meta.v1.Patch',
]);

/** Deterministic output: components by name; keys inside each schema in a fixed order. */
function sortDefinitions(defs: Definitions): Definitions {
  const out: Definitions = {};
  for (const name of Object.keys(defs).sort()) out[name] = orderKeys(defs[name]!);
  return out;
}

const KEY_ORDER = [
  'description', 'type', 'format', 'oneOf', 'allOf', '$ref', 'items', 'properties', 'additionalProperties', 'required', 'enum', 'default',
  'x-kubernetes-group-version-kind', 'x-kubernetes-int-or-string', 'x-kubernetes-list-map-keys', 'x-kubernetes-list-type',
  'x-kubernetes-map-type', 'x-kubernetes-patch-merge-key', 'x-kubernetes-patch-strategy', 'x-kubernetes-preserve-unknown-fields',
];

function orderKeys(schema: OpenAPISchema): OpenAPISchema {
  const src = schema as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const keys = Object.keys(src).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  for (const k of keys) {
    const v = src[k];
    if (k === 'properties') {
      const props: Record<string, OpenAPISchema> = {};
      for (const p of Object.keys(v as object).sort()) props[p] = orderKeys((v as Record<string, OpenAPISchema>)[p]!);
      out[k] = props;
    } else if (k === 'items' || (k === 'additionalProperties' && typeof v === 'object')) {
      out[k] = orderKeys(v as OpenAPISchema);
    } else if (k === 'allOf' || k === 'oneOf') {
      out[k] = (v as OpenAPISchema[]).map(orderKeys);
    } else {
      out[k] = v;
    }
  }
  return out as OpenAPISchema;
}

function rank(key: string): number {
  const i = KEY_ORDER.indexOf(key);
  return i < 0 ? KEY_ORDER.length : i;
}

/** The committed file's exact text. */
export function renderDefinitions(defs: Definitions): string {
  return JSON.stringify(defs, null, 2) + '\n';
}

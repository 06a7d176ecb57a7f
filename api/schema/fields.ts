// Server-side field validation (`?fieldValidation=Strict|Warn|Ignore`): the unknown and duplicate
// fields upstream's strict JSON decoder reports, plus JSON type mismatches.
//
// Upstream finds these while decoding into Go structs (sigs.k8s.io/json); we have no structs, so
// unknown fields come from walking the decoded object against the OpenAPI schemas, and duplicate
// keys — which JSON.parse silently collapses to the last one — from a separate scan of the raw
// text. Paths are written the way that decoder writes them (`spec.containers[0].imagee`: object
// keys and map keys joined with dots, list indices in brackets, no leading dot), so the messages
// `unknown field "…"` / `duplicate field "…"` match upstream's word for word.
import { FieldError, field } from '../errors.js';
import { isPlainObject } from '../object.js';
import type { OpenAPISchema, SchemaSet } from './types.js';

export interface FieldCheck {
  /** Decoder-style paths of fields the schema does not know, in document order. */
  unknown: string[];
  /** Values of the wrong JSON type (paths as validation writes them: `metadata.labels[app]`). */
  typeErrors: FieldError[];
}

/** `unknown field "spec.foo"`, upstream's strict-decoding text for one unknown field. */
export function unknownFieldMessage(path: string): string {
  return `unknown field ${JSON.stringify(path)}`;
}

/** `duplicate field "spec.replicas"`, upstream's strict-decoding text for one repeated key. */
export function duplicateFieldMessage(path: string): string {
  return `duplicate field ${JSON.stringify(path)}`;
}

/**
 * The text of upstream's 400 for a strict create/update:
 * `Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.foo"`.
 */
export function strictDecodingErrorMessage(kind: string, version: string, duplicates: readonly string[], unknown: readonly string[]): string {
  const all = [...duplicates.map(duplicateFieldMessage), ...unknown.map(unknownFieldMessage)];
  return `${kind} in version ${JSON.stringify(version)} cannot be handled as a ${kind}: strict decoding error: ${all.join(', ')}`;
}

/** Checks `obj` against the component `schemaName`: unknown fields and JSON type errors. */
export function checkFields(obj: unknown, schemaName: string, schemas: SchemaSet): FieldCheck {
  const root = schemas.get(schemaName);
  if (!root) throw new Error(`Unknown schema "${schemaName}"`);
  const result: FieldCheck = { unknown: [], typeErrors: [] };
  walk(obj, root, { strict: '', field: '' }, schemas, result);
  return result;
}

interface Paths {
  /** sigs.k8s.io/json style, for unknown fields. */
  strict: string;
  /** field.Path style, for FieldErrors. */
  field: string;
}

const child = (p: Paths, name: string): Paths => ({ strict: p.strict ? `${p.strict}.${name}` : name, field: p.field ? `${p.field}.${name}` : name });
const mapKey = (p: Paths, key: string): Paths => ({ strict: p.strict ? `${p.strict}.${key}` : key, field: `${p.field}[${key}]` });
const index = (p: Paths, i: number): Paths => ({ strict: `${p.strict}[${i}]`, field: `${p.field}[${i}]` });

/** The JSON type name of a value, as a type error names it. */
function jsonType(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function walk(value: unknown, schemaIn: OpenAPISchema, path: Paths, schemas: SchemaSet, out: FieldCheck): void {
  // null decodes to the zero value everywhere in typed Go decoding: never a type error.
  if (value === null || value === undefined) return;
  const schema = schemas.resolve(schemaIn);
  const typeError = (expected: string): void => {
    out.typeErrors.push(field.typeInvalid(path.field || '<root>', value, `must be of type ${expected}, got ${jsonType(value)}`));
  };

  if (schema['x-kubernetes-int-or-string']) {
    if (typeof value === 'string') return;
    // IntOrString holds an int32; Quantity (no int-or-string format) takes any JSON number.
    if (typeof value === 'number' && (schema.format !== 'int-or-string' || Number.isInteger(value))) return;
    typeError(schema.format === 'int-or-string' ? 'integer or string' : 'number or string');
    return;
  }

  switch (schema.type) {
    case 'string': if (typeof value !== 'string') typeError('string'); return;
    case 'boolean': if (typeof value !== 'boolean') typeError('boolean'); return;
    case 'integer': if (typeof value !== 'number' || !Number.isInteger(value)) typeError('integer'); return;
    case 'number': if (typeof value !== 'number') typeError('number'); return;
    case 'array': {
      if (!Array.isArray(value)) { typeError('array'); return; }
      if (schema.items) value.forEach((item, i) => walk(item, schema.items!, index(path, i), schemas, out));
      return;
    }
    case 'object': {
      if (!isPlainObject(value)) { typeError('object'); return; }
      if (schema['x-kubernetes-preserve-unknown-fields']) return;
      const props = schema.properties;
      const extra = schema.additionalProperties;
      // An object with neither properties nor a value schema is free-form (e.g. RawExtension).
      if (!props && (extra === undefined || extra === true)) return;
      for (const [key, v] of Object.entries(value)) {
        const prop = props && Object.hasOwn(props, key) ? props[key] : undefined;
        if (prop) walk(v, prop, child(path, key), schemas, out);
        else if (typeof extra === 'object') walk(v, extra, mapKey(path, key), schemas, out);
        else if (extra !== true) out.unknown.push(child(path, key).strict);
      }
      return;
    }
    default:
      return; // untyped schema: anything goes
  }
}

/**
 * Every object key that occurs twice in the same JSON object, as decoder-style paths
 * (`spec.replicas`, `spec.template.spec.containers[0].name`), in document order. Invalid JSON
 * yields what was found before the error; JSON.parse reports the syntax error itself.
 */
export function findDuplicateFields(jsonText: string): string[] {
  const scanner = new DuplicateScanner(jsonText);
  try {
    scanner.skipWs();
    scanner.value('', 0);
  } catch (e) {
    if (!(e instanceof ScanError)) throw e;
  }
  return scanner.found;
}

class ScanError extends Error {}

const MAX_DEPTH = 10000;

class DuplicateScanner {
  pos = 0;
  readonly found: string[] = [];
  constructor(private readonly text: string) {}

  skipWs(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else break;
    }
  }

  value(path: string, depth: number): void {
    if (depth > MAX_DEPTH) throw new ScanError('too deep');
    const c = this.text[this.pos];
    if (c === '{') this.object(path, depth);
    else if (c === '[') this.array(path, depth);
    else if (c === '"') this.string();
    else this.scalar();
  }

  private object(path: string, depth: number): void {
    this.pos++; // {
    const seen = new Set<string>();
    this.skipWs();
    if (this.text[this.pos] === '}') { this.pos++; return; }
    while (true) {
      this.skipWs();
      if (this.text[this.pos] !== '"') throw new ScanError('expected key');
      const key = this.string();
      const keyPath = path ? `${path}.${key}` : key;
      if (seen.has(key)) this.found.push(keyPath);
      else seen.add(key);
      this.skipWs();
      if (this.text[this.pos] !== ':') throw new ScanError('expected colon');
      this.pos++;
      this.skipWs();
      this.value(keyPath, depth + 1);
      this.skipWs();
      const next = this.text[this.pos++];
      if (next === '}') return;
      if (next !== ',') throw new ScanError('expected comma');
    }
  }

  private array(path: string, depth: number): void {
    this.pos++; // [
    this.skipWs();
    if (this.text[this.pos] === ']') { this.pos++; return; }
    for (let i = 0; ; i++) {
      this.skipWs();
      this.value(`${path}[${i}]`, depth + 1);
      this.skipWs();
      const next = this.text[this.pos++];
      if (next === ']') return;
      if (next !== ',') throw new ScanError('expected comma');
    }
  }

  /** Reads a string literal and returns its decoded value. */
  private string(): string {
    const start = this.pos;
    this.pos++; // opening quote
    let escaped = false;
    const t = this.text;
    while (this.pos < t.length) {
      const c = t[this.pos++];
      if (c === '\\') { escaped = true; this.pos++; continue; }
      if (c === '"') {
        const raw = t.slice(start, this.pos);
        if (!escaped) return raw.slice(1, -1);
        try { return JSON.parse(raw) as string; } catch { throw new ScanError('bad string'); }
      }
    }
    throw new ScanError('unterminated string');
  }

  private scalar(): void {
    const t = this.text;
    const start = this.pos;
    while (this.pos < t.length && !',]} \n\r\t'.includes(t[this.pos]!)) this.pos++;
    if (this.pos === start) throw new ScanError('expected value');
  }
}

/**
 * The apiserver's field checker over a SchemaSet: unknown fields and type errors against the
 * resource's schema, duplicate keys from the raw body when there is one. Structurally the
 * `FieldChecker` of control/apiserver/rest.ts.
 */
export function createFieldChecker(schemas: SchemaSet): {
  check(obj: unknown, def: { schemaName: string }, rawBody: string | undefined): FieldCheck & { duplicates: string[] };
} {
  return {
    check(obj, def, rawBody) {
      const { unknown, typeErrors } = checkFields(obj, def.schemaName, schemas);
      return { unknown, typeErrors, duplicates: rawBody === undefined ? [] : findDuplicateFields(rawBody) };
    },
  };
}

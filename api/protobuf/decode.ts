// Decodes a Kubernetes protobuf request body (`application/vnd.kubernetes.protobuf`) into the
// JSON object the same request would have carried as JSON, so the apiserver keeps one code path.
// kubectl 1.32 sends protobuf for `create namespace|configmap|secret|deployment|…` and for the
// Eviction of `kubectl drain`, with no fallback to JSON.
//
// Design notes:
// - No generated code and no .proto files: the field numbers come from a table (fields.ts,
//   generated from upstream's Go struct tags) and every type comes from our OpenAPI schema. So a
//   kind we serve as JSON decodes from protobuf as soon as its numbers are in the table, and the
//   types cannot drift from what the JSON path validates.
// - go-to-protobuf writes every non-pointer field, zero or not; Go's JSON drops zero scalars that
//   are `omitempty`. The wire cannot tell the two apart, so fields.ts records which scalars keep
//   their zero (pointers and tags without omitempty) and every other zero scalar is dropped.
//   Nested messages on the wire are kept, even empty, as Go's JSON keeps non-pointer structs
//   (`"spec": {}`); an empty Time is `null`, as `creationTimestamp: null` from kubectl's JSON.
// - Field numbers we do not know are skipped by wire type, as protobuf readers do; a message we
//   have no table for is an error rather than silently dropped data.
import { errors } from '../errors.js';
import { isPlainObject, parseApiVersion, type KubeObject } from '../object.js';
import { refOf, schemaNameFor as schemaNameForGvk } from '../schema/index.js';
import type { OpenAPISchema, SchemaSet } from '../schema/types.js';
import { BYTES, FIELDS, KEEP_ZERO } from './fields.js';
import { ProtoReader, WireType } from './wire.js';

/** The 4 bytes before every Kubernetes protobuf body: `k8s\0`. */
export const PROTOBUF_MAGIC = Uint8Array.of(0x6b, 0x38, 0x73, 0x00);

export const TIME = 'io.k8s.apimachinery.pkg.apis.meta.v1.Time';
export const MICRO_TIME = 'io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime';
export const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
export const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
export const RAW_EXTENSION = 'io.k8s.apimachinery.pkg.runtime.RawExtension';
export const FIELDS_V1 = 'io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1';
const SPECIAL = new Set([TIME, MICRO_TIME, QUANTITY, INT_OR_STRING, RAW_EXTENSION, FIELDS_V1]);

/** Nesting deeper than this is an attack, not an object. */
const MAX_DEPTH = 64;

type SchemaNameFor = (apiVersion: string, kind: string) => string | undefined;

interface Context {
  schemas: SchemaSet;
  schemaNameFor: SchemaNameFor;
}

/** The runtime.Unknown envelope after the magic. */
export interface UnknownEnvelope {
  apiVersion: string;
  kind: string;
  raw: Uint8Array;
  contentEncoding: string;
  contentType: string;
}

export function isKubernetesProtobuf(body: Uint8Array): boolean {
  return body.length >= 4 && PROTOBUF_MAGIC.every((b, i) => body[i] === b);
}

/** Splits a body into its runtime.Unknown fields; throws 400 on bad magic or truncated data. */
export function readEnvelope(body: Uint8Array): UnknownEnvelope {
  if (!isKubernetesProtobuf(body)) {
    const head = Array.from(body.subarray(0, 4), b => b.toString(16).padStart(2, '0')).join('');
    throw errors.badRequest(`Invalid protobuf body: expected the magic prefix "k8s\\0" (6b387300), got "${head}"`);
  }
  const env: UnknownEnvelope = { apiVersion: '', kind: '', raw: new Uint8Array(0), contentEncoding: '', contentType: '' };
  const r = new ProtoReader(body, PROTOBUF_MAGIC.length);
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (wire !== WireType.LengthDelimited || field > 4) {
      r.skip(wire, field);
      continue;
    }
    const bytes = r.bytes();
    if (field === 1) {
      const tm = new ProtoReader(bytes);
      while (!tm.done()) {
        const t = tm.tag();
        if (t.wire === WireType.LengthDelimited && t.field === 1) env.apiVersion = utf8(tm.bytes());
        else if (t.wire === WireType.LengthDelimited && t.field === 2) env.kind = utf8(tm.bytes());
        else tm.skip(t.wire, t.field);
      }
    } else if (field === 2) env.raw = bytes;
    else if (field === 3) env.contentEncoding = utf8(bytes);
    else env.contentType = utf8(bytes);
  }
  return env;
}

/** The usual `schemaNameFor`: `('apps/v1', 'Deployment')` → `io.k8s.api.apps.v1.Deployment`, from our schemas. */
export function schemaNameForApiVersion(apiVersion: string, kind: string): string | undefined {
  const { group, version } = parseApiVersion(apiVersion);
  return schemaNameForGvk(group, version, kind);
}

/**
 * The object a protobuf body carries, as the JSON body would have carried it.
 * `schemaNameFor('apps/v1', 'Deployment')` names the component (`io.k8s.api.apps.v1.Deployment`).
 */
export function decodeKubernetesProtobuf(body: Uint8Array, schemaNameFor: SchemaNameFor, schemas: SchemaSet): KubeObject {
  return decodeWith({ schemas, schemaNameFor }, body, 0);
}

function decodeWith(ctx: Context, body: Uint8Array, depth: number): KubeObject {
  const env = readEnvelope(body);
  if (env.contentEncoding !== '') throw errors.badRequest(`Invalid protobuf body: unsupported content encoding "${env.contentEncoding}"`);
  if (env.kind === '') throw errors.badRequest('Invalid protobuf body: the envelope names no kind');
  const contentType = env.contentType.split(';')[0]!.trim();
  if (contentType === 'application/json') return parseJson(env.raw, 'the raw object') as KubeObject;
  if (contentType !== '' && contentType !== 'application/vnd.kubernetes.protobuf') {
    throw errors.badRequest(`Invalid protobuf body: unsupported raw content type "${env.contentType}"`);
  }
  const name = ctx.schemaNameFor(env.apiVersion, env.kind);
  if (name === undefined || FIELDS[name] === undefined) {
    throw errors.badRequest(`no kind "${env.kind}" is registered for version "${env.apiVersion}" in the protobuf decoder`);
  }
  const out: KubeObject = { kind: env.kind, apiVersion: env.apiVersion };
  decodeMessage(ctx, name, name, env.raw, out, '', depth);
  return out;
}

/**
 * Decodes message `message` into `out`, typing its fields by the properties of schema component
 * `component`: the same name, except for an inlined struct, whose fields the outer component has.
 */
function decodeMessage(ctx: Context, message: string, component: string, data: Uint8Array, out: Record<string, unknown>, path: string, depth: number): void {
  if (depth > MAX_DEPTH) throw errors.badRequest(`Invalid protobuf body: nested more than ${MAX_DEPTH} levels at "${path}"`);
  const table = FIELDS[message];
  const schema = ctx.schemas.get(component);
  if (table === undefined || schema === undefined) {
    throw errors.badRequest(`Cannot decode protobuf field "${path}": no field table for message "${message}"`);
  }
  const props = schema.properties ?? {};
  const r = new ProtoReader(data);
  while (!r.done()) {
    const { field, wire } = r.tag();
    const name = table[field];
    if (name === undefined) {
      r.skip(wire, field);
      continue;
    }
    if (name.startsWith('...')) {
      // An embedded struct that JSON inlines (`json:",inline"`), e.g. Volume's VolumeSource.
      decodeMessage(ctx, name.slice(3), component, lengthDelimited(r, wire, path), out, path, depth + 1);
      continue;
    }
    const prop = props[name];
    if (prop === undefined) {
      r.skip(wire, field);
      continue;
    }
    decodeField(ctx, message, name, prop, wire, r, out, path === '' ? name : `${path}.${name}`, depth);
  }
}

function decodeField(
  ctx: Context, message: string, name: string, prop: OpenAPISchema, wire: number, r: ProtoReader,
  out: Record<string, unknown>, path: string, depth: number,
): void {
  const key = `${message}.${name}`;
  const bytes = BYTES.has(key);
  const ref = refOf(prop);
  const resolved = ref !== undefined && SPECIAL.has(ref) ? prop : ctx.schemas.resolve(prop);
  if (resolved.type === 'array') {
    // Repeated: one occurrence per element (numbers may also come packed).
    const items = resolved.items ?? {};
    const list = Array.isArray(out[name]) ? out[name] as unknown[] : (out[name] = []) as unknown[];
    const itemType = ctx.schemas.resolve(items).type;
    if (wire === WireType.LengthDelimited && (itemType === 'integer' || itemType === 'boolean' || itemType === 'number') && refOf(items) === undefined) {
      const packed = new ProtoReader(r.bytes());
      const elementWire = itemType === 'number' ? WireType.Fixed64 : WireType.Varint;
      while (!packed.done()) list.push(decodeValue(ctx, items, bytes, elementWire, packed, `${path}[${list.length}]`, depth));
    } else {
      list.push(decodeValue(ctx, items, bytes, wire, r, `${path}[${list.length}]`, depth));
    }
    return;
  }
  if (isMap(resolved)) {
    const map = isPlainObject(out[name]) ? out[name] as Record<string, unknown> : (out[name] = {}) as Record<string, unknown>;
    const valueSchema = resolved.additionalProperties as OpenAPISchema;
    const entry = new ProtoReader(lengthDelimited(r, wire, path));
    let k = '';
    let v: unknown;
    while (!entry.done()) {
      const t = entry.tag();
      if (t.field === 1 && t.wire === WireType.LengthDelimited) k = utf8(entry.bytes());
      else if (t.field === 2) v = decodeMapValue(ctx, valueSchema, bytes, t.wire, entry, path, depth);
      else entry.skip(t.wire, t.field);
    }
    map[k] = v === undefined ? zeroOf(ctx, valueSchema) : v;
    return;
  }
  const value = decodeValue(ctx, prop, bytes, wire, r, path, depth);
  const scalar = ref === undefined && resolved.type !== 'object';
  if (scalar && (value === '' || value === 0 || value === false) && !KEEP_ZERO.has(key)) return;
  out[name] = value;
}

/** A map value; a list value travels in a wrapper message `{ repeated items = 1 }`. */
function decodeMapValue(ctx: Context, schema: OpenAPISchema, bytes: boolean, wire: number, r: ProtoReader, path: string, depth: number): unknown {
  const resolved = ctx.schemas.resolve(schema);
  if (resolved.type !== 'array') return decodeValue(ctx, schema, bytes, wire, r, path, depth);
  const list: unknown[] = [];
  const wrapper = new ProtoReader(lengthDelimited(r, wire, path));
  while (!wrapper.done()) {
    const t = wrapper.tag();
    if (t.field === 1) list.push(decodeValue(ctx, resolved.items ?? {}, bytes, t.wire, wrapper, `${path}[${list.length}]`, depth));
    else wrapper.skip(t.wire, t.field);
  }
  return list;
}

/** One value of a field: a scalar, a special type, or a nested message. */
function decodeValue(ctx: Context, schema: OpenAPISchema, bytes: boolean, wire: number, r: ProtoReader, path: string, depth: number): unknown {
  const ref = refOf(schema);
  switch (ref) {
    case TIME: return decodeTime(lengthDelimited(r, wire, path), false);
    case MICRO_TIME: return decodeTime(lengthDelimited(r, wire, path), true);
    case QUANTITY: return decodeQuantity(lengthDelimited(r, wire, path));
    case INT_OR_STRING: return decodeIntOrString(lengthDelimited(r, wire, path));
    case RAW_EXTENSION: return decodeRaw(ctx, lengthDelimited(r, wire, path), path, depth);
    case FIELDS_V1: return decodeRaw(ctx, lengthDelimited(r, wire, path), path, depth);
  }
  const resolved = ctx.schemas.resolve(schema);
  if (ref !== undefined && resolved.type !== 'string' && resolved.type !== 'integer' && resolved.type !== 'boolean' && resolved.type !== 'number') {
    const nested: Record<string, unknown> = {};
    decodeMessage(ctx, ref, ref, lengthDelimited(r, wire, path), nested, path, depth + 1);
    return nested;
  }
  switch (resolved.type) {
    case 'string': {
      const data = lengthDelimited(r, wire, path);
      return bytes ? base64(data) : utf8(data);
    }
    case 'integer':
      expectWire(wire, WireType.Varint, path);
      return Number(BigInt.asIntN(64, r.varint()));
    case 'boolean':
      expectWire(wire, WireType.Varint, path);
      return r.varint() !== 0n;
    case 'number':
      if (wire === WireType.Fixed64) return r.fixed64().getFloat64(0, true);
      if (wire === WireType.Fixed32) return r.fixed32().getFloat32(0, true);
      expectWire(wire, WireType.Varint, path);
      return Number(BigInt.asIntN(64, r.varint()));
    default:
      throw errors.badRequest(`Cannot decode protobuf field "${path}": its schema has no type the decoder knows`);
  }
}

/** Time and MicroTime: `{seconds = 1, nanos = 2}`; the zero time is an empty message, `null` in JSON. */
function decodeTime(data: Uint8Array, micro: boolean): string | null {
  if (data.length === 0) return null;
  let seconds = 0n;
  let nanos = 0;
  const r = new ProtoReader(data);
  while (!r.done()) {
    const t = r.tag();
    if (t.field === 1 && t.wire === WireType.Varint) seconds = BigInt.asIntN(64, r.varint());
    else if (t.field === 2 && t.wire === WireType.Varint) nanos = Number(BigInt.asIntN(32, r.varint()));
    else r.skip(t.wire, t.field);
  }
  const date = new Date(Number(seconds) * 1000);
  if (Number.isNaN(date.getTime())) throw errors.badRequest(`Invalid protobuf body: time ${seconds}s is out of range`);
  const whole = date.toISOString().slice(0, 19);
  // metav1.Time keeps seconds only (its Unmarshal drops nanos); MicroTime keeps microseconds.
  return micro ? `${whole}.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z` : `${whole}Z`;
}

/** Quantity: `{string = 1}`, already canonical as the sender's Quantity.String() wrote it. */
function decodeQuantity(data: Uint8Array): string {
  let s = '0';
  const r = new ProtoReader(data);
  while (!r.done()) {
    const t = r.tag();
    if (t.field === 1 && t.wire === WireType.LengthDelimited) s = utf8(r.bytes());
    else r.skip(t.wire, t.field);
  }
  return s;
}

/** IntOrString: `{type = 1 (0 int, 1 string), intVal = 2, strVal = 3}`. */
function decodeIntOrString(data: Uint8Array): number | string {
  let type = 0;
  let intVal = 0;
  let strVal = '';
  const r = new ProtoReader(data);
  while (!r.done()) {
    const t = r.tag();
    if (t.field === 1 && t.wire === WireType.Varint) type = Number(r.varint());
    else if (t.field === 2 && t.wire === WireType.Varint) intVal = Number(BigInt.asIntN(32, r.varint()));
    else if (t.field === 3 && t.wire === WireType.LengthDelimited) strVal = utf8(r.bytes());
    else r.skip(t.wire, t.field);
  }
  return type === 1 ? strVal : intVal;
}

/** RawExtension and FieldsV1: `{raw = 1}` holding JSON (or, for an embedded object, protobuf). */
function decodeRaw(ctx: Context, data: Uint8Array, path: string, depth: number): unknown {
  let raw: Uint8Array | undefined;
  const r = new ProtoReader(data);
  while (!r.done()) {
    const t = r.tag();
    if (t.field === 1 && t.wire === WireType.LengthDelimited) raw = r.bytes();
    else r.skip(t.wire, t.field);
  }
  if (raw === undefined || raw.length === 0) return null;
  if (isKubernetesProtobuf(raw)) return decodeWith(ctx, raw, depth + 1);
  return parseJson(raw, `field "${path}"`);
}

function parseJson(data: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(utf8(data));
  } catch (e) {
    throw errors.badRequest(`Invalid protobuf body: ${what} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function zeroOf(ctx: Context, schema: OpenAPISchema): unknown {
  switch (refOf(schema)) {
    case TIME: case MICRO_TIME: case RAW_EXTENSION: case FIELDS_V1: return null;
    case QUANTITY: return '0';
    case INT_OR_STRING: return 0;
  }
  const resolved = ctx.schemas.resolve(schema);
  switch (resolved.type) {
    case 'string': return '';
    case 'integer': case 'number': return 0;
    case 'boolean': return false;
    case 'array': return [];
    default: return {};
  }
}

function isMap(schema: OpenAPISchema): boolean {
  return schema.type === 'object' && schema.properties === undefined && typeof schema.additionalProperties === 'object';
}

function lengthDelimited(r: ProtoReader, wire: number, path: string): Uint8Array {
  expectWire(wire, WireType.LengthDelimited, path);
  return r.bytes();
}

function expectWire(wire: number, want: number, path: string): void {
  if (wire !== want) throw errors.badRequest(`Invalid protobuf body: field "${path}" has wire type ${wire}, expected ${want}`);
}

const decoder = new TextDecoder();

function utf8(data: Uint8Array): string {
  return decoder.decode(data);
}

function base64(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
}

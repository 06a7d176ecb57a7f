// The inverse of decode.ts, from the same tables, for tests: it writes the fields an object has,
// where go-to-protobuf would also write every zero non-pointer field. So it proves that decoding
// is faithful, not that our bytes equal Go's byte for byte (the captured fixtures prove that side).
import type { KubeObject } from '../object.js';
import { refOf } from '../schema/index.js';
import type { OpenAPISchema, SchemaSet } from '../schema/types.js';
import { FIELDS_V1, INT_OR_STRING, MICRO_TIME, PROTOBUF_MAGIC, QUANTITY, RAW_EXTENSION, TIME } from './decode.js';
import { BYTES, FIELDS } from './fields.js';
import { WireType } from './wire.js';

/** Appends protobuf values to a growing byte list. */
export class ProtoWriter {
  private readonly out: number[] = [];

  varint(value: bigint | number): this {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.out.push(Number(v));
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint((BigInt(field) << 3n) | BigInt(wire));
  }

  raw(bytes: Uint8Array | readonly number[]): this {
    for (const b of bytes) this.out.push(b);
    return this;
  }

  bytes(field: number, bytes: Uint8Array): this {
    return this.tag(field, WireType.LengthDelimited).varint(bytes.length).raw(bytes);
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  uint(field: number, value: bigint | number): this {
    return this.tag(field, WireType.Varint).varint(value);
  }

  double(field: number, value: number): this {
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, value, true);
    return this.tag(field, WireType.Fixed64).raw(new Uint8Array(view.buffer));
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

/** `k8s\0` + runtime.Unknown{typeMeta, raw, contentEncoding: '', contentType: ''}, as client-go sends. */
export function encodeKubernetesProtobuf(obj: KubeObject, schemaName: string, schemas: SchemaSet): Uint8Array {
  const typeMeta = new ProtoWriter().string(1, obj.apiVersion ?? '').string(2, obj.kind ?? '').finish();
  const unknown = new ProtoWriter()
    .bytes(1, typeMeta)
    .bytes(2, encodeMessage(schemas, schemaName, obj))
    .string(3, '')
    .string(4, '')
    .finish();
  return Uint8Array.from([...PROTOBUF_MAGIC, ...unknown]);
}

/** One message of the given component from its JSON form. */
export function encodeMessage(schemas: SchemaSet, component: string, obj: Record<string, unknown>, message = component): Uint8Array {
  const table = FIELDS[message];
  const schema = schemas.get(component);
  if (table === undefined || schema === undefined) throw new Error(`No field table for "${message}"`);
  const w = new ProtoWriter();
  for (const [num, name] of Object.entries(table).sort(([a], [b]) => Number(a) - Number(b))) {
    const field = Number(num);
    if (name.startsWith('...')) {
      // Go always writes an embedded non-pointer struct, even empty.
      w.bytes(field, encodeMessage(schemas, component, obj, name.slice(3)));
      continue;
    }
    const value = obj[name];
    const prop = schema.properties?.[name];
    if (value === undefined || prop === undefined) continue;
    encodeField(schemas, w, field, prop, BYTES.has(`${message}.${name}`), value);
  }
  return w.finish();
}

function encodeField(schemas: SchemaSet, w: ProtoWriter, field: number, schema: OpenAPISchema, bytes: boolean, value: unknown): void {
  const ref = refOf(schema);
  switch (ref) {
    case TIME: case MICRO_TIME: {
      const t = new ProtoWriter();
      if (value !== null) {
        const ms = Date.parse(String(value));
        t.uint(1, Math.floor(ms / 1000));
        const micros = /\.(\d{6})Z$/.exec(String(value))?.[1];
        if (ref === MICRO_TIME && micros !== undefined && Number(micros) !== 0) t.uint(2, Number(micros) * 1000);
      }
      w.bytes(field, t.finish());
      return;
    }
    case QUANTITY:
      w.bytes(field, new ProtoWriter().string(1, String(value)).finish());
      return;
    case INT_OR_STRING:
      w.bytes(field, typeof value === 'number'
        ? new ProtoWriter().uint(1, 0).uint(2, value).string(3, '').finish()
        : new ProtoWriter().uint(1, 1).uint(2, 0).string(3, String(value)).finish());
      return;
    case RAW_EXTENSION: case FIELDS_V1:
      w.bytes(field, value === null ? new Uint8Array(0) : new ProtoWriter().string(1, JSON.stringify(value)).finish());
      return;
  }
  const resolved = schemas.resolve(schema);
  if (resolved.type === 'array') {
    for (const item of value as unknown[]) encodeField(schemas, w, field, resolved.items ?? {}, bytes, item);
    return;
  }
  if (resolved.type === 'object' && resolved.properties === undefined && typeof resolved.additionalProperties === 'object') {
    const valueSchema = resolved.additionalProperties;
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const entry = new ProtoWriter().string(1, k);
      if (schemas.resolve(valueSchema).type === 'array') {
        const wrapper = new ProtoWriter();
        encodeField(schemas, wrapper, 1, valueSchema, bytes, v);
        entry.bytes(2, wrapper.finish());
      } else {
        encodeField(schemas, entry, 2, valueSchema, bytes, v);
      }
      w.bytes(field, entry.finish());
    }
    return;
  }
  if (ref !== undefined && resolved.type !== 'string' && resolved.type !== 'integer' && resolved.type !== 'boolean' && resolved.type !== 'number') {
    w.bytes(field, encodeMessage(schemas, ref, value as Record<string, unknown>));
    return;
  }
  switch (resolved.type) {
    case 'string':
      if (bytes) w.bytes(field, Uint8Array.from(Buffer.from(String(value), 'base64')));
      else w.string(field, String(value));
      return;
    case 'integer': w.uint(field, BigInt(value as number)); return;
    case 'boolean': w.uint(field, value ? 1 : 0); return;
    case 'number': w.double(field, value as number); return;
    default: throw new Error(`Cannot encode a value of schema type "${String(resolved.type)}"`);
  }
}

// The protobuf wire format, reading side: just what Kubernetes messages use. Varints are read as
// bigint so int64 values and negative int32 values (sign-extended to ten bytes) come out exact;
// zigzag (sint32/sint64) never appears in k8s.io protos, so it is not implemented.
import { errors } from '../errors.js';

export const WireType = {
  Varint: 0,
  Fixed64: 1,
  LengthDelimited: 2,
  StartGroup: 3,
  EndGroup: 4,
  Fixed32: 5,
} as const;
export type WireType = number;

export interface Tag {
  field: number;
  wire: WireType;
}

/** A cursor over one message's bytes. Every read past the end throws a 400 "truncated" error. */
export class ProtoReader {
  private pos: number;

  constructor(private readonly buf: Uint8Array, start = 0, private readonly end = buf.length) {
    this.pos = start;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) throw truncated('a varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asUintN(64, result);
    }
    throw errors.badRequest('Invalid protobuf body: a varint is longer than 10 bytes');
  }

  tag(): Tag {
    const key = this.varint();
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field === 0) throw errors.badRequest('Invalid protobuf body: field number 0');
    return { field, wire };
  }

  /** A length-delimited value, as a view into the same buffer. */
  bytes(): Uint8Array {
    const len = this.varint();
    if (len > BigInt(this.end - this.pos)) throw truncated(`a ${len}-byte field`);
    const start = this.pos;
    this.pos += Number(len);
    return this.buf.subarray(start, this.pos);
  }

  fixed64(): DataView {
    return this.fixed(8);
  }

  fixed32(): DataView {
    return this.fixed(4);
  }

  /** Skips one value of the given wire type: what a reader does with a field number it does not know. */
  skip(wire: WireType, field: number): void {
    switch (wire) {
      case WireType.Varint: this.varint(); return;
      case WireType.Fixed64: this.fixed(8); return;
      case WireType.LengthDelimited: this.bytes(); return;
      case WireType.Fixed32: this.fixed(4); return;
      case WireType.StartGroup:
        // Groups are obsolete but well defined: skip to the matching end-group tag.
        for (;;) {
          if (this.done()) throw truncated(`group ${field}`);
          const t = this.tag();
          if (t.wire === WireType.EndGroup) {
            if (t.field !== field) throw errors.badRequest(`Invalid protobuf body: group ${field} ends with field ${t.field}`);
            return;
          }
          this.skip(t.wire, t.field);
        }
      default:
        throw errors.badRequest(`Invalid protobuf body: wire type ${wire} for field ${field}`);
    }
  }

  private fixed(n: number): DataView {
    if (this.end - this.pos < n) throw truncated(`a ${n}-byte fixed value`);
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, n);
    this.pos += n;
    return view;
  }
}

function truncated(what: string) {
  return errors.badRequest(`Invalid protobuf body: truncated data while reading ${what}`);
}

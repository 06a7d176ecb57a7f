import { StatusError } from '../errors.js';
import { ProtoWriter } from './encode.js';
import { ProtoReader, WireType } from './wire.js';

const reader = (bytes: number[]): ProtoReader => new ProtoReader(Uint8Array.from(bytes));

describe('ProtoReader', () => {
  it('reads varints up to 64 bits, including negative int32 sign-extended to ten bytes', () => {
    expect(reader([0x00]).varint()).toBe(0n);
    expect(reader([0xac, 0x02]).varint()).toBe(300n);
    expect(reader([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).varint()).toBe(2n ** 64n - 1n);
    const minusFive = new ProtoWriter().varint(-5).finish();
    expect(minusFive.length).toBe(10);
    expect(BigInt.asIntN(64, new ProtoReader(minusFive).varint())).toBe(-5n);
  });

  it('rejects a varint longer than ten bytes and one cut short', () => {
    expect(() => reader(Array(11).fill(0x80)).varint()).toThrow('Invalid protobuf body: a varint is longer than 10 bytes');
    expect(() => reader([0x80, 0x80]).varint()).toThrow('Invalid protobuf body: truncated data while reading a varint');
  });

  it('reads tags, and rejects field number 0', () => {
    expect(reader([0x0a]).tag()).toEqual({ field: 1, wire: WireType.LengthDelimited });
    expect(reader([0x80, 0x01]).tag()).toEqual({ field: 16, wire: WireType.Varint });
    expect(() => reader([0x02]).tag()).toThrow(StatusError);
  });

  it('returns length-delimited bytes as a view and rejects a length past the end', () => {
    const r = reader([0x03, 1, 2, 3, 9]);
    expect(Array.from(r.bytes())).toEqual([1, 2, 3]);
    expect(r.done()).toBe(false);
    expect(() => reader([0x05, 1, 2]).bytes()).toThrow('Invalid protobuf body: truncated data while reading a 5-byte field');
  });

  it('skips every wire type, groups included', () => {
    const r = reader([0x96, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 0x02, 9, 9, 0x08, 0x01, 0x1c]);
    r.skip(WireType.Varint, 1);
    r.skip(WireType.Fixed64, 2);
    r.skip(WireType.Fixed32, 3);
    r.skip(WireType.LengthDelimited, 4);
    r.skip(WireType.StartGroup, 3); // field 1 varint, then end of group 3
    expect(r.done()).toBe(true);
    expect(() => reader([0x08, 0x01]).skip(WireType.StartGroup, 3)).toThrow('truncated data while reading group 3');
    expect(() => reader([]).skip(7, 1)).toThrow('Invalid protobuf body: wire type 7 for field 1');
  });
});

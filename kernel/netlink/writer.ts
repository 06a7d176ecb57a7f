// The netlink message writer our own encoders share (nf_tables in ../nftables/encode.ts, IPVS over
// generic netlink in ../ipvs/encode.ts): messages and attributes written straight into one growing
// Buffer, no per-attribute objects, so 100 000 set elements encode in tens of milliseconds.
//
// Design notes. Netlink headers and attribute headers are host-endian (little-endian on every
// machine we run on); attribute VALUES are whatever the family says (nf_tables: big-endian; IPVS:
// host order except ports and the netmask), so the value writers name their byte order. Each
// attribute is padded to 4 bytes with zeros; a value writer fills its whole declared length.
// `msg` writes the 16-byte nlmsghdr only: the family's own header (nfgenmsg, genlmsghdr) follows
// with `header4`.

export const NLA_F_NESTED = 0x8000;

export class NetlinkWriter {
  buf: Buffer;
  pos = 0;
  constructor(size = 4096) { this.buf = Buffer.allocUnsafe(size); }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const b = Buffer.allocUnsafe(size);
    this.buf.copy(b, 0, 0, this.pos);
    this.buf = b;
  }

  /** Zeros up to the next 4-byte boundary. Byte stores, not Buffer#fill: this runs ~10⁶ times per big batch. */
  pad(): void {
    const p = (4 - (this.pos & 3)) & 3;
    if (p) { this.ensure(p); for (let i = 0; i < p; i++) this.buf[this.pos++] = 0; }
  }

  /** Starts a message (nlmsghdr, length filled by `end`); returns its start. */
  msg(type: number, flags: number, seq: number): number {
    this.ensure(16);
    const s = this.pos;
    const b = this.buf;
    b.writeUInt32LE(0, s);
    b.writeUInt16LE(type, s + 4);
    b.writeUInt16LE(flags, s + 6);
    b.writeUInt32LE(seq >>> 0, s + 8);
    b.writeUInt32LE(0, s + 12); // port id: the kernel fills it in
    this.pos += 16;
    return s;
  }

  /** Four bytes of a family header after `msg` (nfgenmsg: family, version, res_id; genlmsghdr: cmd, version, reserved). */
  header4(a: number, b: number, c: number, d: number): void {
    this.ensure(4);
    const p = this.pos;
    this.buf[p] = a; this.buf[p + 1] = b; this.buf[p + 2] = c; this.buf[p + 3] = d;
    this.pos += 4;
  }

  end(start: number): void { this.buf.writeUInt32LE(this.pos - start, start); }

  nest(type: number): number {
    this.ensure(4);
    const s = this.pos;
    this.buf.writeUInt16LE(type | NLA_F_NESTED, s + 2);
    this.pos += 4;
    return s;
  }

  endNest(start: number): void {
    const len = this.pos - start;
    if (len > 0xffff) throw new RangeError(`netlink attribute too long (${len} bytes)`);
    this.buf.writeUInt16LE(len, start);
  }

  /**
   * An attribute header for a value of `len` bytes; returns where the value goes (the caller
   * writes all of it) and moves past the value and its zeroed padding. Take the offset before
   * reading `this.buf`: this may grow (replace) the buffer.
   */
  attr(type: number, len: number): number {
    this.ensure(4 + len + 3);
    const b = this.buf;
    b.writeUInt16LE(4 + len, this.pos);
    b.writeUInt16LE(type, this.pos + 2);
    const p = this.pos + 4;
    const end = (p + len + 3) & ~3;
    for (let i = p + len; i < end; i++) b[i] = 0;
    this.pos = end;
    return p;
  }

  u16le(type: number, v: number): void { const p = this.attr(type, 2); this.buf.writeUInt16LE(v, p); }
  u16be(type: number, v: number): void { const p = this.attr(type, 2); this.buf.writeUInt16BE(v, p); }
  u32le(type: number, v: number): void { const p = this.attr(type, 4); this.buf.writeUInt32LE(v >>> 0, p); }
  u32be(type: number, v: number): void { const p = this.attr(type, 4); this.buf.writeUInt32BE(v >>> 0, p); }
  u64be(type: number, v: number): void { const p = this.attr(type, 8); this.buf.writeBigUInt64BE(BigInt(Math.floor(v)), p); }

  /** A NUL-terminated string. */
  str(type: number, s: string): void {
    const n = Buffer.byteLength(s);
    const p = this.attr(type, n + 1);
    this.buf.write(s, p);
    this.buf[p + n] = 0;
  }

  bytes(type: number, data: readonly number[] | Buffer): void {
    const p = this.attr(type, data.length);
    for (let i = 0; i < data.length; i++) this.buf[p + i] = data[i]!;
  }
}

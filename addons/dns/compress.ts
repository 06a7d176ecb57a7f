// DNS name compression (RFC 1035 §4.1.4) as a pass over an encoded message. dns-packet writes every
// name in full; a headless Service with many endpoints repeats `svc.ns.svc.cluster.local` in every
// answer, so compressing lets about three times as many records fit in a 512-byte UDP answer before
// the client has to retry over TCP.
//
// The pass re-writes owner names and the names inside the RDATA of the RFC 1035 types (CNAME, NS,
// PTR, SOA, MX), the only ones RFC 3597 §4 allows to be compressed. SRV targets stay whole (RFC
// 2782), and every other RDATA is copied byte for byte. Input it cannot walk is returned as it was:
// compression is an optimisation, never a reason to fail an answer.

const TYPE = { NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15 } as const;
const POINTER = 0xc0;
const MAX_POINTER_OFFSET = 0x3fff;

class Reader {
  constructor(readonly buf: Buffer, public pos = 0) {}
  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new RangeError('truncated message');
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /** Reads a name as its labels (following pointers, which dns-packet never writes but a peer may). */
  name(): Buffer[] {
    const labels: Buffer[] = [];
    let pos = this.pos;
    let jumped = false;
    for (let hops = 0; hops < 128; hops++) {
      if (pos >= this.buf.length) throw new RangeError('truncated name');
      const len = this.buf[pos]!;
      if (len === 0) {
        if (!jumped) this.pos = pos + 1;
        return labels;
      }
      if ((len & POINTER) === POINTER) {
        if (pos + 1 >= this.buf.length) throw new RangeError('truncated pointer');
        if (!jumped) this.pos = pos + 2;
        jumped = true;
        pos = ((len & 0x3f) << 8) | this.buf[pos + 1]!;
        continue;
      }
      if (len > 63 || pos + 1 + len > this.buf.length) throw new RangeError('bad label');
      labels.push(this.buf.subarray(pos + 1, pos + 1 + len));
      pos += 1 + len;
    }
    throw new RangeError('pointer loop');
  }
}

class Writer {
  private readonly chunks: Buffer[] = [];
  length = 0;
  /** Offsets of name suffixes already written, keyed by their lower-cased dotted form. */
  private readonly suffixes = new Map<string, number>();
  raw(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u16(v: number): void {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    this.raw(b);
  }
  name(labels: Buffer[]): void {
    for (let i = 0; i < labels.length; i++) {
      const key = labels.slice(i).map((l) => l.toString('latin1').toLowerCase()).join('.');
      const at = this.suffixes.get(key);
      if (at !== undefined) {
        this.u16((POINTER << 8) | at);
        return;
      }
      if (this.length <= MAX_POINTER_OFFSET && !this.suffixes.has(key)) this.suffixes.set(key, this.length);
      this.raw(Buffer.from([labels[i]!.length]));
      this.raw(labels[i]!);
    }
    this.raw(Buffer.from([0]));
  }
  /** Placeholder for a 16-bit length written later. */
  reserve16(): Buffer {
    const b = Buffer.alloc(2);
    this.raw(b);
    return b;
  }
  result(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

function copyRdata(type: number, r: Reader, end: number, w: Writer): void {
  switch (type) {
    case TYPE.NS: case TYPE.CNAME: case TYPE.PTR:
      w.name(r.name());
      break;
    case TYPE.MX:
      w.raw(r.bytes(2));
      w.name(r.name());
      break;
    case TYPE.SOA:
      w.name(r.name());
      w.name(r.name());
      w.raw(r.bytes(20));
      break;
    default:
      w.raw(r.bytes(end - r.pos));
  }
  if (r.pos !== end) throw new RangeError('RDATA length mismatch');
}

/** Returns `message` with its names compressed, or `message` itself when it cannot be walked. */
export function compressMessage(message: Buffer): Buffer {
  try {
    const r = new Reader(message);
    const w = new Writer();
    const header = r.bytes(12);
    w.raw(header);
    const qd = header.readUInt16BE(4);
    const rrs = header.readUInt16BE(6) + header.readUInt16BE(8) + header.readUInt16BE(10);
    for (let i = 0; i < qd; i++) {
      w.name(r.name());
      w.raw(r.bytes(4));
    }
    for (let i = 0; i < rrs; i++) {
      w.name(r.name());
      const typeClassTtl = r.bytes(8);
      w.raw(typeClassTtl);
      const rdlength = r.u16();
      const end = r.pos + rdlength;
      r.need(rdlength);
      const lengthSlot = w.reserve16();
      const before = w.length;
      copyRdata(typeClassTtl.readUInt16BE(0), r, end, w);
      lengthSlot.writeUInt16BE(w.length - before);
    }
    if (r.pos !== message.length) return message;
    return w.result();
  } catch {
    return message;
  }
}

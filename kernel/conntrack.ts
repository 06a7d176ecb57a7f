// Conntrack over netlink (NETLINK_NETFILTER, subsystem CTNETLINK): list IPv4 flows and delete the
// ones matching a filter. The proxy uses it to drop UDP flows still DNATed to an endpoint that is
// gone, so UDP clients (DNS) reach a live endpoint at once instead of waiting out the entry.
//
// Design notes. The kernel deletes one flow per message, named by its original tuple, and cannot
// filter a dump by address on every kernel we support, so — as upstream kube-proxy does through
// vishvananda/netlink — we dump the table, filter in userspace (pure `matches`), and send the
// deletions in one sendmsg. An entry that vanished meanwhile answers ENOENT, which is fine. The
// encoder and parser are pure and unit-tested; the socket is opened in a named namespace the same
// way nftables' is (setns around socket(2)). Rejected: the `conntrack` CLI (a process per
// cleanup, and text parsing), though it stays the operator's tool for checking our work.
import { RawNetlinkSocket } from 'netlink';
import { withNetnsSync } from './netns.js';

const NETLINK_NETFILTER = 12;
const NFNL_SUBSYS_CTNETLINK = 1;
const IPCTNL_MSG_CT_NEW = 0, IPCTNL_MSG_CT_GET = 1, IPCTNL_MSG_CT_DELETE = 2;
const NLM_F_REQUEST = 1, NLM_F_ACK = 4, NLM_F_DUMP = 0x300;
const NLMSG_ERROR = 2, NLMSG_DONE = 3;
const NLA_F_NESTED = 0x8000;
const AF_INET = 2;
const CTA_TUPLE_ORIG = 1, CTA_TUPLE_REPLY = 2, CTA_ZONE = 18;
const CTA_TUPLE_IP = 1, CTA_TUPLE_PROTO = 2;
const CTA_IP_V4_SRC = 1, CTA_IP_V4_DST = 2;
const CTA_PROTO_NUM = 1, CTA_PROTO_SRC_PORT = 2, CTA_PROTO_DST_PORT = 3;

export interface Tuple { readonly src: string; readonly dst: string; readonly proto: number; readonly sport: number; readonly dport: number }
export interface Flow { readonly orig: Tuple; readonly reply: Tuple; readonly zone?: number }

/** Which flows to delete; every given field must match. */
export interface FlowFilter {
  readonly proto: number;
  /** Original destination: the service address the client used. */
  readonly origDst?: string;
  readonly origDstPort?: number;
  /** Reply source: the endpoint the flow was DNATed to. */
  readonly replySrc?: string;
}

export function matches(f: Flow, filter: FlowFilter): boolean {
  return f.orig.proto === filter.proto
    && (filter.origDst === undefined || f.orig.dst === filter.origDst)
    && (filter.origDstPort === undefined || f.orig.dport === filter.origDstPort)
    && (filter.replySrc === undefined || f.reply.src === filter.replySrc);
}

// ---- encoding (pure) ----

const ipBytes = (ip: string): number[] => ip.split('.').map(Number);
const ipText = (b: Buffer, off: number): string => `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;

class Out {
  private readonly parts: number[] = [];
  attr(type: number, data: number[]): void {
    const len = 4 + data.length;
    this.parts.push(len & 0xff, len >> 8, type & 0xff, type >> 8, ...data);
    while (this.parts.length % 4) this.parts.push(0);
  }
  nest(type: number, fn: () => void): void {
    const start = this.parts.length;
    this.parts.push(0, 0, (type | NLA_F_NESTED) & 0xff, (type | NLA_F_NESTED) >> 8);
    fn();
    const len = this.parts.length - start;
    this.parts[start] = len & 0xff;
    this.parts[start + 1] = len >> 8;
  }
  get bytes(): number[] { return this.parts; }
}

function message(type: number, flags: number, seq: number, attrs: number[]): Buffer {
  const b = Buffer.alloc(20 + attrs.length);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE((NFNL_SUBSYS_CTNETLINK << 8) | type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq >>> 0, 8);
  b[16] = AF_INET;
  b[17] = 0; // NFNETLINK_V0
  b.writeUInt16BE(0, 18);
  Buffer.from(attrs).copy(b, 20);
  return b;
}

/** A dump request for every IPv4 flow. */
export function encodeDump(seq: number): Buffer {
  return message(IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, seq, []);
}

/** A delete request naming the flow by its original tuple (and zone). */
export function encodeDelete(f: Flow, seq: number): Buffer {
  const o = new Out();
  o.nest(CTA_TUPLE_ORIG, () => {
    o.nest(CTA_TUPLE_IP, () => {
      o.attr(CTA_IP_V4_SRC, ipBytes(f.orig.src));
      o.attr(CTA_IP_V4_DST, ipBytes(f.orig.dst));
    });
    o.nest(CTA_TUPLE_PROTO, () => {
      o.attr(CTA_PROTO_NUM, [f.orig.proto]);
      if (f.orig.proto === 6 || f.orig.proto === 17 || f.orig.proto === 132) {
        o.attr(CTA_PROTO_SRC_PORT, [f.orig.sport >> 8, f.orig.sport & 0xff]);
        o.attr(CTA_PROTO_DST_PORT, [f.orig.dport >> 8, f.orig.dport & 0xff]);
      }
    });
  });
  if (f.zone) o.attr(CTA_ZONE, [f.zone >> 8, f.zone & 0xff]);
  return message(IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, seq, o.bytes);
}

// ---- parsing (pure) ----

function* attrs(b: Buffer, start: number, end: number): Generator<{ type: number; off: number; len: number }> {
  for (let p = start; p + 4 <= end;) {
    const len = b.readUInt16LE(p);
    if (len < 4) return;
    yield { type: b.readUInt16LE(p + 2) & 0x3fff, off: p + 4, len: len - 4 };
    p += (len + 3) & ~3;
  }
}

function parseTuple(b: Buffer, start: number, end: number): Tuple | undefined {
  let src = '', dst = '', proto = -1, sport = 0, dport = 0;
  for (const a of attrs(b, start, end)) {
    if (a.type === CTA_TUPLE_IP) {
      for (const i of attrs(b, a.off, a.off + a.len)) {
        if (i.type === CTA_IP_V4_SRC && i.len === 4) src = ipText(b, i.off);
        if (i.type === CTA_IP_V4_DST && i.len === 4) dst = ipText(b, i.off);
      }
    } else if (a.type === CTA_TUPLE_PROTO) {
      for (const i of attrs(b, a.off, a.off + a.len)) {
        if (i.type === CTA_PROTO_NUM) proto = b[i.off]!;
        if (i.type === CTA_PROTO_SRC_PORT) sport = b.readUInt16BE(i.off);
        if (i.type === CTA_PROTO_DST_PORT) dport = b.readUInt16BE(i.off);
      }
    }
  }
  return src && dst && proto >= 0 ? { src, dst, proto, sport, dport } : undefined;
}

/** Parses one CT_NEW message body (after the nfgenmsg header). */
export function parseFlow(b: Buffer, start: number, end: number): Flow | undefined {
  let orig: Tuple | undefined, reply: Tuple | undefined, zone: number | undefined;
  for (const a of attrs(b, start, end)) {
    if (a.type === CTA_TUPLE_ORIG) orig = parseTuple(b, a.off, a.off + a.len);
    else if (a.type === CTA_TUPLE_REPLY) reply = parseTuple(b, a.off, a.off + a.len);
    else if (a.type === CTA_ZONE && a.len >= 2) zone = b.readUInt16BE(a.off);
  }
  return orig && reply ? { orig, reply, ...(zone ? { zone } : {}) } : undefined;
}

// ---- the socket ----

export class ConntrackError extends Error {
  readonly code = 'KernelRefused';
}

export class Conntrack {
  private seq = Math.floor(Math.random() * 0x3fffffff);
  private queue: Promise<unknown> = Promise.resolve();
  private constructor(private readonly sock: RawNetlinkSocket) { sock.unref(); }

  /** Opens a conntrack socket in the current network namespace, or in the named one. */
  static open(netns?: string): Conntrack {
    const make = (): RawNetlinkSocket => new RawNetlinkSocket(NETLINK_NETFILTER, { recvBufferSize: 8 << 20, sendBufferSize: 4 << 20 });
    return new Conntrack(netns === undefined ? make() : withNetnsSync(netns, make));
  }

  close(): void { this.sock.close(); }

  /** Every IPv4 flow. */
  list(): Promise<Flow[]> { return this.serial(() => this.listNow()); }

  /** Deletes the flows matching any of the filters; resolves with how many were deleted. */
  deleteFlows(filters: readonly FlowFilter[]): Promise<number> {
    if (filters.length === 0) return Promise.resolve(0);
    return this.serial(async () => {
      const victims = (await this.listNow()).filter((f) => filters.some((x) => matches(f, x)));
      if (victims.length === 0) return 0;
      const first = this.seq;
      const msgs = victims.map((f) => encodeDelete(f, this.seq++));
      let deleted = 0;
      await this.exchange(Buffer.concat(msgs), (type, seq, errno) => {
        if (type !== NLMSG_ERROR || seq < first || seq >= first + msgs.length) return false;
        if (errno === 0) deleted++;
        else if (errno !== 2) throw new ConntrackError(`conntrack delete refused: errno ${errno}`); // ENOENT: gone already
        return seq - first + 1 === msgs.length; // acks arrive in order
      });
      return deleted;
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async listNow(): Promise<Flow[]> {
    const seq = this.seq++;
    const flows: Flow[] = [];
    await this.exchange(encodeDump(seq), (type, s, errno, buf, off, len) => {
      if (s !== seq) return false;
      if (type === NLMSG_DONE) return true;
      if (type === NLMSG_ERROR) { if (errno) throw new ConntrackError(`conntrack dump refused: errno ${errno}`); return true; }
      if ((type & 0xff) === IPCTNL_MSG_CT_NEW && type >> 8 === NFNL_SUBSYS_CTNETLINK) {
        const f = parseFlow(buf, off + 20, off + len);
        if (f) flows.push(f);
      }
      return false;
    });
    return flows;
  }

  /** Sends `bytes` and feeds every answer to `onMsg` until it returns true (or throws). */
  private exchange(bytes: Buffer, onMsg: (type: number, seq: number, errno: number, buf: Buffer, off: number, len: number) => boolean, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      this.sock.ref();
      const done = (err?: unknown): void => {
        clearTimeout(timer);
        this.sock.off('message', onMessage);
        this.sock.unref();
        if (err) reject(err); else resolve();
      };
      const timer = setTimeout(() => done(new ConntrackError(`no answer from conntrack after ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (buf: Buffer): void => {
        try {
          for (let off = 0; off + 16 <= buf.length;) {
            const len = buf.readUInt32LE(off);
            if (len < 16) break;
            const type = buf.readUInt16LE(off + 4);
            const seq = buf.readUInt32LE(off + 8);
            const errno = type === NLMSG_ERROR ? -buf.readInt32LE(off + 16) : 0;
            const errSeq = type === NLMSG_ERROR && len >= 36 ? buf.readUInt32LE(off + 16 + 4 + 8) : seq;
            if (onMsg(type, errSeq, errno, buf, off, len)) { done(); return; }
            off += (len + 3) & ~3;
          }
        } catch (e) { done(e); }
      };
      this.sock.on('message', onMessage);
      this.sock.send(bytes, {}, (err) => { if (err) done(new ConntrackError(`sendmsg: ${err.message}`)); });
    });
  }
}

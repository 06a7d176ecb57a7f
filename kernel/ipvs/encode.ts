// Encoder and decoder for the IPVS generic-netlink family ("IPVS", include/uapi/linux/ip_vs.h).
// Pure: bytes in, bytes out; the socket is in ./socket.ts.
//
// Design notes. A message is nlmsghdr (16 bytes, type = the family id the genl controller gave us)
// + genlmsghdr (cmd, version 1, reserved) + one nested IPVS_CMD_ATTR_SERVICE and, for real-server
// commands, one nested IPVS_CMD_ATTR_DEST. Attribute headers and plain integers are host-endian
// (little-endian everywhere we run); ports and the netmask are network order (nla_get_be16/be32 in
// ip_vs_ctl.c), addresses are the 16 bytes of `union nf_inet_addr` with the IPv4 address first, as
// ipvsadm/libipvs send them. Commands are written into one Buffer for many messages, so that a
// whole sync goes to the kernel in a few sendmsg calls (see socket.ts for why that is safe).
// IPv4 only, like the rest of the proxy. The bytes are written by ../netlink/writer.ts, the
// writer the nf_tables encoder uses too.
import { NetlinkWriter } from '../netlink/writer.js';

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

export const IPVS_CMD = {
  NEW_SERVICE: 1, SET_SERVICE: 2, DEL_SERVICE: 3, GET_SERVICE: 4,
  NEW_DEST: 5, SET_DEST: 6, DEL_DEST: 7, GET_DEST: 8, FLUSH: 17,
} as const;
const CMD_ATTR_SERVICE = 1, CMD_ATTR_DEST = 2;
const SVC = { AF: 1, PROTOCOL: 2, ADDR: 3, PORT: 4, FWMARK: 5, SCHED_NAME: 6, FLAGS: 7, TIMEOUT: 8, NETMASK: 9 } as const;
const DEST = { ADDR: 1, PORT: 2, FWD_METHOD: 3, WEIGHT: 4, U_THRESH: 5, L_THRESH: 6, ACTIVE_CONNS: 7, INACT_CONNS: 8, PERSIST_CONNS: 9, ADDR_FAMILY: 11 } as const;

export const IP_VS_SVC_F_PERSISTENT = 0x1;
/** Set by the kernel on every service in its table; never ours to set or compare. */
export const IP_VS_SVC_F_HASHED = 0x2;
/** IP_VS_CONN_F_MASQ: NAT forwarding, the only method kube-proxy uses. */
export const IP_VS_CONN_F_MASQ = 0;

const NLM_F_REQUEST = 0x1, NLM_F_ACK = 0x4, NLM_F_DUMP = 0x300;
const AF_INET = 2;
export const NLMSG_ERROR = 2, NLMSG_DONE = 3;

export type IpvsProtocol = 'TCP' | 'UDP' | 'SCTP';
const PROTO_NUM: Record<IpvsProtocol, number> = { TCP: 6, UDP: 17, SCTP: 132 };
const PROTO_NAME: Record<number, IpvsProtocol> = { 6: 'TCP', 17: 'UDP', 132: 'SCTP' };

/** What identifies a virtual server. */
export interface VirtualServerKey { readonly address: string; readonly protocol: IpvsProtocol; readonly port: number }
export interface VirtualServer extends VirtualServerKey {
  /** rr, wrr, lc, sh, … (the ip_vs_<name> module is loaded on demand by the kernel). */
  readonly scheduler: string;
  /** IP_VS_SVC_F_* without HASHED; PERSISTENT for ClientIP affinity. */
  readonly flags: number;
  /** Persistence timeout in seconds (0 without persistence). */
  readonly timeout: number;
}
export interface RealServerKey { readonly address: string; readonly port: number }
export interface RealServer extends RealServerKey { readonly weight: number }
/** A real server as the kernel reports it (with its connection counters). */
export interface ObservedRealServer extends RealServer { readonly fwdMethod: number; readonly activeConns: number; readonly inactiveConns: number }

export type IpvsOp =
  | { readonly op: 'addService' | 'updateService'; readonly service: VirtualServer }
  | { readonly op: 'delService'; readonly service: VirtualServerKey }
  | { readonly op: 'addDest' | 'updateDest'; readonly service: VirtualServerKey; readonly dest: RealServer }
  | { readonly op: 'delDest'; readonly service: VirtualServerKey; readonly dest: RealServerKey }
  | { readonly op: 'flush' };

export const serviceKeyText = (s: VirtualServerKey): string => `${s.protocol} ${s.address}:${s.port}`;
export const destKeyText = (d: RealServerKey): string => `${d.address}:${d.port}`;

/** A human description of an op, for errors and logs: "add dest 10.1.0.2:8080 to TCP 10.96.0.1:80". */
export function describeOp(o: IpvsOp): string {
  switch (o.op) {
    case 'addService': return `add service ${serviceKeyText(o.service)}`;
    case 'updateService': return `update service ${serviceKeyText(o.service)}`;
    case 'delService': return `delete service ${serviceKeyText(o.service)}`;
    case 'addDest': return `add real server ${destKeyText(o.dest)} to ${serviceKeyText(o.service)}`;
    case 'updateDest': return `update real server ${destKeyText(o.dest)} of ${serviceKeyText(o.service)}`;
    case 'delDest': return `delete real server ${destKeyText(o.dest)} from ${serviceKeyText(o.service)}`;
    case 'flush': return 'flush every virtual server';
  }
}

/** The shared netlink writer plus IPVS's pieces: the genlmsghdr, addresses and flag pairs. */
class Writer extends NetlinkWriter {
  genlMsg(family: number, flags: number, seq: number, cmd: number): number {
    const s = this.msg(family, flags, seq);
    this.header4(cmd, IPVS_GENL_VERSION, 0, 0);
    return s;
  }
  /** `union nf_inet_addr`: 16 bytes, the IPv4 address first, the rest zero. */
  addr(type: number, ip: string): void {
    const p = this.attr(type, 16);
    writeIpv4(this.buf, p, ip);
    for (let i = 4; i < 16; i++) this.buf[p + i] = 0;
  }
  flags(type: number, flags: number, mask: number): void {
    const p = this.attr(type, 8);
    this.buf.writeUInt32LE(flags >>> 0, p);
    this.buf.writeUInt32LE(mask >>> 0, p + 4);
  }
}

/** Writes the 4 bytes of an IPv4 address. */
function writeIpv4(b: Buffer, p: number, ip: string): void {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255)) throw new TypeError(`invalid IPv4 address "${ip}"`);
  for (let i = 0; i < 4; i++) b[p + i] = Number(parts[i]);
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`invalid ${what} port ${port}`);
}

function serviceAttrs(w: Writer, s: VirtualServerKey, full?: VirtualServer): void {
  checkPort(s.port, 'virtual server');
  const n = w.nest(CMD_ATTR_SERVICE);
  w.u16le(SVC.AF, AF_INET);
  w.u16le(SVC.PROTOCOL, PROTO_NUM[s.protocol]);
  w.addr(SVC.ADDR, s.address);
  w.u16be(SVC.PORT, s.port);
  if (full) {
    // A "full entry" (what NEW/SET_SERVICE require): scheduler, flags with their mask, timeout, netmask.
    w.str(SVC.SCHED_NAME, full.scheduler);
    w.flags(SVC.FLAGS, full.flags & ~IP_VS_SVC_F_HASHED, 0xffffffff);
    w.u32le(SVC.TIMEOUT, full.timeout);
    w.u32be(SVC.NETMASK, 0xffffffff);
  }
  w.endNest(n);
}

function destAttrs(w: Writer, d: RealServerKey, weight?: number): void {
  checkPort(d.port, 'real server');
  const n = w.nest(CMD_ATTR_DEST);
  w.addr(DEST.ADDR, d.address);
  w.u16be(DEST.PORT, d.port);
  if (weight !== undefined) {
    // A full destination: forwarding method, weight and both thresholds (0: none).
    w.u32le(DEST.FWD_METHOD, IP_VS_CONN_F_MASQ);
    w.u32le(DEST.WEIGHT, weight);
    w.u32le(DEST.U_THRESH, 0);
    w.u32le(DEST.L_THRESH, 0);
    w.u16le(DEST.ADDR_FAMILY, AF_INET);
  }
  w.endNest(n);
}

const CMD_OF: Record<IpvsOp['op'], number> = {
  addService: IPVS_CMD.NEW_SERVICE, updateService: IPVS_CMD.SET_SERVICE, delService: IPVS_CMD.DEL_SERVICE,
  addDest: IPVS_CMD.NEW_DEST, updateDest: IPVS_CMD.SET_DEST, delDest: IPVS_CMD.DEL_DEST, flush: IPVS_CMD.FLUSH,
};

export interface EncodedOps {
  readonly bytes: Buffer;
  /** Byte offset where each message ends (to cut the buffer into sendmsg-sized chunks). */
  readonly ends: readonly number[];
}

/**
 * Encodes ops as consecutive messages with seq firstSeq, firstSeq+1, …. `ackEvery(i)` says which
 * ones ask for an ACK (the kernel reports a failure with NLMSG_ERROR whether asked or not).
 */
export function encodeOps(family: number, ops: readonly IpvsOp[], firstSeq: number, ackEvery: (i: number) => boolean = () => true): EncodedOps {
  const w = new Writer(Math.max(4096, ops.length * 112));
  const ends: number[] = [];
  ops.forEach((o, i) => {
    const m = w.genlMsg(family, NLM_F_REQUEST | (ackEvery(i) ? NLM_F_ACK : 0), firstSeq + i, CMD_OF[o.op]);
    switch (o.op) {
      case 'addService': case 'updateService': serviceAttrs(w, o.service, o.service); break;
      case 'delService': serviceAttrs(w, o.service); break;
      case 'addDest': case 'updateDest': serviceAttrs(w, o.service); destAttrs(w, o.dest, o.dest.weight); break;
      case 'delDest': serviceAttrs(w, o.service); destAttrs(w, o.dest); break;
      case 'flush': break;
    }
    w.end(m);
    ends.push(w.pos);
  });
  return { bytes: w.buf.subarray(0, w.pos), ends };
}

/** A dump request: every virtual server, or (with `service`) the real servers of one. */
export function encodeDump(family: number, seq: number, service?: VirtualServerKey): Buffer {
  const w = new Writer(128);
  const m = w.genlMsg(family, NLM_F_REQUEST | NLM_F_DUMP, seq, service ? IPVS_CMD.GET_DEST : IPVS_CMD.GET_SERVICE);
  if (service) serviceAttrs(w, service);
  w.end(m);
  return w.buf.subarray(0, w.pos);
}

// ---- decoding ----

export interface RawMessage { readonly type: number; readonly flags: number; readonly seq: number; readonly body: Buffer }

/** Splits a datagram into netlink messages. */
export function splitMessages(buf: Buffer): RawMessage[] {
  const out: RawMessage[] = [];
  for (let off = 0; off + 16 <= buf.length;) {
    const len = buf.readUInt32LE(off);
    if (len < 16 || off + len > buf.length) break;
    out.push({ type: buf.readUInt16LE(off + 4), flags: buf.readUInt16LE(off + 6), seq: buf.readUInt32LE(off + 8), body: buf.subarray(off + 16, off + len) });
    off += (len + 3) & ~3;
  }
  return out;
}

/** The errno of an NLMSG_ERROR body (0 for an ACK). */
export const errorOf = (m: RawMessage): number => -m.body.readInt32LE(0);

export function parseAttrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let off = 0; off + 4 <= buf.length;) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > buf.length) break;
    out.set(buf.readUInt16LE(off + 2) & 0x3fff, buf.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return out;
}

const ipv4Of = (b: Buffer | undefined): string => (b && b.length >= 4 ? `${b[0]}.${b[1]}.${b[2]}.${b[3]}` : '');

/** A NEW_SERVICE message of a GET_SERVICE dump; undefined for non-IPv4 or fwmark services. */
export function decodeService(m: RawMessage): VirtualServer | undefined {
  const nested = parseAttrs(m.body.subarray(4)).get(CMD_ATTR_SERVICE);
  if (!nested) return undefined;
  const a = parseAttrs(nested);
  if (a.get(SVC.AF)?.readUInt16LE(0) !== AF_INET || !a.has(SVC.ADDR)) return undefined;
  const protocol = PROTO_NAME[a.get(SVC.PROTOCOL)?.readUInt16LE(0) ?? 0];
  if (!protocol) return undefined;
  const sched = a.get(SVC.SCHED_NAME);
  return {
    address: ipv4Of(a.get(SVC.ADDR)),
    protocol,
    port: a.get(SVC.PORT)?.readUInt16BE(0) ?? 0,
    scheduler: sched ? sched.toString('utf8').replace(/\0.*$/s, '') : '',
    flags: (a.get(SVC.FLAGS)?.readUInt32LE(0) ?? 0) & ~IP_VS_SVC_F_HASHED,
    timeout: a.get(SVC.TIMEOUT)?.readUInt32LE(0) ?? 0,
  };
}

/** A NEW_DEST message of a GET_DEST dump. */
export function decodeDest(m: RawMessage): ObservedRealServer | undefined {
  const nested = parseAttrs(m.body.subarray(4)).get(CMD_ATTR_DEST);
  if (!nested) return undefined;
  const a = parseAttrs(nested);
  const u32 = (k: number): number => a.get(k)?.readUInt32LE(0) ?? 0;
  return {
    address: ipv4Of(a.get(DEST.ADDR)),
    port: a.get(DEST.PORT)?.readUInt16BE(0) ?? 0,
    weight: u32(DEST.WEIGHT),
    fwdMethod: u32(DEST.FWD_METHOD) & 7,
    activeConns: u32(DEST.ACTIVE_CONNS),
    inactiveConns: u32(DEST.INACT_CONNS),
  };
}

// Pure encoding for the parts of rtnetlink the `netlink` package leaves as raw bytes: the nested
// IFLA_LINKINFO of veth, bridge and vxlan devices (and bridge-port options), plus IPv4/MAC text ↔
// bytes. Kept separate from the socket code so it is unit-tested without a kernel.
//
// Attributes are host-endian (as netlink is), except the ones the kernel defines as network order
// (IFLA_VXLAN_PORT).

/** One netlink attribute: 4-byte header (len, type) + payload, padded to 4 bytes. */
export function nla(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

/** A nested attribute (NLA_F_NESTED set: newer kernels insist on it for strict-parsed nests). */
export function nest(type: number, children: Buffer[]): Buffer {
  return nla(type | NLA_F_NESTED, Buffer.concat(children));
}

export const NLA_F_NESTED = 0x8000;
export const u8 = (v: number): Buffer => Buffer.from([v & 0xff]);
export function u32(v: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0, 0); return b; }
export function be16(v: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16BE(v, 0); return b; }
export const cstr = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);

/** Parses a flat attribute stream into (type without flags) → payload. */
export function parseAttrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & 0x3fff;
    if (len < 4 || off + len > buf.length) break;
    out.set(type, buf.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return out;
}

// IFLA_* / IFLA_INFO_* / VETH / VXLAN / BRPORT numbers (include/uapi/linux/if_link.h).
export const IFLA = { ADDRESS: 1, IFNAME: 3, MTU: 4, LINK: 5, MASTER: 10, LINKINFO: 18, NET_NS_FD: 28 } as const;
export const IFLA_INFO = { KIND: 1, DATA: 2, SLAVE_KIND: 4, SLAVE_DATA: 5 } as const;
export const VETH_INFO_PEER = 1;
export const IFLA_VXLAN = { ID: 1, GROUP: 2, LINK: 3, LOCAL: 4, TTL: 5, LEARNING: 7, PORT: 15, UDP_CSUM: 18 } as const;
export const IFLA_BRPORT_MODE = 4;
export const IFLA_BRPORT_LEARNING = 8;

/** `struct ifinfomsg` (16 bytes): family, type, index, flags, change. */
export function ifinfomsg(index = 0, family = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(family, 0);
  b.writeInt32LE(index, 4);
  return b;
}

export interface VethPeerSpec { name: string; netnsFd?: number; mtu?: number; mac?: string }

/** IFLA_LINKINFO for `ip link add NAME type veth peer name PEER [netns FD]`. */
export function vethLinkInfo(peer: VethPeerSpec): Buffer {
  const attrs = [nla(IFLA.IFNAME, cstr(peer.name))];
  if (peer.netnsFd !== undefined) attrs.push(nla(IFLA.NET_NS_FD, u32(peer.netnsFd)));
  if (peer.mtu !== undefined) attrs.push(nla(IFLA.MTU, u32(peer.mtu)));
  if (peer.mac !== undefined) attrs.push(nla(IFLA.ADDRESS, macToBuf(peer.mac)));
  const peerMsg = Buffer.concat([ifinfomsg(), ...attrs]);
  return linkInfoPayload('veth', [nla(VETH_INFO_PEER, peerMsg)]);
}

export interface VxlanData { vni: number; port: number; local?: string; remote?: string; underlayIndex?: number; learning: boolean; ttl?: number; udpCsum?: boolean }

/** IFLA_LINKINFO for `ip link add NAME type vxlan id VNI dstport PORT local IP dev DEV nolearning`. */
export function vxlanLinkInfo(v: VxlanData): Buffer {
  const data = [nla(IFLA_VXLAN.ID, u32(v.vni))];
  if (v.remote !== undefined) data.push(nla(IFLA_VXLAN.GROUP, ipv4ToBuf(v.remote)));
  if (v.underlayIndex !== undefined) data.push(nla(IFLA_VXLAN.LINK, u32(v.underlayIndex)));
  if (v.local !== undefined) data.push(nla(IFLA_VXLAN.LOCAL, ipv4ToBuf(v.local)));
  if (v.ttl !== undefined) data.push(nla(IFLA_VXLAN.TTL, u8(v.ttl)));
  data.push(nla(IFLA_VXLAN.LEARNING, u8(v.learning ? 1 : 0)));
  data.push(nla(IFLA_VXLAN.PORT, be16(v.port)));
  if (v.udpCsum !== undefined) data.push(nla(IFLA_VXLAN.UDP_CSUM, u8(v.udpCsum ? 1 : 0)));
  return linkInfoPayload('vxlan', data);
}

/** IFLA_LINKINFO for a device with a kind and no data (`bridge`, `dummy`). */
export function kindLinkInfo(kind: string): Buffer {
  return Buffer.concat([nla(IFLA_INFO.KIND, cstr(kind))]);
}

/** IFLA_LINKINFO changing bridge-port options (`ip link set DEV type bridge_slave hairpin on`). */
export function bridgePortLinkInfo(opts: { hairpin?: boolean; learning?: boolean }): Buffer {
  const data: Buffer[] = [];
  if (opts.hairpin !== undefined) data.push(nla(IFLA_BRPORT_MODE, u8(opts.hairpin ? 1 : 0)));
  if (opts.learning !== undefined) data.push(nla(IFLA_BRPORT_LEARNING, u8(opts.learning ? 1 : 0)));
  return Buffer.concat([nla(IFLA_INFO.SLAVE_KIND, cstr('bridge')), nest(IFLA_INFO.SLAVE_DATA, data)]);
}

/** The payload of IFLA_LINKINFO (the package wraps it in the IFLA_LINKINFO header itself). */
function linkInfoPayload(kind: string, data: Buffer[]): Buffer {
  return Buffer.concat([nla(IFLA_INFO.KIND, cstr(kind)), nest(IFLA_INFO.DATA, data)]);
}

export interface ParsedLinkInfo {
  kind?: string;
  slaveKind?: string;
  vxlan?: { vni?: number; port?: number; local?: string; underlayIndex?: number; learning?: boolean };
  /** Bridge-port options when the link is enslaved to a bridge. */
  bridgePort?: { hairpin: boolean; learning?: boolean };
  /** veth only: the peer's ifindex is IFLA_LINK on the link itself, not here. */
}

/** Decodes the IFLA_LINKINFO payload the kernel returns with RTM_NEWLINK dumps. */
export function parseLinkInfo(buf: Buffer): ParsedLinkInfo {
  const a = parseAttrs(buf);
  const out: ParsedLinkInfo = {};
  const kind = a.get(IFLA_INFO.KIND);
  if (kind) out.kind = readCstr(kind);
  const slaveKind = a.get(IFLA_INFO.SLAVE_KIND);
  if (slaveKind) out.slaveKind = readCstr(slaveKind);
  const data = a.get(IFLA_INFO.DATA);
  if (out.kind === 'vxlan' && data) {
    const d = parseAttrs(data);
    const v: NonNullable<ParsedLinkInfo['vxlan']> = {};
    const id = d.get(IFLA_VXLAN.ID); if (id && id.length >= 4) v.vni = id.readUInt32LE(0);
    const port = d.get(IFLA_VXLAN.PORT); if (port && port.length >= 2) v.port = port.readUInt16BE(0);
    const local = d.get(IFLA_VXLAN.LOCAL); if (local && local.length === 4) v.local = bufToIpv4(local);
    const link = d.get(IFLA_VXLAN.LINK); if (link && link.length >= 4) v.underlayIndex = link.readUInt32LE(0);
    const learning = d.get(IFLA_VXLAN.LEARNING); if (learning && learning.length >= 1) v.learning = learning[0] !== 0;
    out.vxlan = v;
  }
  const sdata = a.get(IFLA_INFO.SLAVE_DATA);
  if (out.slaveKind === 'bridge' && sdata) {
    const d = parseAttrs(sdata);
    const mode = d.get(IFLA_BRPORT_MODE);
    const learning = d.get(IFLA_BRPORT_LEARNING);
    out.bridgePort = { hairpin: mode !== undefined && mode[0] === 1 };
    if (learning) out.bridgePort.learning = learning[0] === 1;
  }
  return out;
}

function readCstr(b: Buffer): string {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('utf8');
}

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isIpv4(s: string): boolean {
  const m = IPV4_RE.exec(s);
  return m !== null && m.slice(1).every((x) => Number(x) <= 255);
}

export function ipv4ToBuf(s: string): Buffer {
  if (!isIpv4(s)) throw new TypeError(`invalid IPv4 address "${s}"`);
  return Buffer.from(s.split('.').map(Number));
}

export function bufToIpv4(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** "10.1.2.0/24" → { addr, prefix }; a bare address is a /32. */
export function parsePrefix(s: string): { addr: string; prefix: number } {
  const [addr, len] = s.split('/');
  const prefix = len === undefined ? 32 : Number(len);
  if (addr === undefined || !isIpv4(addr) || !Number.isInteger(prefix) || prefix < 0 || prefix > 32 || (len !== undefined && !/^\d+$/.test(len))) {
    throw new TypeError(`invalid IPv4 prefix "${s}"`);
  }
  return { addr, prefix };
}

/** The network address of addr/prefix ("10.1.2.9/24" → "10.1.2.0"). */
export function networkOf(addr: string, prefix: number): string {
  const n = ipv4ToBuf(addr).readUInt32BE(0);
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  const b = Buffer.alloc(4);
  b.writeUInt32BE((n & mask) >>> 0, 0);
  return bufToIpv4(b);
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
export function isMac(s: string): boolean { return MAC_RE.test(s); }

export function macToBuf(s: string): Buffer {
  if (!isMac(s)) throw new TypeError(`invalid MAC address "${s}"`);
  return Buffer.from(s.split(':').map((x) => parseInt(x, 16)));
}

export function bufToMac(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** The errno name out of the package's `Request rejected: EEXIST` (or a node ErrnoException). */
export function errnoName(e: unknown): string {
  if (e && typeof e === 'object' && 'code' in e && typeof (e as { code: unknown }).code === 'string') return (e as { code: string }).code;
  const m = /Request rejected: (\w+)/.exec(e instanceof Error ? e.message : String(e));
  return m?.[1] ?? 'EUNKNOWN';
}

// Expression builders shared by the compilers that emit nf_tables rules (the proxy, NetworkPolicy):
// each returns kernel expressions whose `nft` text the caller writes beside them. Pure.
import type { Expr } from './types.js';

/** 32-bit registers NFT_REG32_00..03 (and on: 12, 13, … are 04, 05, …). */
export const R = { a: 8, b: 9, c: 10, d: 11 } as const;

export const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
export const be32 = (v: number): number[] => [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
export const be16 = (v: number): number[] => [(v >>> 8) & 0xff, v & 0xff];
export const hex = (v: number): string => `0x${v.toString(16).padStart(8, '0')}`;

/** IPv4 header offsets of the source and destination address. */
export const SADDR = 12;
export const DADDR = 16;

export const PROTO_NUM = { TCP: 6, UDP: 17, SCTP: 132 } as const;

function ipv4Num(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new TypeError(`invalid IPv4 address "${ip}"`);
  let n = 0;
  for (const p of parts) {
    const v = Number(p);
    if (!/^\d{1,3}$/.test(p) || v > 255) throw new TypeError(`invalid IPv4 address "${ip}"`);
    n = n * 256 + v;
  }
  return n >>> 0;
}

/** Match the IPv4 address at `offset` against a CIDR (a whole /32 needs no mask). */
export function cidrMatch(offset: number, cidr: string, cmp: 'eq' | 'neq'): Expr[] {
  const [addr, lenText] = cidr.split('/');
  const len = Number(lenText ?? 32);
  if (!(len >= 0 && len <= 32) || !Number.isInteger(len)) throw new TypeError(`invalid IPv4 CIDR "${cidr}"`);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  const net = (ipv4Num(addr ?? '') & mask) >>> 0;
  const load: Expr = { op: 'payload', base: 'network', offset, len: 4, dreg: R.a };
  if (len === 32) return [load, { op: 'cmp', sreg: R.a, cmp, data: be32(net) }];
  return [load, { op: 'bitwise', sreg: R.a, dreg: R.a, mask: be32(mask), xor: be32(0) }, { op: 'cmp', sreg: R.a, cmp, data: be32(net) }];
}

/** `meta mark set meta mark | bits` */
export function setMarkBits(bits: number): Expr[] {
  return [
    { op: 'meta', key: 'mark', dreg: R.a },
    { op: 'bitwise', sreg: R.a, dreg: R.a, mask: le32(~bits >>> 0), xor: le32(bits) },
    { op: 'metaSet', key: 'mark', sreg: R.a },
  ];
}

/** `meta mark set meta mark & ~bits` */
export function clearMarkBits(bits: number): Expr[] {
  return [
    { op: 'meta', key: 'mark', dreg: R.a },
    { op: 'bitwise', sreg: R.a, dreg: R.a, mask: le32(~bits >>> 0), xor: le32(0) },
    { op: 'metaSet', key: 'mark', sreg: R.a },
  ];
}

/** `meta mark & bits == 0` (or `!= 0`). */
export function markBitsMatch(bits: number, set: boolean): Expr[] {
  return [
    { op: 'meta', key: 'mark', dreg: R.a },
    { op: 'bitwise', sreg: R.a, dreg: R.a, mask: le32(bits), xor: le32(0) },
    { op: 'cmp', sreg: R.a, cmp: set ? 'neq' : 'eq', data: le32(0) },
  ];
}

/** `ct state established,related` */
export function ctEstablishedOrRelated(): Expr[] {
  const ESTABLISHED = 1 << 1, RELATED = 1 << 2;
  return [
    { op: 'ct', key: 'state', dreg: R.a },
    { op: 'bitwise', sreg: R.a, dreg: R.a, mask: le32(ESTABLISHED | RELATED), xor: le32(0) },
    { op: 'cmp', sreg: R.a, cmp: 'neq', data: le32(0) },
  ];
}

/** `meta l4proto P` */
export function l4protoMatch(proto: number): Expr[] {
  return [{ op: 'meta', key: 'l4proto', dreg: R.a }, { op: 'cmp', sreg: R.a, cmp: 'eq', data: [proto] }];
}

/** `th dport P` or `th dport P-Q` (two comparisons: memcmp order on network-order bytes is numeric). */
export function dportMatch(from: number, to = from): Expr[] {
  const load: Expr = { op: 'payload', base: 'transport', offset: 2, len: 2, dreg: R.b };
  if (from === to) return [load, { op: 'cmp', sreg: R.b, cmp: 'eq', data: be16(from) }];
  return [load, { op: 'cmp', sreg: R.b, cmp: 'gte', data: be16(from) }, { op: 'cmp', sreg: R.b, cmp: 'lte', data: be16(to) }];
}

/** `ip saddr @set` / `ip daddr @set` */
export function addrInSet(offset: number, set: string): Expr[] {
  return [{ op: 'payload', base: 'network', offset, len: 4, dreg: R.a }, { op: 'lookup', set, sreg: R.a }];
}

/** `ip daddr . meta l4proto . th dport @set` (or with saddr): the three-field key in r8..r10. */
export function addrProtoPortInSet(offset: number, set: string): Expr[] {
  return [
    { op: 'payload', base: 'network', offset, len: 4, dreg: R.a },
    { op: 'meta', key: 'l4proto', dreg: R.b },
    { op: 'payload', base: 'transport', offset: 2, len: 2, dreg: R.c },
    { op: 'lookup', set, sreg: R.a },
  ];
}

/** `ip saddr vmap @map` / `ip daddr vmap @map` */
export function addrVmap(offset: number, map: string): Expr[] {
  return [{ op: 'payload', base: 'network', offset, len: 4, dreg: R.a }, { op: 'lookup', set: map, sreg: R.a, dreg: 0 }];
}

/** RTN_LOCAL: an address of this host (`fib … type local`). */
const RTN_LOCAL = 2;

/** `fib saddr type local`: the packet comes from one of this host's own addresses. */
export function fibSaddrLocal(): Expr[] {
  return [{ op: 'fib', flags: 'saddr', result: 'addrtype', dreg: R.a }, { op: 'cmp', sreg: R.a, cmp: 'eq', data: le32(RTN_LOCAL) }];
}

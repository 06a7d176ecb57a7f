// IP addresses and CIDR blocks as numbers, for flag validation (`--cluster-cidr`), the service
// network's first address (the `kubernetes` Service and the serving certificate's SAN), API field
// validation and the ClusterIP allocator. Addresses are bigints so IPv4 and IPv6 share one code
// path; `node:net` is not used because this folder is pure.
//
// Two dialects, as upstream has: the strict one (`parseIP`, `parseCidr`) for our own flags, which
// rejects IPv4 octets with leading zeros (Go's net.ParseIP since 1.17, octal ambiguity) and CIDRs
// with host bits set; and the sloppy one (`parseIPSloppy`, `parseCidrSloppy`, as netutils'
// ParseIPSloppy/ParseCIDRSloppy) for API objects, which reads leading zeros as decimal and masks
// host bits, because upstream accepts such values in stored objects.

export type IPFamily = 4 | 6;

export interface IP {
  family: IPFamily;
  value: bigint;
}

export interface Cidr {
  family: IPFamily;
  /** The network address. */
  network: bigint;
  prefix: number;
}

export const bitsOf = (family: IPFamily): number => (family === 4 ? 32 : 128);

/** A decimal IPv4 octet or prefix length; sloppy allows leading zeros. */
const decimal = (sloppy: boolean) => (sloppy ? /^[0-9]{1,3}$/ : /^(0|[1-9][0-9]{0,2})$/);

function parseIPv4(text: string, sloppy: boolean): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const p of parts) {
    if (!decimal(sloppy).test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseIPv6(text: string, sloppy: boolean): bigint | undefined {
  if (text.includes('%')) return undefined; // zones are not addresses
  let tail: bigint | undefined;
  let body = text;
  // An embedded IPv4 tail (`::ffff:1.2.3.4`) counts as two groups.
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tail = parseIPv4(text.slice(lastColon + 1), sloppy);
    if (tail === undefined) return undefined;
    body = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groupsOf(halves[0]!);
  const rest = halves.length === 2 ? groupsOf(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = halves.length === 2 ? [...head, ...Array<string>(missing).fill('0'), ...rest] : head;
  let value = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    value = (value << 16n) | BigInt(parseInt(g, 16));
  }
  if (tail !== undefined) value = (value & ~0xffffffffn) | tail;
  return value;
}

function parseAnyIP(text: string, sloppy: boolean): IP | undefined {
  const v4 = parseIPv4(text, sloppy);
  if (v4 !== undefined) return { family: 4, value: v4 };
  if (!text.includes(':')) return undefined;
  const v6 = parseIPv6(text, sloppy);
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

/** Parses a dotted IPv4 or an IPv6 address; `undefined` when it is neither. */
export function parseIP(text: string): IP | undefined {
  return parseAnyIP(text, false);
}

/** As `parseIP`, but IPv4 octets may have leading zeros (read as decimal), as upstream's API. */
export function parseIPSloppy(text: string): IP | undefined {
  return parseAnyIP(text, true);
}

export function isIPv4(text: string): boolean { return parseIPSloppy(text)?.family === 4; }
export function isIPv6(text: string): boolean { return parseIPSloppy(text)?.family === 6; }

export function formatIP(ip: IP): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map(s => String((ip.value >> s) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(Number((ip.value >> s) & 0xffffn));
  // RFC 5952: compress the longest run (length ≥ 2) of zero groups, the first one on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map(g => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export class CidrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CidrError';
  }
}

/**
 * Parses `10.42.0.0/16` or `fd00::/64`. Host bits must be zero: a block written with them is
 * almost always a typo, and the message suggests the intended network.
 */
export function parseCidr(text: string): Cidr {
  const parsed = parseAnyCidr(text, false);
  if (!parsed) throw new CidrError(`invalid CIDR address: ${text}`);
  const { ip, cidr } = parsed;
  if (cidr.network !== ip.value) throw new CidrError(`${text} has host bits set; did you mean ${formatCidr(cidr)}?`);
  return cidr;
}

/**
 * `10.0.0.0/8` as upstream's API reads it: leading zeros allowed and the address part masked (as
 * Go's net.ParseCIDR returns the network); `undefined` when it is not a CIDR.
 */
export function parseCidrSloppy(text: string): Cidr | undefined {
  return parseAnyCidr(text, true)?.cidr;
}

function parseAnyCidr(text: string, sloppy: boolean): { ip: IP; cidr: Cidr } | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseAnyIP(text.slice(0, slash), sloppy);
  const prefixText = text.slice(slash + 1);
  if (!ip || !decimal(sloppy).test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  const bits = bitsOf(ip.family);
  if (prefix > bits) return undefined;
  const hostBits = BigInt(bits - prefix);
  return { ip, cidr: { family: ip.family, network: (ip.value >> hostBits) << hostBits, prefix } };
}

export function formatCidr(c: Cidr): string {
  return `${formatIP({ family: c.family, value: c.network })}/${c.prefix}`;
}

/** The number of addresses in the block. */
export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt(bitsOf(c.family) - c.prefix);
}

/** The n-th address of the block (0 is the network address); throws past the end. */
export function nthIP(c: Cidr, n: number | bigint): IP {
  const i = BigInt(n);
  if (i < 0n || i >= cidrSize(c)) throw new CidrError(`${formatCidr(c)} has no address at index ${i}`);
  return { family: c.family, value: c.network + i };
}

export function cidrContains(c: Cidr, ip: IP): boolean {
  return ip.family === c.family && ip.value >= c.network && ip.value < c.network + cidrSize(c);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  return a.network < b.network + cidrSize(b) && b.network < a.network + cidrSize(a);
}

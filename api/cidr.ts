// IP addresses and CIDR blocks as numbers, for flag validation (`--cluster-cidr`), the service
// network's first address (the `kubernetes` Service and the serving certificate's SAN) and later
// the allocators. Addresses are bigints so IPv4 and IPv6 share one code path; `node:net` is not
// used because this folder is pure.

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

const bitsOf = (family: IPFamily) => (family === 4 ? 32 : 128);

function parseIPv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const p of parts) {
    // No leading zeros: Go's net.ParseIP rejects them since 1.17 (octal ambiguity).
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseIPv6(text: string): bigint | undefined {
  if (text.includes('%')) return undefined; // zones are not addresses
  let tail: bigint | undefined;
  let body = text;
  // An embedded IPv4 tail (`::ffff:1.2.3.4`) counts as two groups.
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tail = parseIPv4(text.slice(lastColon + 1));
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

/** Parses a dotted IPv4 or an IPv6 address; `undefined` when it is neither. */
export function parseIP(text: string): IP | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  if (!text.includes(':')) return undefined;
  const v6 = parseIPv6(text);
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

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
  const slash = text.indexOf('/');
  if (slash < 0) throw new CidrError(`invalid CIDR address: ${text}`);
  const ip = parseIP(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!ip || !/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) throw new CidrError(`invalid CIDR address: ${text}`);
  const prefix = Number(prefixText);
  const bits = bitsOf(ip.family);
  if (prefix > bits) throw new CidrError(`invalid CIDR address: ${text}`);
  const mask = ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - prefix)) - 1n);
  const network = ip.value & mask;
  if (network !== ip.value) {
    throw new CidrError(`${text} has host bits set; did you mean ${formatIP({ family: ip.family, value: network })}/${prefix}?`);
  }
  return { family: ip.family, network, prefix };
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

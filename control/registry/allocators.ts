// Pure choices of ClusterIPs and NodePorts. The apiserver owns the set of values in use and
// reserves a choice atomically in the store; these functions only pick a free value (or check a
// requested one) given that set, so they are tested without a store. Randomness is injected.
//
// ClusterIP ranges follow upstream: the network address (and, for IPv4, the broadcast address) are
// never handed out, and the first address (.1) is kept for the `kubernetes` service, which asks
// for it explicitly. Large IPv6 ranges are capped as upstream does, so a random probe stays cheap.
import { cidrContains, cidrSize, formatCidr, formatIP, parseCidrSloppy, parseIPSloppy, type Cidr } from '../../api/cidr.js';

export type Random = () => number; // in [0, 1), like Math.random

/** Upstream caps a service range at 2^16 usable addresses for its bitmap. */
const MAX_RANGE_SIZE = 1n << 16n;

interface Range { first: bigint; size: bigint; family: 4 | 6 } // usable addresses: first … first+size-1

function usableRange(cidr: Cidr): Range {
  const total = cidrSize(cidr);
  // network address out; broadcast out for IPv4 (tiny /31 and /32 have nothing usable).
  let size = total - (cidr.family === 4 ? 2n : 1n);
  if (size < 0n) size = 0n;
  if (size > MAX_RANGE_SIZE) size = MAX_RANGE_SIZE;
  return { first: cidr.network + 1n, size, family: cidr.family };
}

function mustParseCIDR(s: string): Cidr {
  const c = parseCidrSloppy(s);
  if (!c) throw new Error(`Invalid service CIDR "${s}": expected e.g. 10.43.0.0/16`);
  return c;
}

/** The address of the `kubernetes` service: the first one of the range. */
export function kubernetesServiceIP(serviceCIDR: string): string {
  const c = mustParseCIDR(serviceCIDR);
  return formatIP({ family: c.family, value: c.network + 1n });
}

/** Canonical text of an IP (so `010.0.0.1` and `10.0.0.1` are one entry in a used set). */
export function canonicalIP(ip: string): string | undefined {
  const p = parseIPSloppy(ip);
  return p ? formatIP(p) : undefined;
}

/**
 * A random free ClusterIP from `serviceCIDR`, never the reserved first address; undefined when
 * the range is full. `used` holds canonical IP strings.
 */
export function allocateClusterIP(serviceCIDR: string, used: ReadonlySet<string>, random: Random = Math.random): string | undefined {
  const r = usableRange(mustParseCIDR(serviceCIDR));
  // offset 0 is the reserved .1; dynamic picks come from offsets 1 … size-1.
  const n = r.size - 1n;
  if (n <= 0n) return undefined;
  const start = BigInt(Math.floor(random() * Number(n)));
  for (let i = 0n; i < n; i++) {
    const offset = 1n + ((start + i) % n);
    const ip = formatIP({ family: r.family, value: r.first + offset });
    if (!used.has(ip)) return ip;
  }
  return undefined;
}

/**
 * Why a requested ClusterIP cannot be had, as upstream's allocator words it (to follow
 * "failed to allocate IP <ip>: "), or undefined when it is free and in range.
 */
export function checkClusterIP(ip: string, serviceCIDR: string, used: ReadonlySet<string>): string | undefined {
  const c = mustParseCIDR(serviceCIDR);
  const p = parseIPSloppy(ip);
  const r = usableRange(c);
  if (!p || !cidrContains(c, p) || p.value < r.first || p.value >= r.first + r.size) {
    return `the provided IP (${ip}) is not in the valid range. The range of valid IPs is ${formatCidr(c)}`;
  }
  if (used.has(formatIP(p))) return 'provided IP is already allocated';
  return undefined;
}

/** The full field-error detail for a requested ClusterIP, or undefined. */
export function clusterIPAllocationError(ip: string, serviceCIDR: string, used: ReadonlySet<string>): string | undefined {
  const why = checkClusterIP(ip, serviceCIDR, used);
  return why === undefined ? undefined : `failed to allocate IP ${ip}: ${why}`;
}

export interface PortRange { min: number; max: number }

/** A random free NodePort in the inclusive range; undefined when all are taken. */
export function allocateNodePort(range: PortRange, used: ReadonlySet<number>, random: Random = Math.random): number | undefined {
  const n = range.max - range.min + 1;
  if (n <= 0) return undefined;
  const start = Math.floor(random() * n);
  for (let i = 0; i < n; i++) {
    const port = range.min + ((start + i) % n);
    if (!used.has(port)) return port;
  }
  return undefined;
}

/** Why a requested NodePort cannot be had (upstream's words), or undefined. */
export function checkNodePort(port: number, range: PortRange, used: ReadonlySet<number>): string | undefined {
  if (!Number.isInteger(port) || port < range.min || port > range.max) {
    return `provided port is not in the valid range. The range of valid ports is ${range.min}-${range.max}`;
  }
  if (used.has(port)) return 'provided port is already allocated';
  return undefined;
}

/** Whether `ip` lies inside `cidr` (both as text); false when either does not parse. */
export function ipInCIDR(ip: string, cidr: string): boolean {
  const c = parseCidrSloppy(cidr), p = parseIPSloppy(ip);
  return !!c && !!p && cidrContains(c, p);
}

// The masquerade table of the pod network: pod traffic leaving the cluster network goes out with
// the node's address, pod-to-pod traffic never does. Pure: returns the nf_tables ruleset that
// kernel/nftables commits as one transaction.
//
//   table ip k8ts-netplugin
//     chain postrouting (nat, postrouting, srcnat + 10)
//       meta mark & 0x00004000 == 0x00004000 return     the proxy masquerades these itself
//       ip saddr C ip daddr C return                      pod ↔ pod: never NAT
//       ip saddr C ip daddr 224.0.0.0/4 return            multicast stays as it is (flannel does too)
//       ip saddr C masquerade fully-random                pod → outside
//
// Design notes. The rules mirror flannel's MASQUERADE rules (pkg/ip/iptables.go) in nftables, in a
// table of our own so that neither the proxy's full syncs nor ours touch the other's rules. The
// chain runs after the proxy's srcnat chain (priority +10): once a chain of the NAT hook has set up
// the connection's source NAT, later NAT chains are not consulted, so a packet the proxy marked and
// masqueraded is never NATed twice; the mark check covers the other order. The double NAT of a
// marked packet is exactly what triggered the VXLAN checksum bug (DATAPLANE.md). `fully-random`
// avoids SNAT port collisions between concurrent connections, as flannel passes `--random-fully`.
// Rejected: writing this with `nft -f` through Exec — the encoder is already there and atomic.
import { parseCidr } from '../../api/cidr.js';
import type { Expr, Rule, Ruleset } from '../../kernel/nftables/types.js';

export const MASQ_TABLE = 'k8ts-netplugin';
/** The mark the proxy sets on packets it will masquerade itself (proxy/nftables/compile.ts). */
export const PROXY_MASQUERADE_MARK = 0x4000;
const SRCNAT_PRIORITY = 100;
const NF_NAT_RANGE_PROTO_RANDOM_FULLY = 1 << 4;
const R = 8; // NFT_REG32_00

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const be32 = (v: number): number[] => [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const hex = (v: number): string => `0x${v.toString(16).padStart(8, '0')}`;

/** `ip saddr|daddr CIDR` as expressions: load, mask (unless /32), compare. */
function cidrMatch(offset: 12 | 16, cidr: string): Expr[] {
  const c = parseCidr(cidr);
  if (c.family !== 4) throw new TypeError(`masquerade needs an IPv4 cluster CIDR, got "${cidr}"`);
  const mask = c.prefix === 0 ? 0 : (0xffffffff << (32 - c.prefix)) >>> 0;
  const load: Expr = { op: 'payload', base: 'network', offset, len: 4, dreg: R };
  const cmp: Expr = { op: 'cmp', sreg: R, cmp: 'eq', data: be32(Number(c.network)) };
  if (c.prefix === 32) return [load, cmp];
  return [load, { op: 'bitwise', sreg: R, dreg: R, mask: be32(mask), xor: be32(0) }, cmp];
}

const ret: Expr = { op: 'verdict', verdict: { code: 'return' } };

/** The whole table for a cluster CIDR (`10.244.0.0/16`). Throws on a CIDR that is not IPv4. */
export function compileMasquerade(clusterCidr: string): Ruleset {
  const c = clusterCidr;
  const rules: Rule[] = [
    {
      text: `meta mark & ${hex(PROXY_MASQUERADE_MARK)} == ${hex(PROXY_MASQUERADE_MARK)} return`,
      exprs: [
        { op: 'meta', key: 'mark', dreg: R },
        { op: 'bitwise', sreg: R, dreg: R, mask: le32(PROXY_MASQUERADE_MARK), xor: le32(0) },
        { op: 'cmp', sreg: R, cmp: 'eq', data: le32(PROXY_MASQUERADE_MARK) },
        ret,
      ],
    },
    { text: `ip saddr ${c} ip daddr ${c} return`, exprs: [...cidrMatch(12, c), ...cidrMatch(16, c), ret] },
    { text: `ip saddr ${c} ip daddr 224.0.0.0/4 return`, exprs: [...cidrMatch(12, c), ...cidrMatch(16, '224.0.0.0/4'), ret] },
    { text: `ip saddr ${c} masquerade fully-random`, exprs: [...cidrMatch(12, c), { op: 'masq', flags: NF_NAT_RANGE_PROTO_RANDOM_FULLY }] },
  ];
  return {
    family: 'ip',
    table: MASQ_TABLE,
    chains: [{ name: 'postrouting', base: { type: 'nat', hook: 'postrouting', priority: SRCNAT_PRIORITY + 10 }, rules }],
    sets: [],
    fragments: [],
  };
}

// The S×E Service workload of ../shared/ANCHORS.md section 1, shared by the proxy benchmarks
// (proxy-nftables, proxy-iptables, proxy-first-packet): S ClusterIP Services (TCP/80, ClusterIPs
// from 10.96.0.0/12), each with E endpoints (TCP/8080, addresses from 10.128.0.0/9), as Service and
// EndpointSlice objects; and the upstream kube-proxy iptables layout of the same workload, the
// anchor the iptables benchmarks load with iptables-restore.
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';

/** Endpoints per service, unless a benchmark says otherwise. */
export const E = 10;

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const ipOf = (base: number, i: number): string => {
  const n = (base + i) >>> 0;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
};
const VIP_BASE = (10 << 24) | (96 << 16);
const EP_BASE = ((10 << 24) | (128 << 16)) >>> 0;
/** The ClusterIP of service i. */
export const vip = (i: number): string => ipOf(VIP_BASE, i + 1);
/** Endpoint j of service i. */
export const ep = (i: number, j: number, e = E): string => ipOf(EP_BASE, i * e + j + 1);

/** Services [from, from+s) and one EndpointSlice each, in namespace `bench`. */
export function objects(s: number, from = 0, e = E): { services: Service[]; slices: EndpointSlice[] } {
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = from; i < from + s; i++) {
    const name = `svc-${i}`;
    services.push({ metadata: { namespace: 'bench', name }, spec: { clusterIP: vip(i), clusterIPs: [vip(i)], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } });
    slices.push({
      metadata: { namespace: 'bench', name: `${name}-1`, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: Array.from({ length: e }, (_, j) => ({ addresses: [ep(i, j, e)], conditions: { ready: true } })),
    });
  }
  return { services, slices };
}

function hash16(s: string): string {
  // Any stable 16-character name does for the anchor; upstream's own hash is in proxy/iptables.
  let h1 = 2166136261;
  let h2 = 5381;
  for (let i = 0; i < s.length; i++) { h1 = Math.imul(h1 ^ s.charCodeAt(i), 16777619); h2 = Math.imul(h2, 33) ^ s.charCodeAt(i); }
  return ((h1 >>> 0).toString(36) + (h2 >>> 0).toString(36)).toUpperCase().padEnd(16, 'X').slice(0, 16);
}

/**
 * The upstream iptables layout of ANCHORS.md for services [from, from+s): chain declarations,
 * the KUBE-SERVICES rules (one per service) and the service and endpoint chains' rules.
 */
export function upstreamIptablesChains(s: number, from: number, e = E): { decl: string[]; rules: string[]; services: string[] } {
  const decl: string[] = [];
  const rules: string[] = [];
  const services: string[] = [];
  for (let i = from; i < from + s; i++) {
    const svc = `KUBE-SVC-${hash16(`bench/svc-${i}:httptcp`)}`;
    decl.push(`:${svc} - [0:0]`);
    services.push(`-A KUBE-SERVICES -d ${vip(i)}/32 -p tcp -m tcp --dport 80 -j ${svc}`);
    for (let j = 0; j < e; j++) {
      const a = ep(i, j, e);
      const sep = `KUBE-SEP-${hash16(`bench/svc-${i}:httptcp${a}:8080`)}`;
      decl.push(`:${sep} - [0:0]`);
      rules.push(j < e - 1 ? `-A ${svc} -m statistic --mode random --probability ${(1 / (e - j)).toFixed(10)} -j ${sep}` : `-A ${svc} -j ${sep}`);
      rules.push(`-A ${sep} -s ${a}/32 -j KUBE-MARK-MASQ`, `-A ${sep} -p tcp -m tcp -j DNAT --to-destination ${a}:8080`);
    }
  }
  return { decl, rules, services };
}

/** A whole `*nat` table of the upstream layout for s services, as iptables-restore input. */
export function upstreamIptablesRestore(s: number, e = E): string {
  const a = upstreamIptablesChains(s, 0, e);
  const head = [':KUBE-SERVICES - [0:0]', ':KUBE-MARK-MASQ - [0:0]', ':KUBE-POSTROUTING - [0:0]'];
  const base = [
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    '-A KUBE-POSTROUTING -j MASQUERADE --random-fully',
  ];
  return ['*nat', ...head, ...a.decl, ...base, ...a.services, ...a.rules, 'COMMIT', ''].join('\n');
}

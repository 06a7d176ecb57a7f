// The cluster zone's records, computed from API objects by pure functions, per upstream's
// "Kubernetes DNS-Based Service Discovery" specification (schema 1.1.0):
//
// - ClusterIP Service: `<svc>.<ns>.svc.<zone>` A/AAAA → each ClusterIP; per named port
//   `_<port>._<proto>.<svc>.<ns>.svc.<zone>` SRV 0 100 <port> <svc>.<ns>.svc.<zone>; PTR of each
//   ClusterIP → the service name.
// - Headless Service (clusterIP None): `<svc>.<ns>.svc.<zone>` A/AAAA → every ready endpoint
//   address (all when `publishNotReadyAddresses`), `<hostname>.<svc>.<ns>.svc.<zone>` per endpoint
//   (the endpoint's `hostname`, else its dashed address as CoreDNS does), SRV per named port and
//   endpoint with that per-endpoint target, PTR of each endpoint address → its hostname name. A
//   headless Service with no ready endpoints still *exists* (NODATA, not NXDOMAIN), as CoreDNS.
// - ExternalName: `<svc>.<ns>.svc.<zone>` CNAME <externalName>.
// - Pods: `<a-b-c-d>.<ns>.pod.<zone>` A → the pod IP (CoreDNS's `pods verified`: only addresses
//   of pods that exist, rather than echoing any well-formed name), PTR of the pod IP → that name.
// - `dns-version.<zone>` TXT "1.1.0", and the zone's SOA and NS (`ns.dns.<zone>`).
//
// Each Service (with its slices) and each Pod compiles to one *fragment*; `Zone` (zone.ts) indexes
// fragments by name, so a change re-compiles one object instead of the whole zone. Names are
// lower case without the trailing dot, as dns-packet decodes them. No node:* imports here.
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { formatIP, parseIPSloppy, type IP } from '../../api/cidr.js';

export type RecordData =
  | { type: 'A' | 'AAAA' | 'CNAME' | 'PTR' | 'NS'; data: string }
  | { type: 'SRV'; data: { priority: number; weight: number; port: number; target: string } }
  | { type: 'TXT'; data: string };

/** One resource record without TTL; `rank` orders PTRs at one name (lowest wins). */
export type ZoneRecord = RecordData & { name: string; rank?: number };

export interface Fragment {
  records: ZoneRecord[];
  /** Names that exist without records of their own (a headless Service without endpoints). */
  names?: string[];
}

export const PTR_RANK = { service: 0, endpoint: 1, pod: 2 } as const;

/** `10.0.0.1` → `1.0.0.10.in-addr.arpa`; IPv6 nibbles → `….ip6.arpa`. */
export function reverseName(ip: IP): string {
  if (ip.family === 4) {
    const octets = [24n, 16n, 8n, 0n].map(s => String((ip.value >> s) & 0xffn));
    return `${octets.reverse().join('.')}.in-addr.arpa`;
  }
  const nibbles: string[] = [];
  for (let s = 0n; s < 128n; s += 4n) nibbles.push(((ip.value >> s) & 0xfn).toString(16));
  return `${nibbles.join('.')}.ip6.arpa`;
}

/** The address as one DNS label: `10-0-0-1`, `2001-db8--1`. */
export function dashedIP(ip: IP): string {
  return formatIP(ip).replace(/[.:]/g, '-');
}

const addrType = (ip: IP): 'A' | 'AAAA' => (ip.family === 4 ? 'A' : 'AAAA');
const lower = (s: string) => s.toLowerCase().replace(/\.$/, '');

export function serviceName(namespace: string, name: string, domain: string): string {
  return lower(`${name}.${namespace}.svc.${domain}`);
}

function ipsOf(list: (string | undefined)[]): IP[] {
  const out: IP[] = [];
  const seen = new Set<string>();
  for (const s of list) {
    if (!s) continue;
    const ip = parseIPSloppy(s);
    if (!ip) continue;
    const key = `${ip.family}/${ip.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(ip);
  }
  return out;
}

/** Equal weights summing to about 100, as CoreDNS gives the SRV records of one name. */
function weightSrv(records: ZoneRecord[]): ZoneRecord[] {
  const counts = new Map<string, number>();
  for (const r of records) if (r.type === 'SRV') counts.set(r.name, (counts.get(r.name) ?? 0) + 1);
  return records.map(r => (r.type === 'SRV' ? { ...r, data: { ...r.data, weight: Math.floor(100 / (counts.get(r.name) ?? 1)) } } : r));
}

const isReady = (ep: { conditions?: { ready?: boolean; terminating?: boolean } }, publishNotReady: boolean) =>
  publishNotReady || (ep.conditions?.ready !== false && ep.conditions?.terminating !== true);

/** A Service's fragment; `slices` are the EndpointSlices labelled with its name. */
export function compileService(svc: Service, slices: readonly EndpointSlice[], domain: string): Fragment {
  const ns = svc.metadata?.namespace ?? 'default';
  const name = svc.metadata?.name;
  if (!name) return { records: [] };
  const spec = svc.spec ?? {};
  const base = serviceName(ns, name, domain);
  if (spec.type === 'ExternalName') {
    const target = lower(spec.externalName ?? '');
    return target ? { records: [{ name: base, type: 'CNAME', data: target }] } : { records: [], names: [base] };
  }
  const records: ZoneRecord[] = [];
  const headless = spec.clusterIP === 'None' || spec.clusterIPs?.[0] === 'None';
  if (!headless) {
    const ips = ipsOf(spec.clusterIPs?.length ? spec.clusterIPs : [spec.clusterIP]);
    if (!ips.length) return { records: [] }; // not yet allocated: no name, as CoreDNS
    for (const ip of ips) {
      records.push({ name: base, type: addrType(ip), data: formatIP(ip) });
      records.push({ name: reverseName(ip), type: 'PTR', data: base, rank: PTR_RANK.service });
    }
    for (const p of spec.ports ?? []) {
      if (!p.name) continue;
      records.push({ name: lower(`_${p.name}._${(p.protocol ?? 'TCP')}.${base}`), type: 'SRV', data: { priority: 0, weight: 100, port: p.port, target: base } });
    }
    return { records: weightSrv(records) };
  }
  const publishNotReady = spec.publishNotReadyAddresses === true;
  const seen = new Set<string>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    for (const ep of slice.endpoints ?? []) {
      if (!isReady(ep, publishNotReady)) continue;
      for (const ip of ipsOf(ep.addresses ?? [])) {
        const host = lower(ep.hostname ?? dashedIP(ip));
        const key = `${host}/${ip.family}/${ip.value}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const target = `${host}.${base}`;
        const type = addrType(ip);
        records.push({ name: base, type, data: formatIP(ip) });
        records.push({ name: target, type, data: formatIP(ip) });
        records.push({ name: reverseName(ip), type: 'PTR', data: target, rank: PTR_RANK.endpoint });
        for (const p of slice.ports ?? []) {
          if (!p.name || p.port === undefined) continue;
          records.push({ name: lower(`_${p.name}._${p.protocol ?? 'TCP'}.${base}`), type: 'SRV', data: { priority: 0, weight: 100, port: p.port, target } });
        }
      }
    }
  }
  return { records: weightSrv(dedupe(records)), names: [base] };
}

function dedupe(records: ZoneRecord[]): ZoneRecord[] {
  const seen = new Set<string>();
  return records.filter(r => {
    const k = `${r.name}|${r.type}|${JSON.stringify(r.data)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** A Pod's fragment: its `a-b-c-d.<ns>.pod.<zone>` names and their PTRs. */
export function compilePod(pod: Pod, domain: string): Fragment {
  const ns = pod.metadata?.namespace ?? 'default';
  const phase = pod.status?.phase;
  // Host-network pods share the node's address: a PTR per pod would be ambiguous and wrong.
  if (pod.spec?.hostNetwork || phase === 'Succeeded' || phase === 'Failed') return { records: [] };
  const ips = ipsOf([...(pod.status?.podIPs ?? []).map(p => p.ip), pod.status?.podIP]);
  const records: ZoneRecord[] = [];
  for (const ip of ips) {
    const name = lower(`${dashedIP(ip)}.${ns}.pod.${domain}`);
    records.push({ name, type: addrType(ip), data: formatIP(ip) });
    records.push({ name: reverseName(ip), type: 'PTR', data: name, rank: PTR_RANK.pod });
  }
  return { records };
}

/** The records every zone has: the schema version and the name server's address. */
export function compileApex(domain: string, nsIPs: readonly string[]): Fragment {
  const d = lower(domain);
  const records: ZoneRecord[] = [
    { name: `dns-version.${d}`, type: 'TXT', data: '1.1.0' },
    { name: d, type: 'NS', data: `ns.dns.${d}` },
  ];
  for (const ip of ipsOf([...nsIPs])) records.push({ name: `ns.dns.${d}`, type: addrType(ip), data: formatIP(ip) });
  return { records, names: [`ns.dns.${d}`] };
}

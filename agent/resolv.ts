// A pod's /etc/resolv.conf, as upstream's kubelet computes it (pkg/kubelet/network/dns/dns.go):
// start from the node's resolv.conf; by dnsPolicy replace the nameservers with the cluster DNS
// and prepend the cluster search domains (ClusterFirst, and ClusterFirstWithHostNet), keep the
// node's (Default, and ClusterFirst with hostNetwork), or start empty (None); then merge
// spec.dnsConfig (nameservers and searches appended without duplicates, options overriding by
// name) and trim to the resolver's limits. Pure: the agent writes the text to the pod directory
// and bind-mounts it into every container.
import type { Pod } from 'kubernetes-types/core/v1.js';

export interface DnsConfig {
  nameservers: string[];
  searches: string[];
  options: string[];
}

export interface ClusterDnsSettings {
  /** The cluster DNS Service IPs (`--cluster-dns`); empty: ClusterFirst falls back to Default. */
  clusterDNS: readonly string[];
  /** `--cluster-domain`, e.g. cluster.local; empty: no cluster search domains. */
  clusterDomain: string;
}

/** Upstream's limits: 3 nameservers (validation), 32 search domains of at most 2048 characters in all. */
export const maxNameservers = 3;
export const maxSearchPaths = 32;
export const maxSearchChars = 2048;

/** Parses resolv.conf text: nameservers, the last search line, options (later ones appended). */
export function parseResolvConf(text: string): DnsConfig {
  const out: DnsConfig = { nameservers: [], searches: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...fields] = line.split(/\s+/);
    if (key === 'nameserver' && fields[0]) out.nameservers.push(fields[0]);
    else if (key === 'search') out.searches = fields.map(f => f.replace(/\.$/, ''));
    else if (key === 'options') out.options.push(...fields);
  }
  return out;
}

function unique(list: readonly string[]): string[] {
  return [...new Set(list.filter(x => x !== ''))];
}

/** Options by name, later ones winning, kept in first-seen order. */
export function mergeDnsOptions(existing: readonly string[], extra: readonly { name?: string; value?: string }[]): string[] {
  const m = new Map<string, string>();
  for (const op of existing) {
    const i = op.indexOf(':');
    if (i >= 0) m.set(op.slice(0, i), op.slice(i + 1));
    else m.set(op, '');
  }
  for (const op of extra) if (op.name) m.set(op.name, op.value ?? '');
  return [...m].map(([k, v]) => (v ? `${k}:${v}` : k));
}

export type PodDnsType = 'cluster' | 'host' | 'none';

/** Which resolver a pod gets, from dnsPolicy and hostNetwork (absent policy: ClusterFirst). */
export function podDnsType(pod: Pod, s: ClusterDnsSettings): PodDnsType {
  const policy = pod.spec?.dnsPolicy ?? 'ClusterFirst';
  let t: PodDnsType;
  if (policy === 'None') t = 'none';
  else if (policy === 'ClusterFirstWithHostNet') t = 'cluster';
  else if (policy === 'ClusterFirst') t = pod.spec?.hostNetwork ? 'host' : 'cluster';
  else t = 'host';
  // Without a cluster DNS address a cluster pod cannot resolve anything: upstream falls back.
  return t === 'cluster' && s.clusterDNS.length === 0 ? 'host' : t;
}

/**
 * A pod that asks for the cluster resolver on a kubelet that knows no cluster DNS address: it
 * falls back to the node's, and upstream records MissingClusterDNS.
 */
export function missingClusterDNS(pod: Pod, s: ClusterDnsSettings): boolean {
  return s.clusterDNS.length === 0 && podDnsType(pod, { ...s, clusterDNS: ['0.0.0.0'] }) === 'cluster';
}

/** The pod's resolver configuration, given the node's (parsed from --resolv-conf). */
export function compilePodDns(pod: Pod, s: ClusterDnsSettings, host: DnsConfig): DnsConfig {
  let cfg: DnsConfig;
  switch (podDnsType(pod, s)) {
    case 'none':
      cfg = { nameservers: [], searches: [], options: [] };
      break;
    case 'host':
      cfg = { nameservers: [...host.nameservers], searches: [...host.searches], options: [...host.options] };
      break;
    case 'cluster': {
      const ns = pod.metadata?.namespace ?? 'default';
      const d = s.clusterDomain.replace(/\.$/, '');
      const clusterSearch = d ? [`${ns}.svc.${d}`, `svc.${d}`, d] : [];
      cfg = { nameservers: [...s.clusterDNS], searches: unique([...clusterSearch, ...host.searches]), options: ['ndots:5'] };
      break;
    }
  }
  const extra = pod.spec?.dnsConfig;
  if (extra) {
    cfg = {
      nameservers: unique([...cfg.nameservers, ...(extra.nameservers ?? [])]),
      searches: unique([...cfg.searches, ...(extra.searches ?? []).map(x => x.replace(/\.$/, ''))]),
      options: mergeDnsOptions(cfg.options, extra.options ?? []),
    };
  }
  return fitLimits(cfg);
}

function fitLimits(cfg: DnsConfig): DnsConfig {
  const nameservers = cfg.nameservers.slice(0, maxNameservers);
  const searches: string[] = [];
  let chars = 0;
  for (const x of cfg.searches.slice(0, maxSearchPaths)) {
    // "search a b c": the domains and the spaces between them count towards the limit.
    const add = x.length + (searches.length ? 1 : 0);
    if (chars + add > maxSearchChars) break;
    searches.push(x);
    chars += add;
  }
  return { nameservers, searches, options: cfg.options };
}

/** resolv.conf text in the order containerd's CRI plugin writes it: search, nameserver, options. */
export function renderResolvConf(cfg: DnsConfig): string {
  let out = '';
  if (cfg.searches.length) out += `search ${cfg.searches.join(' ')}\n`;
  for (const n of cfg.nameservers) out += `nameserver ${n}\n`;
  if (cfg.options.length) out += `options ${cfg.options.join(' ')}\n`;
  return out;
}

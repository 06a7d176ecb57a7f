// The proxy's Prometheus metrics, under upstream kube-proxy's names (pkg/proxy/metrics):
// how long a sync takes, when the last one succeeded, how long a Service change took to reach the
// kernel (network programming latency), and how many rules the mode holds.
//
// Design notes. The daemon only reports events (a changed EndpointSlice, a finished sync); every
// number is derived here. Network programming latency follows upstream's definition: an
// EndpointSlice's `endpoints.kubernetes.io/last-change-trigger-time` annotation (set by the
// EndpointSlice controller to the time of the Pod/Service change that caused it) up to the end of
// the first successful sync that started after the proxy saw the slice. Trigger times from before
// the proxy started are skipped, as upstream does (the initial list would otherwise report the
// age of every Service). Rule counts are computed when scraped, from the last synced ruleset: a
// sync stays O(changes), a scrape pays O(rules).
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { Gauge, Histogram, type Registry } from 'prom-client';
import type { Ruleset } from '../kernel/nftables/types.js';
import type { IptablesRuleset } from './iptables/compile.js';
import type { IpvsState } from './ipvs/compile.js';

export const LAST_CHANGE_TRIGGER_TIME = 'endpoints.kubernetes.io/last-change-trigger-time';

/** What the metrics need of a finished sync (a subset of the daemon's SyncInfo). */
export type SyncedRuleset =
  | { readonly mode: 'nftables'; readonly ruleset: Ruleset }
  | { readonly mode: 'iptables'; readonly ruleset: IptablesRuleset }
  | { readonly mode: 'ipvs'; readonly ruleset: IpvsState };
export type SyncReport = SyncedRuleset & { readonly totalMs: number };

/** The trigger time of a slice in ms since the epoch, or undefined (absent or not RFC 3339). Pure. */
export function triggerTimeOf(slice: EndpointSlice): number | undefined {
  const v = slice.metadata?.annotations?.[LAST_CHANGE_TRIGGER_TIME];
  if (!v) return undefined;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}

/** Objects of an nftables ruleset: chains, rules, and set/map elements (fragments included). Pure. */
export function countNftables(rs: Ruleset): { chain: number; rule: number; set: number; element: number } {
  let rule = 0;
  for (const c of rs.chains) rule += c.rules.length;
  let element = 0;
  for (const s of rs.sets) element += s.elements.length;
  for (const f of rs.fragments) for (const els of Object.values(f.elements)) element += els.length;
  return { chain: rs.chains.length, rule, set: rs.sets.length, element };
}

/** Rules per iptables table, as upstream's `kubeproxy_sync_proxy_rules_iptables_total{table}`. Pure. */
export function countIptables(rs: IptablesRuleset): Map<string, number> {
  const out = new Map<string, number>();
  const add = (table: string, n: number) => out.set(table, (out.get(table) ?? 0) + n);
  for (const s of rs.statics) add(s.table, s.rules.length);
  for (const j of rs.jumps) add(j.table, 1);
  for (const f of rs.fragments.values()) {
    // Per-service chains live in nat; each block is `-A NAME …` lines.
    for (const block of f.chains.values()) add('nat', block.split('\n').filter(l => l.startsWith('-A ')).length);
    for (const r of f.shared) add(r.table, 1);
  }
  return out;
}

/** Virtual and real servers of an IPVS state. Pure. */
export function countIpvs(st: IpvsState): { virtualServers: number; realServers: number } {
  let realServers = 0;
  for (const v of st.services.values()) realServers += v.dests.length;
  return { virtualServers: st.services.size, realServers };
}

/**
 * Seconds buckets of upstream's sync duration (exponential from 1 ms) and network programming
 * latency (0.25 s … 30 min upstream; finer at the low end here, where our syncs land).
 */
const syncBuckets = [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192, 16.384];
const programmingBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800];

export class ProxyMetrics {
  private readonly syncDuration: Histogram;
  private readonly lastSync: Gauge;
  private readonly programming: Histogram;
  /** Trigger times waiting for a sync that started after they were seen. */
  private pending: { trigger: number; seenAt: number }[] = [];
  private last: SyncedRuleset | undefined;
  private readonly startedAt: number;

  constructor(registry: Registry, private readonly now: () => number = Date.now) {
    this.startedAt = now();
    const registers = [registry];
    this.syncDuration = new Histogram({ name: 'kubeproxy_sync_proxy_rules_duration_seconds', help: 'SyncProxyRules latency in seconds', buckets: syncBuckets, registers });
    this.lastSync = new Gauge({ name: 'kubeproxy_sync_proxy_rules_last_timestamp_seconds', help: 'The last time proxy rules were successfully synced', registers });
    this.programming = new Histogram({ name: 'kubeproxy_network_programming_duration_seconds', help: 'In Cluster Network Programming Latency in seconds', buckets: programmingBuckets, registers });
    const lastSynced = (): SyncedRuleset | undefined => this.last;
    new Gauge({
      name: 'kubeproxy_sync_proxy_rules_nftables_objects', help: 'Objects in the proxy\'s nftables table after the last sync, by type', labelNames: ['type'], registers,
      collect() {
        this.reset();
        const last = lastSynced();
        if (last?.mode !== 'nftables' && last?.mode !== 'ipvs') return;
        // ipvs mode keeps a small nftables table too (masquerade, the ClusterIP set).
        for (const [type, n] of Object.entries(countNftables(last.mode === 'ipvs' ? last.ruleset.ruleset : last.ruleset))) this.set({ type }, n);
      },
    });
    new Gauge({
      name: 'kubeproxy_sync_proxy_rules_iptables_total', help: 'Total number of iptables rules owned by kube-proxy', labelNames: ['table'], registers,
      collect() {
        this.reset();
        const last = lastSynced();
        if (last?.mode !== 'iptables') return;
        for (const [table, n] of countIptables(last.ruleset)) this.set({ table }, n);
      },
    });
    new Gauge({
      name: 'kubeproxy_sync_proxy_rules_ipvs_servers', help: 'IPVS virtual and real servers after the last sync', labelNames: ['kind'], registers,
      collect() {
        this.reset();
        const last = lastSynced();
        if (last?.mode !== 'ipvs') return;
        const c = countIpvs(last.ruleset);
        this.set({ kind: 'virtual' }, c.virtualServers);
        this.set({ kind: 'real' }, c.realServers);
      },
    });
  }

  /** An EndpointSlice was added or changed: remember its trigger time for the next sync. */
  sliceChanged(slice: EndpointSlice): void {
    const trigger = triggerTimeOf(slice);
    if (trigger === undefined || trigger < this.startedAt) return;
    // Bounded while syncs keep failing: the oldest changes are the ones already reported late.
    if (this.pending.length >= 10_000) this.pending.shift();
    this.pending.push({ trigger, seenAt: this.now() });
  }

  /** A sync committed: its duration, its time, and the latency of every change it carried. */
  synced(r: SyncReport): void {
    const end = this.now();
    const start = end - r.totalMs;
    this.syncDuration.observe(r.totalMs / 1000);
    this.lastSync.set(end / 1000);
    this.last = r;
    // Only changes seen before this sync began are in it; later ones wait for the next.
    const later: typeof this.pending = [];
    for (const p of this.pending) {
      if (p.seenAt <= start) this.programming.observe(Math.max(0, end - p.trigger) / 1000);
      else later.push(p);
    }
    this.pending = later;
  }
}

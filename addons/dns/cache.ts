// The forwarder's cache: upstream answers by question, for the smallest TTL among the records
// (capped at `maxTtl`, CoreDNS's `cache 30` in upstream's default Corefile), negative answers
// (NXDOMAIN, NODATA) for the SOA's negative TTL (RFC 2308), never SERVFAIL. Hits come back with
// TTLs reduced by the time spent in the cache. Bounded: the oldest entry goes first (insertion
// order of a Map, refreshed on write). Pure apart from the injected clock.
import type { Answer } from 'dns-packet';
import type { Rcode } from './wire.js';

export interface CachedAnswer {
  rcode: Rcode;
  answers: Answer[];
  authorities: Answer[];
}

interface Entry extends CachedAnswer { storedAt: number; expiresAt: number }

export interface DnsCacheOptions {
  maxEntries?: number;
  maxTtl?: number;
  /** Negative TTL when the upstream sent no SOA. */
  negativeTtl?: number;
  now?: () => number;
}

const ttlOf = (a: Answer): number | undefined => ('ttl' in a && typeof a.ttl === 'number' ? a.ttl : undefined);

export class DnsCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly maxTtl: number;
  private readonly negativeTtl: number;
  private readonly now: () => number;
  readonly stats = { hits: 0, misses: 0, stores: 0, evictions: 0 };

  constructor(opts: DnsCacheOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.maxTtl = opts.maxTtl ?? 30;
    this.negativeTtl = opts.negativeTtl ?? 5;
    this.now = opts.now ?? Date.now;
  }

  get size(): number { return this.entries.size; }

  /** How long an answer may be kept, in seconds; 0 = not at all. */
  ttlFor(a: CachedAnswer): number {
    if (a.rcode !== 'NOERROR' && a.rcode !== 'NXDOMAIN') return 0;
    if (a.rcode === 'NOERROR' && a.answers.length) {
      const ttls = a.answers.filter(r => r.type !== 'OPT').map(r => ttlOf(r) ?? 0);
      return Math.min(this.maxTtl, ...ttls);
    }
    const soa = a.authorities.find(r => r.type === 'SOA');
    if (soa && soa.type === 'SOA') return Math.min(this.maxTtl, ttlOf(soa) ?? 0, soa.data.minimum ?? 0);
    return Math.min(this.maxTtl, this.negativeTtl);
  }

  set(key: string, a: CachedAnswer): void {
    const ttl = this.ttlFor(a);
    if (ttl <= 0) return;
    const t = this.now();
    this.entries.delete(key);
    this.entries.set(key, { ...a, storedAt: t, expiresAt: t + ttl * 1000 });
    this.stats.stores++;
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
      this.stats.evictions++;
    }
  }

  get(key: string): CachedAnswer | undefined {
    const e = this.entries.get(key);
    const t = this.now();
    if (!e || e.expiresAt <= t) {
      if (e) this.entries.delete(key);
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    const age = Math.floor((t - e.storedAt) / 1000);
    const age1 = (r: Answer): Answer => (ttlOf(r) === undefined ? r : { ...r, ttl: Math.max(0, (ttlOf(r) ?? 0) - age) } as Answer);
    return { rcode: e.rcode, answers: e.answers.map(age1), authorities: e.authorities.map(age1) };
  }

  clear(): void { this.entries.clear(); }
}

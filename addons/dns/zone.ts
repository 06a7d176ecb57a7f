// The zone as an index of fragments (one per Service, per Pod, plus the apex), and `resolve`, the
// pure answer to one question. `Zone.set` replaces a whole fragment, so informer handlers stay
// level-triggered: recompute the object's records, swap them in, done — the next query sees them.
//
// Existence (for NXDOMAIN vs NODATA, RFC 8020): a name under the cluster domain exists when it
// has records, is listed in a fragment's `names`, or is an ancestor of such a name (empty
// non-terminals: `svc.cluster.local`, `ns.svc.cluster.local`, `_tcp.web.ns.svc.cluster.local`).
// Reverse names we have no PTR for are not ours: they fall through to the upstream resolvers, as
// CoreDNS's default `fallthrough in-addr.arpa ip6.arpa` does.
import type { ZoneRecord, Fragment } from './records.js';
import { compileApex } from './records.js';

export interface ZoneOptions {
  domain: string;
  /** TTL of every record we serve (CoreDNS's kubernetes plugin default: 5 s). */
  ttl?: number;
  /** Addresses of `ns.dns.<zone>`: the cluster DNS Service IP. */
  nsIPs?: readonly string[];
  /** First SOA serial (default 1); every change increments it. */
  serial?: number;
}

export type QType = string;

export interface Rr {
  name: string;
  type: string;
  ttl: number;
  class: 'IN';
  data: unknown;
}

export type Resolution =
  | { kind: 'answer'; rcode: 'NOERROR' | 'NXDOMAIN' | 'NOTIMP'; answers: Rr[]; authorities: Rr[]; additionals: Rr[] }
  /** Not our name: ask the upstream resolvers. */
  | { kind: 'forward' }
  /** An in-zone CNAME to an outside name: answer `answers`, then append upstream's answer for `target`. */
  | { kind: 'chase'; answers: Rr[]; target: string };

export class Zone {
  readonly domain: string;
  readonly ttl: number;
  private readonly fragments = new Map<string, Fragment>();
  private readonly byName = new Map<string, ZoneRecord[]>();
  private readonly existing = new Map<string, number>();
  serial: number;

  constructor(opts: ZoneOptions) {
    this.domain = opts.domain.toLowerCase().replace(/\.$/, '');
    this.ttl = opts.ttl ?? 5;
    this.serial = opts.serial ?? 1;
    this.set('apex', compileApex(this.domain, opts.nsIPs ?? []));
  }

  get fragmentCount(): number { return this.fragments.size; }
  get nameCount(): number { return this.byName.size; }

  inZone(name: string): boolean { return name === this.domain || name.endsWith(`.${this.domain}`); }

  /** Replaces the fragment under `key`; `undefined` removes it. */
  set(key: string, fragment: Fragment | undefined): void {
    const old = this.fragments.get(key);
    if (!old && !fragment) return;
    if (old) this.unindex(old);
    if (fragment && (fragment.records.length || fragment.names?.length)) {
      this.fragments.set(key, fragment);
      this.index(fragment);
    } else {
      this.fragments.delete(key);
    }
    this.serial = (this.serial + 1) >>> 0;
  }

  private namesOf(f: Fragment): string[] {
    return [...f.records.map(r => r.name), ...(f.names ?? [])];
  }

  /** The name and its ancestors below the apex, when under the domain. */
  private ancestry(name: string): string[] {
    if (!this.inZone(name)) return [name];
    const out: string[] = [];
    let n = name;
    while (n.length > this.domain.length) {
      out.push(n);
      const dot = n.indexOf('.');
      if (dot < 0) break;
      n = n.slice(dot + 1);
    }
    return out;
  }

  private index(f: Fragment): void {
    for (const r of f.records) {
      let list = this.byName.get(r.name);
      if (!list) this.byName.set(r.name, list = []);
      list.push(r);
    }
    for (const n of this.namesOf(f)) for (const a of this.ancestry(n)) this.existing.set(a, (this.existing.get(a) ?? 0) + 1);
  }

  private unindex(f: Fragment): void {
    for (const r of f.records) {
      const list = this.byName.get(r.name);
      if (!list) continue;
      const i = list.indexOf(r);
      if (i >= 0) list.splice(i, 1);
      if (!list.length) this.byName.delete(r.name);
    }
    for (const n of this.namesOf(f)) {
      for (const a of this.ancestry(n)) {
        const c = (this.existing.get(a) ?? 0) - 1;
        if (c > 0) this.existing.set(a, c); else this.existing.delete(a);
      }
    }
  }

  records(name: string): readonly ZoneRecord[] { return this.byName.get(name) ?? []; }
  exists(name: string): boolean { return name === this.domain || this.existing.has(name); }

  soa(): Rr {
    return {
      name: this.domain, type: 'SOA', ttl: this.ttl, class: 'IN',
      data: { mname: `ns.dns.${this.domain}`, rname: `hostmaster.${this.domain}`, serial: this.serial, refresh: 7200, retry: 1800, expire: 86400, minimum: this.ttl },
    };
  }
}

function toRr(r: ZoneRecord, ttl: number, name = r.name): Rr {
  return { name, type: r.type, ttl, class: 'IN', data: r.data };
}

/** The records of `type` at `name`; PTRs only of the best rank (a Service's name beats a pod's). */
function select(zone: Zone, name: string, type: string): ZoneRecord[] {
  const all = zone.records(name);
  if (type === 'ANY') return [...all];
  const hit = all.filter(r => r.type === type);
  if (type !== 'PTR' || hit.length < 2) return hit;
  const best = Math.min(...hit.map(r => r.rank ?? 0));
  return hit.filter(r => (r.rank ?? 0) === best);
}

const MAX_CNAME_CHAIN = 8;

/** Answers one question (name lower-cased by the caller or not; `klass` is the question's class). */
export function resolve(zone: Zone, qname: string, qtype: string, klass = 'IN'): Resolution {
  const name = qname.toLowerCase().replace(/\.$/, '');
  const reverse = name.endsWith('.in-addr.arpa') || name.endsWith('.ip6.arpa');
  if (!zone.inZone(name)) {
    if (reverse && zone.records(name).some(r => r.type === 'PTR') && klass === 'IN') {
      const answers = select(zone, name, qtype === 'ANY' ? 'PTR' : qtype).map(r => toRr(r, zone.ttl, qname));
      if (answers.length) return { kind: 'answer', rcode: 'NOERROR', answers, authorities: [], additionals: [] };
    }
    return { kind: 'forward' };
  }
  const nodata = (rcode: 'NOERROR' | 'NXDOMAIN'): Resolution => ({ kind: 'answer', rcode, answers: [], authorities: [zone.soa()], additionals: [] });
  if (klass !== 'IN' && klass !== 'ANY') return { kind: 'answer', rcode: 'NOTIMP', answers: [], authorities: [], additionals: [] };
  if (name === zone.domain) {
    if (qtype === 'SOA') return { kind: 'answer', rcode: 'NOERROR', answers: [{ ...zone.soa(), name: qname }], authorities: [], additionals: [] };
    if (qtype === 'NS') {
      const answers = select(zone, name, 'NS').map(r => toRr(r, zone.ttl, qname));
      const additionals = answers.flatMap(a => [...select(zone, String(a.data), 'A'), ...select(zone, String(a.data), 'AAAA')]).map(r => toRr(r, zone.ttl));
      return { kind: 'answer', rcode: 'NOERROR', answers, authorities: [], additionals };
    }
  }
  const answers: Rr[] = [];
  let current = name;
  let owner = qname;
  for (let depth = 0; depth <= MAX_CNAME_CHAIN; depth++) {
    const hit = select(zone, current, qtype);
    if (hit.length) {
      answers.push(...hit.map(r => toRr(r, zone.ttl, owner)));
      const additionals = qtype === 'SRV' ? additionalsFor(zone, hit) : [];
      return { kind: 'answer', rcode: 'NOERROR', answers, authorities: [], additionals };
    }
    const cname = qtype === 'CNAME' ? undefined : select(zone, current, 'CNAME')[0];
    if (!cname) {
      if (answers.length) return { kind: 'answer', rcode: zone.exists(current) ? 'NOERROR' : 'NXDOMAIN', answers, authorities: [zone.soa()], additionals: [] };
      return nodata(zone.exists(current) ? 'NOERROR' : 'NXDOMAIN');
    }
    answers.push(toRr(cname, zone.ttl, owner));
    const target = String(cname.data);
    if (!zone.inZone(target)) return { kind: 'chase', answers, target };
    current = target;
    owner = target;
  }
  // A loop of CNAMEs inside the zone: answer what we have, as a resolver would stop.
  return { kind: 'answer', rcode: 'NOERROR', answers, authorities: [], additionals: [] };
}

function additionalsFor(zone: Zone, srv: ZoneRecord[]): Rr[] {
  const out: Rr[] = [];
  const seen = new Set<string>();
  for (const r of srv) {
    if (r.type !== 'SRV' || seen.has(r.data.target)) continue;
    seen.add(r.data.target);
    for (const t of ['A', 'AAAA']) out.push(...select(zone, r.data.target, t).map(a => toRr(a, zone.ttl)));
  }
  return out;
}

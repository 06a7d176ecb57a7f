// A small evaluator of nftables rules, as `nft -j list ruleset` prints them, for one packet: which
// base chains of a hook it meets, which rules match, which verdict each table gives, and — for a
// DNAT through a map keyed by `numgen` — the whole set of endpoints it may pick. Pure.
//
// Design notes. `k8ts trace` must name the rules the kernel really holds, whichever component (or
// operator) wrote them, so it reads the ruleset back and walks it rather than recomputing what the
// proxy or the policy compiler meant to install. The evaluator covers the expressions those two
// compilers emit (payload ip/th fields, meta l4proto/mark/iifname/oifname, ct state, bitwise
// and/or/xor, concatenations, sets, verdict maps, prefixes and ranges, jump/goto/return, mark
// mangling, dnat through maps, masquerade, reject), and the `xt` expressions of iptables-nft rules
// (the iptables proxy) read from their iptables-save line: statistic, addrtype, conntrack, mark,
// recent, DNAT, MARK, MASQUERADE, REJECT. A statistic match is a random branch: every branch is
// run, weighted by its probability, and the DNAT choice set is their union. Anything else is
// reported as not understood and the rule treated as not matching, so the result says where it
// stops knowing. Alternatives rejected: the kernel's own trace alone (it shows one random DNAT
// choice, not the choice set, and needs a live probe), and matching our compilers' rule text
// (blind to rules added by hand).

import { TABLE as PROXY_TABLE } from '../../proxy/nftables/compile.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export type Hook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';

export interface NftChain { family: string; table: string; name: string; hook?: string; prio?: number; type?: string; policy?: string }
export interface NftRule { family: string; table: string; chain: string; handle: number; expr: Json[] }
export interface NftSetObj { family: string; table: string; name: string; elem?: Json[]; map?: Json; flags?: Json }

/** A ruleset, as `nft -j list ruleset` has it, indexed. */
export interface Ruleset {
  chains: NftChain[];
  rules: NftRule[];
  sets: NftSetObj[];
  /**
   * Chains whose rules `nft` could not print (`table chain`): it aborts on expressions it cannot
   * decompile, as nft 1.0.6 does on the proxy's ClientIP-affinity rules (raw netlink expressions).
   */
  undecodable?: string[];
  /**
   * iptables-nft rules by `table chain handle`: their `iptables-save` line, which says what the
   * `xt` expressions nft shows only by name mean (statistic probability, DNAT destination, …).
   */
  xt?: Record<string, string>;
}

/** `nft -j list ruleset` output, indexed (families ip and inet: the ones an IPv4 packet meets). */
export function parseRuleset(json: string): Ruleset {
  const doc = JSON.parse(json) as { nftables: Record<string, Record<string, Json>>[] };
  const rs: Ruleset = { chains: [], rules: [], sets: [] };
  for (const o of doc.nftables) {
    if (o.chain) rs.chains.push(o.chain as unknown as NftChain);
    else if (o.rule) rs.rules.push(o.rule as unknown as NftRule);
    else if (o.set ?? o.map) rs.sets.push((o.set ?? o.map) as unknown as NftSetObj);
  }
  return rs;
}

export interface Packet {
  saddr: string;
  daddr: string;
  proto: 'tcp' | 'udp' | 'sctp';
  sport: number;
  dport: number;
  mark: number;
  iif?: string;
  oif?: string;
}

/** An endpoint a DNAT may pick, with its probability (and the affinity that may pin it). */
export interface Choice { ip: string; port?: number; probability: number }

export interface RuleHit {
  table: string;
  chain: string;
  handle: number;
  /** What happened: `jump services`, `goto lb-2`, `dnat (2 endpoints)`, `no element in @service-ips`, … */
  effect: string;
}

export interface ChainVerdict {
  table: string;
  chain: string;
  verdict: 'accept' | 'drop' | 'reject' | 'dnat' | 'masquerade' | 'snat';
}

export interface HookResult {
  hook: Hook;
  /** Every rule that matched (or whose verdict map was consulted), in order. */
  hits: RuleHit[];
  /** The verdict of each base chain met, in priority order. */
  chains: ChainVerdict[];
  /** The packet's fate at this hook: dropped/rejected by the first chain that did, else accepted. */
  verdict: 'accept' | 'drop' | 'reject';
  dnat?: { choices: Choice[]; table: string; chain: string; handle: number; affinity?: { map: string; timeoutS?: number; pinned?: Choice } };
  masquerade?: { table: string; chain: string; handle: number };
  /** Expressions the evaluator does not know, where they were. */
  unknown: string[];
  /** The packet after the hook (its mark, as mangled). */
  packet: Packet;
}

const PROTO: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, sctp: 132 };
const UNKNOWN = Symbol('unknown');
const NOMATCH = Symbol('no match');
type Val = string | number | Val[] | typeof UNKNOWN | typeof NOMATCH | { numgen: number; offset: number };

const ipNum = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const isIp = (s: unknown): s is string => typeof s === 'string' && /^\d+\.\d+\.\d+\.\d+$/.test(s);

/** Comparable scalar: protocol names as numbers, addresses as strings. */
function norm(v: Json | Val): string {
  if (typeof v === 'string' && v in PROTO) return String(PROTO[v]);
  return String(v);
}

function evalExpr(e: Json, p: Packet): Val {
  if (typeof e === 'string' || typeof e === 'number') return e;
  if (e === null || typeof e !== 'object' || Array.isArray(e)) return UNKNOWN;
  const [k, body] = Object.entries(e)[0] ?? ['', null];
  const b = body as Record<string, Json>;
  switch (k) {
    case 'payload': {
      const proto = String(b.protocol), field = String(b.field);
      if (proto === 'ip') return field === 'saddr' ? p.saddr : field === 'daddr' ? p.daddr : field === 'protocol' ? PROTO[p.proto]! : UNKNOWN;
      if (proto === 'th' || proto === p.proto) return field === 'dport' ? p.dport : field === 'sport' ? p.sport : UNKNOWN;
      if (proto === 'tcp' || proto === 'udp' || proto === 'sctp' || proto === 'icmp') return NOMATCH; // the implicit protocol check fails
      return UNKNOWN;
    }
    case 'meta': {
      switch (String(b.key)) {
        case 'l4proto': return PROTO[p.proto]!;
        case 'mark': return p.mark;
        case 'nfproto': case 'protocol': return 'ip';
        case 'iifname': return p.iif ?? UNKNOWN;
        case 'oifname': return p.oif ?? UNKNOWN;
        default: return UNKNOWN;
      }
    }
    case 'ct': return String(b.key) === 'state' ? ['new'] : UNKNOWN; // we trace a connection's first packet
    case 'concat': {
      const parts = (body as Json[]).map(x => evalExpr(x, p));
      return parts.some(x => x === UNKNOWN) ? UNKNOWN : parts.some(x => x === NOMATCH) ? NOMATCH : parts;
    }
    case 'numgen': return { numgen: Number(b.mod), offset: Number(b.offset ?? 0) };
    case '&': case '|': case '^': {
      const [l, r] = (body as Json[]).map(x => evalExpr(x, p));
      if (typeof l !== 'number' || typeof r !== 'number') return UNKNOWN;
      return k === '&' ? (l & r) >>> 0 : k === '|' ? (l | r) >>> 0 : (l ^ r) >>> 0;
    }
    default: return UNKNOWN;
  }
}

/** Does one value (scalar or tuple) match one set element key (scalar, prefix, range, concat)? */
function elemMatches(key: Json, v: Val): boolean {
  if (key !== null && typeof key === 'object' && !Array.isArray(key)) {
    const [k, body] = Object.entries(key)[0] ?? ['', null];
    if (k === 'elem') return elemMatches((body as { val: Json }).val, v);
    if (k === 'concat') return Array.isArray(v) && (body as Json[]).length === v.length && (body as Json[]).every((x, i) => elemMatches(x, v[i]!));
    if (k === 'prefix') {
      const pr = body as { addr: string; len: number };
      if (typeof v !== 'string' || !isIp(v)) return false;
      const mask = pr.len === 0 ? 0 : (~0 << (32 - pr.len)) >>> 0;
      return ((ipNum(v) & mask) >>> 0) === ((ipNum(pr.addr) & mask) >>> 0);
    }
    if (k === 'range') {
      const [lo, hi] = body as [Json, Json];
      if (typeof v === 'number') return v >= Number(lo) && v <= Number(hi);
      if (typeof v === 'string' && isIp(v) && isIp(lo) && isIp(hi)) return ipNum(v) >= ipNum(lo) && ipNum(v) <= ipNum(hi);
      return false;
    }
    if (k === 'set') return (body as Json[]).some(x => elemMatches(x, v));
    return false;
  }
  if (Array.isArray(key)) return key.some(x => elemMatches(x, v));
  if (Array.isArray(v)) return v.some(x => norm(x) === norm(key)); // flags (ct state) against one flag
  return norm(key) === norm(v as string | number);
}

function findSet(rs: Ruleset, family: string, table: string, ref: string): NftSetObj | undefined {
  const name = ref.replace(/^@/, '');
  return rs.sets.find(s => s.family === family && s.table === table && s.name === name);
}

/** The elements of a set, or [key, data] pairs of a map: from a named set or an anonymous one. */
function elementsOf(rs: Ruleset, r: NftRule, right: Json): Json[] | undefined {
  if (typeof right === 'string' && right.startsWith('@')) return findSet(rs, r.family, r.table, right)?.elem ?? [];
  if (right !== null && typeof right === 'object' && !Array.isArray(right) && 'set' in right) return right.set as Json[];
  return undefined;
}

/** Map lookup; a key with a numgen in it expands to every value the numgen can take. */
function lookupAll(elems: Json[], key: Val): { value: Json; probability: number }[] {
  const pick = (k: Val) => {
    const e = elems.find(x => Array.isArray(x) && x.length === 2 && elemMatches(x[0]!, k)) as [Json, Json] | undefined;
    return e?.[1];
  };
  if (Array.isArray(key)) {
    const i = key.findIndex(x => typeof x === 'object' && !Array.isArray(x) && 'numgen' in (x as object));
    if (i >= 0) {
      const g = key[i] as { numgen: number; offset: number };
      const out: { value: Json; probability: number }[] = [];
      for (let n = 0; n < g.numgen; n++) {
        const v = pick(key.map((x, j) => (j === i ? g.offset + n : x)));
        if (v !== undefined) out.push({ value: v, probability: 1 / g.numgen });
      }
      return out;
    }
  }
  const v = pick(key);
  return v === undefined ? [] : [{ value: v, probability: 1 }];
}

function verdictOf(j: Json): { code: string; target?: string } | undefined {
  if (j === null || typeof j !== 'object' || Array.isArray(j)) return undefined;
  const [k, body] = Object.entries(j)[0] ?? ['', null];
  if (k === 'jump' || k === 'goto') return { code: k, target: String((body as { target: string }).target) };
  if (['accept', 'drop', 'return', 'continue'].includes(k)) return { code: k };
  return undefined;
}

function choicesOf(values: { value: Json; probability: number }[]): Choice[] {
  const by = new Map<string, Choice>();
  for (const { value, probability } of values) {
    let ip: string | undefined, port: number | undefined;
    if (typeof value === 'string') ip = value;
    else if (value && typeof value === 'object' && !Array.isArray(value) && 'concat' in value) {
      const c = value.concat as Json[];
      ip = String(c[0]);
      if (c[1] !== undefined) port = Number(c[1]);
    }
    if (!ip) continue;
    const k = `${ip}:${port ?? ''}`;
    const had = by.get(k);
    if (had) had.probability += probability;
    else by.set(k, { ip, ...(port !== undefined ? { port } : {}), probability });
  }
  return [...by.values()];
}

type Outcome =
  | { kind: 'next' }
  | { kind: 'verdict'; code: 'accept' | 'drop' | 'reject' | 'return' | 'continue' }
  | { kind: 'jump' | 'goto'; target: string }
  | { kind: 'nat'; what: 'dnat' | 'masquerade' | 'snat' };

interface Ctx {
  rs: Ruleset; p: Packet; res: HookResult; affinity?: { map: string; timeoutS?: number };
  /** This node's addresses (iptables' addrtype LOCAL). */
  local: readonly string[];
  /** A random branch (iptables' statistic match) taken with probability p: which way this run goes. */
  decide(p: number): boolean;
}

/**
 * An iptables-nft `xt` expression, from its iptables-save line: 'pass' and 'fail' for matches, an
 * outcome for targets, undefined when not understood.
 */
function runXt(c: Ctx, r: NftRule, type: string, name: string): 'pass' | 'fail' | Outcome | undefined {
  const line = c.rs.xt?.[`${r.table} ${r.chain} ${r.handle}`];
  const hit = (effect: string) => c.res.hits.push({ table: r.table, chain: r.chain, handle: r.handle, effect });
  if (type === 'match') {
    switch (name) {
      case 'comment': case 'tcp': case 'udp': case 'sctp': return 'pass';
      case 'statistic': {
        const m = line ? /--probability (\S+)/.exec(line) : null;
        if (!m) return undefined;
        return c.decide(Number(m[1])) ? 'pass' : 'fail';
      }
      case 'addrtype': {
        if (!line) return undefined;
        for (const [flag, addr] of [['--dst-type', c.p.daddr], ['--src-type', c.p.saddr]] as const) {
          const m = new RegExp(`(! )?${flag} (\\S+)`).exec(line);
          if (!m) continue;
          if (m[2] !== 'LOCAL') return undefined;
          if (c.local.includes(addr) === Boolean(m[1])) return 'fail';
        }
        return 'pass';
      }
      case 'conntrack': case 'state': {
        const m = line ? /(! )?--(?:ct)?state (\S+)/.exec(line) : null;
        if (!m) return undefined;
        return m[2]!.split(',').includes('NEW') !== Boolean(m[1]) ? 'pass' : 'fail';
      }
      case 'mark': {
        const m = line ? /(! )?--mark (0x[0-9a-f]+|\d+)(?:\/(0x[0-9a-f]+|\d+))?/i.exec(line) : null;
        if (!m) return undefined;
        const mask = m[3] !== undefined ? Number(m[3]) : 0xffffffff;
        return ((c.p.mark & mask) >>> 0 === (Number(m[2]) & mask) >>> 0) !== Boolean(m[1]) ? 'pass' : 'fail';
      }
      case 'recent': {
        // ClientIP affinity (upstream's iptables layout): we trace a client with no entry yet.
        const secs = line ? /--seconds (\d+)/.exec(line) : null;
        const list = line ? /--name (\S+)/.exec(line) : null;
        c.affinity = { map: `recent ${list?.[1] ?? ''}`.trim(), ...(secs ? { timeoutS: Number(secs[1]) } : {}) };
        return line && /--rcheck|--update/.test(line) ? 'fail' : 'pass';
      }
      default: return undefined;
    }
  }
  switch (name) {
    case 'DNAT': {
      const m = line ? /--to-destination (\d+\.\d+\.\d+\.\d+)(?::(\d+))?/.exec(line) : null;
      if (!m) return undefined;
      c.res.dnat = { choices: [{ ip: m[1]!, ...(m[2] ? { port: Number(m[2]) } : {}), probability: 1 }], table: r.table, chain: r.chain, handle: r.handle, ...(c.affinity ? { affinity: c.affinity } : {}) };
      hit(`dnat to ${m[1]!}${m[2] ? `:${m[2]}` : ''}`);
      return { kind: 'nat', what: 'dnat' };
    }
    case 'MARK': {
      const m = line ? /--(or|xor|set-x)-?mark (0x[0-9a-f]+|\d+)(?:\/(0x[0-9a-f]+|\d+))?/i.exec(line) : null;
      if (!m) return undefined;
      const v = Number(m[2]);
      c.p.mark = m[1] === 'or' ? (c.p.mark | v) >>> 0 : m[1] === 'xor' ? (c.p.mark ^ v) >>> 0 : ((c.p.mark & ~Number(m[3] ?? 0xffffffff)) ^ v) >>> 0;
      hit(`mark set 0x${c.p.mark.toString(16)}`);
      return 'pass';
    }
    case 'MASQUERADE': case 'SNAT':
      hit(name.toLowerCase());
      c.res.masquerade = { table: r.table, chain: r.chain, handle: r.handle };
      return { kind: 'nat', what: name === 'SNAT' ? 'snat' : 'masquerade' };
    case 'REJECT':
      hit('reject');
      return { kind: 'verdict', code: 'reject' };
    default: return undefined;
  }
}

/** Runs one rule; returns what the packet does next. */
function runRule(c: Ctx, r: NftRule): Outcome {
  const hit = (effect: string) => c.res.hits.push({ table: r.table, chain: r.chain, handle: r.handle, effect });
  for (const st of r.expr) {
    if (st === null || typeof st !== 'object' || Array.isArray(st)) continue;
    const [k, body] = Object.entries(st)[0] ?? ['', null];
    const b = body as Record<string, Json>;
    switch (k) {
      case 'match': {
        const left = evalExpr(b.left!, c.p);
        if (left === NOMATCH) return { kind: 'next' };
        if (left === UNKNOWN) { c.res.unknown.push(`${r.table} ${r.chain} handle ${r.handle}: ${JSON.stringify(b.left)}`); return { kind: 'next' }; }
        const elems = elementsOf(c.rs, r, b.right!);
        const ok = elems ? elems.some(x => elemMatches(x, left)) : elemMatches(b.right!, left);
        const op = String(b.op);
        const want = op === '!=' ? !ok : ok; // '==' and 'in' (and the implicit op of flags)
        if (!want) return { kind: 'next' };
        break;
      }
      case 'vmap': {
        const key = evalExpr(b.key!, c.p);
        const elems = elementsOf(c.rs, r, b.data!) ?? [];
        if (key === UNKNOWN || key === NOMATCH) { if (key === UNKNOWN) c.res.unknown.push(`${r.table} ${r.chain} handle ${r.handle}: vmap key`); return { kind: 'next' }; }
        const got = lookupAll(elems, key)[0];
        const name = typeof b.data === 'string' ? b.data : 'an anonymous map';
        if (!got) { hit(`no element in ${name}`); return { kind: 'next' }; }
        const v = verdictOf(got.value);
        if (!v) return { kind: 'next' };
        hit(`${name} → ${v.code}${v.target ? ` ${v.target}` : ''}`);
        if (v.code === 'jump' || v.code === 'goto') return { kind: v.code, target: v.target! };
        return { kind: 'verdict', code: v.code as 'accept' };
      }
      case 'mangle': {
        const key = b.key as Record<string, Record<string, Json>>;
        if (key.meta?.key === 'mark') {
          const v = evalExpr(b.value!, c.p);
          if (typeof v === 'number') { c.p.mark = v; hit(`mark set 0x${v.toString(16)}`); }
        }
        break;
      }
      case 'set': case 'map': {
        // `add/update @affinity-K { key timeout T }`: the choice is remembered per client.
        const timeout = b.elem && typeof b.elem === 'object' && !Array.isArray(b.elem) ? (b.elem as Record<string, Record<string, Json>>).elem?.timeout : undefined;
        c.affinity = { map: String(b.set ?? b.map).replace(/^@/, ''), ...(typeof timeout === 'number' ? { timeoutS: timeout } : {}) };
        break;
      }
      case 'counter': case 'log': case 'limit': case 'comment': break;
      case 'jump': case 'goto': {
        const target = String((body as { target: string }).target);
        hit(`${k} ${target}`);
        return { kind: k, target };
      }
      case 'accept': case 'drop': case 'return': case 'continue':
        hit(k);
        return { kind: 'verdict', code: k };
      case 'reject':
        hit('reject');
        return { kind: 'verdict', code: 'reject' };
      case 'dnat': {
        const addr = b.addr!;
        let values: { value: Json; probability: number }[] = [];
        if (addr && typeof addr === 'object' && !Array.isArray(addr) && 'map' in addr) {
          const m = addr.map as { key: Json; data: Json };
          const key = evalExpr(m.key, c.p);
          if (key === UNKNOWN || key === NOMATCH) { c.res.unknown.push(`${r.table} ${r.chain} handle ${r.handle}: dnat map key`); return { kind: 'next' }; }
          values = lookupAll(elementsOf(c.rs, r, m.data) ?? [], key);
        } else if (typeof addr === 'string') values = [{ value: b.port !== undefined ? { concat: [addr, b.port!] } : addr, probability: 1 }];
        if (values.length === 0) { hit('dnat: no element for this packet'); return { kind: 'next' }; }
        const choices = choicesOf(values);
        c.res.dnat = { choices, table: r.table, chain: r.chain, handle: r.handle, ...(c.affinity ? { affinity: c.affinity } : {}) };
        hit(`dnat to ${choices.map(x => `${x.ip}${x.port ? `:${x.port}` : ''}`).join(' | ')}`);
        return { kind: 'nat', what: 'dnat' };
      }
      case 'masquerade': case 'snat':
        hit(k);
        c.res.masquerade = { table: r.table, chain: r.chain, handle: r.handle };
        return { kind: 'nat', what: k };
      case 'xt': {
        const o = runXt(c, r, String(b.type), String(b.name));
        if (o === 'pass') break;
        if (o === 'fail') return { kind: 'next' };
        if (o === undefined) { c.res.unknown.push(`${r.table} ${r.chain} handle ${r.handle}: xt ${String(b.type)} ${String(b.name)}`); return { kind: 'next' }; }
        return o;
      }
      default:
        c.res.unknown.push(`${r.table} ${r.chain} handle ${r.handle}: ${k}`);
        return { kind: 'next' };
    }
  }
  return { kind: 'next' };
}

/**
 * The proxy's ClientIP-affinity chains (`aff-N-T`, `local-aff-N-T`: proxy/nftables/compile.ts),
 * read by their layout rather than rule by rule: a client found in the set `affinity-K` goes to
 * endpoint K of the chain's endpoint map (`eps-N`, or `local-eps-N` for a Local policy); a new one
 * gets any of the N at random and is then remembered in the set of the one it got, for T seconds.
 */
function affinityChain(c: Ctx, family: string, table: string, chain: string): Outcome | undefined {
  const m = /^(local-)?aff-(\d+)-(\d+)$/.exec(chain);
  if (!m) { c.res.unknown.push(`${table} ${chain}: nft could not print its rules`); return undefined; }
  const n = Number(m[2]), timeoutS = Number(m[3]);
  const eps = `${m[1] ?? ''}eps-${n}`;
  const p = c.p;
  const service = [p.daddr, PROTO[p.proto]!, p.dport];
  const epsElems = findSet(c.rs, family, table, eps)?.elem ?? [];
  const k = Array.from({ length: n }, (_, i) => i).find(i => (findSet(c.rs, family, table, `affinity-${i}`)?.elem ?? []).some(x => elemMatches(x, [p.saddr, ...service])));
  const pinnedTo = k === undefined ? undefined : lookupAll(epsElems, [...service, k])[0];
  const pinned = pinnedTo ? choicesOf([pinnedTo])[0] : undefined;
  const choices = pinned ? [{ ...pinned, probability: 1 }] : choicesOf(lookupAll(epsElems, [...service, { numgen: n, offset: 0 }]));
  if (choices.length === 0) { c.res.unknown.push(`${table} ${chain}: no element of @${eps} for this packet`); return undefined; }
  const set = k === undefined ? 'affinity-K' : `affinity-${k}`;
  c.res.dnat = { choices, table, chain, handle: 0, affinity: { map: set, timeoutS, ...(pinned ? { pinned } : {}) } };
  c.res.hits.push({ table, chain, handle: 0, effect: pinned ? `dnat to ${pinned.ip}${pinned.port ? `:${pinned.port}` : ''} (this client is in @${set}, its timeout restarts)` : `dnat to one of @${eps} at random (no affinity entry yet), then remembered in @affinity-K of the endpoint K picked, for ${timeoutS}s` });
  return { kind: 'nat', what: 'dnat' };
}

/** Runs a chain (and what it jumps to); returns a terminal outcome, or 'return'/'end' when it falls through. */
function runChain(c: Ctx, family: string, table: string, chain: string, depth: number): Outcome | undefined {
  if (depth > 32) { c.res.unknown.push(`${table} ${chain}: jumps nested deeper than 32`); return undefined; }
  // Affinity chains by their layout (the rules' constant endpoint index has no type nft can print),
  // and any chain an older layout left that nft could not print at all.
  if ((table === PROXY_TABLE && /^(?:local-)?aff-\d+-\d+$/.test(chain)) || c.rs.undecodable?.includes(`${table} ${chain}`)) return affinityChain(c, family, table, chain);
  const rules = c.rs.rules.filter(r => r.family === family && r.table === table && r.chain === chain);
  for (const r of rules) {
    const o = runRule(c, r);
    if (o.kind === 'next') continue;
    if (o.kind === 'jump') {
      const sub = runChain(c, family, table, o.target, depth + 1);
      if (sub) return sub;
      continue;
    }
    if (o.kind === 'goto') return runChain(c, family, table, o.target, depth + 1);
    if (o.kind === 'verdict' && o.code === 'return') return undefined;
    if (o.kind === 'verdict' && o.code === 'continue') continue;
    return o;
  }
  return undefined;
}

/**
 * The packet through every base chain of `hook` (families ip and inet), by priority. `local`: this
 * node's addresses. Random branches (iptables' statistic matches) are all explored, each run
 * weighted by the probability of its branches: the DNAT choice set is their union.
 */
export function evalHook(rs: Ruleset, hook: Hook, packet: Packet, local: readonly string[] = []): HookResult {
  const pending: boolean[][] = [[]];
  let first: HookResult | undefined;
  const weighted = new Map<string, Choice>();
  for (let runs = 0; pending.length > 0 && runs < 1024; runs++) {
    const taken = pending.pop()!;
    let k = 0, weight = 1;
    const decide = (p: number): boolean => {
      if (k >= taken.length) { pending.push([...taken, false]); taken.push(true); }
      const d = taken[k++]!;
      weight *= d ? p : 1 - p;
      return d;
    };
    const res = evalOnce(rs, hook, packet, local, decide);
    first ??= res;
    for (const ch of res.dnat?.choices ?? []) {
      const key = `${ch.ip}:${ch.port ?? ''}`;
      const had = weighted.get(key);
      if (had) had.probability += ch.probability * weight;
      else weighted.set(key, { ...ch, probability: ch.probability * weight });
    }
  }
  if (first!.dnat) first!.dnat.choices = [...weighted.values()].filter(ch => ch.probability > 1e-9);
  return first!;
}

function evalOnce(rs: Ruleset, hook: Hook, packet: Packet, local: readonly string[], decide: (p: number) => boolean): HookResult {
  const p = { ...packet };
  const res: HookResult = { hook, hits: [], chains: [], verdict: 'accept', unknown: [], packet: p };
  const base = rs.chains.filter(ch => ch.hook === hook && (ch.family === 'ip' || ch.family === 'inet')).sort((a, b) => (a.prio ?? 0) - (b.prio ?? 0));
  let natted = false;
  for (const ch of base) {
    if (ch.type === 'nat' && natted) continue; // one NAT binding per connection and direction
    const o = runChain({ rs, p, res, local, decide }, ch.family, ch.table, ch.name, 0);
    let v: ChainVerdict['verdict'] = ch.policy === 'drop' ? 'drop' : 'accept';
    if (o?.kind === 'verdict') v = o.code === 'drop' ? 'drop' : o.code === 'reject' ? 'reject' : 'accept';
    if (o?.kind === 'nat') { v = o.what; natted = true; }
    res.chains.push({ table: ch.table, chain: ch.name, verdict: v });
    if (v === 'drop' || v === 'reject') { res.verdict = v; break; }
  }
  return res;
}

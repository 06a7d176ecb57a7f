// Reading a table back from the kernel with `nft -j list table …` through the Exec seam: what
// `k8ts proxy --dry-run` diffs against, and what tests compare. A missing table reads as undefined.
//
// Design notes. The incremental sync never reads the kernel back (../plan.ts); this is for humans
// and tests, so the `nft` CLI is good enough and keeps a JSON parser of netlink dumps out of our
// code. The result is reduced to comparable text: set and map elements in the same element syntax
// renderNft prints, and chains with their rule count.
import { systemExec, type Exec } from '../exec.js';

export interface ListedTable {
  readonly sets: ReadonlyMap<string, readonly string[]>;
  readonly chains: ReadonlyMap<string, number>;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Element syntax of nft JSON values: `10.96.0.1 . tcp . 80 : goto lb-2`. */
export function jsonValueText(v: Json): string {
  if (v === null) return '';
  if (typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return v.map(jsonValueText).join(' : ');
  const [k, body] = Object.entries(v)[0] ?? ['', null];
  switch (k) {
    case 'concat': return (body as Json[]).map(jsonValueText).join(' . ');
    case 'elem': return jsonValueText((body as { val: Json }).val);
    case 'goto': case 'jump': return `${k} ${String((body as { target: string }).target)}`;
    case 'accept': case 'drop': case 'continue': case 'return': return k;
    case 'prefix': { const p = body as { addr: string; len: number }; return `${p.addr}/${p.len}`; }
    default: return JSON.stringify(v);
  }
}

export async function listTable(table: string, opts: { netns?: string; exec?: Exec } = {}): Promise<ListedTable | undefined> {
  const exec = opts.exec ?? systemExec;
  const args = ['-j', 'list', 'table', 'ip', table];
  const r = opts.netns ? await exec.run('ip', ['netns', 'exec', opts.netns, 'nft', ...args]) : await exec.run('nft', args);
  if (r.exitCode !== 0) {
    if (/No such file or directory/.test(r.stderr)) return undefined;
    throw new Error(`nft ${args.join(' ')} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 500)}`);
  }
  return parseListedTable(r.stdout);
}

/** Parses `nft -j list table` output. Pure. */
export function parseListedTable(json: string): ListedTable {
  const doc = JSON.parse(json) as { nftables: Record<string, Record<string, Json>>[] };
  const sets = new Map<string, string[]>();
  const chains = new Map<string, number>();
  for (const o of doc.nftables) {
    const set = o.set ?? o.map;
    if (set) {
      const elems = (set.elem ?? []) as Json[];
      sets.set(String(set.name), elems.map(jsonValueText));
    }
    if (o.chain) chains.set(String(o.chain.name), chains.get(String(o.chain.name)) ?? 0);
    if (o.rule) chains.set(String(o.rule.chain), (chains.get(String(o.rule.chain)) ?? 0) + 1);
  }
  return { sets, chains };
}

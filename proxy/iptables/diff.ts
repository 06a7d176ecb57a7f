// The difference between a compiled iptables ruleset and what iptables-save shows, as `+`/`-`/`~`
// lines for `k8ts proxy --dry-run --proxy-mode iptables`. Pure. Chains are compared by presence and
// rule count (iptables-save reorders a rule's matches, so texts would need a parser to compare),
// as the nftables dry-run compares chains.
import type { SavedTable } from '../../kernel/iptables/restore.js';
import { SERVICE_CHAIN_RE, type IptablesRuleset, type Table } from './compile.js';

export function diffIptablesAgainstKernel(want: IptablesRuleset, saved: ReadonlyMap<string, SavedTable>): string[] {
  const out: string[] = [];
  const wanted = new Map<string, number>(); // "table chain" → rule count
  for (const c of want.statics) wanted.set(`${c.table} ${c.name}`, c.rules.length);
  for (const f of want.fragments.values()) {
    for (const r of f.shared) wanted.set(`${r.table} ${r.chain}`, (wanted.get(`${r.table} ${r.chain}`) ?? 0) + 1);
    for (const [c, block] of f.chains) wanted.set(`nat ${c}`, block ? block.split('\n').length : 0);
  }
  for (const [key, n] of wanted) {
    const [table, chain] = key.split(' ') as [Table, string];
    const t = saved.get(table);
    if (!t?.chains.has(chain)) { out.push(`+ chain ${key} (${n} rules)`); continue; }
    const h = t.rules.get(chain)?.length ?? 0;
    if (h !== n) out.push(`~ chain ${key}: ${h} rules in the kernel, ${n} wanted`);
  }
  for (const c of saved.get('nat')?.chains ?? []) if (SERVICE_CHAIN_RE.test(c) && !wanted.has(`nat ${c}`)) out.push(`- chain nat ${c}`);
  for (const j of want.jumps) {
    const rules = saved.get(j.table)?.rules.get(j.from) ?? [];
    if (!rules.some((r) => r.endsWith(`-j ${j.to}`) && r.includes(j.comment))) out.push(`+ jump ${j.table} ${j.from} -> ${j.to}`);
  }
  return out;
}

// The difference between a compiled ruleset and what the kernel holds, as `+`/`-` lines for
// `k8ts proxy --dry-run`. Pure: element texts on both sides are in renderNft's element syntax.
import { allElements, elementText } from '../../kernel/nftables/render.js';
import type { ListedTable } from '../../kernel/nftables/list.js';
import type { Ruleset } from '../../kernel/nftables/types.js';

export function diffAgainstKernel(want: Ruleset, have: ListedTable | undefined): string[] {
  const out: string[] = [];
  if (!have) return [`+ table ip ${want.table} (not in the kernel: everything would be added)`];
  const wantSets = new Set(want.sets.map((s) => s.name));
  for (const s of want.sets) {
    const w = new Set(allElements(s, want.fragments).map((e) => elementText(s, e)));
    const h = have.sets.get(s.name);
    if (!h) { out.push(`+ set ${s.name} (${w.size} elements)`); continue; }
    // A dynamic set is filled by the packet path (ClientIP affinity's clients), not programmed.
    if (s.dynamic) continue;
    const hs = new Set(h);
    for (const e of w) if (!hs.has(e)) out.push(`+ ${s.name}: ${e}`);
    for (const e of hs) if (!w.has(e)) out.push(`- ${s.name}: ${e}`);
  }
  for (const name of have.sets.keys()) if (!wantSets.has(name)) out.push(`- set ${name}`);
  const wantChains = new Map(want.chains.map((c) => [c.name, c.rules.length]));
  for (const [name, n] of wantChains) {
    const h = have.chains.get(name);
    if (h === undefined) out.push(`+ chain ${name}`);
    else if (h !== n) out.push(`~ chain ${name}: ${h} rules in the kernel, ${n} wanted`);
  }
  for (const name of have.chains.keys()) if (!wantChains.has(name)) out.push(`- chain ${name}`);
  return out;
}

// iptables-restore input for a full sync, a partial sync and a cleanup. Pure.
//
// Design notes. A full sync (the first one, the periodic resync, and any sync after a failure)
// is upstream's: declare every chain we own (which flushes it), write all rules, and delete the
// per-service chains that iptables-save shows but the ruleset no longer has; built-in chains only
// get our jump rules, and only when they lack them. A partial sync is upstream's
// MinimizeIPTablesRestore taken one step further: upstream rewrites the changed services' chains
// but still every rule of KUBE-SERVICES and KUBE-NODEPORTS; here the changed fragments (found by
// identity, ./compile.ts memoizes them) give their chains whose rules changed, `-D` for their
// shared rules that went away and `-I`/`-A` for new ones — input proportional to the change, not
// to the number of services. A `-D` of a rule someone removed makes the restore fail; the applier
// then falls back to a full sync, which repairs that drift. A full sync's input is not built as
// one text: it is a list of table sections whose bodies are generated while iptables-restore reads
// them (kernel/iptables/restore.ts streams them), so compiling and planning overlap the restore.
import { renderSections, type RestoreSection, type SavedTable } from '../../kernel/iptables/restore.js';
import { jumpArgs, SERVICE_CHAIN_RE, SHARED_WITH_TRAILER, type IptablesFragment, type IptablesRuleset, type Table } from './compile.js';

const TABLES: readonly Table[] = ['filter', 'nat'];

class Section {
  /** Lines that go first: our fixed chains and the jumps into them from built-in chains. */
  readonly head: string[] = [];
  readonly declare: string[] = [];
  readonly del: string[] = [];
  readonly add: string[] = [];
  readonly rules: string[] = [];
  readonly remove: string[] = [];
  get empty(): boolean { return !this.head.length && !this.declare.length && !this.del.length && !this.add.length && !this.rules.length && !this.remove.length; }
  render(table: Table, out: string[]): void {
    // Loops, not push(...xs): a full sync has hundreds of thousands of lines.
    out.push(`*${table}`);
    for (const l of this.head) out.push(l);
    for (const c of this.declare) out.push(`:${c} - [0:0]`);
    for (const l of this.del) out.push(l);
    for (const l of this.add) out.push(l);
    for (const l of this.rules) out.push(l);
    for (const c of this.remove) out.push(`-X ${c}`);
    out.push('COMMIT');
  }
}

function render(sections: Record<Table, Section>): string {
  const out: string[] = [];
  for (const t of TABLES) if (!sections[t].empty) sections[t].render(t, out);
  return out.length ? `${out.join('\n')}\n` : '';
}

const hasJump = (saved: SavedTable | undefined, from: string, to: string, comment: string): boolean =>
  (saved?.rules.get(from) ?? []).some((r) => r.endsWith(`-j ${to}`) && r.includes(comment));

/** Iterable more than once: each pass runs the generator anew (the restore and a test may both read). */
const lines = (gen: () => Generator<string>): Iterable<string> => ({ [Symbol.iterator]: gen });

/** Every fragment's rules in `table`'s shared chains, each chain followed by its own trailing rules. */
function* sharedRules(want: IptablesRuleset, table: Table): Generator<string> {
  const shared = new Map<string, string[]>();
  for (const f of want.fragments.values()) {
    for (const r of f.shared) {
      if (r.table !== table) continue;
      let l = shared.get(r.chain);
      if (!l) shared.set(r.chain, (l = []));
      l.push(`-A ${r.chain} ${r.rule}`);
    }
  }
  for (const c of want.statics) {
    if (c.table !== table) continue;
    yield* shared.get(c.name) ?? [];
    shared.delete(c.name);
    for (const r of c.rules) yield `-A ${c.name} ${r}`;
  }
  const [stray] = shared.keys();
  if (stray !== undefined) throw new TypeError(`rule for chain "${table} ${stray}" that the ruleset does not declare`);
}

/**
 * Everything, from scratch, as restore sections; `saved` is what iptables-save shows now (stale
 * chains, jumps). The bodies are generators: the fragments' rule text is built while the restore
 * reads it. nat goes first because its body gives out one fragment at a time, while filter's few
 * rules need every fragment built first.
 *
 * nat is written fragment by fragment — a service's chains, then their rules — not upstream's
 * order (every chain first, then every rule): iptables-nft (1.8.9) finds a chain by name in a
 * 512-bucket hash whose buckets list the newest chain first, once for each rule and once more for
 * its jump target. With every chain declared first, each of the 500 000 lookups of a 10 000 × 10
 * load walks ~100 names (a third of the restore's CPU, measured); right after its declaration a
 * chain is at the head of its bucket. The rules each chain ends up with, and their order, are the
 * same either way.
 */
export function planFullSections(want: IptablesRuleset, saved: ReadonlyMap<string, SavedTable>): RestoreSection[] {
  // Built-in chains are touched first (kernel/iptables/restore.ts needs them early).
  const head: Record<Table, string[]> = { filter: [], nat: [] };
  for (const c of want.statics) head[c.table].push(`:${c.name} - [0:0]`);
  for (const j of want.jumps) {
    if (!hasJump(saved.get(j.table), j.from, j.to, j.comment)) head[j.table].push(`-I ${j.from} 1 ${jumpArgs(j)}`);
  }
  const nat = function* (): Generator<string> {
    // One fragment at a time (see the notes above planFullSections): its chains, their rules,
    // then its rules in the shared chains; the shared chains' own trailing rules come last.
    const ours = new Set(want.statics.filter((c) => c.table === 'nat').map((c) => c.name));
    const wanted = new Set<string>();
    for (const f of want.fragments.values()) {
      for (const c of f.chains.keys()) {
        wanted.add(c);
        yield `:${c} - [0:0]`;
      }
      for (const block of f.chains.values()) if (block) yield block;
      for (const r of f.shared) {
        if (r.table !== 'nat') continue;
        if (!ours.has(r.chain)) throw new TypeError(`rule for chain "nat ${r.chain}" that the ruleset does not declare`);
        yield `-A ${r.chain} ${r.rule}`;
      }
    }
    for (const c of want.statics) if (c.table === 'nat') for (const r of c.rules) yield `-A ${c.name} ${r}`;
    const stale = [...saved.get('nat')?.chains ?? []].filter((c) => SERVICE_CHAIN_RE.test(c) && !wanted.has(c));
    for (const c of stale) yield `:${c} - [0:0]`;
    for (const c of stale) yield `-X ${c}`;
  };
  // The size hint spares the restore counting the body before it sends it (kernel/iptables).
  let size = 0;
  for (const f of want.fragments.values()) size += f.size ?? f.keys.length;
  return [
    { table: 'nat', head: head.nat, body: lines(nat), lines: size },
    { table: 'filter', head: head.filter, body: lines(() => sharedRules(want, 'filter')) },
  ];
}

/** planFullSections as one text (tests, `k8ts proxy --dry-run`). */
export const planFull = (want: IptablesRuleset, saved: ReadonlyMap<string, SavedTable>): string => renderSections(planFullSections(want, saved));

const ruleKey = (r: { table: Table; chain: string; rule: string }): string => `${r.table} ${r.chain} ${r.rule}`;

function diffFragment(s: Record<Table, Section>, a: IptablesFragment | undefined, b: IptablesFragment | undefined): void {
  if (b) {
    for (const [c, block] of b.chains) {
      if (a?.chains.get(c) === block) continue;
      s.nat.declare.push(c);
      if (block) s.nat.rules.push(block);
    }
  }
  if (a) for (const c of a.chains.keys()) if (!b?.chains.has(c)) { s.nat.declare.push(c); s.nat.remove.push(c); }
  const before = new Set((a?.shared ?? []).map(ruleKey));
  const after = new Set((b?.shared ?? []).map(ruleKey));
  for (const r of a?.shared ?? []) if (!after.has(ruleKey(r))) s[r.table].del.push(`-D ${r.chain} ${r.rule}`);
  for (const r of b?.shared ?? []) {
    if (before.has(ruleKey(r))) continue;
    s[r.table].add.push(SHARED_WITH_TRAILER.has(`${r.table} ${r.chain}`) ? `-I ${r.chain} 1 ${r.rule}` : `-A ${r.chain} ${r.rule}`);
  }
}

/**
 * Only what changed between two rulesets (empty string: nothing); undefined when the parts
 * around the services changed, which takes a full sync.
 */
export function planPartial(have: IptablesRuleset, want: IptablesRuleset): string | undefined {
  if (have.baseKey !== want.baseKey) return undefined;
  const s: Record<Table, Section> = { filter: new Section(), nat: new Section() };
  for (const [id, b] of want.fragments) {
    const a = have.fragments.get(id);
    if (a !== b) diffFragment(s, a, b);
  }
  for (const [id, a] of have.fragments) if (!want.fragments.has(id)) diffFragment(s, a, undefined);
  return render(s);
}

/** Chains that are ours by name (static ones and per-service ones). */
const OWN_CHAINS = new Set(['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL', 'KUBE-FORWARD', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ']);

/** Removes our jump rules and every chain of ours that iptables-save shows (`--cleanup`). */
export function planCleanup(saved: ReadonlyMap<string, SavedTable>): string {
  const s: Record<Table, Section> = { filter: new Section(), nat: new Section() };
  for (const t of TABLES) {
    const tb = saved.get(t);
    if (!tb) continue;
    const ours = [...tb.chains].filter((c) => OWN_CHAINS.has(c) || SERVICE_CHAIN_RE.test(c));
    const own = new Set(ours);
    for (const [chain, rules] of tb.rules) {
      if (own.has(chain)) continue;
      for (const r of rules) {
        const m = / -j (\S+)$/.exec(` ${r}`);
        if (m && own.has(m[1]!)) s[t].del.push(`-D ${chain} ${r}`);
      }
    }
    for (const c of ours) { s[t].declare.push(c); s[t].remove.push(c); }
  }
  return render(s);
}

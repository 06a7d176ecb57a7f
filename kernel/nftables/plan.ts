// Planning nf_tables transactions: from the ruleset we last committed (`have`) and the one we want,
// the operations of one batch. Pure.
//
// Design notes. We never read the kernel's ruleset back on an incremental sync (at 100 000
// elements that alone would cost more than the sync): `have` is what our last successful commit
// installed, and a periodic full sync (`planFullSync`: add table, delete it, recreate it, all in
// one transaction) repairs any drift. Chains are compared by their rule texts and replaced whole
// (flush + re-add) when they differ: our chains hold one or a few rules, so rule handles are never
// needed. Set elements are diffed per fragment, skipping fragments that are the same object as
// before, so a one-service change costs O(services) identity checks plus that service's elements.
// Objects are created before anything references them and deleted after every reference is gone.
import { allElements, elementText } from './render.js';
import type { Chain, FieldValue, Fragment, NftSet, Op, Ruleset, SetElement, SetShape } from './types.js';

/** The key of `Ruleset.sharedRefs`: the element's key fields joined by spaces. */
export function sharedKey(key: readonly FieldValue[]): string {
  return key.length === 1 ? String(key[0]) : key.length === 2 ? `${key[0]} ${key[1]}` : key.join(' ');
}

/** Operations that replace the whole table atomically. */
export function planFullSync(want: Ruleset): Op[] {
  const ops: Op[] = [{ op: 'addTable' }, { op: 'delTable' }, { op: 'addTable' }];
  for (const s of want.sets) ops.push({ op: 'addSet', set: shapeOf(s) });
  for (const c of want.chains) ops.push({ op: 'addChain', chain: chainSpec(c) });
  for (const c of want.chains) for (const r of c.rules) ops.push({ op: 'addRule', chain: c.name, rule: r });
  for (const s of want.sets) {
    const els = allElements(s, want.fragments, false);
    if (els.length) ops.push({ op: 'addElements', set: shapeOf(s), elements: els });
  }
  return ops;
}

/**
 * A periodic full resync that keeps the `dynamic` sets (state the packet path fills, such as
 * ClientIP affinity) while re-creating every other object of `have` and `want` from `want`: each
 * chain is created if missing and flushed, each other set created if missing and deleted, and all
 * is rebuilt — still one transaction. Without dynamic sets it is `planFullSync`. Unlike that one,
 * an object of our table that neither `have` nor `want` knows survives (only drift within known
 * objects is repaired), so the proxy starts with `planFullSync`.
 */
export function planResync(have: Ruleset | undefined, want: Ruleset): Op[] {
  const keep = new Map(want.sets.filter((s) => s.dynamic).map((s) => [s.name, s]));
  if (!have || keep.size === 0) return planFullSync(want);
  for (const h of have.sets) {
    const k = keep.get(h.name);
    if (k && !sameShape(h, k)) keep.delete(h.name); // shape changed: re-create it
  }
  const ops: Op[] = [{ op: 'addTable' }];
  const chains = new Map<string, Chain>();
  for (const c of [...have.chains, ...want.chains]) chains.set(c.name, c);
  for (const c of chains.values()) ops.push({ op: 'addChain', chain: chainSpec(c) }, { op: 'flushChain', name: c.name });
  const sets = new Map<string, SetShape>();
  for (const s of [...have.sets, ...want.sets]) sets.set(s.name, s);
  for (const s of sets.values()) if (!keep.has(s.name)) ops.push({ op: 'addSet', set: shapeOf(s) }, { op: 'delSet', name: s.name });
  const wantChains = new Set(want.chains.map((c) => c.name));
  for (const c of have.chains) if (!wantChains.has(c.name)) ops.push({ op: 'delChain', name: c.name });
  for (const s of want.sets) ops.push({ op: 'addSet', set: shapeOf(s) });
  for (const c of want.chains) for (const r of c.rules) ops.push({ op: 'addRule', chain: c.name, rule: r });
  for (const s of want.sets) {
    const els = allElements(s, want.fragments, false);
    if (els.length) ops.push({ op: 'addElements', set: shapeOf(s), elements: els });
  }
  return ops;
}

/** Operations turning `have` into `want`; a full sync when there is no `have` or shapes changed. */
export function planRulesetChanges(have: Ruleset | undefined, want: Ruleset): Op[] {
  if (!have || have.table !== want.table || have.family !== want.family) return planFullSync(want);
  const haveSets = new Map(have.sets.map((s) => [s.name, s]));
  const haveChains = new Map(have.chains.map((c) => [c.name, c]));
  for (const s of want.sets) {
    const h = haveSets.get(s.name);
    if (h && !sameShape(h, s)) return planFullSync(want);
  }
  for (const c of want.chains) {
    const h = haveChains.get(c.name);
    if (h && JSON.stringify(h.base) !== JSON.stringify(c.base)) return planFullSync(want);
  }
  const wantSets = new Map(want.sets.map((s) => [s.name, s]));
  const wantChains = new Set(want.chains.map((c) => c.name));

  const create: Op[] = [];
  const rules: Op[] = [];
  const del: Op[] = [];
  const add: Op[] = [];
  const teardown: Op[] = [];

  for (const s of want.sets) if (!haveSets.has(s.name)) create.push({ op: 'addSet', set: shapeOf(s) });
  for (const c of want.chains) {
    const h = haveChains.get(c.name);
    if (!h) {
      create.push({ op: 'addChain', chain: chainSpec(c) });
      for (const r of c.rules) rules.push({ op: 'addRule', chain: c.name, rule: r });
    } else if (!sameRules(h, c)) {
      rules.push({ op: 'flushChain', name: c.name });
      for (const r of c.rules) rules.push({ op: 'addRule', chain: c.name, rule: r });
    }
  }

  // Elements: per set, keys to delete and elements to add.
  const dels = new Map<string, Map<string, SetElement>>();
  const adds = new Map<string, Map<string, SetElement>>();
  const put = (m: Map<string, Map<string, SetElement>>, set: string, key: string, e: SetElement): void => {
    let x = m.get(set);
    if (!x) m.set(set, (x = new Map()));
    x.set(key, e);
  };
  const diffElements = (set: SetShape, before: readonly SetElement[], after: readonly SetElement[]): void => {
    const b = new Map<string, [string, SetElement]>();
    for (const e of before) b.set(keyText(set, e), [elementText(set, e), e]);
    const a = new Set<string>();
    for (const e of after) {
      const k = keyText(set, e);
      a.add(k);
      const prev = b.get(k);
      if (prev && prev[0] === elementText(set, e)) continue;
      if (prev) put(dels, set.name, k, prev[1]);
      put(adds, set.name, k, e);
    }
    for (const [k, [, e]] of b) if (!a.has(k)) put(dels, set.name, k, e);
  };

  for (const s of want.sets) {
    const h = haveSets.get(s.name);
    if (h && h.elements !== s.elements) diffElements(s, h.elements, s.elements);
    if (!h) diffElements(s, [], s.elements);
  }
  // Fragments: walk both lists in step, where unchanged fragments are the very same objects at the
  // same index; only the ones that differ are matched up by id.
  const hf = have.fragments;
  const wf = want.fragments;
  const oddHave: Fragment[] = [];
  const oddWant: Fragment[] = [];
  // A fragment inserted or removed in the middle shifts the rest by one: match the common tail
  // from the end as well, so that costs O(fragments) pointer checks too, not a map of them all.
  let tail = 0;
  const maxTail = Math.min(hf.length, wf.length);
  while (tail < maxTail && hf[hf.length - 1 - tail] === wf[wf.length - 1 - tail]) tail++;
  const hEnd = hf.length - tail;
  const wEnd = wf.length - tail;
  const common = Math.min(hEnd, wEnd);
  for (let i = 0; i < common; i++) {
    if (hf[i] !== wf[i]) { oddHave.push(hf[i]!); oddWant.push(wf[i]!); }
  }
  for (let i = common; i < hEnd; i++) oddHave.push(hf[i]!);
  for (let i = common; i < wEnd; i++) oddWant.push(wf[i]!);
  const haveById = new Map(oddHave.map((f) => [f.id, f]));
  const fragDiff = (before: Fragment | undefined, after: Fragment | undefined): void => {
    const names = new Set([...Object.keys(before?.elements ?? {}), ...Object.keys(after?.elements ?? {})]);
    for (const n of names) {
      const s = wantSets.get(n);
      if (!s) continue; // the whole set goes away
      const was = haveSets.has(n) ? before?.elements[n] ?? [] : [];
      diffElements(s, was, after?.elements[n] ?? []);
    }
  };
  for (const f of oddWant) {
    const h = haveById.get(f.id);
    haveById.delete(f.id);
    if (h !== f) fragDiff(h, f);
  }
  for (const f of haveById.values()) fragDiff(f, undefined);

  // Shared sets: an element another fragment still wants must stay. Re-adding an element that
  // exists is harmless (NEWSETELEM without NLM_F_EXCL), so only deletions need this check. It scans
  // the set's wanted elements, comparing first fields (strings whose hashes V8 caches) before
  // building any key text, so even 100 000 elements cost a few milliseconds.
  for (const s of want.sets) {
    const d = dels.get(s.name);
    if (!s.shared || !d || d.size === 0) continue;
    const refs = want.sharedRefs?.get(s.name);
    if (refs) {
      for (const [k, e] of [...d]) if ((refs.get(sharedKey(e.key)) ?? 0) > 0) d.delete(k);
      for (const e of s.elements) d.delete(keyText(s, e)); // the set's own elements are not counted
      continue;
    }
    const firsts = new Set([...d.values()].map((e) => e.key[0]));
    const check = (e: SetElement): void => {
      if (firsts.has(e.key[0]!)) d.delete(keyText(s, e));
    };
    s.elements.forEach(check);
    for (const f of wf) {
      const els = f.elements[s.name];
      if (els) for (let i = 0; i < els.length; i++) check(els[i]!);
      if (d.size === 0) break;
    }
  }

  for (const [name, m] of dels) if (m.size) del.push({ op: 'delElements', set: shapeOf(wantSets.get(name)!), elements: [...m.values()] });
  for (const [name, m] of adds) if (m.size) add.push({ op: 'addElements', set: shapeOf(wantSets.get(name)!), elements: [...m.values()] });

  const goneChains = have.chains.filter((c) => !wantChains.has(c.name));
  for (const c of goneChains) teardown.push({ op: 'flushChain', name: c.name });
  // A set that goes away takes its elements with it, verdicts included: it is deleted before the
  // chains, or a chain still named by one of its elements (a map's `goto`) is busy (EBUSY). The
  // flushes above already dropped any gone chain's rule that looked the set up.
  for (const s of have.sets) if (!wantSets.has(s.name)) teardown.push({ op: 'delSet', name: s.name });
  for (const c of goneChains) teardown.push({ op: 'delChain', name: c.name });

  // Deleting elements first frees verdicts pointing at chains about to go; rules are replaced
  // before teardown so that no rule still references a set or chain being deleted.
  return [...create, ...del, ...rules, ...add, ...teardown];
}

const keyText = (s: SetShape, e: SetElement): string => elementText({ name: s.name, key: s.key }, e);

function shapeOf(s: NftSet | SetShape): SetShape {
  const { name, key, data, typeText, shared, dynamic, size } = s;
  return { name, key, ...(data !== undefined ? { data } : {}), ...(typeText !== undefined ? { typeText } : {}), ...(shared ? { shared } : {}), ...(dynamic ? { dynamic } : {}), ...(size !== undefined ? { size } : {}) };
}
function chainSpec(c: Chain): Chain {
  return { name: c.name, ...(c.base ? { base: c.base } : {}), rules: [] };
}
function sameShape(a: SetShape, b: SetShape): boolean {
  return JSON.stringify([a.key, a.data ?? null, a.dynamic ?? false, a.size ?? null]) === JSON.stringify([b.key, b.data ?? null, b.dynamic ?? false, b.size ?? null]);
}
function sameRules(a: Chain, b: Chain): boolean {
  return a.rules.length === b.rules.length && a.rules.every((r, i) => r.text === b.rules[i]!.text);
}

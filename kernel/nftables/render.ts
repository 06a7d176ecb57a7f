// `nft -f` text for a Ruleset: what `k8ts proxy --dry-run` prints and what golden tests compare.
// Pure. The text loads with `nft -f` into the same table the netlink encoder programs (the
// integration test checks both read back alike).
import type { Fragment, FieldType, FieldValue, NftSet, Ruleset, SetElement, SetShape, Verdict } from './types.js';

const PROTO_NAME: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 132: 'sctp' };

function fieldText(t: FieldType, v: FieldValue): string {
  switch (t) {
    case 'inet_proto': return PROTO_NAME[Number(v)] ?? String(v);
    default: return String(v);
  }
}

const verdictText = (v: Verdict): string => (v.chain ? `${v.code} ${v.chain}` : v.code);

export function elementText(s: SetShape, e: SetElement): string {
  const key = s.key.map((t, i) => fieldText(t, e.key[i]!)).join(' . ');
  if (s.data === undefined || e.data === undefined) return key;
  if (s.data === 'verdict') return `${key} : ${verdictText(e.data as Verdict)}`;
  const d = e.data as readonly FieldValue[];
  const types = s.data;
  return `${key} : ${types.map((t, i) => fieldText(t, d[i]!)).join(' . ')}`;
}

export function setTypeText(s: SetShape): string {
  if (s.typeText) return s.typeText;
  const k = `type ${s.key.join(' . ')}`;
  if (s.data === undefined) return k;
  return `${k} : ${s.data === 'verdict' ? 'verdict' : s.data.join(' . ')}`;
}

/**
 * All elements of a set: its own and those fragments contribute; with `dedupe`, elements of a
 * shared set that several fragments contribute appear once (the kernel does not need that: adding
 * an element that exists is not an error without NLM_F_EXCL).
 */
export function allElements(s: NftSet, fragments: readonly Fragment[], dedupe = true): SetElement[] {
  const out: SetElement[] = [...s.elements];
  const seen = s.shared && dedupe ? new Set(out.map((e) => e.key.join(' '))) : undefined;
  for (const f of fragments) {
    const els = f.elements[s.name];
    if (!els) continue;
    for (const e of els) {
      if (seen) {
        const k = e.key.join(' ');
        if (seen.has(k)) continue;
        seen.add(k);
      }
      out.push(e);
    }
  }
  return out;
}

/** Renders the table as `nft -f` input (the table block only; prepend flush/delete as needed). */
export function renderNft(rs: Ruleset): string {
  const lines: string[] = [`table ${rs.family} ${rs.table} {`];
  for (const s of rs.sets) {
    lines.push(`\t${s.data === undefined ? 'set' : 'map'} ${s.name} {`);
    lines.push(`\t\t${setTypeText(s)}`);
    if (s.dynamic) lines.push('\t\tflags dynamic,timeout');
    if (s.size !== undefined) lines.push(`\t\tsize ${s.size}`);
    const els = allElements(s, rs.fragments);
    if (els.length) {
      lines.push('\t\telements = {');
      for (let i = 0; i < els.length; i++) lines.push(`\t\t\t${elementText(s, els[i]!)}${i + 1 < els.length ? ',' : ''}`);
      lines.push('\t\t}');
    }
    lines.push('\t}');
  }
  for (const c of rs.chains) {
    lines.push(`\tchain ${c.name} {`);
    if (c.base) lines.push(`\t\ttype ${c.base.type} hook ${c.base.hook} priority ${c.base.priority}; policy accept;`);
    for (const r of c.rules) lines.push(`\t\t${r.text}`);
    lines.push('\t}');
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

// Sets of field paths in upstream's FieldsV1 vocabulary (structured-merge-diff's fieldpath.Set):
// a path is a list of elements, each written as FieldsV1 writes it —
//   `f:<name>`        a field of a struct or a key of a map,
//   `k:{"name":"x"}`  an item of a map list, by its keys (JSON, keys sorted),
//   `v:<json>`        an item of a set list, by value,
//   `i:<n>`           an item of a list by index (only for lists of unknown type).
// A set holds member paths; FieldsV1 is its tree form where `{}` marks a member leaf and `.` a
// member that also has members below it.
import { isJsonObject, type Json } from './json.js';

const SEP = '\u0000';

export type PathElement = string;
export type FieldPathList = readonly PathElement[];

export class FieldSet {
  private readonly members = new Set<string>();

  static of(paths: Iterable<FieldPathList>): FieldSet {
    const s = new FieldSet();
    for (const p of paths) s.add(p);
    return s;
  }

  add(path: FieldPathList): this {
    this.members.add(path.join(SEP));
    return this;
  }

  has(path: FieldPathList): boolean {
    return this.members.has(path.join(SEP));
  }

  get size(): number {
    return this.members.size;
  }

  isEmpty(): boolean {
    return this.members.size === 0;
  }

  /** Member paths, sorted as upstream iterates them (field elements, then keys, values, indices). */
  paths(): PathElement[][] {
    return this.unorderedPaths().sort(comparePaths);
  }

  /** Member paths in no particular order (cheaper than `paths()`). */
  unorderedPaths(): PathElement[][] {
    return [...this.members].map(m => (m === '' ? [] : m.split(SEP)));
  }

  union(other: FieldSet): FieldSet {
    const s = this.copy();
    for (const m of other.members) s.members.add(m);
    return s;
  }

  difference(other: FieldSet): FieldSet {
    const s = new FieldSet();
    for (const m of this.members) if (!other.members.has(m)) s.members.add(m);
    return s;
  }

  intersection(other: FieldSet): FieldSet {
    const s = new FieldSet();
    for (const m of this.members) if (other.members.has(m)) s.members.add(m);
    return s;
  }

  /** Members that are neither `prefix` paths nor below any of them. */
  withoutPrefixes(prefixes: readonly FieldPathList[]): FieldSet {
    const keys = prefixes.map(p => p.join(SEP));
    const s = new FieldSet();
    for (const m of this.members) {
      if (!keys.some(k => m === k || m.startsWith(k + SEP))) s.members.add(m);
    }
    return s;
  }

  /** True when `path` is a member or has a member below it. */
  hasPrefix(path: FieldPathList): boolean {
    const k = path.join(SEP);
    for (const m of this.members) if (m === k || m.startsWith(k + SEP)) return true;
    return false;
  }

  copy(): FieldSet {
    const s = new FieldSet();
    for (const m of this.members) s.members.add(m);
    return s;
  }

  equals(other: FieldSet): boolean {
    return this.size === other.size && [...this.members].every(m => other.members.has(m));
  }

  /** The FieldsV1 tree. */
  toFieldsV1(): Record<string, unknown> {
    interface Node { member: boolean; children: Map<string, Node> }
    const root: Node = { member: false, children: new Map() };
    for (const p of this.unorderedPaths()) {
      let n = root;
      for (const e of p) {
        let c = n.children.get(e);
        if (!c) n.children.set(e, (c = { member: false, children: new Map() }));
        n = c;
      }
      n.member = true;
    }
    const render = (n: Node): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      if (n.member && n.children.size > 0) out['.'] = {};
      for (const k of [...n.children.keys()].sort(compareElements)) out[k] = render(n.children.get(k)!);
      return out;
    };
    return render(root);
  }

  static fromFieldsV1(fields: unknown): FieldSet {
    const s = new FieldSet();
    const walk = (node: unknown, path: PathElement[]): void => {
      if (!isJsonObject(node)) return;
      const keys = Object.keys(node);
      if (path.length > 0 && keys.length === 0) s.add(path);
      for (const k of keys) {
        if (k === '.') {
          if (path.length > 0) s.add(path);
        } else {
          walk(node[k], [...path, k]);
        }
      }
    };
    walk(fields, []);
    return s;
  }
}

const typeRank = (e: string): number => ({ f: 0, k: 1, v: 2, i: 3 } as Record<string, number>)[e[0] ?? ''] ?? 4;

export function compareElements(a: string, b: string): number {
  const r = typeRank(a) - typeRank(b);
  if (r !== 0) return r;
  return a < b ? -1 : a > b ? 1 : 0;
}

function comparePaths(a: PathElement[], b: PathElement[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareElements(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

export const fieldElement = (name: string): PathElement => `f:${name}`;
export const valueElement = (v: Json): PathElement => `v:${JSON.stringify(v)}`;
export const indexElement = (i: number): PathElement => `i:${i}`;

/** `k:{"name":"x"}` with the key fields in sorted order, as upstream serializes them. */
export function keyElement(keys: Record<string, Json>): PathElement {
  const sorted: Record<string, Json> = {};
  for (const k of Object.keys(keys).sort()) sorted[k] = keys[k]!;
  return `k:${JSON.stringify(sorted)}`;
}

/**
 * A path as upstream prints it in messages: `.spec.containers[name="nginx"].image`,
 * `.spec.ports[containerPort=80,protocol="TCP"]`, `.metadata.finalizers[="a"]`, `.x[3]`.
 */
export function formatPath(path: FieldPathList): string {
  return path.map(e => {
    const body = e.slice(2);
    switch (e[0]) {
      case 'f': return `.${body}`;
      case 'k': {
        const keys = JSON.parse(body) as Record<string, Json>;
        return `[${Object.keys(keys).sort().map(k => `${k}=${JSON.stringify(keys[k])}`).join(',')}]`;
      }
      case 'v': return `[=${body}]`;
      case 'i': return `[${body}]`;
      default: return e;
    }
  }).join('');
}

// The plain data that describes an nf_tables table and the changes to it. Compilers (pure) produce
// these; `encode.ts` turns a `Batch` into nfnetlink bytes. Everything here is JSON-able so that
// plans can be compared, printed and golden-tested.
//
// A rule carries both its kernel expressions and its `nft` text: the compiler builds both from the
// same helper, so `--dry-run` output and what goes over netlink cannot drift apart, and diffs
// compare rules by their text.

/** Types of set key/data fields. Concatenations pad every field to 4 bytes, as nft does. */
export type FieldType = 'ipv4_addr' | 'inet_proto' | 'inet_service' | 'mark' | 'integer';
/** An IPv4 address as dotted quad, or a number for the other field types. */
export type FieldValue = string | number;

export type VerdictCode = 'accept' | 'drop' | 'continue' | 'return' | 'jump' | 'goto';
export interface Verdict { readonly code: VerdictCode; readonly chain?: string }

export type Hook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
export interface BaseChainSpec {
  readonly type: 'nat' | 'filter';
  readonly hook: Hook;
  readonly priority: number;
}

export type MetaKey = 'l4proto' | 'mark' | 'nfproto';
export type CmpOp = 'eq' | 'neq' | 'lt' | 'lte' | 'gt' | 'gte';

/** One kernel expression. Registers are 32-bit register numbers (8 = NFT_REG32_00) or 0 (verdict). */
export type Expr =
  | { readonly op: 'payload'; readonly base: 'network' | 'transport'; readonly offset: number; readonly len: number; readonly dreg: number }
  | { readonly op: 'meta'; readonly key: MetaKey; readonly dreg: number }
  | { readonly op: 'metaSet'; readonly key: MetaKey; readonly sreg: number }
  | { readonly op: 'cmp'; readonly sreg: number; readonly cmp: CmpOp; readonly data: readonly number[] }
  | { readonly op: 'bitwise'; readonly sreg: number; readonly dreg: number; readonly mask: readonly number[]; readonly xor: readonly number[] }
  | { readonly op: 'lookup'; readonly set: string; readonly sreg: number; readonly dreg?: number; readonly invert?: boolean }
  | { readonly op: 'immediate'; readonly dreg: number; readonly data: readonly number[] }
  | { readonly op: 'verdict'; readonly verdict: Verdict }
  /** `numgen random|inc mod M [offset O]`: a number in O..O+M-1, random or round robin. */
  | { readonly op: 'numgen'; readonly dreg: number; readonly modulus: number; readonly random: boolean; readonly offset?: number }
  | { readonly op: 'nat'; readonly type: 'snat' | 'dnat'; readonly addrReg: number; readonly protoReg?: number; readonly flags?: number }
  | { readonly op: 'masq'; readonly flags?: number }
  | { readonly op: 'reject'; readonly type: 'icmp' | 'tcp-rst'; readonly code?: number }
  | { readonly op: 'counter' }
  | { readonly op: 'ct'; readonly key: 'state' | 'status'; readonly dreg: number }
  /** The route type of the packet's source address (`fib saddr type`): RTN_* as a host-order u32. */
  | { readonly op: 'fib'; readonly flags: 'saddr'; readonly result: 'addrtype'; readonly dreg: number }
  /** Adds or refreshes an element of a `dynamic` set from the packet path (`update @set { … }`). */
  | { readonly op: 'dynset'; readonly set: string; readonly operation: 'add' | 'update'; readonly sregKey: number; readonly sregData?: number; readonly timeoutMs?: number };

export interface Rule { readonly text: string; readonly exprs: readonly Expr[] }

export interface ChainSpec { readonly name: string; readonly base?: BaseChainSpec }
export interface Chain extends ChainSpec { readonly rules: readonly Rule[] }

/** A set or map's shape: key fields, and data fields or 'verdict' for a verdict map. */
export interface SetShape {
  readonly name: string;
  readonly key: readonly FieldType[];
  readonly data?: readonly FieldType[] | 'verdict';
  /** How `nft` should print the type line (e.g. `typeof …`); defaults to `type k1 . k2 : d`. */
  readonly typeText?: string;
  /** Elements may be contributed by several fragments; delete one only when no fragment wants it. */
  readonly shared?: boolean;
  /** Filled from the packet path (`flags dynamic, timeout`): elements expire; the planner never diffs them. */
  readonly dynamic?: boolean;
  /**
   * The most elements the set may hold (NFTA_SET_DESC_SIZE). With it the kernel picks a fixed-size
   * hash (`nft_hash`) over the resizable one, which costs a third less per element loaded; but the
   * size is a hard limit, so the planner re-creates the table when it changes.
   */
  readonly size?: number;
}
export interface SetElement { readonly key: readonly FieldValue[]; readonly data?: readonly FieldValue[] | Verdict }
export interface NftSet extends SetShape { readonly elements: readonly SetElement[] }

/**
 * The set elements one source (one service port) contributes, by set name. A compiler that reuses
 * the same Fragment object for an unchanged source lets the planner skip it by identity, which is
 * what makes an incremental sync cost O(changed sources) rather than O(all elements).
 */
export interface Fragment { readonly id: string; readonly elements: Readonly<Record<string, readonly SetElement[]>> }

/** A whole table, the unit a compiler produces. Only family `ip` for now. */
export interface Ruleset {
  readonly family: 'ip';
  readonly table: string;
  readonly chains: readonly Chain[];
  /** Sets with their own elements; fragments add more. */
  readonly sets: readonly NftSet[];
  readonly fragments: readonly Fragment[];
  /**
   * Optional: for shared sets, how many fragments contribute each element (by `sharedKey`, plan.ts),
   * kept by a compiler that tracks it anyway. Lets the planner decide whether an element another
   * fragment still wants may be deleted without scanning every fragment of the set. Only `get` is
   * read, so a compiler may count lazily, when a plan first asks.
   */
  readonly sharedRefs?: { get(set: string): ReadonlyMap<string, number> | undefined };
}

/** One step of a transaction. Order matters: objects must exist before they are referenced. */
export type Op =
  | { readonly op: 'addTable' }
  | { readonly op: 'delTable' }
  | { readonly op: 'addChain'; readonly chain: ChainSpec }
  | { readonly op: 'flushChain'; readonly name: string }
  | { readonly op: 'delChain'; readonly name: string }
  | { readonly op: 'addRule'; readonly chain: string; readonly rule: Rule }
  | { readonly op: 'addSet'; readonly set: SetShape }
  | { readonly op: 'delSet'; readonly name: string }
  | { readonly op: 'addElements'; readonly set: SetShape; readonly elements: readonly SetElement[] }
  | { readonly op: 'delElements'; readonly set: SetShape; readonly elements: readonly SetElement[] };

/** A transaction against one table: all of it applies, or none. */
export interface Batch { readonly family: 'ip'; readonly table: string; readonly ops: readonly Op[] }

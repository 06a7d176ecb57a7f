// iptables through iptables-restore / iptables-save, inside a network namespace, over the Exec seam.
//
// Design notes. iptables has no library interface worth binding: upstream kube-proxy, flannel and
// Calico all feed `iptables-restore`, which commits each table atomically (legacy: one
// IPT_SO_SET_REPLACE of the whole table; nft: one nf_tables transaction), so a refused input
// leaves the table as it was. We do the same, with `--noflush` so that only the chains named in
// the input change and other software's rules stay. Two backends exist and both ship here:
// `iptables-nft-restore` (nf_tables underneath, Debian's default alternative and what upstream's
// iptables-wrapper picks on a node without legacy rules) and `iptables-legacy-restore` (x_tables).
// The namespace is entered with `ip netns exec`, as every other tool run in kernel/ is. Rejected:
// running `iptables -A/-D` per rule (a process and a full table round trip per rule).
//
// One trap, measured here with iptables 1.8.9: with `--noflush`, iptables-nft-restore keeps the
// names of the chains the input touches in a sorted linked list (nft-cache.c,
// cache_chain_list_insert) so that it fetches only those from the kernel — quadratic in the number
// of chains: 1 000 services × 10 endpoints (11 000 chains) take 4 s of user time instead of 0.2 s.
// The list is skipped once any command names no chain, so a large input gets `-S` (list the
// table's rules: read-only; its output is discarded) early in each table, which makes the whole
// load linear again. It must come after the lines that touch built-in chains: in a table the
// kernel does not have yet, `-S` first leaves the built-in chains uncreated and `-I INPUT …`
// fails. Small inputs (partial syncs) keep the filtered fetch, which is what makes them cheap.
import { systemExec, type Exec } from '../exec.js';

export type IptablesBackend = 'nft' | 'legacy';
/** What upstream's iptables-wrapper and Debian's alternatives choose on a fresh node. */
export const DEFAULT_BACKEND: IptablesBackend = 'nft';

export interface SavedTable {
  /** Every chain in the table (built-in and user-defined). */
  readonly chains: ReadonlySet<string>;
  /** Rules per chain, as iptables-save prints them after `-A CHAIN `. */
  readonly rules: ReadonlyMap<string, readonly string[]>;
}

export class IptablesError extends Error {
  constructor(
    readonly code: 'RestoreFailed' | 'SaveFailed' | 'NotInstalled',
    message: string,
    /** The input line iptables-restore refused (1-based, in the input as sent) and its text, when it said which. */
    readonly line?: number,
    readonly lineText?: string,
  ) {
    super(message);
    this.name = 'IptablesError';
  }
}

/** Parses `iptables-save` output into tables of chains and rules. Pure. */
export function parseIptablesSave(text: string): Map<string, SavedTable> {
  const out = new Map<string, SavedTable>();
  let chains: Set<string> | undefined;
  let rules: Map<string, string[]> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      chains = new Set();
      rules = new Map();
      out.set(line.slice(1).trim(), { chains, rules });
    } else if (line.startsWith(':') && chains) {
      chains.add(line.slice(1).split(' ')[0]!);
    } else if (line.startsWith('-A ') && rules) {
      const sp = line.indexOf(' ', 3);
      const chain = sp < 0 ? line.slice(3) : line.slice(3, sp);
      let l = rules.get(chain);
      if (!l) rules.set(chain, (l = []));
      l.push(sp < 0 ? '' : line.slice(sp + 1));
    }
  }
  return out;
}

export interface IptablesOptions {
  readonly backend?: IptablesBackend;
  /** Run inside this named network namespace (else the current one). */
  readonly netns?: string;
  readonly exec?: Exec;
  /** Seconds to wait for the xtables lock (legacy backend; shared by every namespace). */
  readonly waitSeconds?: number;
}

export interface RestoreStats { readonly ms: number; readonly bytes: number }

/**
 * Above this many lines in a table, an nft-backend restore fetches all chains at once (see the
 * notes above). Below it the sorted list costs at most ~0.1 s, less than fetching every rule of a
 * large table, so partial syncs keep their filtered fetch.
 */
export const BULK_LINES = 20_000;

const BUILTIN_LINE = /^-[AIDR] (PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) /;

/**
 * The input as it is sent: for the nft backend, a large table section gets `-S` after its last
 * line that touches a built-in chain (or first). Put those lines early. Pure.
 */
export function restoreInput(text: string, backend: IptablesBackend): string {
  if (backend !== 'nft') return text;
  const lines = text.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    out.push(l);
    if (!l.startsWith('*')) continue;
    let end = i + 1;
    while (end < lines.length && lines[end] !== 'COMMIT') end++;
    if (end - i <= BULK_LINES) continue;
    let at = i + 1;
    for (let j = i + 1; j < end; j++) if (BUILTIN_LINE.test(lines[j]!)) at = j + 1;
    for (let j = i + 1; j < at; j++) out.push(lines[j]!);
    out.push('-S');
    i = at - 1;
  }
  return out.join('\n');
}

export class Iptables {
  readonly backend: IptablesBackend;
  private readonly exec: Exec;

  constructor(private readonly opts: IptablesOptions = {}) {
    this.backend = opts.backend ?? DEFAULT_BACKEND;
    this.exec = opts.exec ?? systemExec;
  }

  private cmd(tool: 'restore' | 'save', args: string[]): [string, string[]] {
    const bin = `iptables-${this.backend}-${tool}`;
    return this.opts.netns ? ['ip', ['netns', 'exec', this.opts.netns, bin, ...args]] : [bin, args];
  }

  /** Feeds `text` to iptables-restore --noflush; each table in it commits atomically or not at all. */
  async restore(input: string): Promise<RestoreStats> {
    const t0 = performance.now();
    const text = restoreInput(input, this.backend);
    const [file, args] = this.cmd('restore', ['--noflush', `--wait=${this.opts.waitSeconds ?? 5}`]);
    const r = await this.exec.run(file, args, { input: text, timeoutMs: 120_000 });
    if (r.exitCode !== 0) {
      const msg = (r.stderr || r.stdout).trim().split('\n').slice(0, 5).join('; ');
      // "line N failed" (a refused rule) or "Error occurred at line: N" (a parse or target error).
      const m = /line:? (\d+)/.exec(msg);
      const line = m ? Number(m[1]) : undefined;
      const lineText = line !== undefined ? text.split('\n')[line - 1] : undefined;
      if (r.exitCode === 127) throw new IptablesError('NotInstalled', `iptables-${this.backend}-restore could not be run: ${msg}; install the iptables package`);
      throw new IptablesError('RestoreFailed', `iptables-${this.backend}-restore refused the input (exit ${r.exitCode}): ${msg}${lineText !== undefined ? ` — line ${line}: "${lineText}"` : ''}`, line, lineText);
    }
    return { ms: performance.now() - t0, bytes: text.length };
  }

  /**
   * Reads the given tables with iptables-save (one run: `-t` takes one table, and a process per
   * table costs more than the few small tables read in excess). A table the kernel has never
   * loaded reads as empty.
   */
  async save(tables: readonly string[]): Promise<Map<string, SavedTable>> {
    const [file, args] = this.cmd('save', tables.length === 1 ? ['-t', tables[0]!] : []);
    const r = await this.exec.run(file, args, { timeoutMs: 120_000 });
    if (r.exitCode !== 0) throw new IptablesError(r.exitCode === 127 ? 'NotInstalled' : 'SaveFailed', `iptables-${this.backend}-save failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
    const all = parseIptablesSave(r.stdout);
    const out = new Map<string, SavedTable>();
    for (const t of tables) out.set(t, all.get(t) ?? { chains: new Set(), rules: new Map() });
    return out;
  }

  /** The backend's version line, or undefined when its tools are not installed. */
  async version(): Promise<string | undefined> {
    const r = await this.exec.run(`iptables-${this.backend}`, ['--version']);
    return r.exitCode === 0 ? r.stdout.trim() : undefined;
  }
}

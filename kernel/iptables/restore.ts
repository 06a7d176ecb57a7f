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
// table's rules: read-only; its output is thrown away unread) early in each table, which makes the
// whole load linear again. It must come after the lines that touch built-in chains: in a table the
// kernel does not have yet, `-S` first leaves the built-in chains uncreated and `-I INPUT …`
// fails. Small inputs (partial syncs) keep the filtered fetch, which is what makes them cheap.
//
// A large input is not handed over as one string: `restore` takes table sections whose bodies are
// generators and writes their chunks to the tool's stdin as it reads, so the caller's work of
// building 30 MB of rules (10 000 services) runs on the other core while iptables-restore parses
// what came before, instead of ahead of it. Both tools parse line by line as input arrives and
// change the kernel only at COMMIT, so a body cut short (a generator that throws) commits nothing
// of its table.
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

export interface RestoreStats { readonly ms: number; readonly bytes: number; readonly lines: number }

/** One table's part of an iptables-restore input, sent as `*table`, head, body, `COMMIT`. */
export interface RestoreSection {
  readonly table: string;
  /** Lines that must come first: those that touch built-in chains (see restoreChunks). */
  readonly head: readonly string[];
  /**
   * The rest, as blocks of whole lines (newline-separated, no trailing newline, none empty). It may
   * be a generator over data built on demand: it is read while the input is being sent, and read
   * again to name a line the tool refuses (so: iterable more than once).
   */
  readonly body: Iterable<string>;
  /**
   * The body's line count, or an estimate, when the producer knows it without building the body;
   * else the nft backend holds the first BULK_LINES lines back to count them.
   */
  readonly lines?: number;
}

/** Sections as one text, as restoreChunks sends them to the legacy backend. Pure. */
export function renderSections(sections: Iterable<RestoreSection>): string {
  let out = '';
  for (const c of restoreChunks(sections, 'legacy')) out += c;
  return out;
}

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

/** Chunks of about this many characters go to the tool's stdin (a few fill its socket buffer). */
const CHUNK_CHARS = 1 << 16;

const lineCount = (block: string): number => {
  let n = 1;
  for (let i = block.indexOf('\n'); i >= 0; i = block.indexOf('\n', i + 1)) n++;
  return n;
};

/**
 * Sections as the chunks of text sent to iptables-restore, built as they are asked for. For the
 * nft backend a section whose body has more than BULK_LINES lines gets `-S` right after its head
 * (restoreInput's rule for a text input); unless the section says how many lines it has, the
 * body's first BULK_LINES lines are held back until that is known. Pure (a generator).
 */
export function* restoreChunks(sections: Iterable<RestoreSection>, backend: IptablesBackend): Generator<string> {
  let buf = '';
  for (const s of sections) {
    buf += `*${s.table}\n`;
    for (const l of s.head) buf += `${l}\n`;
    const body = s.body[Symbol.iterator]();
    let next = body.next();
    if (backend === 'nft' && s.lines !== undefined) {
      if (s.lines > BULK_LINES) buf += '-S\n';
    } else if (backend === 'nft') {
      const held: string[] = [];
      let n = 0;
      for (; !next.done && n <= BULK_LINES; next = body.next()) {
        held.push(next.value);
        n += lineCount(next.value);
      }
      if (n > BULK_LINES) buf += '-S\n';
      for (const b of held) buf += `${b}\n`;
    }
    for (; !next.done; next = body.next()) {
      buf += `${next.value}\n`;
      if (buf.length >= CHUNK_CHARS) {
        yield buf;
        buf = '';
      }
    }
    buf += 'COMMIT\n';
  }
  if (buf) yield buf;
}

/** Milliseconds of chunk building between two turns of the event loop (see ahead). */
const SLICE_MS = 4;

/**
 * The chunks, built ahead of the reader in slices of SLICE_MS, with the event loop free between
 * slices to write what the tool has room for. Pulled one chunk per stdin refill instead, the tool
 * starves whenever this process is late to a refill (a busy machine, a collection); built ahead,
 * the text is done within a second and refills need nothing but a wake-up.
 */
async function* ahead(chunks: Iterable<string>): AsyncGenerator<string> {
  const it = chunks[Symbol.iterator]();
  const queue: string[] = [];
  let done = false;
  let failed: { e: unknown } | undefined;
  let wake: (() => void) | undefined;
  const produce = (): void => {
    const until = performance.now() + SLICE_MS;
    try {
      while (!done && performance.now() < until) {
        const n = it.next();
        if (n.done) done = true;
        else queue.push(n.value);
      }
    } catch (e) {
      failed = { e };
      done = true;
    }
    if (!done) setImmediate(produce);
    wake?.();
  };
  try {
    produce();
    for (let i = 0; ; ) {
      if (i < queue.length) {
        const c = queue[i]!;
        queue[i++] = ''; // sent: let the collector have it
        yield c;
      } else if (done) {
        break;
      } else {
        await new Promise<void>((r) => { wake = r; });
        wake = undefined;
      }
    }
    if (failed) throw failed.e;
  } finally {
    done = true; // the reader stopped early (the tool exited): build no more
  }
}

/** Line n (1-based) of the text the chunks make up. */
function lineAt(chunks: Iterable<string>, n: number): string | undefined {
  let line = 1;
  let carry = '';
  for (const c of chunks) {
    let from = 0;
    for (let i = c.indexOf('\n'); i >= 0; i = c.indexOf('\n', from)) {
      if (line === n) return carry + c.slice(from, i);
      line++;
      carry = '';
      from = i + 1;
    }
    if (line === n) carry += c.slice(from);
  }
  return line === n && carry ? carry : undefined;
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

  /**
   * Feeds the input to iptables-restore --noflush; each table in it commits atomically or not at
   * all. Sections are streamed: their bodies are generated while the tool reads (and parses) what
   * came before, so building a large input costs no time of its own.
   */
  async restore(input: string | Iterable<RestoreSection>): Promise<RestoreStats> {
    const t0 = performance.now();
    let bytes = 0;
    let lines = 0;
    let failure: unknown;
    const text = typeof input === 'string' ? restoreInput(input, this.backend) : undefined;
    if (text !== undefined) {
      bytes = text.length;
      lines = lineCount(text) - 1;
    }
    const backend = this.backend;
    const chunks = (): Iterable<string> => (text !== undefined ? [text] : restoreChunks(input as Iterable<RestoreSection>, backend));
    // Nothing sent is kept (a full sync's 30 MB would weigh on the collector while the tool waits
    // for more); to name a refused line the sections are read once more. A generator that throws
    // ends the input early: no COMMIT follows, so the tool commits nothing of that table, and the
    // error is rethrown below.
    const feed = async function* (): AsyncGenerator<string> {
      try {
        for await (const c of ahead(chunks())) {
          bytes += c.length;
          lines += lineCount(c) - 1;
          yield c;
        }
      } catch (e) {
        failure = e;
      }
    };
    const [file, args] = this.cmd('restore', ['--noflush', `--wait=${this.opts.waitSeconds ?? 5}`]);
    // stdout carries only what `-S` lists (the whole table, on a loaded node): never wanted.
    const r = await this.exec.run(file, args, { input: text ?? feed(), discardStdout: true, timeoutMs: 120_000 });
    if (failure !== undefined) throw failure;
    if (r.exitCode !== 0) {
      const msg = (r.stderr || r.stdout).trim().split('\n').slice(0, 5).join('; ');
      // "line N failed" (a refused rule) or "Error occurred at line: N" (a parse or target error).
      const m = /line:? (\d+)/.exec(msg);
      const line = m ? Number(m[1]) : undefined;
      const lineText = line !== undefined ? lineAt(chunks(), line) : undefined;
      if (r.exitCode === 127) throw new IptablesError('NotInstalled', `iptables-${this.backend}-restore could not be run: ${msg}; install the iptables package`);
      throw new IptablesError('RestoreFailed', `iptables-${this.backend}-restore refused the input (exit ${r.exitCode}): ${msg}${lineText !== undefined ? ` — line ${line}: "${lineText}"` : ''}`, line, lineText);
    }
    return { ms: performance.now() - t0, bytes, lines };
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

// Applies compiled rulesets to the kernel: plan against what we last committed, send one batch.
//
// Design notes. Thin on purpose: the interesting parts are pure (compile, plan) or in kernel/. The
// applier remembers the ruleset of its last successful commit; if the kernel refuses a batch,
// nothing of it was applied, so `have` stays as it was and the next sync plans from there again
// (the caller retries with backoff). A full sync replaces the table atomically and repairs drift.
import { planFullSync, planResync, planRulesetChanges } from '../../kernel/nftables/plan.js';
import type { CommitStats, NfTablesSocket } from '../../kernel/nftables/socket.js';
import type { Op, Ruleset } from '../../kernel/nftables/types.js';

export interface SyncResult extends CommitStats { readonly ops: number; readonly planMs: number; readonly full: boolean }

export class NftablesApplier {
  private have: Ruleset | undefined;
  constructor(private readonly sock: Pick<NfTablesSocket, 'commit'>) {}

  /** The ruleset of the last successful commit. */
  get installed(): Ruleset | undefined { return this.have; }

  /**
   * `full` replaces the whole table; `resync` re-creates everything but the dynamic sets
   * (affinity state), for the periodic repair of a running proxy.
   */
  async sync(want: Ruleset, opts: { full?: boolean; resync?: boolean } = {}): Promise<SyncResult> {
    const t0 = performance.now();
    const full = opts.full === true || opts.resync === true || this.have === undefined;
    const ops: Op[] = opts.resync === true ? planResync(this.have, want) : full ? planFullSync(want) : planRulesetChanges(this.have, want);
    const planMs = performance.now() - t0;
    const stats = await this.sock.commit({ family: want.family, table: want.table, ops });
    this.have = want;
    return { ...stats, ops: ops.length, planMs, full };
  }

  /** Removes our table (on exit with --cleanup). A table that is already gone is fine. */
  async cleanup(table: string): Promise<void> {
    await this.sock.commit({ family: 'ip', table, ops: [{ op: 'addTable' }, { op: 'delTable' }] });
    this.have = undefined;
  }
}

// Applies compiled iptables rulesets: a partial restore of what changed since the last successful
// one, or a full restore (first sync, periodic resync, or after any failure).
//
// Design notes. iptables-restore commits each table atomically, so a refused input leaves that
// table as it was — but the input holds two tables (filter, nat), and one may have committed
// before the other failed. So after any failure the applier forgets what it believes is
// installed and the next attempt (the runner's retry) is a full sync built from iptables-save,
// which repairs whatever state the kernel is in. Thin on purpose: planning is pure (./plan.ts),
// running the tools is kernel/iptables.
import type { Iptables, RestoreSection, RestoreStats } from '../../kernel/iptables/restore.js';
import type { IptablesRuleset } from './compile.js';
import { planCleanup, planFullSections, planPartial } from './plan.js';

export interface IptablesSyncResult {
  readonly full: boolean;
  /** Lines of iptables-restore input sent (0: nothing changed, nothing run). */
  readonly lines: number;
  readonly bytes: number;
  /** Planning before the restore starts (a full sync's rules are built while it runs: kernelMs). */
  readonly planMs: number;
  /** Time in iptables-save and iptables-restore. */
  readonly kernelMs: number;
}

export class IptablesApplier {
  private have: IptablesRuleset | undefined;

  constructor(private readonly ipt: Pick<Iptables, 'restore' | 'save'>) {}

  /** The ruleset of the last successful sync (undefined after a failure: the next sync is full). */
  get installed(): IptablesRuleset | undefined { return this.have; }

  async sync(want: IptablesRuleset, opts: { full?: boolean } = {}): Promise<IptablesSyncResult> {
    const t0 = performance.now();
    let kernelMs = 0;
    let input: string | RestoreSection[] | undefined = this.have && opts.full !== true ? planPartial(this.have, want) : undefined;
    const full = input === undefined;
    if (input === undefined) {
      const t = performance.now();
      const saved = await this.ipt.save(['filter', 'nat']);
      kernelMs += performance.now() - t;
      input = planFullSections(want, saved);
    }
    const planMs = performance.now() - t0 - kernelMs;
    let stats: RestoreStats = { ms: 0, bytes: 0, lines: 0 };
    if (input !== '') {
      const t = performance.now();
      try {
        stats = await this.ipt.restore(input);
      } catch (e) {
        this.have = undefined;
        throw e;
      }
      kernelMs += performance.now() - t;
    }
    this.have = want;
    return { full, lines: stats.lines, bytes: stats.bytes, planMs, kernelMs };
  }

  /** Removes every chain and jump rule of ours (on exit with --cleanup). */
  async cleanup(): Promise<void> {
    const text = planCleanup(await this.ipt.save(['filter', 'nat']));
    if (text) await this.ipt.restore(text);
    this.have = undefined;
  }
}

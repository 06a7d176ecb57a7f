// Applies compiled iptables rulesets: a partial restore of what changed since the last successful
// one, or a full restore (first sync, periodic resync, or after any failure).
//
// Design notes. iptables-restore commits each table atomically, so a refused input leaves that
// table as it was — but the input holds two tables (filter, nat), and one may have committed
// before the other failed. So after any failure the applier forgets what it believes is
// installed and the next attempt (the runner's retry) is a full sync built from iptables-save,
// which repairs whatever state the kernel is in. Thin on purpose: planning is pure (./plan.ts),
// running the tools is kernel/iptables.
import type { Iptables } from '../../kernel/iptables/restore.js';
import type { IptablesRuleset } from './compile.js';
import { planCleanup, planFull, planPartial } from './plan.js';

export interface IptablesSyncResult {
  readonly full: boolean;
  /** Lines of iptables-restore input sent (0: nothing changed, nothing run). */
  readonly lines: number;
  readonly bytes: number;
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
    let text = this.have && opts.full !== true ? planPartial(this.have, want) : undefined;
    const full = text === undefined;
    if (text === undefined) {
      const t = performance.now();
      const saved = await this.ipt.save(['filter', 'nat']);
      kernelMs += performance.now() - t;
      text = planFull(want, saved);
    }
    const planMs = performance.now() - t0 - kernelMs;
    if (text !== '') {
      const t = performance.now();
      try {
        await this.ipt.restore(text);
      } catch (e) {
        this.have = undefined;
        throw e;
      }
      kernelMs += performance.now() - t;
    }
    this.have = want;
    let lines = 0;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
    return { full, lines, bytes: text.length, planMs, kernelMs };
  }

  /** Removes every chain and jump rule of ours (on exit with --cleanup). */
  async cleanup(): Promise<void> {
    const text = planCleanup(await this.ipt.save(['filter', 'nat']));
    if (text) await this.ipt.restore(text);
    this.have = undefined;
  }
}

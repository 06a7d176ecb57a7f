// Runs Debian's BIRD 2 for routed mode's optional BGP, as calico-node runs it: the plugin writes
// the config (./compile-bird.ts), starts `bird -f` in the node's network namespace on the first
// config, and applies later ones with `birdc configure` (BIRD keeps sessions whose config did not
// change). A config BIRD cannot parse is refused before it replaces the running one.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { systemExec, type Exec } from '../../kernel/exec.js';

const SPAWN = { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' } as const;
type Child = ResultPromise<typeof SPAWN>;

export interface BirdOptions {
  /** Named network namespace BIRD runs in (its routes land there); default: ours. */
  readonly netns?: string;
  /** Where the config and control socket live (created; removed on stop). */
  readonly dir: string;
  readonly exec?: Exec;
  readonly log?: (msg: string) => void;
}

export class BirdDaemon {
  private child: Child | undefined;
  private installed: string | undefined;
  private readonly exec: Exec;
  readonly socket: string;
  private readonly conf: string;

  constructor(private readonly opts: BirdOptions) {
    this.exec = opts.exec ?? systemExec;
    this.socket = join(opts.dir, 'bird.ctl');
    this.conf = join(opts.dir, 'bird.conf');
  }

  /** Runs `birdc` against this daemon; resolves with its output. */
  async birdc(args: readonly string[]): Promise<string> {
    const r = await this.exec.run('birdc', ['-s', this.socket, ...args], { timeoutMs: 10_000 });
    if (r.exitCode !== 0) throw new Error(`birdc ${args.join(' ')} failed (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
  }

  /** Applies `text` (starting BIRD the first time); a no-op when it is what BIRD already runs. */
  async configure(text: string): Promise<boolean> {
    if (text === this.installed && this.child && this.child.exitCode === null) return false;
    mkdirSync(this.opts.dir, { recursive: true });
    const next = `${this.conf}.next`;
    writeFileSync(next, text);
    const check = await this.exec.run('bird', ['-p', '-c', next], { timeoutMs: 10_000 });
    if (check.exitCode !== 0) throw new Error(`BIRD refused the generated config: ${(check.stderr || check.stdout).trim()}`);
    renameSync(next, this.conf);
    if (!this.child || this.child.exitCode !== null) {
      await this.start();
    } else {
      const out = await this.birdc(['configure']);
      if (!/Reconfigured|Reconfiguration in progress/.test(out)) throw new Error(`birdc configure: ${out.trim()}`);
    }
    this.installed = text;
    return true;
  }

  private async start(): Promise<void> {
    rmSync(this.socket, { force: true });
    const args = ['-f', '-c', this.conf, '-s', this.socket];
    const child: Child = this.opts.netns === undefined
      ? execa('bird', args, SPAWN)
      : execa('ip', ['netns', 'exec', this.opts.netns, 'bird', ...args], SPAWN);
    child.stderr?.on('data', (d: Buffer) => this.opts.log?.(`bird: ${d.toString().trim()}`));
    this.child = child;
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`bird exited at start (code ${String(child.exitCode)})`);
      try { await this.birdc(['show', 'status']); return; } catch (err) {
        if (i > 100) throw new Error(`bird did not open its control socket: ${String(err)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops BIRD (its routes leave the kernel with it: `persist off`) and removes its files. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    this.installed = undefined;
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await child;
      clearTimeout(t);
    }
    rmSync(this.opts.dir, { recursive: true, force: true });
  }
}

// Named network namespaces through iproute2 (`ip netns`), for the agent's pods: each pod gets
// /run/netns/<name>, which containerd joins (`--with-ns network:`) and CNI plugins wire. Only
// namespaces this module is asked for are created or removed; the caller names them with its own
// prefix so it can find its own after a restart. (kernel/netns.ts does setns in-process; this is
// the exec-based variant the agent needs to hand paths to other programs.)
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { systemExec, type Exec, type ExecOptions, type ExecResult } from './exec.js';

export const netnsDir = '/run/netns';

export class NetnsCli {
  constructor(private readonly exec: Exec = systemExec, private readonly dir = netnsDir) {}

  path(name: string): string {
    return `${this.dir}/${name}`;
  }

  /** Creates the namespace unless it exists (idempotent). */
  async ensure(name: string): Promise<string> {
    if (existsSync(this.path(name))) return this.path(name);
    const r = await this.exec.run('ip', ['netns', 'add', name]);
    if (r.exitCode !== 0 && !existsSync(this.path(name))) throw new Error(`creating network namespace "${name}" failed: ${r.stderr.trim()}`);
    return this.path(name);
  }

  /** Removes the namespace if it exists (idempotent). */
  async remove(name: string): Promise<void> {
    if (!existsSync(this.path(name))) return;
    const r = await this.exec.run('ip', ['netns', 'delete', name]);
    if (r.exitCode !== 0 && existsSync(this.path(name))) throw new Error(`removing network namespace "${name}" failed: ${r.stderr.trim()}`);
  }

  /** Names of the namespaces in /run/netns that start with `prefix`. */
  list(prefix = ''): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir).filter(n => n.startsWith(prefix));
  }

  /**
   * A persistent UTS namespace bound at `path` with `hostname` set (util-linux `unshare --uts=`),
   * which a pod's containers join so its hostname is the pod's name. Idempotent.
   */
  async ensureUts(path: string, hostname: string): Promise<void> {
    if (isMountPoint(path)) return;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, '');
    const r = await this.exec.run('unshare', [`--uts=${path}`, 'hostname', hostname]);
    if (r.exitCode !== 0) throw new Error(`creating the UTS namespace "${path}" failed: ${r.stderr.trim()}`);
  }

  /** Unmounts and removes a UTS namespace made by `ensureUts` (idempotent). */
  async removeUts(path: string): Promise<void> {
    if (isMountPoint(path)) {
      const r = await this.exec.run('umount', [path]);
      if (r.exitCode !== 0 && isMountPoint(path)) throw new Error(`unmounting "${path}" failed: ${r.stderr.trim()}`);
    }
    rmSync(path, { force: true });
  }

  /** Runs a program inside a named namespace (`ip netns exec`). */
  execIn(name: string, file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.exec.run('ip', ['netns', 'exec', name, file, ...args], opts);
  }
}

function isMountPoint(path: string): boolean {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some(l => l.split(' ')[4] === path);
  } catch {
    return false;
  }
}

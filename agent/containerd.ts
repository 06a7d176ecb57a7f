// Our own containerd, as k3s runs one: root under the agent's data dir, state and socket under
// /run/k8ts-<id>, a config file written by us with the CRI plugin disabled (the agent drives
// containerd through ctr; CRI would bring its own CNI and image handling). The supervisor restarts
// it when it dies (bounded back-off) and stops it on shutdown: SIGTERM, then SIGKILL after a grace
// period. Running tasks survive a containerd restart (their shims are separate processes); their
// shims are killed only when the agent is told to remove everything.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';

export interface ContainerdOptions {
  dataDir: string;
  /** Runtime directory: state and socket (keep the path short, sockets have a 108-byte limit). */
  runDir: string;
  binary?: string;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** A run at least this long was healthy: its crash restarts the back-off (default 60 s). */
  stableRunMs?: number;
}

export function containerdConfig(root: string, state: string, address: string): string {
  return [
    'version = 2',
    `root = ${JSON.stringify(root)}`,
    `state = ${JSON.stringify(state)}`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = ${JSON.stringify(address)}`,
    '[ttrpc]',
    `  address = ${JSON.stringify(`${address}.ttrpc`)}`,
    '[debug]',
    `  address = ""`,
    '[metrics]',
    `  address = ""`,
    '',
  ].join('\n');
}

function canConnect(path: string): Promise<boolean> {
  return new Promise(resolve => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export class ContainerdSupervisor {
  readonly address: string;
  readonly root: string;
  readonly state: string;
  readonly configPath: string;
  private proc: ChildProcess | undefined;
  private stopping = false;
  private restarts = 0;
  private logStream: WriteStream | undefined;

  constructor(private readonly opts: ContainerdOptions) {
    this.root = join(opts.dataDir, 'containerd');
    this.state = join(opts.runDir, 'containerd');
    this.address = join(opts.runDir, 'containerd.sock');
    this.configPath = join(opts.dataDir, 'containerd.toml');
  }

  get pid(): number | undefined { return this.proc?.pid; }

  get pidFile(): string { return join(this.opts.runDir, 'containerd.pid'); }

  /**
   * Starts containerd and resolves once its socket accepts connections. A containerd of ours that
   * outlived a crashed agent (its pid file names a live containerd and the socket answers) is
   * adopted instead: a second one would block on the first one's database lock.
   */
  async start(timeoutMs = 20_000): Promise<void> {
    mkdirSync(this.root, { recursive: true });
    mkdirSync(this.state, { recursive: true });
    const orphan = this.orphanPid();
    if (orphan !== undefined && await canConnect(this.address)) {
      this.adopted = orphan;
      this.opts.log?.('adopting a running containerd', { pid: orphan });
      return;
    }
    writeFileSync(this.configPath, containerdConfig(this.root, this.state, this.address));
    this.logStream ??= createWriteStream(join(this.opts.dataDir, 'containerd.log'), { flags: 'a' });
    this.spawn();
    process.once('exit', this.killOnExit);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (existsSync(this.address) && await canConnect(this.address)) return;
      if (!this.proc) throw new Error(`containerd exited at start; see ${join(this.opts.dataDir, 'containerd.log')}`);
      await new Promise(r => setTimeout(r, 50));
    }
    throw new Error(`containerd did not open "${this.address}" within ${timeoutMs} ms`);
  }

  private adopted: number | undefined;

  /** If the agent dies without stopping us, containerd must not outlive it unsupervised. */
  private readonly killOnExit = () => { try { this.proc?.kill('SIGTERM'); } catch { /* gone */ } };

  private orphanPid(): number | undefined {
    try {
      const pid = Number(readFileSync(this.pidFile, 'utf8').trim());
      if (!pid) return undefined;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmd.includes('containerd') && cmd.includes(this.configPath) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  private spawn(): void {
    const startedAt = Date.now();
    const proc = spawn(this.opts.binary ?? 'containerd', ['--config', this.configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    if (proc.pid) writeFileSync(this.pidFile, `${proc.pid}\n`);
    proc.stdout?.pipe(this.logStream!, { end: false });
    proc.stderr?.pipe(this.logStream!, { end: false });
    let ended = false;
    // A failed spawn emits 'error' and maybe no 'exit': either one schedules the next attempt, once.
    const onEnd = (how: Record<string, unknown>) => {
      if (ended) return;
      ended = true;
      if (this.proc === proc) this.proc = undefined;
      if (this.stopping) return;
      if (Date.now() - startedAt >= (this.opts.stableRunMs ?? 60_000)) this.restarts = 0;
      this.restarts++;
      const delay = Math.min(30_000, 500 * 2 ** Math.min(this.restarts, 6));
      this.opts.log?.('containerd exited; restarting', { ...how, delayMs: delay });
      setTimeout(() => { if (!this.stopping) this.spawn(); }, delay).unref();
    };
    proc.once('exit', (code, signal) => onEnd({ code, signal }));
    proc.once('error', err => onEnd({ err: String(err) }));
  }

  /** Stops containerd (SIGTERM, then SIGKILL after `graceMs`). Tasks keep running in their shims. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    process.removeListener('exit', this.killOnExit);
    if (this.adopted !== undefined) {
      const pid = this.adopted;
      this.adopted = undefined;
      const alive = () => { try { process.kill(pid, 0); return true; } catch { return false; } };
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      const deadline = Date.now() + graceMs;
      while (alive() && Date.now() < deadline) await new Promise(r => setTimeout(r, 50));
      if (alive()) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      return;
    }
    const proc = this.proc;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      await new Promise<void>(resolve => {
        const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        proc.once('exit', () => { clearTimeout(t); resolve(); });
        proc.kill('SIGTERM');
      });
    }
    this.proc = undefined;
    rmSync(this.pidFile, { force: true });
    await new Promise<void>(resolve => { if (this.logStream) this.logStream.end(resolve); else resolve(); });
    this.logStream = undefined;
  }
}

// `kubectl exec` on the node: the channel protocol (`v5.channel.k8s.io`, `v4.channel.k8s.io`) over a
// WebSocket, relayed to `ctr tasks exec`. Each message starts with its channel: 0 stdin, 1 stdout,
// 2 stderr, 3 the exit `Status`, 4 resize (`{"Width":…,"Height":…}`); v5 adds `[255, N]` to
// close stream N (stdin EOF).
//
// Design notes:
// - `ctr tasks exec --tty` insists on a terminal of its own (it puts it in raw mode and forwards
//   its size), so with a TTY it runs under `script`, which gives it a pty. A resize sets the size
//   of that pty (`stty -F`), and the kernel's SIGWINCH makes ctr resize the container's console.
//   The alternative, containerd's gRPC exec API with FIFOs, needs a protobuf client we do not have.
// - The Status on channel 3 carries the exit code as upstream's kubelet does, so kubectl exits
//   with the command's code.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import type { WebSocket } from 'ws';

export const execProtocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;

export interface ExecSpec {
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export function parseExecQuery(q: URLSearchParams): ExecSpec {
  const bool = (k: string) => q.get(k) === 'true' || q.get(k) === '1';
  const command = q.getAll('command');
  if (command.length === 0) throw new Error('you must specify at least one command for the container');
  return { command, stdin: bool('stdin'), stdout: bool('stdout'), stderr: bool('stderr'), tty: bool('tty') };
}

/** Picks the protocol the client offers that we speak (v5 first), as ws's handleProtocols wants. */
export function pickProtocol(offered: Set<string>): string | false {
  return execProtocols.find(p => offered.has(p)) ?? false;
}

export function exitStatus(code: number, command: readonly string[]): Record<string, unknown> {
  if (code === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {}, status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

export function failureStatus(message: string): Record<string, unknown> {
  return { metadata: {}, status: 'Failure', message, reason: 'InternalError', code: 500 };
}

/** Quotes argv for `sh -c` (script runs its command through the shell). */
export function shellQuote(argv: readonly string[]): string {
  return argv.map(a => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Spawns `file args` (under `script` with a TTY). */
export function spawnExec(cmd: { file: string; args: string[] }, spec: ExecSpec): ChildProcess {
  if (!spec.tty) return spawn(cmd.file, cmd.args, { stdio: [spec.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  return spawn('script', ['-q', '-e', '-f', '-c', shellQuote([cmd.file, ...cmd.args]), '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm' } });
}

/** The pty of the first child of `pid` (ctr under script), e.g. `/dev/pts/3`. */
function childPty(pid: number): string | undefined {
  try {
    const child = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0];
    if (!child) return undefined;
    const tty = readlinkSync(`/proc/${child}/fd/0`);
    return tty.startsWith('/dev/pts/') ? tty : undefined;
  } catch {
    return undefined;
  }
}

/** Relays one exec session between `ws` and the process; resolves when both are done. */
export function relayExec(ws: WebSocket, protocol: string, child: ChildProcess, spec: ExecSpec): Promise<void> {
  const v5 = protocol === 'v5.channel.k8s.io';
  const send = (ch: number, data: Buffer | string) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(Buffer.concat([Buffer.from([ch]), typeof data === 'string' ? Buffer.from(data) : data]));
  };
  let size: { Width: number; Height: number } | undefined;
  let resizeTimer: ReturnType<typeof setTimeout> | undefined;
  let tries = 0;
  const applySize = () => {
    resizeTimer = undefined;
    if (!size || child.pid === undefined || child.exitCode !== null) return;
    const pty = childPty(child.pid);
    if (!pty) {
      if (tries++ < 50) resizeTimer = setTimeout(applySize, 100);
      return;
    }
    spawn('stty', ['-F', pty, 'rows', String(size.Height), 'cols', String(size.Width)], { stdio: 'ignore' }).on('error', () => undefined);
  };
  ws.on('message', (data: Buffer) => {
    const ch = data[0];
    const payload = data.subarray(1);
    if (ch === 0 && spec.stdin && child.stdin?.writable) child.stdin.write(payload);
    else if (ch === 255 && v5 && payload[0] === 0) child.stdin?.end();
    else if (ch === 4 && spec.tty) {
      try {
        size = JSON.parse(payload.toString()) as { Width: number; Height: number };
        tries = 0;
        if (!resizeTimer) applySize();
      } catch { /* a malformed resize is ignored, as upstream does */ }
    }
  });
  child.stdin?.on('error', () => undefined);
  child.stdout?.on('data', (d: Buffer) => { if (spec.stdout || spec.tty) send(1, d); });
  child.stderr?.on('data', (d: Buffer) => { if (spec.stderr) send(spec.tty ? 1 : 2, d); });
  return new Promise(resolve => {
    let exited = false;
    ws.on('close', () => {
      if (resizeTimer) clearTimeout(resizeTimer);
      if (!exited) child.kill('SIGKILL');
      resolve();
    });
    child.on('error', err => {
      exited = true;
      send(3, JSON.stringify(failureStatus(`starting the exec failed: ${err.message}`)));
      ws.close(1000);
    });
    child.on('close', (code, signal) => {
      exited = true;
      if (resizeTimer) clearTimeout(resizeTimer);
      send(3, JSON.stringify(exitStatus(code ?? (signal ? 128 + 9 : 1), spec.command)));
      ws.close(1000);
    });
  });
}
